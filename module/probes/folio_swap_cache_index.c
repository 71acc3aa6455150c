// SPDX-License-Identifier: GPL-2.0
/*
 * HAVE_FOLIO_SWAP_CACHE_INDEX: each swap address space is indexed by the
 * offset within it, not by the whole swap offset (6.10+).
 */
#include <linux/module.h>
#include <linux/pagemap.h>

static typeof(__folio_swap_cache_index) *probe_fn __used;
MODULE_LICENSE("GPL");
