/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel functions and data that a page move needs but that the kernel
 * does not export to modules. They are resolved once, at module load,
 * into pgremap_sym, which becomes read-only when init returns. The module
 * refuses to load unless every one of them was found.
 *
 * Function pointers take their types from the target kernel's own
 * declarations (typeof), so a prototype change between kernels is a
 * compile error, not a wrong call. The few that only private mm/ headers
 * declare are spelled out here.
 */
#ifndef PGREMAP_SYMBOLS_H
#define PGREMAP_SYMBOLS_H

#include <linux/huge_mm.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/pgtable.h>
#include <linux/rmap.h>
#include <linux/swap.h>
#include <linux/swapops.h>
#include <asm/tlbflush.h>

#include "compat.h"

struct pgremap_syms {
	/* Page-table walk and allocation. */
	typeof(__p4d_alloc) *__p4d_alloc;
	typeof(__pud_alloc) *__pud_alloc;
	typeof(__pmd_alloc) *__pmd_alloc;
	typeof(__pte_alloc) *__pte_alloc;
	typeof(__anon_vma_prepare) *__anon_vma_prepare;

	/* Transparent huge pages. */
	typeof(__pmd_trans_huge_lock) *__pmd_trans_huge_lock;
	typeof(__split_huge_pmd) *__split_huge_pmd;
	pgremap_split_huge_page_t split_huge_page;
	typeof(pgtable_trans_huge_withdraw) *pgtable_trans_huge_withdraw;
	typeof(pgtable_trans_huge_deposit) *pgtable_trans_huge_deposit;
	unsigned long *huge_zero_pfn;

	/* Clearing entries coherently for other CPUs and secondary MMUs. */
	typeof(ptep_clear_flush) *ptep_clear_flush;
	typeof(pmdp_huge_clear_flush) *pmdp_huge_clear_flush;
	/* asm/tlbflush.h declares it only for built-in code. */
	void (*flush_tlb_mm_range)(struct mm_struct *mm, unsigned long start,
				   unsigned long end, unsigned int stride_shift,
				   bool freed_tables);
	typeof(__mmu_notifier_invalidate_range_start) *__mmu_notifier_invalidate_range_start;
	typeof(__mmu_notifier_invalidate_range_end) *__mmu_notifier_invalidate_range_end;
	/* Resolved only where PGREMAP_SECONDARY_TLB_CALLBACK (<= 6.5). */
	void (*__mmu_notifier_invalidate_range)(struct mm_struct *mm,
						unsigned long start,
						unsigned long end);

	/* Pages and their reverse map (folio or page era: compat.h). */
	typeof(PGREMAP_VM_NORMAL) *vm_normal;
	typeof(PGREMAP_GET_ANON_VMA) *get_anon_vma;
	typeof(__put_anon_vma) *__put_anon_vma;
#ifndef HAVE_PAGE_ANON_EXCLUSIVE
	/* Exclusivity by counts (< 5.19, compat.c). */
	typeof(page_swapcount) *page_swapcount;
	typeof(total_mapcount) *total_mapcount;
#endif

	/* Non-present entries: migration and swap. */
	typeof(migration_entry_wait) *migration_entry_wait;
	typeof(pmd_migration_entry_wait) *pmd_migration_entry_wait;
	typeof(get_swap_device) *get_swap_device;
	struct address_space **swapper_spaces;

	/* Address-space limits. */
	unsigned long *mmap_min_addr;
};

extern struct pgremap_syms pgremap_sym;

int pgremap_symbols_init(const char *test_missing, bool test_assume_ibt);
size_t pgremap_symbols_count(void);

#endif /* PGREMAP_SYMBOLS_H */
