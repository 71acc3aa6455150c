// SPDX-License-Identifier: GPL-2.0
/*
 * HAVE_PAGE_ANON_EXCLUSIVE: the PG_anon_exclusive flag (5.19+), set on an
 * anonymous page that exactly one process maps and may write.
 */
#include <linux/module.h>
#include <linux/page-flags.h>

static bool __used probe(struct page *page)
{
	return PageAnonExclusive(page);
}
MODULE_LICENSE("GPL");
