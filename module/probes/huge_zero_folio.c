// SPDX-License-Identifier: GPL-2.0
/* HAVE_HUGE_ZERO_FOLIO: the huge zero page is a folio, huge_zero_folio (6.9+). */
#include <linux/module.h>
#include <linux/mm.h>

static typeof(huge_zero_folio) *probe_ptr __used;
MODULE_LICENSE("GPL");
