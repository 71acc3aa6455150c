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
 * A PMD-mapped THP: that PMD is its only mapping. total_mapcount()
 * counts the PMD mappings and every subpage's PTE mappings; PageDoubleMap
 * would not do (THP migration re-creates PTE mappings of the new page
 * without setting it). Stable with the page lock held, which the final
 * check in move_whole_pmd_locked() has; the earlier calls only filter.
 * A read-only one in the swap cache is refused rather than counted: the
 * slots of its 512 subpages would each need checking, and such a THP is
 * rare (a read fault swaps in small pages).
 */
bool pgremap_pmd_exclusive(struct page *head, pmd_t pmd)
{
	if (!PageAnon(head) || PageKsm(head) ||
	    pgremap_sym.total_mapcount(head) != 1 ||
	    page_maybe_dma_pinned(head))
		return false;
	return pmd_write(pmd) || !PageSwapCache(head);
}

/*
 * Our swap PTE is the slot's only reference (the count excludes the swap
 * cache's own flag), and its swap-cache page is mapped by nobody (a
 * process that swapped the page in through a shared slot maps it) and is
 * not a KSM page (whose mapping is its stable node: upstream never sees
 * one here, a KSM swap entry is never exclusive).
 */
bool pgremap_swap_entry_exclusive(struct swap_info_struct *si,
				  swp_entry_t entry, struct folio *folio)
{
	unsigned char count = READ_ONCE(si->swap_map[swp_offset(entry)]);

	if ((count & ~SWAP_HAS_CACHE) != 1)
		return false;
	return !folio ||
	       (!folio_mapped(folio) && !PageKsm(folio_page(folio, 0)));
}
#endif /* !HAVE_PAGE_ANON_EXCLUSIVE */

#ifndef HAVE_FOLIO
/*
 * split_huge_page_to_list() before folios says -EBUSY where 6.1 says
 * -EAGAIN: for an extra reference (can_split_huge_page()) or a refcount
 * that changed while freezing it, both transient, which move.c retries.
 * -EBUSY remains for what 6.1 also refuses: writeback, or a THP no longer
 * mapped (no anon_vma). The page is locked and referenced by the caller.
 */
int pgremap_split_folio(struct folio *folio)
{
	struct page *head = folio_page(folio, 0);
	int err = pgremap_sym.split_huge_page(head, NULL);

	if (err == -EBUSY && !PageWriteback(head) && page_mapped(head))
		return -EAGAIN;
	return err;
}
#endif /* !HAVE_FOLIO */
