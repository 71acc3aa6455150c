/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one place where kernel versions differ. Every decision here comes
 * from a HAVE_* macro that module/probe.sh derived by compiling and
 * modposting a probe against the target kernel's headers, never from
 * LINUX_VERSION_CODE: Debian backports API changes, and a probe sees what
 * the headers really offer.
 */
#ifndef PGREMAP_COMPAT_H
#define PGREMAP_COMPAT_H

#if !__has_include("pgremap_config.h")
#error "pgremap_config.h missing: build through module/Makefile or DKMS, which run probe.sh first"
#endif
#include "pgremap_config.h"

#include <linux/mm.h>
#include <linux/rmap.h>
#include <linux/swap.h>
#include <linux/swapops.h>

/* The version string the target kernel was built with (uname -v). */
#ifdef HAVE_UTSVERSION_H
#include <generated/utsversion.h>
#else
#include <generated/compile.h>
#endif

/*
 * What to tell a user we cannot serve: on kernels that have in-tree
 * UFFDIO_MOVE (6.8+) that is the way to move pages.
 */
#ifdef HAVE_UFFDIO_MOVE
#define PGREMAP_INTREE_HINT \
	"this kernel has in-tree UFFDIO_MOVE (userfaultfd): use it instead of pgremap"
#else
#define PGREMAP_INTREE_HINT "this kernel has no in-tree UFFDIO_MOVE either"
#endif

/* Splitting a large folio: 6.8 added the target order. */
#ifdef HAVE_SPLIT_HUGE_PAGE_TO_ORDER
#define PGREMAP_SPLIT_HUGE_PAGE_SYM "split_huge_page_to_list_to_order"
typedef int (*pgremap_split_huge_page_t)(struct page *page,
					 struct list_head *list,
					 unsigned int new_order);
#else
#define PGREMAP_SPLIT_HUGE_PAGE_SYM "split_huge_page_to_list"
typedef int (*pgremap_split_huge_page_t)(struct page *page,
					 struct list_head *list);
#endif

/* Shadow-stack VMAs (6.6+) hold no movable pages. */
#ifndef VM_SHADOW_STACK
#define VM_SHADOW_STACK VM_NONE
#endif

/*
 * The wrappers below call through pgremap_sym, so they are macros: they
 * expand where symbols.h has been included.
 */
#ifdef HAVE_SPLIT_HUGE_PAGE_TO_ORDER
#define pgremap_split_folio(folio) \
	pgremap_sym.split_huge_page(&(folio)->page, NULL, 0)
#else
#define pgremap_split_folio(folio) \
	pgremap_sym.split_huge_page(&(folio)->page, NULL)
#endif

/* 6.3 dropped the VMA argument of mmu_notifier_range_init(). */
#ifdef HAVE_MMU_NOTIFIER_RANGE_INIT_VMA
#define pgremap_mmu_range_init(range, vma, mm, start, end) \
	mmu_notifier_range_init(range, MMU_NOTIFY_CLEAR, 0, vma, mm, start, end)
#else
#define pgremap_mmu_range_init(range, vma, mm, start, end) \
	((void)(vma), \
	 mmu_notifier_range_init(range, MMU_NOTIFY_CLEAR, 0, mm, start, end))
#endif

/*
 * Up to 6.5, ->invalidate_range() users (IOMMU SVA) are told right after
 * each clear+flush, under the page-table lock, and the range then ends
 * with only_end (mmu_notifier_invalidate_range_only_end()); 6.6+ does
 * the former inside flush_tlb_mm_range() and has no only_end.
 */
#ifdef HAVE_MMU_NOTIFIER_INVALIDATE_RANGE
#define PGREMAP_SECONDARY_TLB_CALLBACK 1
#define pgremap_mmu_notifier_end(range) \
	pgremap_sym.__mmu_notifier_invalidate_range_end(range, true)
#else
#define PGREMAP_SECONDARY_TLB_CALLBACK 0
#define pgremap_mmu_notifier_end(range) \
	pgremap_sym.__mmu_notifier_invalidate_range_end(range)
#endif

/*
 * Kernels with in-tree UFFDIO_MOVE (6.8+) re-check folio->mapping in
 * folio_lock_anon_vma_read() after locking, since a move changes a
 * mapped folio's anon_vma. Older ones rely on "the folio is still mapped,
 * so its anon_vma is alive", which a move breaks: move.c then keeps the
 * old anon_vma alive for an RCU grace period after the move.
 */
#ifdef HAVE_UFFDIO_MOVE
#define PGREMAP_NEED_ANON_VMA_GRACE 0
#else
#define PGREMAP_NEED_ANON_VMA_GRACE 1
#endif

/*
 * Making a PTE writable: since 6.6 pte_mkwrite() takes the VMA (for
 * shadow stacks, which a move refuses) and is out of line; its inline
 * part is pte_mkwrite_novma() plus dropping the saved-dirty bit.
 */
#ifdef HAVE_PTE_MKWRITE_VMA
static inline pte_t pgremap_pte_mkwrite(pte_t pte)
{
	return pte_clear_saveddirty(pte_mkwrite_novma(pte));
}

static inline pmd_t pgremap_pmd_mkwrite(pmd_t pmd)
{
	return pmd_clear_saveddirty(pmd_mkwrite_novma(pmd));
}
#else
static inline pte_t pgremap_pte_mkwrite(pte_t pte)
{
	return pte_mkwrite(pte);
}

static inline pmd_t pgremap_pmd_mkwrite(pmd_t pmd)
{
	return pmd_mkwrite(pmd);
}
#endif

/*
 * The swap cache: 6.5 moved a folio's swap entry into folio->swap, and
 * 6.10 indexes each swap address space by the offset within it.
 */
#ifdef HAVE_FOLIO_SWAP
#define pgremap_folio_swap(folio) ((folio)->swap)
#else
#define pgremap_folio_swap(folio) folio_swap_entry(folio)
#endif

/*
 * mm/swap.h, private: one swap address space per 64 MiB of swap;
 * @spaces is the kernel's swapper_spaces[].
 */
#define PGREMAP_SWAP_ADDRESS_SPACE_SHIFT	14
static inline struct address_space *
pgremap_swap_address_space(struct address_space **spaces, swp_entry_t entry)
{
	return &spaces[swp_type(entry)]
		      [swp_offset(entry) >> PGREMAP_SWAP_ADDRESS_SPACE_SHIFT];
}

#ifdef HAVE_FOLIO_SWAP_CACHE_INDEX
#define pgremap_swap_cache_index(entry) \
	(swp_offset(entry) & ((1UL << PGREMAP_SWAP_ADDRESS_SPACE_SHIFT) - 1))
#else
#define pgremap_swap_cache_index(entry) swp_offset(entry)
#endif

/* 6.4 made __filemap_get_folio() return ERR_PTR() on a miss. */
static inline struct folio *pgremap_folio_or_null(struct folio *folio)
{
#ifdef HAVE_FILEMAP_GET_FOLIO_ERR_PTR
	if (IS_ERR(folio))
		return NULL;
#endif
	return folio;
}

#endif /* PGREMAP_COMPAT_H */
