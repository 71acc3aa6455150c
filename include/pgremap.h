/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libpgremap: move private anonymous pages inside the calling process by
 * moving page-table entries, with one API on every kernel.
 *
 * Backends, picked at run time by pgremap_open():
 *  - PGREMAP_BACKEND_UFFD: the in-tree UFFDIO_MOVE (Linux 6.8+). It needs a
 *    userfaultfd whose registered ranges contain dst: the caller passes it
 *    in pgremap_open_opts.uffd. Without one it cannot be used.
 *  - PGREMAP_BACKEND_DEV: /dev/pgremap, the pgremap kernel module. Any
 *    private anonymous dst; loaded through libkmod if it is installed but
 *    not loaded and the caller may load modules.
 *
 * Errors are returned as negative errno values; errno is left alone.
 * A handle is immutable after pgremap_open(): any number of threads may
 * use one handle at once. The library keeps no global state.
 */
#ifndef PGREMAP_H
#define PGREMAP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct pgremap;

enum pgremap_backend {
	PGREMAP_BACKEND_NONE = 0,
	PGREMAP_BACKEND_UFFD = 1, /* in-tree UFFDIO_MOVE */
	PGREMAP_BACKEND_DEV = 2, /* /dev/pgremap */
};

/* pgremap_open_opts.flags */
#define PGREMAP_OPEN_NO_LOAD (1u << 0) /* never load the module */
#define PGREMAP_OPEN_DEV_ONLY (1u << 1) /* use /dev/pgremap or fail */
#define PGREMAP_OPEN_UFFD_ONLY (1u << 2) /* use UFFDIO_MOVE or fail */

struct pgremap_open_opts {
	size_t size; /* sizeof(struct pgremap_open_opts), for growth */
	int uffd; /* a userfaultfd (UFFDIO_API done) or -1 */
	unsigned int flags; /* PGREMAP_OPEN_* */
};

/* pgremap_move() flags: the UFFDIO_MOVE / PGREMAP_MOVE mode bits. */
#define PGREMAP_MOVE_DONTWAKE (1u << 0)
#define PGREMAP_MOVE_ALLOW_SRC_HOLES (1u << 1)

/*
 * Open a handle on the best backend: UFFDIO_MOVE if the kernel has it and
 * opts->uffd is a userfaultfd, else /dev/pgremap. @opts may be NULL (no
 * uffd, no flags). Returns 0 and *@h, or -ENODEV (no backend usable;
 * pgremap_probe() says why), -EINVAL (bad opts: size, unknown or
 * contradictory flags, uffd not -1 and not a userfaultfd with UFFDIO_API
 * done), -ENOMEM. The handle does not take over opts->uffd: keep it open
 * while the handle is used, and close it yourself.
 */
int pgremap_open(struct pgremap **h, const struct pgremap_open_opts *opts);
void pgremap_close(struct pgremap *h);

enum pgremap_backend pgremap_backend(const struct pgremap *h);
/* Why this backend was picked: one human-readable line, valid while @h is. */
const char *pgremap_why(const struct pgremap *h);

/*
 * Move @len bytes from @src to @dst (page-aligned, non-overlapping).
 * Restarts by itself where the kernel stopped with -EAGAIN. Returns 0
 * when everything moved, else the negative errno of the page that could
 * not move; *@moved (may be NULL) is set in both cases to the bytes moved
 * before it. Memory past *@moved is untouched. An EAGAIN with nothing
 * moved is retried; after 1000 in a row, -EAGAIN. With the UFFD backend
 * dst must be registered with the handle's uffd (else -EINVAL) and a
 * move wakes faulting threads unless PGREMAP_MOVE_DONTWAKE; /dev/pgremap
 * never wakes anybody (see pgremap_move_wake()). Errors: pgremap_move(3).
 */
int pgremap_move(struct pgremap *h, void *dst, void *src, size_t len,
		 unsigned int flags, size_t *moved);

/*
 * pgremap_move(), then UFFDIO_WAKE of [dst, dst + moved) on @uffd (on the
 * handle's own uffd if @uffd is -1), for threads blocked in a userfaultfd
 * MISSING fault on dst, whichever backend moved the pages. One wake per
 * call, also after a move that stopped with an error; the move itself
 * never wakes, so PGREMAP_MOVE_DONTWAKE makes no difference. -EINVAL
 * (nothing moved) if there is no uffd to wake; after a successful move,
 * the wake's errors (-EBADF, -ENOTTY, -EINVAL).
 */
int pgremap_move_wake(struct pgremap *h, int uffd, void *dst, void *src,
		      size_t len, unsigned int flags, size_t *moved);

/*
 * What pgremap_probe() found. @why points to a static string or into
 * @why_buf of the same struct: valid as long as the struct is.
 */
struct pgremap_probe {
	int kernel_uffd_move; /* 1: UFFD_FEATURE_MOVE reported, 0: not */
	int module_loaded; /* /sys/module/pgremap exists or the device answers */
	int module_installed; /* modprobe would find it (libkmod) */
	uint64_t dev_api; /* PGREMAP_IOC_API answer; 0 if none */
	uint64_t dev_features;
	uint64_t dev_ioctls;
	enum pgremap_backend backend; /* what pgremap_open(opts) picks */
	const char *why; /* ... and why, or why nothing */
	char why_buf[512]; /* storage for @why; use @why */
};

/*
 * Inspect the system the way pgremap_open(@opts) would, without loading
 * anything or keeping anything open (it does create and close a throwaway
 * userfaultfd to ask the kernel). @opts may be NULL. Returns 0, or -EINVAL
 * for opts pgremap_open() would refuse (*@out is filled in all the same,
 * @why saying what is wrong).
 */
int pgremap_probe(struct pgremap_probe *out,
		  const struct pgremap_open_opts *opts);

#ifdef __cplusplus
}
#endif

#endif /* PGREMAP_H */
