// SPDX-License-Identifier: GPL-2.0
/*
 * Out-of-line parts of compat.h: what a kernel lacks and pgremap must do
 * itself with resolved kernel symbols. See compat.h for why each is
 * correct on the kernels that need it.
 */
#include <linux/mm.h>
#include <linux/swap.h>
#include <linux/swapops.h>

#include "compat.h"
#include "symbols.h"

#ifndef HAVE_PAGE_ANON_EXCLUSIVE
/*
 * The page @pte maps, under the PTL: anonymous, not KSM, mapped by this
 * one PTE only (page_mapcount() counts a PTE-mapped THP's subpage with
 * the PMD mappings of its compound page), not pinned.
 */
bool pgremap_anon_exclusive(struct folio *folio, pte_t pte)
{
	struct page *page = pte_page(pte);

	return PageAnon(page) && !PageKsm(page) && page_mapcount(page) == 1 &&
	       !folio_maybe_dma_pinned(folio);
}

/*
 * With the page locked its swap-cache state is stable. Only a read-only
 * mapping can have a slot shared with another process: a writable one
 * was reused by do_wp_page() or do_swap_page() only after they saw no
 * other reference to page or slot, and only fork() could add one since.
 */
bool pgremap_anon_exclusive_locked(struct folio *folio, pte_t pte)
{
	struct page *page = pte_page(pte);

	VM_WARN_ON_ONCE(!PageLocked(compound_head(page)));
	if (pte_write(pte) || !PageSwapCache(page))
		return true;
	return pgremap_sym.page_swapcount(page) == 0;
}

/*
 * A PMD-mapped THP: that PMD is its only mapping. A read-only one in the
 * swap cache is refused rather than counted: the slots of its 512
 * subpages would each need checking, and such a THP is rare (it is split
 * when swapped in by a read fault).
 */
bool pgremap_pmd_exclusive(struct page *head, pmd_t pmd)
{
	if (!PageAnon(head) || compound_mapcount(head) != 1 ||
	    PageDoubleMap(head) || page_maybe_dma_pinned(head))
		return false;
	return pmd_write(pmd) || !PageSwapCache(head);
}

/*
 * Our swap PTE is the slot's only reference (the count excludes the swap
 * cache's own flag), and its swap-cache page is mapped by nobody: a
 * process that swapped the page in through a shared slot maps it.
 */
bool pgremap_swap_entry_exclusive(struct swap_info_struct *si,
				  swp_entry_t entry, struct folio *folio)
{
	unsigned char count = READ_ONCE(si->swap_map[swp_offset(entry)]);

	if ((count & ~SWAP_HAS_CACHE) != 1)
		return false;
	return !folio || !folio_mapped(folio);
}
#endif /* !HAVE_PAGE_ANON_EXCLUSIVE */
