// SPDX-License-Identifier: GPL-2.0
/* HAVE_VMA_LOOKUP: vma_lookup(), the VMA containing an address (5.14+). */
#include <linux/module.h>
#include <linux/mm.h>

static struct vm_area_struct __used *probe(struct mm_struct *mm,
					   unsigned long addr)
{
	return vma_lookup(mm, addr);
}
MODULE_LICENSE("GPL");
