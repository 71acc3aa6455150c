/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * pgremap: move private anonymous pages inside the caller's own address
 * space by moving page-table entries, with the semantics of the in-tree
 * UFFDIO_MOVE (Linux 6.8+), on kernels that lack it.
 *
 * The device is /dev/pgremap. Every ioctl acts on the address space of the
 * process that issues it (current->mm), never on that of the process that
 * opened the file, so a file descriptor passed to another process grants
 * that process nothing but the right to move its own pages.
 *
 * Only fixed-width types are used, so the same layout serves 32-bit and
 * 64-bit callers.
 */
#ifndef _UAPI_LINUX_PGREMAP_H
#define _UAPI_LINUX_PGREMAP_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define PGREMAP_DEVICE_NAME	"pgremap"

/*
 * The API version a caller speaks, passed in pgremap_api.api. It changes
 * only if an existing ioctl changes meaning; new abilities are announced
 * as feature bits instead.
 */
#define PGREMAP_API		((__u64)0xBA01)

/* Ioctl magic: 0xBA is unassigned in Documentation/userspace-api/ioctl. */
#define PGREMAP_IOC_MAGIC	0xBA

/* Ioctl numbers; pgremap_api.ioctls has bit (1ULL << _PGREMAP_X) for each. */
#define _PGREMAP_API		0x00

/*
 * Feature bits reported in pgremap_api.features. None are defined by this
 * version of the API; a caller that asks for any bit gets -EINVAL.
 */
#define PGREMAP_FEATURES_ALL	((__u64)0)

/**
 * struct pgremap_api - version handshake and capability query
 * @api:      in: the API version the caller speaks (PGREMAP_API).
 *            out: the API version the module speaks.
 * @features: in: feature bits the caller requires.
 *            out: every feature bit the module supports.
 * @ioctls:   out: bit (1ULL << _PGREMAP_X) set for each ioctl served.
 *
 * Returns 0, or -1 with errno EINVAL when @api is not PGREMAP_API or
 * @features holds a bit the module does not support. On EINVAL the struct
 * is still written back, with @api and @features telling what the module
 * does support and @ioctls zero, so a caller can adapt and retry.
 * EFAULT: the struct could not be read or written.
 */
struct pgremap_api {
	__u64 api;
	__u64 features;
	__u64 ioctls;
};

#define PGREMAP_IOC_API	_IOWR(PGREMAP_IOC_MAGIC, _PGREMAP_API, struct pgremap_api)

#endif /* _UAPI_LINUX_PGREMAP_H */
