/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The in-tree UFFDIO_MOVE UAPI (Linux 6.8+), for userspace built against
 * older <linux/userfaultfd.h> (Debian 12's is 6.1's): what it lacks, with
 * the values of the 6.8 header. Include after <linux/userfaultfd.h>.
 * Private to this tree (the harness, libpgremap, pgremap-bench); never
 * installed. tests/uffd-move-app.c keeps its own copy on purpose: it
 * stands for an unmodified program built against a 6.8+ header.
 */
#ifndef PGREMAP_UFFD_MOVE_COMPAT_H
#define PGREMAP_UFFD_MOVE_COMPAT_H

#include <linux/userfaultfd.h>

#ifndef _UFFDIO_MOVE
#define _UFFDIO_MOVE (0x05)
#endif
#ifndef UFFD_FEATURE_MOVE
#define UFFD_FEATURE_MOVE (1 << 16)
#endif
#ifndef UFFDIO_MOVE
struct uffdio_move {
	__u64 dst;
	__u64 src;
	__u64 len;
#define UFFDIO_MOVE_MODE_DONTWAKE ((__u64)1 << 0)
#define UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES ((__u64)1 << 1)
	__u64 mode;
	__s64 move;
};
#define UFFDIO_MOVE _IOWR(UFFDIO, _UFFDIO_MOVE, struct uffdio_move)
#endif

#endif /* PGREMAP_UFFD_MOVE_COMPAT_H */
