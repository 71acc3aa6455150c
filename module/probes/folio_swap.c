// SPDX-License-Identifier: GPL-2.0
/* HAVE_FOLIO_SWAP: a swap-cache folio's entry is folio->swap (6.5+). */
#include <linux/module.h>
#include <linux/mm_types.h>

static swp_entry_t __used probe(struct folio *folio)
{
	return folio->swap;
}
MODULE_LICENSE("GPL");
