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

/*
 * Moving a folio's anon rmap to the destination VMA's anon_vma. 6.5
 * turned page_move_anon_rmap() into folio_move_anon_rmap().
 */
#ifdef HAVE_FOLIO_MOVE_ANON_RMAP
#define PGREMAP_MOVE_ANON_RMAP_SYM "folio_move_anon_rmap"
typedef void (*pgremap_move_anon_rmap_t)(struct folio *folio,
					 struct vm_area_struct *vma);
#else
#define PGREMAP_MOVE_ANON_RMAP_SYM "page_move_anon_rmap"
typedef void (*pgremap_move_anon_rmap_t)(struct page *page,
					 struct vm_area_struct *vma);
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

#endif /* PGREMAP_COMPAT_H */
