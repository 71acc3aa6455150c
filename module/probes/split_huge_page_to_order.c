// SPDX-License-Identifier: GPL-2.0
/* HAVE_SPLIT_HUGE_PAGE_TO_ORDER: split_huge_page_to_list_to_order() (6.8+). */
#include <linux/module.h>
#include <linux/mm.h>

static typeof(split_huge_page_to_list_to_order) *probe_fn __used;
MODULE_LICENSE("GPL");
