// SPDX-License-Identifier: GPL-2.0
/*
 * HAVE_MMU_NOTIFIER_INVALIDATE_RANGE: secondary TLBs that only implement
 * ->invalidate_range() (IOMMU SVA) must be told right after a PTE is
 * cleared, before its lock is dropped (up to 6.5; 6.6 folded this into
 * the architecture's TLB flush).
 */
#include <linux/module.h>
#include <linux/mmu_notifier.h>

static typeof(__mmu_notifier_invalidate_range) *probe_fn __used;
MODULE_LICENSE("GPL");
