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
 * Folios (5.16+). Before them, what move.c calls a folio is the head page
 * of a (possibly compound) page: struct folio stays an incomplete type
 * that is only ever converted back to that page, and the handful of folio
 * calls move.c makes are spelled with their page-era equivalents. Fields
 * are reached through folio_page(folio, 0), which both eras have.
 * HAVE_FOLIO also selects vm_normal_folio() (6.0+) below: 5.16-5.19 are
 * not targets (5.10, 6.1 and 6.12 are).
 */
#ifndef HAVE_FOLIO
struct folio;

static inline struct page *pgremap_folio_head(struct folio *folio)
{
	return (struct page *)folio;
}

#define folio_page(folio, n)	(pgremap_folio_head(folio) + (n))

static inline struct folio *page_folio(struct page *page)
{
	return (struct folio *)compound_head(page);
}

static inline struct folio *pgremap_page_folio_or_null(struct page *page)
{
	return page ? page_folio(page) : NULL;
}

static inline bool folio_test_large(struct folio *folio)
{
	return PageCompound(pgremap_folio_head(folio));
}

static inline bool folio_test_head(struct folio *folio)
{
	return PageHead(pgremap_folio_head(folio));
}

static inline bool folio_test_anon(struct folio *folio)
{
	return PageAnon(pgremap_folio_head(folio));
}

static inline bool folio_test_locked(struct folio *folio)
{
	return PageLocked(pgremap_folio_head(folio));
}

static inline bool folio_test_swapcache(struct folio *folio)
{
	return PageSwapCache(pgremap_folio_head(folio));
}

static inline bool folio_maybe_dma_pinned(struct folio *folio)
{
	return page_maybe_dma_pinned(pgremap_folio_head(folio));
}

static inline bool folio_mapped(struct folio *folio)
{
	return page_mapped(pgremap_folio_head(folio));
}

static inline bool folio_trylock(struct folio *folio)
{
	return trylock_page(pgremap_folio_head(folio));
}

static inline void folio_lock(struct folio *folio)
{
	lock_page(pgremap_folio_head(folio));
}

static inline void folio_unlock(struct folio *folio)
{
	unlock_page(pgremap_folio_head(folio));
}

static inline void folio_get(struct folio *folio)
{
	get_page(pgremap_folio_head(folio));
}

static inline void folio_put(struct folio *folio)
{
	put_page(pgremap_folio_head(folio));
}

/* The swap cache is a page cache: the folio (head page) at @index. */
static inline struct folio *filemap_get_folio(struct address_space *mapping,
					      pgoff_t index)
{
	return pgremap_page_folio_or_null(find_get_page(mapping, index));
}
#endif /* !HAVE_FOLIO */

/* vma_lookup() (5.14+): the VMA that contains @addr, or NULL. */
#ifndef HAVE_VMA_LOOKUP
static inline struct vm_area_struct *vma_lookup(struct mm_struct *mm,
						unsigned long addr)
{
	struct vm_area_struct *vma = find_vma(mm, addr);

	return vma && addr >= vma->vm_start ? vma : NULL;
}
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
#if defined(HAVE_SPLIT_HUGE_PAGE_TO_ORDER)
#define pgremap_split_folio(folio) \
	pgremap_sym.split_huge_page(folio_page(folio, 0), NULL, 0)
#elif defined(HAVE_FOLIO)
#define pgremap_split_folio(folio) \
	pgremap_sym.split_huge_page(folio_page(folio, 0), NULL)
#else
/* In compat.c: the page era's errno differs. */
int pgremap_split_folio(struct folio *folio);
#endif

/*
 * The normal page of a PTE and the anon_vma of a folio: folio functions
 * since 5.16 (vm_normal_folio() since 6.0), page functions before.
 */
#ifdef HAVE_FOLIO
#define PGREMAP_VM_NORMAL vm_normal_folio
#define PGREMAP_GET_ANON_VMA folio_get_anon_vma
#define pgremap_vm_normal_folio(vma, addr, pte) \
	pgremap_sym.vm_normal(vma, addr, pte)
#define pgremap_folio_get_anon_vma(folio) pgremap_sym.get_anon_vma(folio)
#else
#define PGREMAP_VM_NORMAL vm_normal_page
#define PGREMAP_GET_ANON_VMA page_get_anon_vma
#define pgremap_vm_normal_folio(vma, addr, pte) \
	pgremap_page_folio_or_null(pgremap_sym.vm_normal(vma, addr, pte))
#define pgremap_folio_get_anon_vma(folio) \
	pgremap_sym.get_anon_vma(folio_page(folio, 0))
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
 * Exclusivity: a page may move only if no other process can reach it.
 *
 * 5.19+ records that in PG_anon_exclusive (PageAnonExclusive() on a
 * mapped page, pte_swp_exclusive() on a swap entry), which fork, KSM,
 * GUP and swap keep exact; upstream's UFFDIO_MOVE tests just that.
 *
 * Before 5.19 (Debian 11's 5.10) there is no such bit, and exclusivity is
 * derived as the pre-5.19 proposals for moving anonymous pages did
 * (remap_anon_pages), from counts that are stable under the locks we hold:
 *
 * - a present page: anonymous, not KSM, mapped exactly once
 *   (page_mapcount() == 1: by the PTE we found it through), not pinned
 *   (folio_maybe_dma_pinned(): no FOLL_PIN reference), and, if it is in
 *   the swap cache and mapped read-only, no swap entry of another process
 *   still names its slot (page_swapcount() == 0, checked with the page
 *   locked so the slot cannot change);
 * - a swap entry: its slot has exactly one reference, ours, and the swap
 *   cache page, if any, is mapped nowhere;
 * - a PMD-mapped THP: mapped by that one PMD only, no PTE mapping of a
 *   subpage anywhere (total_mapcount() == 1).
 *
 * Why that is enough on 5.10: every way for a second process to reach an
 * anonymous page goes through one of those counts. fork() copies PTEs
 * (mapcount) and swap entries (swap count) of this mm, and it holds this
 * mm's mmap_lock for writing, which our read lock excludes for the whole
 * call; KSM makes a page KSM (PageKsm) and a swap-in by a process that
 * shares the slot maps the swap-cache page (mapcount), swapoff and
 * migration restore mappings, all under the page lock; try_to_unmap adds
 * swap counts under the page lock too. So the final check, made with the
 * page locked (and the PTLs held), sees counts that cannot grow; a
 * concurrent decrease only makes us refuse a page we could have moved,
 * with EBUSY, as upstream would for a page that is still shared. The
 * checks made earlier, without the page lock, only filter.
 *
 * What the counts cannot tell is whether a read-only mapped page may be
 * made writable: on 5.10 do_wp_page() reuses a page only when its
 * refcount is exactly one, because a FOLL_GET reference (vmsplice, O_DIRECT)
 * taken while the page was shared must keep seeing the old data. So the
 * moved entry keeps the source's write permission on these kernels
 * (PGREMAP_MOVE_MAKES_WRITABLE 0), and the first write at dst goes
 * through do_wp_page(), which reuses or copies by the kernel's own rule;
 * with PageAnonExclusive the moved entry is writable, as upstream's.
 *
 * Where the counts see more than the flag, 5.10 answers differently from
 * 6.x, both documented in pgremap(4): a page COW-shared by fork() whose
 * other mapper is gone (child exited) moves, read-only, where 6.x says
 * EBUSY until the page is written; a read-only PMD-mapped THP in the swap
 * cache gives EBUSY.
 */
#ifdef HAVE_PAGE_ANON_EXCLUSIVE
#define PGREMAP_MOVE_MAKES_WRITABLE 1

/* @pte maps a page of @folio; checked under its PTL. */
static inline bool pgremap_anon_exclusive(struct folio *folio, pte_t pte)
{
	return PageAnonExclusive(&folio->page);
}

/* The rest of the check, once the folio is locked: nothing left. */
static inline bool pgremap_anon_exclusive_locked(struct folio *folio,
						 pte_t pte)
{
	return true;
}

/* @head is the head page of a THP mapped by @pmd, under the PMD lock. */
static inline bool pgremap_pmd_exclusive(struct page *head, pmd_t pmd)
{
	return PageAnonExclusive(head);
}

/* A swap PTE, before anything is looked up. */
static inline bool pgremap_swp_pte_exclusive(pte_t pte)
{
	return pte_swp_exclusive(pte);
}

/* A swap entry and its swap-cache folio (or NULL), under the PTL. */
static inline bool pgremap_swap_entry_exclusive(struct swap_info_struct *si,
						swp_entry_t entry,
						struct folio *folio)
{
	return true;
}
#else
#define PGREMAP_MOVE_MAKES_WRITABLE 0

/* In compat.c: they need resolved kernel symbols. */
bool pgremap_anon_exclusive(struct folio *folio, pte_t pte);
bool pgremap_anon_exclusive_locked(struct folio *folio, pte_t pte);
bool pgremap_pmd_exclusive(struct page *head, pmd_t pmd);
bool pgremap_swap_entry_exclusive(struct swap_info_struct *si,
				  swp_entry_t entry, struct folio *folio);

static inline bool pgremap_swp_pte_exclusive(pte_t pte)
{
	return true;	/* decided by pgremap_swap_entry_exclusive() */
}
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
#if defined(HAVE_FOLIO_SWAP)
#define pgremap_folio_swap(folio) ((folio)->swap)
#elif defined(HAVE_FOLIO)
#define pgremap_folio_swap(folio) folio_swap_entry(folio)
#else
#define pgremap_folio_swap(folio) \
	((swp_entry_t){ .val = page_private(folio_page(folio, 0)) })
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
