// SPDX-License-Identifier: GPL-2.0
/*
 * HAVE_UFFDIO_MOVE: the target kernel has in-tree UFFDIO_MOVE (6.8+).
 * Used to tell the user about the in-tree alternative when pgremap
 * cannot load.
 */
#include <linux/module.h>
#include <linux/userfaultfd.h>

#ifndef UFFDIO_MOVE
#error "no UFFDIO_MOVE"
#endif
MODULE_LICENSE("GPL");
