// SPDX-License-Identifier: GPL-2.0
/*
 * libpgremap-uffd.so: in-tree UFFDIO_MOVE for unmodified programs, on
 * kernels without it, served by /dev/pgremap. Use with LD_PRELOAD.
 *
 * It interposes ioctl() and looks only at three requests on userfaultfd
 * descriptors:
 *  - UFFDIO_API: UFFD_FEATURE_MOVE is taken out of the requested features
 *    before the kernel sees them (it would refuse the unknown bit) and put
 *    into the answer;
 *  - UFFDIO_REGISTER: the MOVE ioctl is added to the answer's ioctls for
 *    every range the kernel offers UFFDIO_ZEROPAGE on (as 6.8+ kernels
 *    do: not hugetlb);
 *  - UFFDIO_MOVE: PGREMAP_IOC_MOVE on /dev/pgremap with the caller's
 *    struct as it is (same layout, same mode bits, same answer), then
 *    UFFDIO_WAKE of the moved range on the userfaultfd unless
 *    UFFDIO_MOVE_MODE_DONTWAKE.
 * Everything else goes to the next ioctl() (libc's) untouched.
 *
 * The mode is decided once, at the first of those three requests: on a
 * kernel that reports UFFD_FEATURE_MOVE itself the shim passes everything
 * through; else it opens /dev/pgremap (handshake, PGREMAP_IOC_MOVE
 * served) and emulates; if that fails it says so once on stderr and
 * passes everything through, so the program sees what the kernel says
 * (UFFDIO_API asking for UFFD_FEATURE_MOVE: EINVAL; UFFDIO_MOVE: EINVAL
 * on 6.1) and can take its fallback path.
 *
 * The descriptor of /dev/pgremap and the mode are the shim's only state.
 * Its own system calls are raw (syscall(SYS_ioctl, ...)): no recursion
 * through ioctl(), even for a program calling ioctl() before the shim's
 * or libc's constructors ran.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "internal.h"

enum pgr_shim_mode {
	PGR_SHIM_PASS, /* kernel has UFFDIO_MOVE, or nothing to serve it */
	PGR_SHIM_EMULATE, /* /dev/pgremap serves UFFDIO_MOVE */
};

static pthread_once_t pgr_shim_once = PTHREAD_ONCE_INIT;
static int pgr_shim_mode = PGR_SHIM_PASS;
static int pgr_shim_devfd = -1;

typedef int (*pgr_ioctl_fn)(int fd, unsigned long req, ...);

/* 0: not looked up, 1: being looked up, 2: done (next_ioctl set). */
static int pgr_next_state;
static pgr_ioctl_fn pgr_next_ioctl;

static int pgr_raw_ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	return pgr_sys_ioctl(fd, req, arg);
}

/*
 * The next ioctl() in lookup order (libc's, or another interposer's). While
 * dlsym() runs (it could, through some allocator, end up in ioctl() again)
 * and if it finds nothing, the raw system call stands in.
 */
static int pgr_next(int fd, unsigned long req, void *arg)
{
	pgr_ioctl_fn fn = __atomic_load_n(&pgr_next_ioctl, __ATOMIC_ACQUIRE);
	int expect = 0;
	void *sym;

	if (fn)
		return fn(fd, req, arg);
	if (__atomic_compare_exchange_n(&pgr_next_state, &expect, 1, false,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		sym = dlsym(RTLD_NEXT, "ioctl");
		fn = sym ? (pgr_ioctl_fn)sym : pgr_raw_ioctl;
		__atomic_store_n(&pgr_next_ioctl, fn, __ATOMIC_RELEASE);
		__atomic_store_n(&pgr_next_state, 2, __ATOMIC_RELEASE);
		return fn(fd, req, arg);
	}
	return pgr_sys_ioctl(fd, req, arg);
}

static void pgr_shim_say(const char *what, int err)
{
	char line[300];
	int n;

	n = snprintf(line, sizeof(line),
		     "libpgremap-uffd: %s: %s; UFFDIO_MOVE is not emulated\n",
		     what, strerror(err));
	if (n > 0 && write(STDERR_FILENO, line, n) < 0)
		return;
}

static void pgr_shim_init(void)
{
	struct pgremap_api api = { .api = PGREMAP_API };
	char why[PGR_WHY_LEN];
	int fd, saved = errno;

	if (pgr_uffd_kernel_move(why, sizeof(why)))
		goto out; /* the kernel has it: pass through */
	fd = open(PGR_DEV_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		pgr_shim_say("cannot open " PGR_DEV_PATH, errno);
		goto out;
	}
	if (pgr_sys_ioctl(fd, PGREMAP_IOC_API, &api)) {
		pgr_shim_say(PGR_DEV_PATH ": PGREMAP_IOC_API", errno);
		close(fd);
		goto out;
	}
	if (!(api.ioctls & (1ULL << _PGREMAP_MOVE))) {
		pgr_shim_say(PGR_DEV_PATH " does not serve PGREMAP_IOC_MOVE",
			     EOPNOTSUPP);
		close(fd);
		goto out;
	}
	pgr_shim_devfd = fd;
	pgr_shim_mode = PGR_SHIM_EMULATE;
out:
	errno = saved;
}

/* Copy between the caller's memory and ours, EFAULT instead of SIGSEGV. */
static int pgr_shim_copy(void *to, const void *from, size_t len, bool in)
{
	struct iovec local = { .iov_base = in ? to : (void *)from,
			       .iov_len = len };
	struct iovec remote = { .iov_base = in ? (void *)from : to,
				.iov_len = len };
	ssize_t n;

	n = in ? process_vm_readv(getpid(), &local, 1, &remote, 1, 0) :
		 process_vm_writev(getpid(), &local, 1, &remote, 1, 0);
	if (n == (ssize_t)len)
		return 0;
	if (n < 0 && errno != EFAULT) {
		/* Not allowed here (seccomp...): plain access. */
		memcpy(to, from, len);
		return 0;
	}
	return -EFAULT;
}

static int pgr_shim_api(int fd, void *arg)
{
	struct uffdio_api api;
	int ret, err;

	if (pgr_shim_copy(&api, arg, sizeof(api), true)) {
		errno = EFAULT;
		return -1;
	}
	api.features &= ~(__u64)UFFD_FEATURE_MOVE;
	ret = pgr_next(fd, UFFDIO_API, &api);
	err = errno;
	/* A 6.8+ kernel reports every feature it has, asked for or not. */
	if (!ret)
		api.features |= UFFD_FEATURE_MOVE;
	if (pgr_shim_copy(arg, &api, sizeof(api), false)) {
		errno = EFAULT;
		return -1;
	}
	errno = err;
	return ret;
}

static int pgr_shim_register(int fd, void *arg)
{
	struct uffdio_register *reg = arg;
	int ret = pgr_next(fd, UFFDIO_REGISTER, arg);

	/* Success: the kernel wrote reg->ioctls, so reg is writable. */
	if (!ret && (reg->ioctls & (1ULL << _UFFDIO_ZEROPAGE)))
		reg->ioctls |= 1ULL << _UFFDIO_MOVE;
	return ret;
}

static int pgr_shim_move(int fd, void *arg)
{
	struct uffdio_move *m = arg;
	int ret, err = errno;

	ret = pgr_sys_ioctl(pgr_shim_devfd, PGREMAP_IOC_MOVE, arg);
	if (ret && errno != EAGAIN)
		return ret;
	if (ret)
		err = errno;
	/* Moved something: the kernel read and wrote *m, it is valid. */
	if (!(m->mode & UFFDIO_MOVE_MODE_DONTWAKE) && m->move > 0)
		pgr_uffd_wake(fd, m->dst, m->move);
	errno = err;
	return ret;
}

PGR_EXPORT int ioctl(int fd, unsigned long req, ...)
{
	const unsigned int nr = req;
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);

	if (nr != UFFDIO_API && nr != UFFDIO_REGISTER && nr != UFFDIO_MOVE)
		return pgr_next(fd, req, arg);
	pthread_once(&pgr_shim_once, pgr_shim_init);
	if (pgr_shim_mode != PGR_SHIM_EMULATE || pgr_is_uffd(fd) != 1)
		return pgr_next(fd, req, arg);
	switch (nr) {
	case UFFDIO_API:
		return pgr_shim_api(fd, arg);
	case UFFDIO_REGISTER:
		return pgr_shim_register(fd, arg);
	default:
		return pgr_shim_move(fd, arg);
	}
}
