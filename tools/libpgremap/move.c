// SPDX-License-Identifier: GPL-2.0
/*
 * libpgremap: the moves. Both backends take the same struct (struct
 * pgremap_move and struct uffdio_move share layout and mode bits) and
 * answer the same way: 0, or -1 with errno and the move field holding the
 * bytes moved (EAGAIN: a short move) or the negative errno. One loop
 * serves both.
 */
#include <errno.h>
#include <sched.h>
#include <sys/ioctl.h>

#include "internal.h"

/*
 * EAGAIN with nothing moved is a retry request: UFFDIO_MOVE returns it
 * while the address space is changing under a non-cooperative userfaultfd
 * (fork, mremap... events not read yet). Give up after this many in a row.
 */
#define PGR_MAX_STALLS 1000

#define PGR_MOVE_FLAGS (PGREMAP_MOVE_DONTWAKE | PGREMAP_MOVE_ALLOW_SRC_HOLES)

static __u64 pgr_mode(const struct pgremap *h, unsigned int flags)
{
	__u64 mode = 0;

	if (h->backend == PGREMAP_BACKEND_UFFD) {
		if (flags & PGREMAP_MOVE_DONTWAKE)
			mode |= UFFDIO_MOVE_MODE_DONTWAKE;
		if (flags & PGREMAP_MOVE_ALLOW_SRC_HOLES)
			mode |= UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES;
	} else {
		if (flags & PGREMAP_MOVE_DONTWAKE)
			mode |= PGREMAP_MOVE_MODE_DONTWAKE;
		if (flags & PGREMAP_MOVE_ALLOW_SRC_HOLES)
			mode |= PGREMAP_MOVE_MODE_ALLOW_SRC_HOLES;
	}
	return mode;
}

PGR_EXPORT int pgremap_move(struct pgremap *h, void *dst, void *src, size_t len,
			    unsigned int flags, size_t *moved)
{
	const unsigned long nr = h && h->backend == PGREMAP_BACKEND_UFFD ?
					 UFFDIO_MOVE :
					 PGREMAP_IOC_MOVE;
	unsigned int stalls = 0;
	size_t done = 0;
	__u64 mode;
	int err;

	if (moved)
		*moved = 0;
	if (!h || h->backend == PGREMAP_BACKEND_NONE ||
	    (flags & ~PGR_MOVE_FLAGS))
		return -EINVAL;
	mode = pgr_mode(h, flags);
	/* Not "while (done < len)": the kernel answers len 0 (EINVAL). */
	for (;;) {
		struct pgremap_move m = {
			.dst = (uintptr_t)dst + done,
			.src = (uintptr_t)src + done,
			.len = len - done,
			.mode = mode,
		};

		if (!ioctl(h->fd, nr, &m)) {
			done = len;
			err = 0;
			break;
		}
		err = -errno;
		if (err != -EAGAIN)
			break;
		if (m.move > 0 && (__u64)m.move < m.len) {
			done += m.move;
			stalls = 0;
			continue;
		}
		if (++stalls >= PGR_MAX_STALLS)
			break;
		sched_yield();
	}
	if (moved)
		*moved = done;
	return err;
}

PGR_EXPORT int pgremap_move_wake(struct pgremap *h, int uffd, void *dst,
				 void *src, size_t len, unsigned int flags,
				 size_t *moved)
{
	size_t done = 0;
	int err, werr;

	if (moved)
		*moved = 0;
	if (!h || uffd < -1 || (flags & ~PGR_MOVE_FLAGS))
		return -EINVAL;
	if (uffd < 0)
		uffd = h->uffd;
	if (uffd < 0)
		return -EINVAL; /* nobody to wake: no uffd here nor in h */
	/* One wake for the whole range, whatever the backend. */
	err = pgremap_move(h, dst, src, len, flags | PGREMAP_MOVE_DONTWAKE,
			   &done);
	if (done) {
		werr = pgr_uffd_wake(uffd, (uintptr_t)dst, done);
		if (!err)
			err = werr;
	}
	if (moved)
		*moved = done;
	return err;
}
