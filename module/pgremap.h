/* SPDX-License-Identifier: GPL-2.0 */
/* Declarations shared by the files of the pgremap module. */
#ifndef PGREMAP_H
#define PGREMAP_H

#include <linux/compiler.h>
#include <linux/types.h>

/* dev.c: /dev/pgremap */
int pgremap_dev_register(umode_t mode);
void pgremap_dev_unregister(void);

/* move.c: PGREMAP_IOC_MOVE */
struct pgremap_move;
long pgremap_ioctl_move(struct pgremap_move __user *umove);
int pgremap_move_init(void);
void pgremap_move_exit(void);

#endif /* PGREMAP_H */
