// SPDX-License-Identifier: GPL-2.0
/*
 * Page-move backends (pgremap, in-tree UFFDIO_MOVE) and the memory probes
 * the move suites check results with: address-derived page patterns,
 * /proc/self/pagemap, /proc/kpageflags, smaps, maps and vmstat.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "mover.h"

/* ---- backends ----------------------------------------------------------- */

const char *mover_name(enum mover_kind kind)
{
	return kind == MOVER_PGREMAP ? "pgremap" : "uffd";
}

int mt_userfaultfd(int flags)
{
	int fd = syscall(SYS_userfaultfd, flags | UFFD_USER_MODE_ONLY);

	/* UFFD_USER_MODE_ONLY is 5.11+: EINVAL before. */
	if (fd < 0 && errno == EINVAL)
		fd = syscall(SYS_userfaultfd, flags);
	return fd < 0 ? -errno : fd;
}

int mt_uffd_open(__u64 features)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	int fd, err;

	fd = mt_userfaultfd(O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return fd;
	if (ioctl(fd, UFFDIO_API, &api)) {
		err = -errno;
		close(fd);
		return err;
	}
	if ((api.features & features) != features) {
		close(fd);
		return -EOPNOTSUPP;
	}
	return fd;
}

static struct mover *mover_open_pgremap(const char **why)
{
	struct pgremap_api a = { .api = PGREMAP_API };
	struct mover *m;
	int fd;

	fd = open(PGR_DEV_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		*why = "cannot open " PGR_DEV_PATH;
		return NULL;
	}
	if (ioctl(fd, PGREMAP_IOC_API, &a)) {
		close(fd);
		*why = "PGREMAP_IOC_API failed";
		return NULL;
	}
	if (!(a.ioctls & (1ULL << _PGREMAP_MOVE))) {
		close(fd);
		*why = MOVER_PGREMAP_NOT_SERVED;
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	ck_assert(m);
	m->kind = MOVER_PGREMAP;
	m->fd = fd;
	return m;
}

static struct mover *mover_open_uffd(const char **why)
{
	struct mover *m;
	int fd;

	fd = mt_uffd_open(UFFD_FEATURE_MOVE);
	if (fd < 0) {
		*why = fd == -ENOSYS ? "kernel has no userfaultfd" :
				       "kernel lacks UFFD_FEATURE_MOVE";
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	ck_assert(m);
	m->kind = MOVER_UFFD;
	m->fd = fd;
	return m;
}

struct mover *mover_open(enum mover_kind kind, const char **why)
{
	return kind == MOVER_PGREMAP ? mover_open_pgremap(why) :
				       mover_open_uffd(why);
}

void mover_close(struct mover *m)
{
	if (!m)
		return;
	close(m->fd);
	free(m);
}

void mt_uffd_register(int ufd, void *addr, size_t len)
{
	struct uffdio_register reg = {
		.range = { .start = (unsigned long)addr, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};

	ck_assert_msg(!ioctl(ufd, UFFDIO_REGISTER, &reg),
		      "UFFDIO_REGISTER %p+%#zx: %s", addr, len,
		      strerror(errno));
}

void mt_uffd_wake(int ufd, void *addr, size_t len)
{
	struct uffdio_range r = { .start = (unsigned long)addr, .len = len };

	ck_assert_msg(!ioctl(ufd, UFFDIO_WAKE, &r), "UFFDIO_WAKE %p: %s", addr,
		      strerror(errno));
}

void mt_uffd_unregister(int ufd, void *addr, size_t len)
{
	struct uffdio_range r = { .start = (unsigned long)addr, .len = len };

	ck_assert_msg(!ioctl(ufd, UFFDIO_UNREGISTER, &r),
		      "UFFDIO_UNREGISTER %p+%#zx: %s", addr, len,
		      strerror(errno));
}

void mover_prepare_dst(struct mover *m, void *addr, size_t len)
{
	struct uffdio_register reg = {
		.range = { .start = (unsigned long)addr, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};

	if (m->kind != MOVER_UFFD)
		return;
	ck_assert_msg(!ioctl(m->fd, UFFDIO_REGISTER, &reg),
		      "UFFDIO_REGISTER %p+%#zx: %s", addr, len,
		      strerror(errno));
	ck_assert_msg(reg.ioctls & (1ULL << _UFFDIO_MOVE),
		      "registered range does not offer UFFDIO_MOVE (%#llx)",
		      (unsigned long long)reg.ioctls);
}

void mover_release_dst(struct mover *m, void *addr, size_t len)
{
	if (m->kind == MOVER_UFFD)
		mt_uffd_unregister(m->fd, addr, len);
}

int mover_move(struct mover *m, unsigned long dst, unsigned long src,
	       unsigned long len, __u64 mode, __s64 *move)
{
	/* struct pgremap_move and struct uffdio_move share their layout. */
	struct pgremap_move mv = { .dst = dst,
				   .src = src,
				   .len = len,
				   .mode = mode,
				   .move = MV_UNTOUCHED };
	unsigned long nr = m->kind == MOVER_PGREMAP ? PGREMAP_IOC_MOVE :
						      UFFDIO_MOVE;
	int ret;

	ret = ioctl(m->fd, nr, &mv);
	ck_assert_msg(ret == 0 || ret == -1, "%s move returned %d",
		      mover_name(m->kind), ret);
	if (move)
		*move = mv.move;
	return ret ? errno : 0;
}

void mover_move_all(struct mover *m, void *dst, void *src, size_t len,
		    __u64 mode)
{
	unsigned long d = (unsigned long)dst, s = (unsigned long)src;
	unsigned long left = len;
	__s64 mv;
	int err;

	while (left) {
		err = mover_move(m, d, s, left, mode, &mv);
		if (!err) {
			ck_assert_msg(mv == (__s64)left,
				      "move %#lx <- %#lx len %#lx: move %lld",
				      d, s, left, (long long)mv);
			return;
		}
		ck_assert_msg(err == EAGAIN && mv > 0 && mv < (__s64)left,
			      "move %#lx <- %#lx len %#lx: %s, move %lld", d, s,
			      left, strerror(err), (long long)mv);
		d += mv;
		s += mv;
		left -= mv;
	}
}

/* ---- memory ------------------------------------------------------------- */

size_t mt_page(void)
{
	return sysconf(_SC_PAGESIZE);
}

void *mt_map_prot(size_t len, size_t align, int prot, int flags, bool thp)
{
	size_t ps = mt_page(), al = align > ps ? align : ps;
	unsigned long p, a;
	void *raw, *got;

	/*
	 * Reserve PROT_NONE with room for alignment and a guard page on
	 * each side, so that the mapping never merges with a neighbour.
	 */
	raw = mmap(NULL, len + al + 2 * ps, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ck_assert_msg(raw != MAP_FAILED, "mmap %#zx: %s", len + al + 2 * ps,
		      strerror(errno));
	p = (unsigned long)raw;
	a = (p + ps + al - 1) & ~(al - 1);
	got = mmap((void *)a, len, prot, flags | MAP_ANONYMOUS | MAP_FIXED, -1,
		   0);
	ck_assert_msg(got == (void *)a, "mmap fixed %#lx: %s", a,
		      strerror(errno));
	if (!(flags & MAP_SHARED))
		ck_assert_msg(!madvise((void *)a, len,
				       thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE),
			      "madvise THP: %s", strerror(errno));
	return (void *)a;
}

void *mt_map(size_t len, size_t align, bool thp)
{
	return mt_map_prot(len, align, PROT_READ | PROT_WRITE, MAP_PRIVATE,
			   thp);
}

void mt_unmap(void *p, size_t len)
{
	munmap(p, len);
}

static inline __u64 mt_word(unsigned long seed, size_t i)
{
	__u64 x = (seed ^ 0x243f6a8885a308d3ULL) * 0x9e3779b97f4a7c15ULL + i;

	x ^= x >> 31;
	return x * 0xbf58476d1ce4e5b9ULL | 1;
}

void mt_fill(void *p, size_t npages, unsigned long seed)
{
	size_t ps = mt_page(), words = ps / 8, i, j;

	for (i = 0; i < npages; i++) {
		__u64 *w = (__u64 *)((char *)p + i * ps);

		for (j = 0; j < words; j++)
			w[j] = mt_word(seed + i * ps, j);
	}
}

long mt_check(const void *p, size_t npages, unsigned long seed)
{
	size_t ps = mt_page(), words = ps / 8, i, j;

	for (i = 0; i < npages; i++) {
		const __u64 *w = (const __u64 *)((const char *)p + i * ps);

		for (j = 0; j < words; j++)
			if (w[j] != mt_word(seed + i * ps, j))
				return i;
	}
	return -1;
}

void mt_assert_pattern(const void *p, size_t npages, unsigned long seed,
		       const char *what)
{
	long bad = mt_check(p, npages, seed);

	ck_assert_msg(bad < 0,
		      "%s: page %ld of %zu (%p) does not hold the bytes of "
		      "%#lx (first word %#llx)",
		      what, bad, npages, (const char *)p + bad * mt_page(),
		      seed + bad * mt_page(),
		      bad < 0 ? 0ULL :
				(unsigned long long)*(
					const __u64 *)((const char *)p +
						       bad * mt_page()));
}

long mt_check_zero(const void *p, size_t npages)
{
	size_t ps = mt_page(), words = ps / 8, i, j;

	for (i = 0; i < npages; i++) {
		const __u64 *w = (const __u64 *)((const char *)p + i * ps);

		for (j = 0; j < words; j++)
			if (w[j])
				return i;
	}
	return -1;
}

/* ---- /proc probes ------------------------------------------------------- */

void mt_pagemap_range(const void *addr, size_t npages, __u64 *out)
{
	off_t off = (unsigned long)addr / mt_page() * 8;
	size_t want = npages * 8, got = 0;
	ssize_t n;
	int fd;

	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "open pagemap: %s", strerror(errno));
	while (got < want) {
		n = pread(fd, (char *)out + got, want - got, off + got);
		ck_assert_msg(n > 0, "read pagemap: %s",
			      n ? strerror(errno) : "EOF");
		got += n;
	}
	close(fd);
}

__u64 mt_pagemap(const void *addr)
{
	__u64 e;

	mt_pagemap_range(addr, 1, &e);
	return e;
}

size_t mt_pagemap_count(const void *addr, size_t npages, __u64 mask)
{
	size_t i, n = 0, chunk;
	__u64 buf[512];

	while (npages) {
		chunk = npages < 512 ? npages : 512;
		mt_pagemap_range(addr, chunk, buf);
		for (i = 0; i < chunk; i++)
			n += (buf[i] & mask) == mask;
		npages -= chunk;
		addr = (const char *)addr + chunk * mt_page();
	}
	return n;
}

__u64 mt_kpageflags(__u64 pfn)
{
	__u64 f = 0;
	int fd;

	fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "open kpageflags: %s", strerror(errno));
	ck_assert_msg(pread(fd, &f, 8, pfn * 8) == 8, "read kpageflags: %s",
		      strerror(errno));
	close(fd);
	return f;
}

long mt_smaps_kb(const void *addr, const char *field)
{
	unsigned long a = (unsigned long)addr, lo, hi;
	size_t flen = strlen(field);
	char line[512];
	bool in = false;
	long kb = -1;
	FILE *f;

	f = fopen("/proc/self/smaps", "re");
	ck_assert_msg(f, "open smaps: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			if (in)
				break;
			in = a >= lo && a < hi;
			continue;
		}
		if (in && !strncmp(line, field, flen) && line[flen] == ':') {
			kb = strtol(line + flen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	ck_assert_msg(kb >= 0, "no %s in smaps for %p", field, addr);
	return kb;
}

int mt_vma_count(void)
{
	char line[512];
	int n = 0;
	FILE *f;

	f = fopen("/proc/self/maps", "re");
	ck_assert_msg(f, "open maps: %s", strerror(errno));
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n;
}

unsigned long mt_pgalloc(void)
{
	unsigned long sum = 0, v;
	char name[64];
	FILE *f;

	f = fopen("/proc/vmstat", "re");
	ck_assert_msg(f, "open vmstat: %s", strerror(errno));
	while (fscanf(f, "%63s %lu", name, &v) == 2)
		if (!strncmp(name, "pgalloc_", 8))
			sum += v;
	fclose(f);
	return sum;
}

unsigned long mt_pgalloc_noise(void)
{
	return pgr_kconfig_enabled("KASAN") ? 256 : 16;
}

int mt_write_file(const char *path, const char *s)
{
	size_t len = strlen(s);
	int fd, err = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, s, len) != (ssize_t)len)
		err = -errno;
	close(fd);
	return err;
}

unsigned long mt_task_size(void)
{
	static unsigned long ts;
	void *p;

	if (ts)
		return ts;
	/* A hint above 47 bits is honoured only with 5-level paging. */
	p = mmap((void *)(1UL << 50), mt_page(), PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(p != MAP_FAILED);
	ts = (unsigned long)p >= (1UL << 47) ? (1UL << 56) - mt_page() :
					       (1UL << 47) - mt_page();
	munmap(p, mt_page());
	return ts;
}

char mt_thp_mode(void)
{
	char buf[128], *b;

	if (pgr_read_file("/sys/kernel/mm/transparent_hugepage/enabled", buf,
			  sizeof(buf)) < 0)
		return 0;
	b = strchr(buf, '[');
	return b ? b[1] : 0;
}

int mt_swap_setup(const char **why)
{
	char buf[4096];

	if (pgr_read_file("/proc/swaps", buf, sizeof(buf)) < 0) {
		*why = "no /proc/swaps";
		return -1;
	}
	if (strchr(buf, '\n')) /* a header line and at least one device */
		return 0;
	if (system("modprobe zram >/dev/null 2>&1") ||
	    !pgr_wait_path("/sys/block/zram0/disksize", true, 2000)) {
		*why = "cannot load zram";
		return -1;
	}
	if (mt_write_file("/sys/block/zram0/disksize", "512M") &&
	    !pgr_path_exists("/dev/zram0")) {
		*why = "cannot size zram0";
		return -1;
	}
	if (system("mkswap /dev/zram0 >/dev/null 2>&1") ||
	    system("swapon /dev/zram0 >/dev/null 2>&1")) {
		*why = "mkswap/swapon /dev/zram0 failed";
		return -1;
	}
	return 0;
}

long mt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

unsigned long mt_env_ulong(const char *name, unsigned long def)
{
	const char *s = getenv(name);
	char *end;
	unsigned long v;

	if (!s || !*s)
		return def;
	v = strtoul(s, &end, 0);
	return *end ? def : v;
}
