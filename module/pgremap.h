/* SPDX-License-Identifier: GPL-2.0 */
/* Declarations shared by the files of the pgremap module. */
#ifndef PGREMAP_H
#define PGREMAP_H

#include <linux/types.h>

/* dev.c: /dev/pgremap */
int pgremap_dev_register(umode_t mode);
void pgremap_dev_unregister(void);

#endif /* PGREMAP_H */
