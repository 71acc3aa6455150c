// SPDX-License-Identifier: GPL-2.0
/*
 * HAVE_PTE_OFFSET_MAP_NOLOCK: pte_offset_map*() may fail and run under RCU
 * (6.5+), so the PTE table must be mapped with pte_offset_map_nolock() and
 * unmapped with pte_unmap(); before, pte_offset_map() cannot fail.
 */
#include <linux/module.h>
#include <linux/mm.h>

static typeof(pte_offset_map_nolock) *probe_fn __used;
MODULE_LICENSE("GPL");
