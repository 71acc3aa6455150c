// SPDX-License-Identifier: GPL-2.0
/* HAVE_LOCK_VMA_UNDER_RCU: per-VMA locks (CONFIG_PER_VMA_LOCK, 6.4+). */
#include <linux/module.h>
#include <linux/mm.h>

#ifndef CONFIG_PER_VMA_LOCK
#error "no per-VMA locks"
#endif
static typeof(lock_vma_under_rcu) *probe_fn __used;
MODULE_LICENSE("GPL");
