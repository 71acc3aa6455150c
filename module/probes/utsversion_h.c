// SPDX-License-Identifier: GPL-2.0
/*
 * HAVE_UTSVERSION_H: UTS_VERSION lives in <generated/utsversion.h> (6.1+);
 * older kernels keep it in <generated/compile.h>.
 */
#include <linux/module.h>
#include <generated/utsversion.h>

static const char probe_uts[] __used = UTS_VERSION;
MODULE_LICENSE("GPL");
