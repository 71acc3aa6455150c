// SPDX-License-Identifier: GPL-2.0
/*
 * HAVE_FILEMAP_GET_FOLIO_ERR_PTR: __filemap_get_folio() returns ERR_PTR()
 * instead of NULL on a miss (6.4+); FGP_WRITEBEGIN arrived with it.
 * Compiled and linked: the function must be exported.
 */
#include <linux/module.h>
#include <linux/pagemap.h>

#ifndef FGP_WRITEBEGIN
#error "__filemap_get_folio returns NULL"
#endif
static struct folio * __used probe(struct address_space *m)
{
	return filemap_get_folio(m, 0);
}
MODULE_LICENSE("GPL");
