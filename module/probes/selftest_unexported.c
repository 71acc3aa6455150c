// SPDX-License-Identifier: GPL-2.0
/*
 * HAVE_SELFTEST_UNEXPORTED: must never be defined. __pte_alloc() is
 * declared in <linux/mm.h> but not exported, so this compiles and must be
 * rejected by modpost. If it is reported present, probes are being
 * compiled without modpost and every HAVE_* would be a lie: probe.sh stops
 * the build.
 */
#include <linux/module.h>
#include <linux/mm.h>

static int __used probe(struct mm_struct *mm, pmd_t *pmd)
{
	return __pte_alloc(mm, pmd);
}
MODULE_LICENSE("GPL");
