// SPDX-License-Identifier: GPL-2.0
/*
 * HAVE_PTE_MKWRITE_VMA: pte_mkwrite()/pmd_mkwrite() take the VMA (6.6+,
 * for shadow stacks) and are out of line, so not callable from a module;
 * pte_mkwrite_novma() is the inline part.
 */
#include <linux/module.h>
#include <linux/pgtable.h>

static pte_t __used probe(pte_t pte)
{
	return pte_mkwrite_novma(pte);
}
MODULE_LICENSE("GPL");
