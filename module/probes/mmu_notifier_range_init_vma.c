// SPDX-License-Identifier: GPL-2.0
/*
 * HAVE_MMU_NOTIFIER_RANGE_INIT_VMA: mmu_notifier_range_init() takes a
 * vm_area_struct argument (up to 6.2).
 */
#include <linux/module.h>
#include <linux/mmu_notifier.h>

static void __used probe(struct mmu_notifier_range *r, struct mm_struct *mm)
{
	mmu_notifier_range_init(r, MMU_NOTIFY_CLEAR, 0, NULL, mm, 0, 0);
}
MODULE_LICENSE("GPL");
