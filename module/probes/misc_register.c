// SPDX-License-Identifier: GPL-2.0
/*
 * HAVE_MISC_REGISTER: sanity probe that must always pass: an exported
 * function, linked through modpost. If it fails, the probe machinery
 * itself is broken and the build stops.
 */
#include <linux/module.h>
#include <linux/miscdevice.h>

static int __used probe(struct miscdevice *m)
{
	return misc_register(m);
}
MODULE_LICENSE("GPL");
