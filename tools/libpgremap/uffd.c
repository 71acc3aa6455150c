// SPDX-License-Identifier: GPL-2.0
/*
 * libpgremap: the userfaultfd side. Asks the kernel whether it has the
 * in-tree UFFDIO_MOVE (on a throwaway userfaultfd), checks a caller's
 * userfaultfd, wakes faulting threads. Also linked into the LD_PRELOAD
 * shim, which is why every ioctl here is a raw system call: the shim's
 * ioctl() must not see the library's (or its own) probes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "internal.h"

long pgr_sys_ioctl(int fd, unsigned long req, void *arg)
{
	return syscall(SYS_ioctl, fd, req, arg);
}

/*
 * userfaultfd(2) first: UFFD_USER_MODE_ONLY makes it work for unprivileged
 * callers when vm.unprivileged_userfaultfd is 0 (5.11+; EINVAL before, so
 * retry without). Where the system call is refused (EPERM, seccomp's
 * ENOSYS...), /dev/userfaultfd (6.1+), whose access mode is the policy.
 */
int pgr_uffd_new(char *why, size_t len)
{
	const int flags = O_CLOEXEC | O_NONBLOCK;
	int fd, err, dev;

	fd = syscall(SYS_userfaultfd, flags | UFFD_USER_MODE_ONLY);
	if (fd < 0 && errno == EINVAL)
		fd = syscall(SYS_userfaultfd, flags);
	if (fd >= 0)
		return fd;
	err = errno;
	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev >= 0) {
		fd = pgr_sys_ioctl(dev, USERFAULTFD_IOC_NEW,
				   (void *)(long)(flags | UFFD_USER_MODE_ONLY));
		if (fd < 0 && errno == EINVAL)
			fd = pgr_sys_ioctl(dev, USERFAULTFD_IOC_NEW,
					   (void *)(long)flags);
		close(dev);
		if (fd >= 0)
			return fd;
	}
	snprintf(
		why, len,
		"cannot create a userfaultfd (userfaultfd(2): %s; /dev/userfaultfd: %s)",
		strerror(err), strerror(errno));
	return -err;
}

int pgr_uffd_kernel_move(char *why, size_t len)
{
	struct uffdio_api api = { .api = UFFD_API, .features = 0 };
	int fd, err;

	fd = pgr_uffd_new(why, len);
	if (fd < 0)
		return 0;
	/*
	 * UFFDIO_API with features 0 reports every feature the kernel
	 * supports (asking for UFFD_FEATURE_MOVE itself would only turn
	 * "no" into EINVAL).
	 */
	if (pgr_sys_ioctl(fd, UFFDIO_API, &api)) {
		err = errno;
		close(fd);
		snprintf(why, len, "UFFDIO_API on a new userfaultfd: %s",
			 strerror(err));
		return 0;
	}
	close(fd);
	if (api.features & UFFD_FEATURE_MOVE) {
		snprintf(why, len, "UFFD_FEATURE_MOVE reported");
		return 1;
	}
	snprintf(why, len, "UFFD_FEATURE_MOVE not reported");
	return 0;
}

/* readlink /proc/self/fd/N: 0 and the target, or -errno. */
static int pgr_fd_target(int fd, char *buf, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, buf, len - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

#define PGR_UFFD_TARGET "anon_inode:[userfaultfd]"

int pgr_is_uffd(int fd)
{
	char target[64];
	int err;

	err = pgr_fd_target(fd, target, sizeof(target));
	if (err)
		return err;
	return !strcmp(target, PGR_UFFD_TARGET);
}

/*
 * The userfaultfd's fdinfo ends with "API:\t<api>:<features>:<ioctls>",
 * features being those enabled by UFFDIO_API plus, on 6.1 and later,
 * UFFD_FEATURE_INITIALIZED (bit 31) once it is done. Before 6.1 the
 * features say nothing about UFFDIO_API: see pgr_uffd_api_done().
 */
static int pgr_uffd_fdinfo_features(int fd, uint64_t *features)
{
	char path[64], buf[512], *api;
	unsigned long long a, f;
	ssize_t n;
	int ifd;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	ifd = open(path, O_RDONLY | O_CLOEXEC);
	if (ifd < 0)
		return -errno;
	n = read(ifd, buf, sizeof(buf) - 1);
	close(ifd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	api = strstr(buf, "\nAPI:\t");
	if (!api || sscanf(api + 6, "%llx:%llx:", &a, &f) != 2)
		return -EPROTO;
	*features = f;
	return 0;
}

/*
 * Whether UFFDIO_API was done on @fd, for kernels whose fdinfo does not
 * say (before 6.1): every other ioctl fails with EINVAL until it is. The
 * probe wakes the threads waiting on faults in the topmost page of a
 * 47-bit address space, if any: a wake-up is always allowed to be
 * spurious (the thread faults again and a new message is queued).
 */
static bool pgr_uffd_api_done(int fd)
{
	struct uffdio_range r = {
		.start = (1ULL << 47) - 2 * 4096,
		.len = 4096,
	};

	return !pgr_sys_ioctl(fd, UFFDIO_WAKE, &r);
}

int pgr_uffd_check(int fd, uint64_t *features, char *why, size_t len)
{
	char target[256];
	int err;

	*features = 0;
	if (fcntl(fd, F_GETFD) < 0) {
		snprintf(why, len, "opts->uffd (fd %d) is not open", fd);
		return -EINVAL;
	}
	err = pgr_fd_target(fd, target, sizeof(target));
	if (err) {
		/* No /proc: take the caller's word for it. */
		*features = PGR_UFFD_FEATURE_INITIALIZED;
		return 0;
	}
	if (strcmp(target, PGR_UFFD_TARGET)) {
		snprintf(why, len,
			 "opts->uffd (fd %d) is not a userfaultfd: %s", fd,
			 target);
		return -EINVAL;
	}
	err = pgr_uffd_fdinfo_features(fd, features);
	if (err) {
		*features = PGR_UFFD_FEATURE_INITIALIZED;
		return 0;
	}
	if (!(*features & PGR_UFFD_FEATURE_INITIALIZED) &&
	    pgr_uffd_api_done(fd))
		*features |= PGR_UFFD_FEATURE_INITIALIZED;
	if (!(*features & PGR_UFFD_FEATURE_INITIALIZED)) {
		snprintf(
			why, len,
			"opts->uffd (fd %d) is a userfaultfd without UFFDIO_API done",
			fd);
		return -EINVAL;
	}
	return 0;
}

int pgr_uffd_wake(int uffd, uint64_t start, uint64_t len)
{
	struct uffdio_range r = { .start = start, .len = len };

	return pgr_sys_ioctl(uffd, UFFDIO_WAKE, &r) ? -errno : 0;
}
