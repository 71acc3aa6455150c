// SPDX-License-Identifier: GPL-2.0
/*
 * HAVE_FOLIO: struct folio and its lock/reference API (5.16+). Without it
 * compat.h maps move.c's folio calls onto the head page.
 */
#include <linux/module.h>
#include <linux/pagemap.h>

static void __used probe(struct page *page)
{
	struct folio *folio = page_folio(page);

	folio_lock(folio);
	folio_unlock(folio);
}
MODULE_LICENSE("GPL");
