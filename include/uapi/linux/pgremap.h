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
#define _PGREMAP_MOVE		0x01

/*
 * Feature bits reported in pgremap_api.features: behaviours of
 * PGREMAP_IOC_MOVE beyond moving present 4 KiB anonymous pages. A caller
 * that requires a bit the module lacks gets -EINVAL from PGREMAP_IOC_API.
 */
/* Zero-page PTEs (read-faulted, never written) move without a folio. */
#define PGREMAP_FEATURE_MOVE_ZEROPAGE	((__u64)1 << 0)
/* Swapped-out pages move as swap entries, without being swapped in. */
#define PGREMAP_FEATURE_MOVE_SWAP	((__u64)1 << 1)
/*
 * A transparent huge page (or huge zero page) in src that the move covers
 * whole, 2 MiB-aligned, onto an empty aligned dst PMD moves as one PMD.
 */
#define PGREMAP_FEATURE_MOVE_THP_PMD	((__u64)1 << 2)
/* Other transparent huge pages in src are split, then moved page by page. */
#define PGREMAP_FEATURE_MOVE_THP_SPLIT	((__u64)1 << 3)

#define PGREMAP_FEATURES_ALL	(PGREMAP_FEATURE_MOVE_ZEROPAGE | \
				 PGREMAP_FEATURE_MOVE_SWAP | \
				 PGREMAP_FEATURE_MOVE_THP_PMD | \
				 PGREMAP_FEATURE_MOVE_THP_SPLIT)

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

/**
 * struct pgremap_move - move pages from src to dst (PGREMAP_IOC_MOVE)
 * @dst:  page-aligned start of the destination range
 * @src:  page-aligned start of the source range
 * @len:  page-aligned length, not 0
 * @mode: PGREMAP_MOVE_MODE_* bits
 * @move: out: bytes moved, or the negative errno if nothing moved
 *
 * Same layout and mode bits as struct uffdio_move (Linux 6.8+), so code
 * written for UFFDIO_MOVE ports with a rename. The ioctl is served only
 * when pgremap_api.ioctls has bit (1ULL << _PGREMAP_MOVE) set.
 */
struct pgremap_move {
	__u64 dst;
	__u64 src;
	__u64 len;
	__u64 mode;
	__s64 move;	/* out, must stay last */
};

/* Accepted and ignored: pgremap never wakes userfaultfd waiters. */
#define PGREMAP_MOVE_MODE_DONTWAKE		((__u64)1 << 0)
/* Holes in src count as moved instead of failing with ENOENT. */
#define PGREMAP_MOVE_MODE_ALLOW_SRC_HOLES	((__u64)1 << 1)

#define PGREMAP_IOC_MOVE	_IOWR(PGREMAP_IOC_MAGIC, _PGREMAP_MOVE, struct pgremap_move)

#endif /* _UAPI_LINUX_PGREMAP_H */
