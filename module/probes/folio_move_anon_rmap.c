// SPDX-License-Identifier: GPL-2.0
/* HAVE_FOLIO_MOVE_ANON_RMAP: folio_move_anon_rmap() replaced page_move_anon_rmap() (6.5). */
#include <linux/module.h>
#include <linux/rmap.h>

static typeof(folio_move_anon_rmap) *probe_fn __used;
MODULE_LICENSE("GPL");
