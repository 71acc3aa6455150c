// SPDX-License-Identifier: GPL-2.0
/*
 * move-batch suite: moves over ranges that span several page tables, with
 * src and dst at different unaligned offsets in their 2 MiB regions, and
 * the entries a move that handles a whole page-table pair per lock round
 * must hand to its per-page path in the middle of a table: swap entries,
 * the zero page, holes, a populated dst, a page shared with a child, a
 * pinned page, a THP, folios of another anon_vma; and races against other
 * threads using the same page tables. The contract is tools/pgremap.4:
 * `move` is exactly the prefix moved, a short move fails with EAGAIN and
 * the resume reports the errno (move = -errno), and nothing past the page
 * that stopped the move changes. Every test runs through pgremap and the
 * in-tree UFFDIO_MOVE (the oracle, 6.8+).
 *
 * Layout (struct bt): src and dst mappings of BT_TABLES page tables, 2 MiB
 * aligned, MADV_NOHUGEPAGE, PROT_NONE guards (mt_map()); the moved range
 * starts BT_SOFF pages into src and BT_DOFF pages into dst and is BT_N
 * pages long, so src and dst table boundaries fall at different indices.
 * Every page of both mappings has an expected state (empty, the pattern of
 * a seed, swapped or present with a pattern, the zero page); bt_check_map()
 * checks it against /proc/self/pagemap, bt_finish() then checks the bytes
 * of every page.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/io_uring.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "mover.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

/* /proc/kpageflags bits (include/uapi/linux/kernel-page-flags.h). */
#define KPF_LRU_BIT 5
#define KPF_WRITEBACK_BIT 8
#define KPF_SWAPCACHE_BIT 13

#define BT_TABLES 4
#define BT_SOFF 17
#define BT_DOFF 300
#define BT_N 1600

/* Race phase length, ms (env PGR_BATCH_MS). */
static long bt_race_ms(void)
{
	return mt_env_ulong("PGR_BATCH_MS", 2000);
}

static size_t bt_per(void)
{
	return MT_PMD_SIZE / mt_page();
}

/* ---- expected state of every page of a mapping --------------------------- */

enum { X_EMPTY, X_PAT, X_PATSW, X_ZERO };

static const char *const x_names[] = {
	[X_EMPTY] = "empty",
	[X_PAT] = "present with its pattern",
	[X_PATSW] = "present or swapped, with its pattern",
	[X_ZERO] = "the zero page",
};

struct bx {
	unsigned char kind;
	unsigned long seed; /* X_PAT, X_PATSW */
};

struct breg {
	const char *name;
	char *p;
	size_t n;
	struct bx *x;
};

static void breg_init(struct breg *r, const char *name, char *p, size_t n)
{
	r->name = name;
	r->p = p;
	r->n = n;
	r->x = calloc(n, sizeof(*r->x));
	ck_assert(r->x);
}

static void breg_set(struct breg *r, size_t j, int kind, unsigned long seed)
{
	r->x[j].kind = kind;
	r->x[j].seed = seed;
}

/* Page j holds the pattern of its own address. */
static void breg_set_own(struct breg *r, size_t j)
{
	breg_set(r, j, X_PAT, (unsigned long)r->p + j * mt_page());
}

static void breg_check_map(const struct breg *r, const char *what)
{
	size_t ps = mt_page(), j, i, c;
	__u64 e[512];
	bool ok;

	for (j = 0; j < r->n; j += c) {
		c = r->n - j < 512 ? r->n - j : 512;
		mt_pagemap_range(r->p + j * ps, c, e);
		for (i = 0; i < c; i++) {
			const struct bx *x = &r->x[j + i];

			switch (x->kind) {
			case X_EMPTY:
				ok = !(e[i] & (PM_PRESENT | PM_SWAP));
				break;
			case X_PAT:
				ok = e[i] & PM_PRESENT;
				break;
			case X_PATSW:
				ok = e[i] & (PM_PRESENT | PM_SWAP);
				break;
			default:
				ok = (e[i] & PM_PRESENT) &&
				     (mt_kpageflags(e[i] & PM_PFN_MASK) &
				      (1ULL << KPF_ZERO_PAGE_BIT));
				break;
			}
			ck_assert_msg(ok,
				      "%s: %s page %zu (%p): pagemap %#llx, "
				      "want %s",
				      what, r->name, j + i, r->p + (j + i) * ps,
				      (unsigned long long)e[i],
				      x_names[x->kind]);
		}
	}
}

/* The bytes; an X_EMPTY page of a registered dst would block: release. */
static void breg_check_data(const struct breg *r, const char *what)
{
	size_t ps = mt_page(), j;
	const struct bx *x;
	char *p;

	for (j = 0; j < r->n; j++) {
		x = &r->x[j];
		p = r->p + j * ps;
		if (x->kind == X_EMPTY || x->kind == X_ZERO)
			ck_assert_msg(mt_check_zero(p, 1) < 0,
				      "%s: %s page %zu (%p) is not zero", what,
				      r->name, j, p);
		else
			ck_assert_msg(mt_check(p, 1, x->seed) < 0,
				      "%s: %s page %zu (%p) does not hold the "
				      "bytes of %#lx (first word %#llx)",
				      what, r->name, j, p, x->seed,
				      (unsigned long long)*(__u64 *)p);
	}
}

/* ---- two mappings and a range ----------------------------------------- */

struct bt {
	struct mover *m;
	size_t ps, mpages, soff, doff, n;
	struct breg s, d;
	char *src, *dst; /* the range: s.p + soff pages, d.p + doff pages */
	bool prepared;
};

#define BT_FILL 1 /* fill the whole src mapping with its own pattern */
#define BT_THP 2 /* src mapped MADV_HUGEPAGE */

/*
 * Map src and dst (mpages each), expect src all own-pattern if BT_FILL,
 * else all empty (the caller fills and sets), dst all empty.
 */
static void bt_map(struct bt *b, size_t mpages, size_t soff, size_t doff,
		   size_t n, int flags)
{
	size_t j;

	b->ps = mt_page();
	b->mpages = mpages;
	b->soff = soff;
	b->doff = doff;
	b->n = n;
	ck_assert(soff + n <= mpages && doff + n <= mpages);
	breg_init(&b->s, "src",
		  mt_map(mpages * b->ps, MT_PMD_SIZE, flags & BT_THP), mpages);
	breg_init(&b->d, "dst", mt_map(mpages * b->ps, MT_PMD_SIZE, false),
		  mpages);
	b->src = b->s.p + soff * b->ps;
	b->dst = b->d.p + doff * b->ps;
	if (flags & BT_FILL) {
		mt_fill(b->s.p, mpages, (unsigned long)b->s.p);
		for (j = 0; j < mpages; j++)
			breg_set_own(&b->s, j);
	}
}

/* Fill src mapping pages [j0, j1) with their own pattern, and expect it. */
static void bt_fill_src(struct bt *b, size_t j0, size_t j1)
{
	size_t j;

	mt_fill(b->s.p + j0 * b->ps, j1 - j0,
		(unsigned long)b->s.p + j0 * b->ps);
	for (j = j0; j < j1; j++)
		breg_set_own(&b->s, j);
}

/* Pattern seed of range page i (the address it starts at). */
static unsigned long bt_seed(const struct bt *b, size_t i)
{
	return (unsigned long)b->src + i * b->ps;
}

static void bt_prepare(struct bt *b)
{
	mover_prepare_dst(b->m, b->d.p, b->mpages * b->ps);
	b->prepared = true;
}

/* Range pages [i0, i1) moved: dst expects what src had, src empty. */
static void bt_moved(struct bt *b, size_t i0, size_t i1)
{
	size_t i;

	for (i = i0; i < i1; i++) {
		b->d.x[b->doff + i] = b->s.x[b->soff + i];
		breg_set(&b->s, b->soff + i, X_EMPTY, 0);
	}
}

static void bt_check_map(struct bt *b, const char *what)
{
	breg_check_map(&b->s, what);
	breg_check_map(&b->d, what);
}

/* Last checks: pagemap, then (dst released) the bytes of every page. */
static void bt_finish(struct bt *b, const char *what)
{
	bt_check_map(b, what);
	if (b->prepared)
		mover_release_dst(b->m, b->d.p, b->mpages * b->ps);
	b->prepared = false;
	breg_check_data(&b->s, what);
	breg_check_data(&b->d, what);
}

static void bt_free(struct bt *b)
{
	if (b->prepared)
		mover_release_dst(b->m, b->d.p, b->mpages * b->ps);
	mt_unmap(b->s.p, b->mpages * b->ps);
	mt_unmap(b->d.p, b->mpages * b->ps);
	free(b->s.x);
	free(b->d.x);
	b->s.x = b->d.x = NULL;
}

/*
 * Move range pages [i, i + np); expect errno want and `moved` pages moved
 * (move = moved pages if any, else -want). Updates the expectations.
 */
static void bt_expect(struct bt *b, size_t i, size_t np, __u64 mode, int want,
		      size_t moved, const char *what)
{
	__s64 mv, want_mv = moved ? (__s64)(moved * b->ps) : -want;
	int err;

	err = mover_move(b->m, (unsigned long)b->dst + i * b->ps,
			 (unsigned long)b->src + i * b->ps, np * b->ps, mode,
			 &mv);
	MT_ASSERT_ERR(err, want, what);
	ck_assert_msg(mv == want_mv, "%s: move %lld (%lld pages), want %lld",
		      what, (long long)mv, (long long)(mv / (__s64)b->ps),
		      (long long)want_mv);
	bt_moved(b, i, i + moved);
}

/*
 * Move [0, n) expecting it to stop at range page k with errno err: EAGAIN
 * and move = k pages (err itself if k = 0), then the resume at k reports
 * err with move = -err. Memory is checked after each call.
 */
static void bt_expect_stop(struct bt *b, size_t k, __u64 mode, int err,
			   const char *what)
{
	char w[160];

	snprintf(w, sizeof(w), "%s: first call", what);
	if (k)
		bt_expect(b, 0, b->n, mode, EAGAIN, k, w);
	else
		bt_expect(b, 0, b->n, mode, err, 0, w);
	bt_check_map(b, w);
	snprintf(w, sizeof(w), "%s: resume at %zu", what, k);
	bt_expect(b, k, b->n - k, mode, err, 0, w);
	bt_check_map(b, w);
}

/* Where range page k sits in the src and dst tables, as a diagnostic. */
static void bt_diag_index(const struct bt *b, const char *what, size_t k)
{
	size_t per = bt_per();

	pgr_diag("%s: page %zu of %zu: src table %zu slot %zu, dst table %zu "
		 "slot %zu",
		 what, k, b->n, (b->soff + k) / per, (b->soff + k) % per,
		 (b->doff + k) / per, (b->doff + k) % per);
}

/* Fork a child that waits until *wfd is closed; returns its pid. */
static pid_t fork_sleeper(int *wfd)
{
	int p[2];
	pid_t pid;
	char c;

	ck_assert_int_eq(pipe(p), 0);
	fflush(NULL);
	pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		close(p[1]);
		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(p[0]);
	*wfd = p[1];
	return pid;
}

static void reap(pid_t pid, int wfd)
{
	int st;

	close(wfd);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
}

/* ---- 1. a clean move over several tables -------------------------------- */

static void clean_move(enum mover_kind kind)
{
	size_t per = bt_per(), i;
	struct bt b = {};
	bool sd;
	int vmas;
	long rss;

	MOVER_OPEN_OR_SKIP(b.m, kind);
	sd = pgr_kconfig_enabled("MEM_SOFT_DIRTY");
	bt_map(&b, BT_TABLES * per, BT_SOFF, BT_DOFF, BT_N, BT_FILL);
	/* dst pages outside the range populated: tables 0 and 3 exist. */
	mt_fill(b.d.p, BT_DOFF, (unsigned long)b.d.p);
	mt_fill(b.dst + BT_N * b.ps, b.mpages - BT_DOFF - BT_N,
		(unsigned long)b.dst + BT_N * b.ps);
	for (i = 0; i < b.mpages; i++)
		if (i < BT_DOFF || i >= BT_DOFF + BT_N)
			breg_set_own(&b.d, i);
	bt_prepare(&b);
	bt_check_map(&b, "before");
	if (sd) {
		ck_assert_int_eq(mt_write_file("/proc/self/clear_refs", "4"),
				 0);
		ck_assert_msg(mt_pagemap_count(b.src, BT_N, PM_SOFT_DIRTY) == 0,
			      "clear_refs 4 left soft-dirty bits");
	}
	vmas = mt_vma_count();
	rss = mt_smaps_kb(b.s.p, "Rss") + mt_smaps_kb(b.d.p, "Rss");
	bt_expect(&b, 0, BT_N, 0, 0, BT_N, "clean move");
	ck_assert_int_eq(mt_vma_count(), vmas);
	ck_assert_int_eq(mt_smaps_kb(b.s.p, "Rss") + mt_smaps_kb(b.d.p, "Rss"),
			 rss);
	if (sd)
		ck_assert_msg(
			mt_pagemap_count(b.dst, BT_N,
					 PM_PRESENT | PM_SOFT_DIRTY) == BT_N,
			"%zu of %d moved pages soft-dirty at dst",
			mt_pagemap_count(b.dst, BT_N, PM_SOFT_DIRTY), BT_N);
	else
		pgr_diag("no CONFIG_MEM_SOFT_DIRTY: soft-dirty not checked");
	bt_finish(&b, "clean move");
	bt_free(&b);
	mover_close(b.m);
}
MOVE_TEST(clean_move)

/* ---- 2. a page shared with a child: EBUSY ------------------------------- */

static void ebusy_one(struct mover *m, size_t k, const char *where)
{
	struct bt b = { .m = m };
	char what[96];
	int wfd;
	pid_t pid;

	bt_map(&b, BT_TABLES * bt_per(), BT_SOFF, BT_DOFF, BT_N, BT_FILL);
	bt_prepare(&b);
	snprintf(what, sizeof(what), "shared page at %zu (%s)", k, where);
	bt_diag_index(&b, what, k);
	pid = fork_sleeper(&wfd);
	/* Written after the fork, every range page but k is ours again. */
	mt_fill(b.src, k, bt_seed(&b, 0));
	mt_fill(b.src + (k + 1) * b.ps, BT_N - k - 1, bt_seed(&b, k + 1));
	bt_expect_stop(&b, k, 0, EBUSY, what);
	reap(pid, wfd);
	/* Not written since the fork, page k stays non-exclusive: skip it. */
	bt_expect(&b, k + 1, BT_N - k - 1, 0, 0, BT_N - k - 1,
		  "the pages after the shared one");
	bt_finish(&b, what);
	bt_free(&b);
}

static void ebusy_shared(enum mover_kind kind)
{
	size_t per = bt_per();
	struct mover *m;

	MOVER_OPEN_OR_SKIP(m, kind);
	ebusy_one(m, 900, "mid-table in src and dst");
	ebusy_one(m, per - BT_SOFF, "first page of a src table");
	ebusy_one(m, 2 * per - BT_SOFF - 1, "last page of a src table");
	ebusy_one(m, 2 * per - BT_DOFF, "first page of a dst table");
	ebusy_one(m, 2 * per - BT_DOFF - 1, "last page of a dst table");
	mover_close(m);
}
MOVE_TEST(ebusy_shared)

/* ---- 3. a populated dst page: EEXIST ------------------------------------- */

static void eexist_one(struct mover *m, size_t k, const char *where)
{
	struct bt b = { .m = m };
	size_t j = BT_DOFF + k;
	char what[96];

	bt_map(&b, BT_TABLES * bt_per(), BT_SOFF, BT_DOFF, BT_N, BT_FILL);
	mt_fill(b.d.p + j * b.ps, 1, (unsigned long)b.d.p + j * b.ps);
	breg_set_own(&b.d, j);
	bt_prepare(&b);
	snprintf(what, sizeof(what), "populated dst page at %zu (%s)", k,
		 where);
	bt_diag_index(&b, what, k);
	bt_expect_stop(&b, k, 0, EEXIST, what);
	bt_expect(&b, k + 1, BT_N - k - 1, 0, 0, BT_N - k - 1,
		  "the pages after the populated one");
	bt_finish(&b, what);
	bt_free(&b);
}

static void eexist_dst(enum mover_kind kind)
{
	struct mover *m;

	MOVER_OPEN_OR_SKIP(m, kind);
	eexist_one(m, 900, "mid-table in src and dst");
	eexist_one(m, 2 * bt_per() - BT_DOFF, "first page of a dst table");
	mover_close(m);
}
MOVE_TEST(eexist_dst)

/* ---- 4. src holes: ENOENT, or moved as holes ----------------------------- */

static void enoent_one(struct mover *m, size_t k, const char *where)
{
	struct bt b = { .m = m };
	char what[96];

	bt_map(&b, BT_TABLES * bt_per(), BT_SOFF, BT_DOFF, BT_N, BT_FILL);
	ck_assert_int_eq(madvise(b.src + k * b.ps, b.ps, MADV_DONTNEED), 0);
	breg_set(&b.s, BT_SOFF + k, X_EMPTY, 0);
	bt_prepare(&b);
	snprintf(what, sizeof(what), "src hole at %zu (%s)", k, where);
	bt_diag_index(&b, what, k);
	bt_check_map(&b, "before");
	bt_expect_stop(&b, k, 0, ENOENT, what);
	/* With ALLOW_SRC_HOLES the hole counts as moved. */
	bt_expect(&b, k, BT_N - k, MV_HOLES, 0, BT_N - k,
		  "resume with ALLOW_SRC_HOLES");
	bt_finish(&b, what);
	bt_free(&b);
}

static void enoent_hole(enum mover_kind kind)
{
	struct mover *m;

	MOVER_OPEN_OR_SKIP(m, kind);
	enoent_one(m, 900, "mid-table in src and dst");
	enoent_one(m, 2 * bt_per() - BT_SOFF - 1, "last page of a src table");
	mover_close(m);
}
MOVE_TEST(enoent_hole)

/*
 * ALLOW_SRC_HOLES over a hole every 5th page, and over one whole src page
 * table never populated (no PTE table at all): everything counts as moved,
 * the holes stay holes at dst.
 */
static void holes_allowed(enum mover_kind kind)
{
	size_t per = bt_per(), i, holes = 0;
	struct bt b = {};

	MOVER_OPEN_OR_SKIP(b.m, kind);
	bt_map(&b, BT_TABLES * per, BT_SOFF, BT_DOFF, BT_N, 0);
	/* src table 2 stays unpopulated: range pages 1007..1518. */
	bt_fill_src(&b, 0, 2 * per);
	bt_fill_src(&b, 3 * per, b.mpages);
	for (i = 0; i < BT_N; i++) {
		if (i % 5 != 3 || b.s.x[BT_SOFF + i].kind == X_EMPTY)
			continue;
		ck_assert_int_eq(madvise(b.src + i * b.ps, b.ps, MADV_DONTNEED),
				 0);
		breg_set(&b.s, BT_SOFF + i, X_EMPTY, 0);
	}
	for (i = 0; i < BT_N; i++)
		holes += b.s.x[BT_SOFF + i].kind == X_EMPTY;
	pgr_diag("%zu holes in %d pages", holes, BT_N);
	bt_prepare(&b);
	bt_check_map(&b, "before");
	/* Without the mode the first hole (page 3) stops the move. */
	bt_expect_stop(&b, 3, 0, ENOENT, "hole at 3, no ALLOW_SRC_HOLES");
	bt_expect(&b, 3, BT_N - 3, MV_HOLES, 0, BT_N - 3,
		  "holes every 5th page and a missing table");
	bt_finish(&b, "holes allowed");
	bt_free(&b);
}
MOVE_TEST(holes_allowed)

/* ---- 5. zero page, present, swapped and holes in one call ------------------ */

enum { K_PRESENT, K_ZERO, K_SWAP, K_HOLE };

static int mixed_kind(size_t i)
{
	if (i % 7 == 0)
		return K_SWAP;
	if (i % 5 == 2)
		return K_HOLE;
	if (i % 3 == 1)
		return K_ZERO;
	return K_PRESENT;
}

static void mixed_kinds(enum mover_kind kind)
{
	size_t per = bt_per(), i, nswap = 0, swapped = 0, cnt[4] = {};
	struct bt b = {};
	const char *why;
	volatile char c;
	__u64 e;
	long t0;

	MOVER_OPEN_OR_SKIP(b.m, kind);
	PGR_SKIP_IF(mt_swap_setup(&why), "no swap: %s", why);
	bt_map(&b, BT_TABLES * per, BT_SOFF, BT_DOFF, BT_N, 0);
	bt_fill_src(&b, 0, BT_SOFF);
	bt_fill_src(&b, BT_SOFF + BT_N, b.mpages);
	for (i = 0; i < BT_N; i++) {
		size_t j = BT_SOFF + i;

		cnt[mixed_kind(i)]++;
		switch (mixed_kind(i)) {
		case K_PRESENT:
			bt_fill_src(&b, j, j + 1);
			break;
		case K_SWAP:
			bt_fill_src(&b, j, j + 1);
			b.s.x[j].kind = X_PATSW;
			nswap++;
			break;
		case K_ZERO:
			c = b.src[i * b.ps];
			breg_set(&b.s, j, X_ZERO, 0);
			break;
		default:
			break;
		}
	}
	(void)c;
	/* Page out every 7th page, retrying what reclaim skipped. */
	for (t0 = mt_now_ms(); mt_now_ms() - t0 < 5000;) {
		swapped = 0;
		for (i = 0; i < BT_N; i += 7) {
			e = mt_pagemap(b.src + i * b.ps);
			if (e & PM_SWAP) {
				swapped++;
				continue;
			}
			PGR_SKIP_IF(madvise(b.src + i * b.ps, b.ps,
					    MADV_PAGEOUT),
				    "MADV_PAGEOUT: %s", strerror(errno));
		}
		if (swapped == nswap)
			break;
		usleep(10000);
	}
	for (i = swapped = 0; i < BT_N; i += 7)
		swapped += !!(mt_pagemap(b.src + i * b.ps) & PM_SWAP);
	pgr_diag("%zu present, %zu zero-page, %zu holes, %zu to swap out: %zu "
		 "swapped out",
		 cnt[K_PRESENT], cnt[K_ZERO], cnt[K_HOLE], nswap, swapped);
	PGR_SKIP_IF(!swapped, "MADV_PAGEOUT swapped nothing out");
	bt_prepare(&b);
	bt_check_map(&b, "before");
	bt_expect(&b, 0, BT_N, MV_HOLES, 0, BT_N, "mixed kinds");
	pgr_diag("dst: %zu swap entries, %zu present",
		 mt_pagemap_count(b.dst, BT_N, PM_SWAP),
		 mt_pagemap_count(b.dst, BT_N, PM_PRESENT));
	bt_finish(&b, "mixed kinds");
	bt_free(&b);
	mover_close(b.m);
}
MOVE_TEST(mixed_kinds)

/* ---- 6. src and dst in the same VMA, sharing page tables ------------------ */

/*
 * One VMA of 3 tables; every page outside [d0, d0 + n) holds its own
 * pattern; move [s0, s0 + n) to [d0, d0 + n).
 */
static void same_vma_one(struct mover *m, size_t s0, size_t d0, size_t n)
{
	size_t ps = mt_page(), per = bt_per(), total = 3 * per, j;
	struct breg r;
	char what[64];
	__s64 mv;
	int err;

	snprintf(what, sizeof(what), "[%zu, %zu) -> [%zu, %zu)", s0, s0 + n, d0,
		 d0 + n);
	breg_init(&r, "vma", mt_map(total * ps, MT_PMD_SIZE, false), total);
	for (j = 0; j < total; j++) {
		if (j >= d0 && j < d0 + n)
			continue;
		mt_fill(r.p + j * ps, 1, (unsigned long)r.p + j * ps);
		breg_set_own(&r, j);
	}
	mover_prepare_dst(m, r.p, total * ps);
	err = mover_move(m, (unsigned long)r.p + d0 * ps,
			 (unsigned long)r.p + s0 * ps, n * ps, 0, &mv);
	MT_ASSERT_ERR(err, 0, what);
	ck_assert_msg(mv == (__s64)(n * ps), "%s: move %lld", what,
		      (long long)mv);
	for (j = 0; j < n; j++) {
		r.x[d0 + j] = r.x[s0 + j];
		breg_set(&r, s0 + j, X_EMPTY, 0);
	}
	breg_check_map(&r, what);
	mover_release_dst(m, r.p, total * ps);
	breg_check_data(&r, what);
	mt_unmap(r.p, total * ps);
	free(r.x);
}

static void same_table(enum mover_kind kind)
{
	struct mover *m;

	MOVER_OPEN_OR_SKIP(m, kind);
	/* Both in table 0: one page-table lock for src and dst. */
	same_vma_one(m, 10, 260, 240);
	same_vma_one(m, 300, 40, 200);
	/* Tables 0-1 to tables 1-2: the pair (1, 1) is one table. */
	same_vma_one(m, 100, 800, 600);
	same_vma_one(m, 800, 100, 600);
	mover_close(m);
}
MOVE_TEST(same_table)

/* ---- 7. a move that starts and ends inside THPs ---------------------------- */

static void thp_partial(enum mover_kind kind)
{
	size_t per = bt_per(), soff = per + 100, n = 1700;
	struct bt b = {};
	char mode = mt_thp_mode();
	long thp;

	MOVER_OPEN_OR_SKIP(b.m, kind);
	PGR_SKIP_IF(mode != 'a' && mode != 'm', "THP disabled");
	/* 5 tables; THPs in tables 1 and 4, small pages in 0, 2 and 3. */
	bt_map(&b, 5 * per, soff, BT_DOFF, n, BT_THP);
	bt_fill_src(&b, per, 2 * per);
	bt_fill_src(&b, 4 * per, 5 * per);
	thp = mt_smaps_kb(b.s.p, "AnonHugePages");
	PGR_SKIP_IF(thp != 4096, "kernel gave %ld kB of THP for src, not 4096",
		    thp);
	ck_assert_int_eq(madvise(b.s.p, b.mpages * b.ps, MADV_NOHUGEPAGE), 0);
	bt_fill_src(&b, 0, per);
	bt_fill_src(&b, 2 * per, 4 * per);
	ck_assert_int_eq(mt_smaps_kb(b.s.p, "AnonHugePages"), 4096);
	bt_prepare(&b);
	bt_check_map(&b, "before");
	bt_diag_index(&b, "range start", 0);
	bt_diag_index(&b, "range end", n - 1);
	bt_expect(&b, 0, n, 0, 0, n, "from inside a THP to inside a THP");
	pgr_diag("after: src AnonHugePages %ld kB, dst %ld kB",
		 mt_smaps_kb(b.s.p, "AnonHugePages"),
		 mt_smaps_kb(b.d.p, "AnonHugePages"));
	bt_finish(&b, "partial THPs");
	bt_free(&b);
	mover_close(b.m);
}
MOVE_TEST(thp_partial)

/* ---- 8. a pinned page: EBUSY ---------------------------------------------- */

static void pinned(enum mover_kind kind)
{
	static const size_t ks[] = { 900, 495 };
	struct io_uring_params p = {};
	struct iovec iov;
	struct bt b = {};
	struct mover *m;
	char what[64];
	size_t t, k;
	int ring;

	MOVER_OPEN_OR_SKIP(m, kind);
	ck_assert(ks[1] == bt_per() - BT_SOFF);
	ring = syscall(__NR_io_uring_setup, 4, &p);
	PGR_SKIP_IF(ring < 0, "io_uring_setup: %s", strerror(errno));
	for (t = 0; t < ARRAY_SIZE(ks); t++) {
		k = ks[t];
		b = (struct bt){ .m = m };
		bt_map(&b, BT_TABLES * bt_per(), BT_SOFF, BT_DOFF, BT_N,
		       BT_FILL);
		bt_prepare(&b);
		/* io_uring fixed buffers: FOLL_PIN | FOLL_LONGTERM. */
		iov.iov_base = b.src + k * b.ps;
		iov.iov_len = b.ps;
		if (syscall(__NR_io_uring_register, ring,
			    IORING_REGISTER_BUFFERS, &iov, 1)) {
			close(ring);
			PGR_SKIP("IORING_REGISTER_BUFFERS: %s",
				 strerror(errno));
		}
		snprintf(what, sizeof(what), "pinned page at %zu", k);
		bt_diag_index(&b, what, k);
		bt_expect_stop(&b, k, 0, EBUSY, what);
		ck_assert_int_eq(syscall(__NR_io_uring_register, ring,
					 IORING_UNREGISTER_BUFFERS, NULL, 0),
				 0);
		/* Unpinned, it moves. */
		bt_expect(&b, k, BT_N - k, 0, 0, BT_N - k, "after unpinning");
		bt_finish(&b, what);
		bt_free(&b);
	}
	close(ring);
	mover_close(m);
}
MOVE_TEST(pinned)

/* ---- 9. races ------------------------------------------------------------ */

/* pread() of n pagemap entries without Check asserts (thread-safe). */
static int pm_read(int fd, const void *addr, size_t n, __u64 *out)
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

struct race_err {
	pthread_mutex_t lock;
	char msg[256];
};

static void race_fail(struct race_err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void race_fail(struct race_err *e, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&e->lock);
	if (!e->msg[0]) {
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&e->lock);
}

static bool race_failed(struct race_err *e)
{
	return __atomic_load_n(&e->msg[0], __ATOMIC_RELAXED) != 0;
}

/*
 * (a) Two threads move interleaved 64-page blocks between the same two
 * multi-table ranges A and B in opposite directions: in pass p thread 0
 * moves its (even) blocks A -> B if p is even, B -> A if odd, thread 1 its
 * (odd) blocks the other way, passes kept in step by a barrier. Each
 * thread checks every page of every block it moved.
 */
#define RA_BLOCK 64
#define RA_BLOCKS (BT_N / RA_BLOCK)
#define RA_MIN_MOVES 4

struct ra {
	struct bt b; /* A = src range, B = dst range */
	unsigned char loc[RA_BLOCKS]; /* 0: in A, 1: in B */
	pthread_barrier_t bar;
	volatile int stop, quit;
	unsigned long passes, moves[2], again[2];
	struct race_err err;
};

struct ra_arg {
	struct ra *ra;
	int id;
};

/* Move block blk to the other range, resuming short moves; 0 or -1. */
static int ra_move_block(struct ra *ra, int id, int fd, size_t blk)
{
	struct bt *b = &ra->b;
	size_t ps = b->ps, off = blk * RA_BLOCK * ps, done = 0, i;
	char *from = ra->loc[blk] ? b->dst : b->src;
	char *to = ra->loc[blk] ? b->src : b->dst;
	__u64 e[2][RA_BLOCK];
	long bad;
	__s64 mv;
	int err;

	while (done < RA_BLOCK * ps) {
		err = mover_move(b->m, (unsigned long)to + off + done,
				 (unsigned long)from + off + done,
				 RA_BLOCK * ps - done, 0, &mv);
		if (!err && mv == (__s64)(RA_BLOCK * ps - done))
			break;
		if (err == EAGAIN && mv > 0 &&
		    mv < (__s64)(RA_BLOCK * ps - done) && !(mv % ps)) {
			done += mv;
			ra->again[id]++;
			continue;
		}
		race_fail(&ra->err, "thread %d block %zu: %s, move %lld", id,
			  blk, err ? strerror(err) : "success", (long long)mv);
		return -1;
	}
	ra->moves[id]++;
	if (pm_read(fd, from + off, RA_BLOCK, e[0]) ||
	    pm_read(fd, to + off, RA_BLOCK, e[1])) {
		race_fail(&ra->err, "pagemap: %s", strerror(errno));
		return -1;
	}
	for (i = 0; i < RA_BLOCK; i++) {
		if ((e[0][i] & (PM_PRESENT | PM_SWAP)) ||
		    !(e[1][i] & PM_PRESENT)) {
			race_fail(&ra->err,
				  "thread %d block %zu page %zu: from %#llx, "
				  "to %#llx after the move",
				  id, blk, i, (unsigned long long)e[0][i],
				  (unsigned long long)e[1][i]);
			return -1;
		}
	}
	bad = mt_check(to + off, RA_BLOCK, bt_seed(b, blk * RA_BLOCK));
	if (bad >= 0) {
		race_fail(&ra->err, "thread %d block %zu: page %ld corrupted",
			  id, blk, bad);
		return -1;
	}
	ra->loc[blk] = !ra->loc[blk];
	return 0;
}

static void *ra_thread(void *arg)
{
	struct ra_arg *a = arg;
	struct ra *ra = a->ra;
	unsigned int seed = 4242 + a->id;
	size_t order[RA_BLOCKS], nb = 0, i, j, t;
	int fd;

	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		race_fail(&ra->err, "open pagemap: %s", strerror(errno));
	for (i = a->id; i < RA_BLOCKS; i += 2)
		order[nb++] = i;
	for (;;) {
		/* A deterministic shuffle of this pass's blocks. */
		for (i = nb - 1; i > 0; i--) {
			j = rand_r(&seed) % (i + 1);
			t = order[i];
			order[i] = order[j];
			order[j] = t;
		}
		for (i = 0; i < nb && fd >= 0 && !ra->stop; i++)
			if (race_failed(&ra->err) ||
			    ra_move_block(ra, a->id, fd, order[i]))
				break;
		/* Thread 0 decides before the barrier, both read after. */
		if (a->id == 0) {
			ra->quit = ra->stop || race_failed(&ra->err);
			ra->passes++;
		}
		pthread_barrier_wait(&ra->bar);
		if (ra->quit)
			break;
		pthread_barrier_wait(&ra->bar);
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void race_opposite(enum mover_kind kind)
{
	struct ra *ra = calloc(1, sizeof(*ra));
	size_t per = bt_per(), i, blk;
	struct ra_arg args[2];
	struct pgr_log log;
	pthread_t t[2];
	int kfd;
	long t0;

	ck_assert(ra);
	MOVER_OPEN_OR_SKIP(ra->b.m, kind);
	pthread_mutex_init(&ra->err.lock, NULL);
	ck_assert_int_eq(pthread_barrier_init(&ra->bar, NULL, 2), 0);
	bt_map(&ra->b, BT_TABLES * per, BT_SOFF, BT_DOFF, BT_N, 0);
	/* Outside the ranges both mappings hold their own patterns. */
	bt_fill_src(&ra->b, 0, BT_SOFF);
	bt_fill_src(&ra->b, BT_SOFF + BT_N, ra->b.mpages);
	for (i = 0; i < ra->b.mpages; i++) {
		if (i >= BT_DOFF && i < BT_DOFF + BT_N)
			continue;
		mt_fill(ra->b.d.p + i * ra->b.ps, 1,
			(unsigned long)ra->b.d.p + i * ra->b.ps);
		breg_set_own(&ra->b.d, i);
	}
	/* Even blocks start in A, odd ones in B. */
	for (blk = 0; blk < RA_BLOCKS; blk++) {
		struct breg *r = blk % 2 ? &ra->b.d : &ra->b.s;
		char *base = blk % 2 ? ra->b.dst : ra->b.src;
		size_t off = blk % 2 ? BT_DOFF : BT_SOFF;

		ra->loc[blk] = blk % 2;
		mt_fill(base + blk * RA_BLOCK * ra->b.ps, RA_BLOCK,
			bt_seed(&ra->b, blk * RA_BLOCK));
		for (i = blk * RA_BLOCK; i < (blk + 1) * RA_BLOCK; i++)
			breg_set(r, off + i, X_PAT, bt_seed(&ra->b, i));
	}
	mover_prepare_dst(ra->b.m, ra->b.s.p, ra->b.mpages * ra->b.ps);
	bt_prepare(&ra->b);
	bt_check_map(&ra->b, "before");

	kfd = pgr_kmsg_mark();
	t0 = mt_now_ms();
	for (i = 0; i < 2; i++) {
		args[i].ra = ra;
		args[i].id = i;
		ck_assert_int_eq(
			pthread_create(&t[i], NULL, ra_thread, &args[i]), 0);
	}
	/* At least RA_MIN_MOVES moves each, however slow the machine. */
	while ((mt_now_ms() - t0 < bt_race_ms() ||
		ra->moves[0] < RA_MIN_MOVES || ra->moves[1] < RA_MIN_MOVES) &&
	       mt_now_ms() - t0 < 10 * bt_race_ms() && !race_failed(&ra->err))
		usleep(10000);
	ra->stop = 1;
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	pgr_diag("opposite directions: %ld ms, %lu passes, block moves "
		 "%lu + %lu (%d pages each), short moves %lu + %lu",
		 mt_now_ms() - t0, ra->passes, ra->moves[0], ra->moves[1],
		 RA_BLOCK, ra->again[0], ra->again[1]);
	pgr_kmsg_collect(kfd, &log);
	pgr_log_assert_no_splat(&log);
	pgr_log_free(&log);
	ck_assert_msg(!ra->err.msg[0], "%s", ra->err.msg);
	ck_assert_msg(ra->moves[0] >= RA_MIN_MOVES &&
			      ra->moves[1] >= RA_MIN_MOVES,
		      "too few moves: %lu + %lu in %ld ms", ra->moves[0],
		      ra->moves[1], mt_now_ms() - t0);

	/* Each block where its last move left it, the rest untouched. */
	for (blk = 0; blk < RA_BLOCKS; blk++) {
		for (i = blk * RA_BLOCK; i < (blk + 1) * RA_BLOCK; i++) {
			if (ra->loc[blk]) {
				breg_set(&ra->b.s, BT_SOFF + i, X_EMPTY, 0);
				breg_set(&ra->b.d, BT_DOFF + i, X_PAT,
					 bt_seed(&ra->b, i));
			} else {
				breg_set(&ra->b.s, BT_SOFF + i, X_PAT,
					 bt_seed(&ra->b, i));
				breg_set(&ra->b.d, BT_DOFF + i, X_EMPTY, 0);
			}
		}
	}
	bt_check_map(&ra->b, "after the race");
	mover_release_dst(ra->b.m, ra->b.s.p, ra->b.mpages * ra->b.ps);
	bt_finish(&ra->b, "after the race");
	bt_free(&ra->b);
	pthread_barrier_destroy(&ra->bar);
	mover_close(ra->b.m);
	free(ra);
}
MOVE_TEST(race_opposite)

/*
 * (b) One big move while another thread MADV_DONTNEEDs random src pages.
 * Afterwards (resuming until the range is done, skipping each page that
 * ENOENT reports) every page is at dst with its exact bytes, or gone and
 * the zapper did zap it; never at src, never in both places. A stop is
 * only allowed at a page the zapper zapped.
 */
struct rz {
	char *src;
	size_t ps, n, max_zaps;
	unsigned char *zapped;
	volatile int done, started;
	unsigned int seed;
	unsigned long zaps;
	int err;
};

static void *rz_zapper(void *arg)
{
	struct rz *z = arg;
	size_t i;

	z->started = 1;
	while (!z->done && z->zaps < z->max_zaps) {
		i = rand_r(&z->seed) % z->n;
		__atomic_store_n(&z->zapped[i], 1, __ATOMIC_SEQ_CST);
		if (madvise(z->src + i * z->ps, z->ps, MADV_DONTNEED)) {
			z->err = errno;
			break;
		}
		z->zaps++;
		usleep(rand_r(&z->seed) % 50);
	}
	return NULL;
}

static void race_dontneed(enum mover_kind kind)
{
	unsigned long rounds = 0, outcome[3] = {}, zaps = 0, lost = 0;
	unsigned long stops = 0, moved = 0;
	size_t per = bt_per(), n = BT_N, ps, i, pos;
	unsigned char *real;
	struct pgr_log log;
	struct bt b = {};
	struct rz z = {};
	pthread_t t;
	__u64 mode, *es, *ed;
	bool after_stop;
	__s64 mv;
	int err, kfd;
	long t0;

	MOVER_OPEN_OR_SKIP(b.m, kind);
	bt_map(&b, BT_TABLES * per, BT_SOFF, BT_DOFF, n, BT_FILL);
	ps = b.ps;
	bt_prepare(&b);
	z.src = b.src;
	z.ps = ps;
	z.n = n;
	z.max_zaps = n / 16;
	z.zapped = calloc(n, 1);
	real = calloc(n, 1);
	es = calloc(n, sizeof(*es));
	ed = calloc(n, sizeof(*ed));
	ck_assert(z.zapped && real && es && ed);

	kfd = pgr_kmsg_mark();
	/* Both modes at least once, however slow the machine. */
	for (t0 = mt_now_ms(); rounds < 2 || mt_now_ms() - t0 < bt_race_ms();
	     rounds++) {
		mode = rounds % 2 ? MV_HOLES : 0;
		/* Fresh round: src filled, dst empty; tables stay. */
		ck_assert_int_eq(madvise(b.dst, n * ps, MADV_DONTNEED), 0);
		mt_fill(b.src, n, bt_seed(&b, 0));
		memset(z.zapped, 0, n);
		memset(real, 0, n);
		z.done = 0;
		z.zaps = 0;
		z.seed = 777 + rounds;
		z.started = 0;
		ck_assert_int_eq(pthread_create(&t, NULL, rz_zapper, &z), 0);
		while (!z.started)
			sched_yield();
		after_stop = false;
		for (pos = 0; pos < n;) {
			err = mover_move(b.m, (unsigned long)b.dst + pos * ps,
					 (unsigned long)b.src + pos * ps,
					 (n - pos) * ps, mode, &mv);
			if (!z.done) {
				/* The first call raced; stop the zapper. */
				z.done = 1;
				pthread_join(t, NULL);
				ck_assert_msg(!z.err, "zapper: %s",
					      strerror(z.err));
				zaps += z.zaps;
				outcome[err == 0 ? 0 : err == EAGAIN ? 1 : 2]++;
			}
			/* The resume after a short move reports its cause. */
			ck_assert_msg(!after_stop || err == ENOENT,
				      "round %lu: resume at %zu after a short "
				      "move: %s, want ENOENT",
				      rounds, pos,
				      err ? strerror(err) : "success");
			after_stop = err == EAGAIN;
			if (!err) {
				ck_assert_msg(mv == (__s64)((n - pos) * ps),
					      "round %lu at %zu: move %lld",
					      rounds, pos, (long long)mv);
				memset(real + pos, !mode, n - pos);
				pos = n;
			} else if (err == EAGAIN && mv > 0 &&
				   mv < (__s64)((n - pos) * ps) && !(mv % ps)) {
				ck_assert_msg(!mode,
					      "round %lu: EAGAIN with "
					      "ALLOW_SRC_HOLES",
					      rounds);
				memset(real + pos, 1, mv / ps);
				pos += mv / ps;
				stops++;
			} else {
				ck_assert_msg(
					err == ENOENT && mv == -ENOENT && !mode,
					"round %lu at %zu (mode %#llx): "
					"%s, move %lld",
					rounds, pos, (unsigned long long)mode,
					strerror(err), (long long)mv);
				ck_assert_msg(z.zapped[pos],
					      "round %lu: ENOENT at page %zu, "
					      "which was never zapped",
					      rounds, pos);
				ck_assert_msg(!(mt_pagemap(b.src + pos * ps) &
						(PM_PRESENT | PM_SWAP)),
					      "round %lu: ENOENT at page %zu, "
					      "which is present",
					      rounds, pos);
				pos++;
			}
		}
		mt_pagemap_range(b.src, n, es);
		mt_pagemap_range(b.dst, n, ed);
		for (i = 0; i < n; i++) {
			ck_assert_msg(!(es[i] & (PM_PRESENT | PM_SWAP)),
				      "round %lu: page %zu still at src "
				      "(%#llx)",
				      rounds, i, (unsigned long long)es[i]);
			if (ed[i] & PM_PRESENT) {
				ck_assert_msg(mt_check(b.dst + i * ps, 1,
						       bt_seed(&b, i)) < 0,
					      "round %lu: dst page %zu "
					      "corrupted",
					      rounds, i);
				moved++;
				continue;
			}
			ck_assert_msg(!(ed[i] & PM_SWAP),
				      "round %lu: dst page %zu swapped?",
				      rounds, i);
			ck_assert_msg(z.zapped[i] && !real[i],
				      "round %lu: page %zu lost (zapped %d, "
				      "reported moved %d)",
				      rounds, i, z.zapped[i], real[i]);
			lost++;
		}
	}
	pgr_kmsg_collect(kfd, &log);
	pgr_log_assert_no_splat(&log);
	pgr_log_free(&log);
	pgr_diag("move vs MADV_DONTNEED: %lu rounds in %ld ms, %lu zaps; "
		 "first call: %lu success, %lu EAGAIN, %lu ENOENT; %lu stops "
		 "on resume; pages: %lu moved, %lu zapped",
		 rounds, mt_now_ms() - t0, zaps, outcome[0], outcome[1],
		 outcome[2], stops, moved, lost);
	bt_free(&b);
	free(z.zapped);
	free(real);
	free(es);
	free(ed);
	mover_close(b.m);
}
MOVE_TEST(race_dontneed)

/*
 * (c) Big moves back and forth while a thread keeps incrementing a
 * counter in word 0 of pages outside the moved ranges but in the same
 * page tables (same VMAs), checking the count before each increment.
 */
struct rw {
	char **pages;
	unsigned long *count;
	size_t npages;
	volatile int stop;
	unsigned long writes;
	int ufd; /* uffd backend: where missing-page faults arrive */
	struct race_err err;
};

/*
 * uffd backend: both mappings are registered, so a page that went missing
 * would block its reader forever. Any fault is a failure; resolve it with
 * the zero page so that the reader sees the damage and fails too.
 */
static void *rw_fault_watcher(void *arg)
{
	struct rw *w = arg;
	struct pollfd pfd = { .fd = w->ufd, .events = POLLIN };
	struct uffdio_zeropage zp = {};
	struct uffd_msg msg;
	unsigned long addr;

	while (!w->stop) {
		if (poll(&pfd, 1, 50) <= 0 ||
		    read(w->ufd, &msg, sizeof(msg)) != sizeof(msg) ||
		    msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		addr = msg.arg.pagefault.address & ~(mt_page() - 1);
		race_fail(&w->err, "missing-page fault at %#lx in the race",
			  addr);
		zp.range.start = addr;
		zp.range.len = mt_page();
		(void)!ioctl(w->ufd, UFFDIO_ZEROPAGE, &zp);
	}
	return NULL;
}

static void *rw_writer(void *arg)
{
	struct rw *w = arg;
	unsigned int seed = 31337;
	volatile __u64 *p;
	size_t i;

	while (!w->stop) {
		i = rand_r(&seed) % w->npages;
		p = (volatile __u64 *)w->pages[i];
		if (*p != w->count[i]) {
			race_fail(&w->err,
				  "outside page %zu (%p): counter %llu, want "
				  "%lu",
				  i, (void *)w->pages[i],
				  (unsigned long long)*p, w->count[i]);
			break;
		}
		*p = ++w->count[i];
		w->writes++;
	}
	return NULL;
}

static void race_neighbours(enum mover_kind kind)
{
	size_t per = bt_per(), ps, i, j, k = 0;
	unsigned long moves = 0;
	struct pgr_log log;
	struct rw w = {};
	char *from, *to;
	struct bt b = {};
	pthread_t t, wt;
	char *ref;
	int kfd;
	long t0;

	MOVER_OPEN_OR_SKIP(b.m, kind);
	pthread_mutex_init(&w.err.lock, NULL);
	bt_map(&b, BT_TABLES * per, BT_SOFF, BT_DOFF, BT_N, BT_FILL);
	ps = b.ps;
	mt_fill(b.d.p, b.mpages, (unsigned long)b.d.p);
	w.npages = 2 * b.mpages - 2 * BT_N;
	w.pages = calloc(w.npages, sizeof(*w.pages));
	w.count = calloc(w.npages, sizeof(*w.count));
	ref = malloc(ps);
	ck_assert(w.pages && w.count && ref);
	for (j = 0; j < 2; j++) {
		struct breg *r = j ? &b.d : &b.s;
		size_t off = j ? BT_DOFF : BT_SOFF;

		for (i = 0; i < b.mpages; i++) {
			if (i >= off && i < off + BT_N)
				continue;
			w.pages[k] = r->p + i * ps;
			*(__u64 *)w.pages[k++] = 0;
		}
	}
	ck_assert_uint_eq(k, w.npages);
	/* dst range empty; src and dst both registered for uffd. */
	ck_assert_int_eq(madvise(b.dst, BT_N * ps, MADV_DONTNEED), 0);
	mover_prepare_dst(b.m, b.s.p, b.mpages * ps);
	bt_prepare(&b);

	kfd = pgr_kmsg_mark();
	w.ufd = kind == MOVER_UFFD ? b.m->fd : -1;
	if (w.ufd >= 0)
		ck_assert_int_eq(
			pthread_create(&wt, NULL, rw_fault_watcher, &w), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, rw_writer, &w), 0);
	/* One move of the whole range per step, A -> B, then B -> A... */
	for (t0 = mt_now_ms();
	     mt_now_ms() - t0 < bt_race_ms() && !race_failed(&w.err); moves++) {
		from = moves % 2 ? b.dst : b.src;
		to = moves % 2 ? b.src : b.dst;
		mover_move_all(b.m, to, from, BT_N * ps, 0);
		ck_assert_uint_eq(mt_pagemap_count(from, BT_N, PM_PRESENT), 0);
		ck_assert_uint_eq(mt_pagemap_count(to, BT_N, PM_PRESENT), BT_N);
		mt_assert_pattern(to, BT_N, bt_seed(&b, 0), "moved range");
	}
	w.stop = 1;
	pthread_join(t, NULL);
	if (w.ufd >= 0)
		pthread_join(wt, NULL);
	pgr_kmsg_collect(kfd, &log);
	pgr_log_assert_no_splat(&log);
	pgr_log_free(&log);
	pgr_diag("neighbours: %lu moves of %d pages in %ld ms, %lu counter "
		 "writes to %zu pages outside the range",
		 moves, BT_N, mt_now_ms() - t0, w.writes, w.npages);
	ck_assert_msg(!w.err.msg[0], "%s", w.err.msg);
	ck_assert_msg(moves >= 1 && w.writes, "no race: %lu moves, %lu writes",
		      moves, w.writes);
	/* Back home for the last checks. */
	if (moves % 2)
		mover_move_all(b.m, b.src, b.dst, BT_N * ps, 0);
	/* Every outside page: its counter, then its own pattern. */
	for (k = 0; k < w.npages; k++) {
		mt_fill(ref, 1, (unsigned long)w.pages[k]);
		ck_assert_msg(*(__u64 *)w.pages[k] == w.count[k],
			      "outside page %p: counter %llu, want %lu",
			      (void *)w.pages[k],
			      (unsigned long long)*(__u64 *)w.pages[k],
			      w.count[k]);
		ck_assert_msg(!memcmp(w.pages[k] + 8, ref + 8, ps - 8),
			      "outside page %p corrupted", (void *)w.pages[k]);
	}
	mover_release_dst(b.m, b.s.p, b.mpages * ps);
	b.prepared = false;
	mover_release_dst(b.m, b.d.p, b.mpages * ps);
	mt_assert_pattern(b.src, BT_N, bt_seed(&b, 0), "range at the end");
	ck_assert_msg(mt_check_zero(b.dst, BT_N) < 0, "dst range not zero");
	free(w.pages);
	free(w.count);
	free(ref);
	bt_free(&b);
	mover_close(b.m);
}
MOVE_TEST(race_neighbours)

/* ---- 10. folios of two anon_vmas in one VMA ------------------------------- */

/*
 * After fork() the child's VMA has an anon_vma of its own (av2) whose root
 * is the parent's (av1); the inherited folios still point at av1, shared,
 * so not movable (EBUSY). Once the parent has dropped its mappings:
 *  - a write fault in the child reuses the folio and moves it to av2
 *    (folio_move_anon_rmap() in do_wp_page());
 *  - a folio paged out to a swap device with asynchronous writeback stays
 *    in the swap cache, still anon and pointing at av1; a *write* fault on
 *    its swap entry, once writeback is over and nothing but the swap cache
 *    holds it, frees the swap slot and maps the same folio exclusive
 *    (RMAP_EXCLUSIVE) without touching ->mapping: an exclusive av1 folio
 *    in the av2 VMA.
 * Which anon_vma a folio points at is not visible from userspace; the
 * test checks each step's preconditions (pagemap, /proc/kpageflags: same
 * PFN, in the swap cache, writeback done, on the LRU) and counts the pages
 * for which every one held. The whole scenario runs in the child (the
 * process that owns the mixed VMA), its Check failures reported first.
 */
#define AV_FILE "/tmp/pgremap-batch-swap.img"
#define AV_SIZE (32UL << 20)
#define AV_SKIP 77

/* Drain every CPU's LRU batches: move_pages(2) calls lru_cache_disable(). */
static void av_lru_drain(void)
{
	int node = 0, status;
	void *page = NULL;

	(void)!syscall(__NR_move_pages, 0, 0UL, &page, &node, &status, 0);
}

static bool av_is_av1(size_t i)
{
	return i % 4 == 1;
}

/* The child: build the mixed VMA, move it, exit 0 / AV_SKIP / failure. */
static void av_child(enum mover_kind kind, struct bt *b, int rfd)
{
	size_t n = b->n, ps = b->ps, i, nav1 = 0, ok = 0, swapped = 0,
	       cached = 0;
	__u64 *pfn = calloc(n, sizeof(*pfn)), e, f;
	static volatile __u64 zero;
	bool idle;
	const char *why;
	long t0;
	char c;

	ck_assert(pfn);
	/* Wait until the parent has dropped its mappings of src. */
	ck_assert_int_eq(read(rfd, &c, 1), 1);
	b->m = mover_open(kind, &why);
	ck_assert_msg(b->m, "%s", why);
	for (i = 0; i < n; i++) {
		e = mt_pagemap(b->src + i * ps);
		ck_assert_msg(e & PM_PRESENT, "inherited page %zu missing", i);
		pfn[i] = e & PM_PFN_MASK;
		if (!av_is_av1(i)) {
			/* The write fault reuses the folio: now av2's. */
			__atomic_fetch_add((__u64 *)(b->src + i * ps), zero,
					   __ATOMIC_RELAXED);
			continue;
		}
		nav1++;
		if (madvise(b->src + i * ps, ps, MADV_PAGEOUT)) {
			pgr_skip_set("MADV_PAGEOUT: %s", strerror(errno));
			_exit(AV_SKIP);
		}
	}
	/*
	 * Wait for writeback to end and drain the LRU batches, until every
	 * folio still in the swap cache is held by it alone (on the LRU,
	 * not under writeback). A folio that went to a synchronous device
	 * (zram slots cached per CPU) was freed: it does not count.
	 */
	for (t0 = mt_now_ms(); mt_now_ms() - t0 < 3000; usleep(20000)) {
		av_lru_drain();
		swapped = cached = ok = 0;
		for (i = 0; i < n; i++) {
			if (!av_is_av1(i) ||
			    !(mt_pagemap(b->src + i * ps) & PM_SWAP))
				continue;
			swapped++;
			f = mt_kpageflags(pfn[i]);
			if (!(f & (1ULL << KPF_SWAPCACHE_BIT)))
				continue;
			cached++;
			ok += (f & (1ULL << KPF_LRU_BIT)) &&
			      !(f & (1ULL << KPF_WRITEBACK_BIT));
		}
		if (ok == cached)
			break;
	}
	pgr_diag("child: %zu pages to page out, %zu swapped out, %zu in the "
		 "swap cache, %zu of them idle there",
		 nav1, swapped, cached, ok);
	/*
	 * A write fault on each: straight on the swap entry for the folios
	 * idle in the swap cache. The others (not paged out, or sent to a
	 * synchronous device and freed) come back as av2 folios or fresh
	 * copies: a non-exclusive swap entry would not move (EBUSY).
	 */
	for (i = 0, ok = 0; i < n; i++) {
		if (!av_is_av1(i))
			continue;
		e = mt_pagemap(b->src + i * ps);
		f = mt_kpageflags(pfn[i]);
		idle = (e & PM_SWAP) && (f & (1ULL << KPF_SWAPCACHE_BIT)) &&
		       (f & (1ULL << KPF_LRU_BIT)) &&
		       !(f & (1ULL << KPF_WRITEBACK_BIT));
		__atomic_fetch_add((__u64 *)(b->src + i * ps), zero,
				   __ATOMIC_RELAXED);
		e = mt_pagemap(b->src + i * ps);
		f = mt_kpageflags(pfn[i]);
		/* The same folio, mapped again, out of the swap cache. */
		if (idle && (e & PM_PRESENT) && (e & PM_PFN_MASK) == pfn[i] &&
		    !(f & (1ULL << KPF_SWAPCACHE_BIT)))
			ok++;
	}
	pgr_diag("child: %zu av1 folios mapped exclusive from the swap cache, "
		 "%zu other folios; %zu present",
		 ok, n - ok, mt_pagemap_count(b->src, n, PM_PRESENT));
	if (ok < 16) {
		pgr_skip_set("could not build the mixed VMA: only %zu folios "
			     "mapped back from the swap cache",
			     ok);
		_exit(AV_SKIP);
	}
	bt_prepare(b);
	bt_check_map(b, "before");
	bt_expect(b, 0, n, 0, 0, n, "folios of two anon_vmas");
	bt_finish(b, "two anon_vmas");
	mover_close(b->m);
	fflush(NULL);
	_exit(0);
}

static void two_anon_vmas(enum mover_kind kind)
{
	struct bt b = {};
	const char *why;
	char dev[64];
	int p[2], st;
	pid_t pid;

	MOVER_OPEN_OR_SKIP(b.m, kind);
	mover_close(b.m);
	b.m = NULL;
	PGR_SKIP_IF(pgr_loop_swap_on(AV_FILE, AV_SIZE, dev, sizeof(dev), &why),
		    "%s", why);
	bt_map(&b, BT_TABLES * bt_per(), BT_SOFF, BT_DOFF, BT_N, BT_FILL);
	ck_assert_int_eq(pipe(p), 0);
	fflush(NULL);
	pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		close(p[1]);
		av_child(kind, &b, p[0]);
	}
	close(p[0]);
	/* The parent lets go: the child's folios are mapped once. */
	ck_assert_int_eq(madvise(b.s.p, b.mpages * b.ps, MADV_DONTNEED), 0);
	ck_assert_int_eq(write(p[1], "g", 1), 1);
	close(p[1]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	pgr_loop_swap_off(AV_FILE, dev);
	bt_free(&b);
	if (WIFEXITED(st) && WEXITSTATUS(st) == AV_SKIP)
		return; /* the child recorded the reason */
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "the child failed (status %#x)", st);
}
MOVE_TEST(two_anon_vmas)

/* ---- suite -------------------------------------------------------------- */

Suite *pgr_suite_move_batch(void)
{
	Suite *s = suite_create("move-batch");
	TCase *tc;

	tc = pgr_tcase("batch-basic", PGR_TIMEOUT_LONG);
	MOVE_TEST_ADD(tc, clean_move);
	MOVE_TEST_ADD(tc, same_table);
	MOVE_TEST_ADD(tc, thp_partial);
	suite_add_tcase(s, tc);

	tc = pgr_tcase("batch-prefix", PGR_TIMEOUT_LONG);
	MOVE_TEST_ADD(tc, ebusy_shared);
	MOVE_TEST_ADD(tc, eexist_dst);
	MOVE_TEST_ADD(tc, enoent_hole);
	MOVE_TEST_ADD(tc, holes_allowed);
	MOVE_TEST_ADD(tc, pinned);
	suite_add_tcase(s, tc);

	tc = pgr_tcase("batch-kinds", PGR_TIMEOUT_LONG);
	MOVE_TEST_ADD(tc, mixed_kinds);
	MOVE_TEST_ADD(tc, two_anon_vmas);
	suite_add_tcase(s, tc);

	tc = pgr_tcase("batch-race", PGR_TIMEOUT_LONG);
	MOVE_TEST_ADD(tc, race_opposite);
	MOVE_TEST_ADD(tc, race_dontneed);
	MOVE_TEST_ADD(tc, race_neighbours);
	suite_add_tcase(s, tc);

	return s;
}
