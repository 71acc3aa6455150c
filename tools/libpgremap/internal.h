/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libpgremap internals, shared by the library's files (select.c, dev.c,
 * uffd.c, kmod.c, move.c) and, for uffd.c, by the LD_PRELOAD shim
 * (uffd-shim.c). Nothing here is exported: the objects are built with
 * -fvisibility=hidden and the version scripts list the public symbols.
 */
#ifndef LIBPGREMAP_INTERNAL_H
#define LIBPGREMAP_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include <linux/ioctl.h>
#include <linux/userfaultfd.h>
#include <linux/pgremap.h>
#include <uffd-move-compat.h>

#include "pgremap.h"

#define PGR_EXPORT __attribute__((visibility("default")))

#define PGR_DEV_PATH "/dev/" PGREMAP_DEVICE_NAME
#define PGR_MODULE "pgremap"
#define PGR_SYSFS_MODULE "/sys/module/" PGR_MODULE

/* Room for one why line (handles, struct pgremap_probe.why_buf). */
#define PGR_WHY_LEN sizeof(((struct pgremap_probe *)0)->why_buf)

/* Set in a userfaultfd's features (fdinfo) once UFFDIO_API is done. */
#define PGR_UFFD_FEATURE_INITIALIZED (1ULL << 31)
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif

/* A handle: immutable after pgremap_open(). */
struct pgremap {
	enum pgremap_backend backend;
	int fd; /* where moves go: /dev/pgremap or the caller's userfaultfd */
	int uffd; /* the caller's userfaultfd, or -1; never closed by us */
	int devfd; /* /dev/pgremap, ours to close, or -1 */
	char why[PGR_WHY_LEN];
};

/* ---- uffd.c (also linked into the shim) -------------------------------- */

/* ioctl(2) as a raw system call: no interposer (the shim) sees it. */
long pgr_sys_ioctl(int fd, unsigned long req, void *arg);

/* A new userfaultfd (close-on-exec, non-blocking), or -errno; see uffd.c. */
int pgr_uffd_new(char *why, size_t len);

/*
 * Does the running kernel report UFFD_FEATURE_MOVE? Asks a throwaway
 * userfaultfd with raw system calls. 1 yes, 0 no (why says why, including
 * when no userfaultfd could be created to ask).
 */
int pgr_uffd_kernel_move(char *why, size_t len);

/*
 * Check that fd is a userfaultfd on which UFFDIO_API was done. Returns 0
 * and its features as fdinfo shows them (the features the caller enabled),
 * or -EBADF / -EINVAL with why set.
 */
int pgr_uffd_check(int fd, uint64_t *features, char *why, size_t len);

/* Is fd a userfaultfd ("anon_inode:[userfaultfd]")? 1, 0, or -errno. */
int pgr_is_uffd(int fd);

/* UFFDIO_WAKE [start, start + len) on uffd: 0 or -errno. */
int pgr_uffd_wake(int uffd, uint64_t start, uint64_t len);

/* ---- dev.c -------------------------------------------------------------- */

struct pgr_dev_info {
	int loaded; /* /sys/module/pgremap exists or the device answered */
	int answered; /* PGREMAP_IOC_API answered (also with EINVAL) */
	struct pgremap_api api; /* its answer */
};

/*
 * Open /dev/pgremap and do the handshake; wait up to wait_ms for the node
 * to appear. Returns the fd, or -errno with why set: -ENOENT (no node),
 * -EACCES..., -EPROTO (API mismatch), -EOPNOTSUPP (no PGREMAP_IOC_MOVE).
 */
int pgr_dev_open(struct pgr_dev_info *info, int wait_ms, char *why, size_t len);

/* ---- kmod.c ------------------------------------------------------------- */

/*
 * Is the module installed for the running kernel (libkmod resolves
 * "pgremap" to an existing file, or it is built in)? 1 (path set), 0 (why
 * set), -errno (libkmod failed; why set).
 */
int pgr_kmod_installed(char *path, size_t plen, char *why, size_t wlen);
/* Could this process load it (CAP_SYS_MODULE, modules_disabled)? 1 / 0. */
int pgr_kmod_may_load(char *why, size_t len);
/* Load it through libkmod: 0 (also if already loaded) or -errno, why. */
int pgr_kmod_load(char *why, size_t len);

#endif /* LIBPGREMAP_INTERNAL_H */
