// SPDX-License-Identifier: GPL-2.0
/*
 * move-rmap suite: moves racing the rmap walkers that do not take the
 * folio lock, and swap entries whose folio sits unmapped in the swap cache.
 *
 * 6.1's folio_lock_anon_vma_read() lacks the ->mapping re-check upstream
 * added with UFFDIO_MOVE: a walker that read folio->mapping before a move
 * may lock an anon_vma freed by a munmap of src after it (the module keeps
 * moved-from anon_vmas for a grace period, module/move.c). The walkers
 * driven here: reclaim (MADV_PAGEOUT / MADV_COLD, and memory.reclaim of the
 * root cgroup, whose active-list scan calls folio_referenced() unlocked)
 * and page_idle (/sys/kernel/mm/page_idle/bitmap, when built in).
 *
 * A moved swap entry whose folio is still in the swap cache must not make
 * the folio AnonExclusive (6.1's do_swap_page() BUG()s): that case needs
 * an asynchronous swap device (zram swap-ins bypass the swap cache), here a
 * loop device over a tmpfs file, swapped on with a priority above zram.
 *
 * Every test checks every byte it moved and the kernel log.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/swap.h>

#include "mover.h"

#ifndef MADV_COLD
#define MADV_COLD 20
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define RM_PAGE_IDLE "/sys/kernel/mm/page_idle/bitmap"
#define RM_CGROUP "/sys/fs/cgroup"
#define RM_RECLAIM RM_CGROUP "/memory.reclaim"

/* Race phase length, ms (env PGR_RMAP_MS). */
static long rm_race_ms(void)
{
	return mt_env_ulong("PGR_RMAP_MS", 3000);
}

/* memory.reclaim of the root cgroup, mounting cgroup2 if needed. */
static bool rm_reclaim_available(void)
{
	if (pgr_path_exists(RM_RECLAIM))
		return true;
	if (mount("cgroup2", RM_CGROUP, "cgroup2", 0, NULL))
		return false;
	return pgr_path_exists(RM_RECLAIM);
}

/* pread() of n pagemap entries without Check asserts (thread-safe). */
static int rm_pagemap(int fd, const void *addr, size_t n, __u64 *out)
{
	off_t off = (unsigned long)addr / mt_page() * 8;
	size_t want = n * 8, got = 0;
	ssize_t r;

	while (got < want) {
		r = pread(fd, (char *)out + got, want - got, off + got);
		if (r <= 0)
			return r ? errno : EIO;
		got += r;
	}
	return 0;
}

/* ---- two movers, page ownership tracked --------------------------------- */

#define RM_PAGES 256
#define RM_RUN 16

struct rm {
	struct mover *m;
	char *vma[2]; /* page i lives at vma[loc[i]] + i * ps */
	size_t ps;
	unsigned char loc[RM_PAGES];
	volatile int stop;
	/* per mover */
	unsigned long calls[2], moved[2], busy[2], again[2], noent[2];
	int err[2];
	/* walkers */
	bool use_reclaim, use_idle;
	unsigned long pageouts, colds, reclaims, pm_reads, present, swapped;
	unsigned long idle_writes, idle_reads, idle_set;
	int werr;
	const char *werr_what;
	int pm_fd, idle_fd;
};

static void rm_walker_fail(struct rm *r, const char *what, int err)
{
	if (!r->werr) {
		r->werr_what = what;
		r->werr = err;
	}
}

/* Move the run of pages [s, e) (all in one VMA) to the other VMA. */
static void rm_move_run(struct rm *r, int id, size_t s, size_t e)
{
	int from = r->loc[s], to = !from;
	unsigned long len = (e - s) * r->ps, done = 0;
	__s64 mv;
	size_t i;
	int err;

	err = mover_move(r->m, (unsigned long)r->vma[to] + s * r->ps,
			 (unsigned long)r->vma[from] + s * r->ps, len, 0, &mv);
	r->calls[id]++;
	if (!err) {
		if (mv != (__s64)len) {
			r->err[id] = EPROTO;
			return;
		}
		done = len;
	} else if (err == EAGAIN && mv > 0) {
		if (mv >= (__s64)len || mv % r->ps) {
			r->err[id] = EPROTO;
			return;
		}
		done = mv;
		r->again[id]++;
	} else if (err == EAGAIN) {
		r->again[id]++;
	} else if (err == EBUSY) {
		r->busy[id]++;
	} else if (err == ENOENT) {
		r->noent[id]++;
	} else {
		r->err[id] = err;
		return;
	}
	for (i = s; i < s + done / r->ps; i++)
		r->loc[i] = to;
	r->moved[id] += done / r->ps;
}

struct rm_arg {
	struct rm *r;
	int id;
};

static void *rm_mover(void *arg)
{
	struct rm_arg *a = arg;
	struct rm *r = a->r;
	size_t half = RM_PAGES / 2, lo = a->id * half, s, e, l;
	unsigned int seed = 1234 + a->id;

	while (!r->stop && !r->err[a->id]) {
		s = lo + rand_r(&seed) % half;
		l = 1 + rand_r(&seed) % RM_RUN;
		for (e = s + 1; e < lo + half && e < s + l; e++)
			if (r->loc[e] != r->loc[s])
				break;
		rm_move_run(r, a->id, s, e);
	}
	return NULL;
}

static void rm_reclaim_once(struct rm *r)
{
	size_t len = RM_PAGES * r->ps;
	int j;

	for (j = 0; j < 2; j++) {
		if (madvise(r->vma[j], len, MADV_COLD))
			rm_walker_fail(r, "MADV_COLD", errno);
		r->colds++;
		if (madvise(r->vma[j], len, MADV_PAGEOUT))
			rm_walker_fail(r, "MADV_PAGEOUT", errno);
		r->pageouts++;
	}
	if (r->use_reclaim) {
		/* EAGAIN: less than asked could be reclaimed, not an error. */
		int e = mt_write_file(RM_RECLAIM, "1M");

		if (e && e != -EAGAIN)
			rm_walker_fail(r, "memory.reclaim", -e);
		r->reclaims++;
	}
}

static void *rm_reclaimer(void *arg)
{
	struct rm *r = arg;

	while (!r->stop) {
		rm_reclaim_once(r);
		usleep(1000);
	}
	return NULL;
}

static void *rm_pagemapper(void *arg)
{
	struct rm *r = arg;
	__u64 e[RM_PAGES];
	size_t i;
	int j, err;

	while (!r->stop) {
		for (j = 0; j < 2; j++) {
			err = rm_pagemap(r->pm_fd, r->vma[j], RM_PAGES, e);
			if (err) {
				rm_walker_fail(r, "pagemap", err);
				return NULL;
			}
			r->pm_reads++;
			for (i = 0; i < RM_PAGES; i++) {
				r->present += !!(e[i] & PM_PRESENT);
				r->swapped += !!(e[i] & PM_SWAP);
			}
		}
	}
	return NULL;
}

/* Mark the PFNs of n pages at addr idle and read the bits back. */
static void rm_idle_pass(struct rm *r, const void *addr, size_t n)
{
	__u64 e[RM_PAGES], ones = ~0ULL, got;
	size_t i;
	off_t off;
	int err;

	err = rm_pagemap(r->pm_fd, addr, n, e);
	if (err) {
		rm_walker_fail(r, "pagemap", err);
		return;
	}
	for (i = 0; i < n; i++) {
		if (!(e[i] & PM_PRESENT) || !(e[i] & PM_PFN_MASK))
			continue;
		off = (e[i] & PM_PFN_MASK) / 64 * 8;
		if (pwrite(r->idle_fd, &ones, 8, off) != 8) {
			rm_walker_fail(r, "page_idle write", errno);
			return;
		}
		r->idle_writes++;
		if (pread(r->idle_fd, &got, 8, off) != 8) {
			rm_walker_fail(r, "page_idle read", errno);
			return;
		}
		r->idle_reads++;
		r->idle_set += !!(got & (1ULL << ((e[i] & PM_PFN_MASK) % 64)));
	}
}

static void *rm_idler(void *arg)
{
	struct rm *r = arg;

	while (!r->stop) {
		rm_idle_pass(r, r->vma[0], RM_PAGES);
		rm_idle_pass(r, r->vma[1], RM_PAGES);
	}
	return NULL;
}

/* Every page in exactly the VMA it was tracked in, every word intact. */
static void rm_verify(struct rm *r)
{
	__u64 e[2][RM_PAGES];
	size_t i, at[2] = { 0, 0 };
	char *p;
	int j;

	for (j = 0; j < 2; j++)
		mt_pagemap_range(r->vma[j], RM_PAGES, e[j]);
	for (i = 0; i < RM_PAGES; i++) {
		j = r->loc[i];
		ck_assert_msg(e[j][i] & (PM_PRESENT | PM_SWAP),
			      "page %zu lost: not in VMA %d (pagemap %#llx)", i,
			      j, (unsigned long long)e[j][i]);
		ck_assert_msg(!(e[!j][i] & (PM_PRESENT | PM_SWAP)),
			      "page %zu in both VMAs (%#llx, %#llx)", i,
			      (unsigned long long)e[j][i],
			      (unsigned long long)e[!j][i]);
		at[j]++;
	}
	for (i = 0; i < RM_PAGES; i++) {
		p = r->vma[r->loc[i]] + i * r->ps;
		ck_assert_msg(mt_check(p, 1,
				       (unsigned long)r->vma[0] + i * r->ps) <
				      0,
			      "page %zu (in VMA %d) corrupted", i, r->loc[i]);
	}
	pgr_diag("verified %zu pages in A, %zu in B", at[0], at[1]);
}

static void rm_race(enum mover_kind kind, bool idle)
{
	size_t ps = mt_page(), len = RM_PAGES * ps;
	void *(*walker)(void *) = idle ? rm_idler : rm_reclaimer;
	struct rm *r = calloc(1, sizeof(*r));
	struct rm_arg args[2];
	struct pgr_log log;
	const char *why;
	pthread_t t[4];
	int i, kfd;
	long t0;

	ck_assert(r);
	MOVER_OPEN_OR_SKIP(r->m, kind);
	if (idle) {
		PGR_SKIP_IF(!pgr_path_exists(RM_PAGE_IDLE),
			    "no %s (CONFIG_IDLE_PAGE_TRACKING off)",
			    RM_PAGE_IDLE);
		r->idle_fd = open(RM_PAGE_IDLE, O_RDWR | O_CLOEXEC);
		PGR_SKIP_IF(r->idle_fd < 0, "open %s: %s", RM_PAGE_IDLE,
			    strerror(errno));
		r->use_idle = true;
	} else {
		PGR_SKIP_IF(mt_swap_setup(&why), "no swap: %s", why);
		r->use_reclaim = rm_reclaim_available();
	}
	r->pm_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	ck_assert_msg(r->pm_fd >= 0, "open pagemap: %s", strerror(errno));
	r->ps = ps;
	/* mt_map(): MADV_NOHUGEPAGE, PROT_NONE guards, so never merged. */
	r->vma[0] = mt_map(len, 0, false);
	r->vma[1] = mt_map(len, 0, false);
	mt_fill(r->vma[0], RM_PAGES, (unsigned long)r->vma[0]);
	mover_prepare_dst(r->m, r->vma[0], len);
	mover_prepare_dst(r->m, r->vma[1], len);

	kfd = pgr_kmsg_mark();
	t0 = mt_now_ms();
	for (i = 0; i < 2; i++) {
		args[i].r = r;
		args[i].id = i;
		ck_assert_int_eq(
			pthread_create(&t[i], NULL, rm_mover, &args[i]), 0);
	}
	ck_assert_int_eq(pthread_create(&t[2], NULL, walker, r), 0);
	ck_assert_int_eq(pthread_create(&t[3], NULL, rm_pagemapper, r), 0);
	/*
	 * At least the race phase; longer (up to 4x) until the threads
	 * were scheduled enough for the preconditions checked below (on
	 * a loaded host the reclaimer may run only twice in 3 s).
	 */
	while (!r->err[0] && !r->err[1]) {
		long el = mt_now_ms() - t0;
		bool met = (idle || r->swapped) && r->moved[0] && r->moved[1];

		if (el >= rm_race_ms() && (met || el >= 4 * rm_race_ms()))
			break;
		usleep(10000);
	}
	r->stop = 1;
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	pgr_diag("%ld ms: calls %lu+%lu, pages moved %lu+%lu, EAGAIN %lu+%lu, "
		 "EBUSY %lu+%lu, ENOENT %lu+%lu",
		 mt_now_ms() - t0, r->calls[0], r->calls[1], r->moved[0],
		 r->moved[1], r->again[0], r->again[1], r->busy[0], r->busy[1],
		 r->noent[0], r->noent[1]);
	if (idle)
		pgr_diag("page_idle: %lu writes, %lu reads, %lu bits seen set",
			 r->idle_writes, r->idle_reads, r->idle_set);
	else
		pgr_diag("reclaim: %lu MADV_PAGEOUT, %lu MADV_COLD, "
			 "%lu memory.reclaim%s",
			 r->pageouts, r->colds, r->reclaims,
			 r->use_reclaim ? "" : " (unavailable)");
	pgr_diag("pagemap: %lu reads, %lu present, %lu swapped seen",
		 r->pm_reads, r->present, r->swapped);

	mover_release_dst(r->m, r->vma[0], len);
	mover_release_dst(r->m, r->vma[1], len);
	pgr_kmsg_collect(kfd, &log);
	pgr_log_assert_no_splat(&log);
	pgr_log_free(&log);
	for (i = 0; i < 2; i++)
		ck_assert_msg(!r->err[i], "mover %d: %s", i,
			      r->err[i] == EPROTO ? "bad move count" :
						    strerror(r->err[i]));
	ck_assert_msg(!r->werr, "walker: %s: %s", r->werr_what,
		      strerror(r->werr));
	ck_assert_msg(r->moved[0] && r->moved[1], "a mover moved nothing");
	if (!idle)
		ck_assert_msg(r->swapped, "nothing was ever seen swapped out");
	rm_verify(r);
	close(r->pm_fd);
	if (r->idle_fd > 0)
		close(r->idle_fd);
	mt_unmap(r->vma[0], len);
	mt_unmap(r->vma[1], len);
	mover_close(r->m);
	free(r);
}

static void rmap_reclaim_race(enum mover_kind kind)
{
	rm_race(kind, false);
}
MOVE_TEST(rmap_reclaim_race)

static void rmap_page_idle_race(enum mover_kind kind)
{
	rm_race(kind, true);
}
MOVE_TEST(rmap_page_idle_race)

/* ---- move, then munmap src under a walker ------------------------------- */

#define MU_PAGES 32
#define MU_ITERS 200

struct mu {
	struct rm r; /* walker state; vma[0] = current src, vma[1] = dst */
	volatile unsigned long src;
	char *dst;
};

static void *mu_walker(void *arg)
{
	struct mu *u = arg;
	struct rm *r = &u->r;
	size_t len = MU_PAGES * r->ps;
	unsigned long s;
	int n = 0;

	while (!r->stop) {
		s = u->src;
		if (r->use_idle) {
			if (s)
				rm_idle_pass(r, (void *)s, MU_PAGES);
			rm_idle_pass(r, u->dst, MU_PAGES);
			continue;
		}
		/* src may be unmapped under us: ENOMEM is expected then. */
		if (s && madvise((void *)s, len, MADV_COLD) && errno != ENOMEM)
			rm_walker_fail(r, "MADV_COLD src", errno);
		if (madvise(u->dst, len, MADV_COLD))
			rm_walker_fail(r, "MADV_COLD dst", errno);
		r->colds++;
		if (!(++n % 4)) {
			if (madvise(u->dst, len, MADV_PAGEOUT))
				rm_walker_fail(r, "MADV_PAGEOUT", errno);
			r->pageouts++;
		}
		if (r->use_reclaim) {
			int e = mt_write_file(RM_RECLAIM, "512K");

			if (e && e != -EAGAIN)
				rm_walker_fail(r, "memory.reclaim", -e);
			r->reclaims++;
		}
	}
	return NULL;
}

/* Move everything, retrying EBUSY / EAGAIN-with-nothing-moved for a while. */
static void rm_move_all_retry(struct mover *m, void *dst, void *src, size_t len,
			      unsigned long *retries)
{
	unsigned long d = (unsigned long)dst, s = (unsigned long)src;
	long t0 = mt_now_ms();
	__s64 mv;
	int err;

	while (len) {
		err = mover_move(m, d, s, len, 0, &mv);
		if (!err) {
			ck_assert_msg(mv == (__s64)len, "move %#lx: move %lld",
				      d, (long long)mv);
			return;
		}
		if (err == EAGAIN && mv > 0) {
			ck_assert(mv < (__s64)len && !(mv % mt_page()));
			d += mv;
			s += mv;
			len -= mv;
			continue;
		}
		ck_assert_msg(err == EAGAIN || err == EBUSY,
			      "move %#lx <- %#lx len %#zx: %s", d, s, len,
			      strerror(err));
		ck_assert_msg(mt_now_ms() - t0 < 5000,
			      "move %#lx <- %#lx still %s after 5 s", d, s,
			      strerror(err));
		(*retries)++;
		usleep(100);
	}
}

static void rmap_munmap_after_move(enum mover_kind kind)
{
	size_t ps = mt_page(), len = MU_PAGES * ps;
	unsigned long retries = 0, seed;
	struct mu *u = calloc(1, sizeof(*u));
	struct rm *r;
	struct pgr_log log;
	const char *why;
	char *res, *src;
	pthread_t t;
	int it, kfd;
	long t0;

	ck_assert(u);
	r = &u->r;
	MOVER_OPEN_OR_SKIP(r->m, kind);
	r->ps = ps;
	r->pm_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	ck_assert(r->pm_fd >= 0);
	if (pgr_path_exists(RM_PAGE_IDLE)) {
		r->idle_fd = open(RM_PAGE_IDLE, O_RDWR | O_CLOEXEC);
		r->use_idle = r->idle_fd >= 0;
	}
	if (!r->use_idle) {
		PGR_SKIP_IF(mt_swap_setup(&why), "no page_idle and no swap: %s",
			    why);
		r->use_reclaim = rm_reclaim_available();
	}
	pgr_diag("walker: %s", r->use_idle    ? "page_idle" :
			       r->use_reclaim ? "MADV_COLD/PAGEOUT + "
						"memory.reclaim" :
						"MADV_COLD/PAGEOUT");
	u->dst = mt_map(len, 0, false);
	/*
	 * src comes and goes inside a PROT_NONE reservation, so that each
	 * incarnation is a VMA of its own with an anon_vma of its own.
	 */
	res = mmap(NULL, len + 2 * ps, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ck_assert(res != MAP_FAILED);
	/* A hole between two guard pages; nothing else maps there. */
	ck_assert(!munmap(res + ps, len));
	mover_prepare_dst(r->m, u->dst, len);

	kfd = pgr_kmsg_mark();
	ck_assert_int_eq(pthread_create(&t, NULL, mu_walker, u), 0);
	t0 = mt_now_ms();
	for (it = 0; it < MU_ITERS && mt_now_ms() - t0 < rm_race_ms(); it++) {
		src = mmap(res + ps, len, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			   -1, 0);
		ck_assert_msg(src == res + ps, "mmap src: %s", strerror(errno));
		ck_assert(!madvise(src, len, MADV_NOHUGEPAGE));
		seed = ((unsigned long)it << 32) + (unsigned long)src;
		mt_fill(src, MU_PAGES, seed);
		u->src = (unsigned long)src;
		rm_move_all_retry(r->m, u->dst, src, len, &retries);
		/* Frees src's anon_vma; the walker may still be in its rmap. */
		ck_assert(!munmap(src, len));
		u->src = 0;
		/* dst holds the pages present or swapped: no missing fault. */
		mt_assert_pattern(u->dst, MU_PAGES, seed, "dst");
		ck_assert(!madvise(u->dst, len, MADV_DONTNEED));
	}
	r->stop = 1;
	pthread_join(t, NULL);
	pgr_diag("%d iterations in %ld ms, %lu move retries; walker: %lu "
		 "idle writes, %lu MADV_COLD, %lu MADV_PAGEOUT, "
		 "%lu memory.reclaim",
		 it, mt_now_ms() - t0, retries, r->idle_writes, r->colds,
		 r->pageouts, r->reclaims);
	mover_release_dst(r->m, u->dst, len);
	pgr_kmsg_collect(kfd, &log);
	pgr_log_assert_no_splat(&log);
	pgr_log_free(&log);
	ck_assert_msg(!r->werr, "walker: %s: %s", r->werr_what,
		      strerror(r->werr));
	ck_assert_msg(it >= 3, "only %d iterations", it);
	munmap(res, ps);
	munmap(res + ps + len, ps);
	mt_unmap(u->dst, len);
	close(r->pm_fd);
	if (r->idle_fd > 0)
		close(r->idle_fd);
	mover_close(r->m);
	free(u);
}
MOVE_TEST(rmap_munmap_after_move)

/* ---- swap-cache folios not mapped by any PTE ---------------------------- */

#define SC_PAGES 64
#define SC_FILE "/tmp/pgremap-swap.img"
#define SC_SIZE (64UL << 20)

/* Pages of n at p that are swap entries with a swap-cache folio. */
static size_t sc_count_cached(void *p, size_t n, size_t *swapped)
{
	__u64 e[SC_PAGES];
	unsigned char vec[SC_PAGES];
	size_t i, c = 0;

	mt_pagemap_range(p, n, e);
	ck_assert_msg(!mincore(p, n * mt_page(), vec), "mincore: %s",
		      strerror(errno));
	*swapped = 0;
	for (i = 0; i < n; i++) {
		if (!(e[i] & PM_SWAP))
			continue;
		(*swapped)++;
		c += vec[i] & 1;
	}
	return c;
}

/*
 * Swap n pages at p out to the loop device, then fault one in so that
 * readahead brings its neighbours into the swap cache unmapped. Returns
 * how many pages are swap entries with their folio in the swap cache.
 */
static size_t sc_make_cached(char *p, size_t n, const char *what)
{
	size_t ps = mt_page(), swapped = 0, cached, ra;
	volatile char c;
	long t0;

	for (t0 = mt_now_ms(); mt_now_ms() - t0 < 3000;) {
		ck_assert_msg(!madvise(p, n * ps, MADV_PAGEOUT),
			      "MADV_PAGEOUT: %s", strerror(errno));
		if (mt_pagemap_count(p, n, PM_SWAP) == n)
			break;
		usleep(10000);
	}
	cached = sc_count_cached(p, n, &swapped);
	pgr_diag("%s: %zu swapped out, %zu of them still in the swap cache",
		 what, swapped, cached);
	/* Fault in one page: swap readahead reads its neighbours. */
	c = p[(n / 2) * ps + 123];
	(void)c;
	ra = sc_count_cached(p, n, &swapped);
	pgr_diag("%s: after one swap-in: %zu swap entries, %zu in the swap "
		 "cache",
		 what, swapped, ra);
	return ra;
}

static void swapcache_folio_move(enum mover_kind kind)
{
	size_t ps = mt_page(), n = SC_PAGES, len = n * ps, sw, cached;
	unsigned long retries = 0;
	char dev[64], swaps[4096];
	struct pgr_log log;
	struct mover *m;
	const char *why;
	char *a, *b;
	int kfd;

	MOVER_OPEN_OR_SKIP(m, kind);
	PGR_SKIP_IF(pgr_loop_swap_on(SC_FILE, SC_SIZE, dev, sizeof(dev), &why),
		    "%s", why);
	ck_assert(pgr_read_file("/proc/swaps", swaps, sizeof(swaps)) >= 0);
	ck_assert_msg(strstr(swaps, dev), "%s not in /proc/swaps", dev);
	pgr_diag("swap on %s (priority 10)", dev);

	kfd = pgr_kmsg_mark();
	a = mt_map(len, 0, false);
	b = mt_map(len, 0, false);
	mt_fill(a, n, (unsigned long)a);

	/* Round 1: A -> B, swap-cache folios moved, then faulted at B. */
	cached = sc_make_cached(a, n, "A");
	if (!cached) {
		mt_unmap(a, len);
		mt_unmap(b, len);
		pgr_loop_swap_off(SC_FILE, dev);
		mover_close(m);
		PGR_SKIP("no swap entry with its folio in the swap cache");
	}
	mover_prepare_dst(m, b, len);
	rm_move_all_retry(m, b, a, len, &retries);
	ck_assert_uint_eq(mt_pagemap_count(a, n, PM_PRESENT), 0);
	ck_assert_uint_eq(mt_pagemap_count(a, n, PM_SWAP), 0);
	ck_assert_uint_eq(mt_pagemap_count(b, n, PM_PRESENT) +
				  mt_pagemap_count(b, n, PM_SWAP),
			  n);
	cached = sc_count_cached(b, n, &sw);
	pgr_diag("B after the move: %zu swap-cache entries of %zu swapped",
		 cached, sw);
	mover_release_dst(m, b, len);
	mt_assert_pattern(b, n, (unsigned long)a, "B after swap-in");
	ck_assert_msg(mt_check_zero(a, n) < 0, "A not zero");
	ck_assert(!madvise(a, len, MADV_DONTNEED));

	/* Round 2: B -> A, the same from B's anon_vma. */
	sc_make_cached(b, n, "B");
	mover_prepare_dst(m, a, len);
	rm_move_all_retry(m, a, b, len, &retries);
	ck_assert_uint_eq(mt_pagemap_count(b, n, PM_PRESENT), 0);
	ck_assert_uint_eq(mt_pagemap_count(b, n, PM_SWAP), 0);
	mover_release_dst(m, a, len);
	mt_assert_pattern(a, n, (unsigned long)a, "A after swap-in");
	ck_assert_msg(mt_check_zero(b, n) < 0, "B not zero");
	/* And write: a swap-cache page made writable must not be shared. */
	mt_fill(a, n, 7);
	mt_assert_pattern(a, n, 7, "A rewritten");
	pgr_diag("%lu move retries", retries);

	mt_unmap(a, len);
	mt_unmap(b, len);
	pgr_loop_swap_off(SC_FILE, dev);
	pgr_kmsg_collect(kfd, &log);
	pgr_log_assert_no_splat(&log);
	pgr_log_free(&log);
	mover_close(m);
}
MOVE_TEST(swapcache_folio_move)

/* ---- suite -------------------------------------------------------------- */

Suite *pgr_suite_move_rmap(void)
{
	Suite *s = suite_create("move-rmap");
	TCase *tc;

	tc = pgr_tcase("move-rmap", PGR_TIMEOUT_LONG);
	MOVE_TEST_ADD(tc, rmap_reclaim_race);
	MOVE_TEST_ADD(tc, rmap_page_idle_race);
	MOVE_TEST_ADD(tc, rmap_munmap_after_move);
	MOVE_TEST_ADD(tc, swapcache_folio_move);
	suite_add_tcase(s, tc);

	return s;
}
