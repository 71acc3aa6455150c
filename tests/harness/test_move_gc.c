// SPDX-License-Identifier: GPL-2.0
/*
 * move-gc suite: the move under load.
 *  - gc: threads fault on a userfaultfd-registered dst in random order; a
 *    handler resolves each fault by moving the src page in (the
 *    compacting-GC use of UFFDIO_MOVE), racing faults get EEXIST and a wake.
 *  - concurrency: threads move disjoint ranges back and forth while others
 *    read and write unrelated pages of the same VMAs.
 *  - differential: one fixed sequence of moves, successes and failures,
 *    through pgremap and through UFFDIO_MOVE on identical fresh setups,
 *    must give the same errnos, move fields, bytes and pagemap presence.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "mover.h"

/* ---- gc ----------------------------------------------------------------- */

#define GC_PAGES 512
#define GC_THREADS 4

struct gc {
	struct mover *m;
	int ufd; /* where the faults arrive */
	char *src, *dst;
	size_t ps;
	volatile int stop;
	unsigned long faults, eexist, bad;
	int bad_err;
};

struct gc_worker {
	struct gc *gc;
	unsigned int seed;
	unsigned long sum;
};

static void *gc_fault_thread(void *arg)
{
	struct gc_worker *w = arg;
	struct gc *gc = w->gc;
	unsigned int order[GC_PAGES];
	unsigned int i, j, t;

	for (i = 0; i < GC_PAGES; i++)
		order[i] = i;
	for (i = GC_PAGES - 1; i > 0; i--) {
		j = rand_r(&w->seed) % (i + 1);
		t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (i = 0; i < GC_PAGES; i++)
		w->sum += *(volatile __u64 *)(gc->dst + order[i] * gc->ps +
					      (i % 8) * 64);
	return NULL;
}

static void *gc_handler_thread(void *arg)
{
	struct gc *gc = arg;
	struct uffd_msg msg;
	struct pollfd pfd = { .fd = gc->ufd, .events = POLLIN };
	unsigned long addr, off;
	__s64 mv;
	int err;

	while (!gc->stop) {
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		if (read(gc->ufd, &msg, sizeof(msg)) != sizeof(msg))
			continue;
		if (msg.event != UFFD_EVENT_PAGEFAULT) {
			gc->bad++;
			continue;
		}
		gc->faults++;
		addr = msg.arg.pagefault.address & ~(gc->ps - 1);
		off = addr - (unsigned long)gc->dst;
		err = mover_move(gc->m, addr, (unsigned long)gc->src + off,
				 gc->ps, 0, &mv);
		if (err == EEXIST) {
			/* Another fault on this page was resolved first. */
			gc->eexist++;
		} else if (err) {
			gc->bad++;
			gc->bad_err = err;
		}
		/* pgremap never wakes; UFFDIO_MOVE woke unless it failed. */
		if (err || gc->m->kind == MOVER_PGREMAP)
			mt_uffd_wake(gc->ufd, (void *)addr, gc->ps);
	}
	return NULL;
}

static void gc_scenario(enum mover_kind kind)
{
	struct gc_worker w[GC_THREADS];
	pthread_t ft[GC_THREADS], ht;
	size_t len, i;
	struct gc gc = {};
	long t0, ms;

	MOVER_OPEN_OR_SKIP(gc.m, kind);
	gc.ps = mt_page();
	len = GC_PAGES * gc.ps;
	gc.src = mt_map(len, 0, false);
	gc.dst = mt_map(len, 0, false);
	mt_fill(gc.src, GC_PAGES, (unsigned long)gc.src);
	ck_assert_int_eq(madvise(gc.src, len, MADV_DONTFORK), 0);
	if (kind == MOVER_UFFD) {
		mover_prepare_dst(gc.m, gc.dst, len);
		gc.ufd = gc.m->fd;
	} else {
		/* pgremap moves; a userfaultfd of our own delivers faults. */
		gc.ufd = mt_uffd_open(0);
		PGR_SKIP_IF(gc.ufd < 0, "userfaultfd: %s", strerror(-gc.ufd));
		mt_uffd_register(gc.ufd, gc.dst, len);
	}
	t0 = mt_now_ms();
	ck_assert_int_eq(pthread_create(&ht, NULL, gc_handler_thread, &gc), 0);
	for (i = 0; i < GC_THREADS; i++) {
		w[i].gc = &gc;
		/* Pairs share an order, so that their faults collide. */
		w[i].seed = 1234 + i / 2;
		w[i].sum = 0;
		ck_assert_int_eq(pthread_create(&ft[i], NULL, gc_fault_thread,
						&w[i]),
				 0);
	}
	for (i = 0; i < GC_THREADS; i++)
		pthread_join(ft[i], NULL);
	ms = mt_now_ms() - t0;
	gc.stop = 1;
	pthread_join(ht, NULL);
	pgr_diag("%d threads x %d pages: %lu faults, %lu EEXIST, %lu bad, "
		 "%ld ms",
		 GC_THREADS, GC_PAGES, gc.faults, gc.eexist, gc.bad, ms);
	ck_assert_msg(!gc.bad, "%lu bad faults/moves (last error %s)", gc.bad,
		      strerror(gc.bad_err));
	ck_assert_msg(gc.faults >= GC_PAGES, "only %lu faults for %d pages",
		      gc.faults, GC_PAGES);
	ck_assert_uint_eq(mt_pagemap_count(gc.dst, GC_PAGES, PM_PRESENT),
			  GC_PAGES);
	ck_assert_uint_eq(mt_pagemap_count(gc.src, GC_PAGES, PM_PRESENT), 0);
	mt_assert_pattern(gc.dst, GC_PAGES, (unsigned long)gc.src, "dst");
	ck_assert_msg(mt_check_zero(gc.src, GC_PAGES) < 0, "src not zero");
	if (kind == MOVER_PGREMAP)
		close(gc.ufd);
	mover_close(gc.m);
}
MOVE_TEST(gc_scenario)

/* ---- concurrency -------------------------------------------------------- */

#define CC_PAGES 64 /* per mover thread, in each VMA */
#define CC_UNRELATED 64
#define CC_MS 2000

struct cc {
	struct mover *m;
	char *a, *b; /* two VMAs: [movers 0 | movers 1 | unrelated] */
	size_t ps;
	volatile int stop;
	unsigned long trips[2], touches[2];
	int err[2];
};

struct cc_arg {
	struct cc *cc;
	int id;
};

static void *cc_mover(void *arg)
{
	struct cc_arg *ca = arg;
	struct cc *cc = ca->cc;
	size_t off = ca->id * CC_PAGES * cc->ps, len = CC_PAGES * cc->ps;
	__s64 mv;
	int err;

	while (!cc->stop) {
		err = mover_move(cc->m, (unsigned long)cc->b + off,
				 (unsigned long)cc->a + off, len, 0, &mv);
		if (!err)
			err = mover_move(cc->m, (unsigned long)cc->a + off,
					 (unsigned long)cc->b + off, len, 0,
					 &mv);
		if (err) {
			cc->err[ca->id] = err;
			break;
		}
		cc->trips[ca->id]++;
	}
	return NULL;
}

static void *cc_toucher(void *arg)
{
	struct cc_arg *ca = arg;
	struct cc *cc = ca->cc;
	char *base = (ca->id ? cc->b : cc->a) + 2 * CC_PAGES * cc->ps;
	unsigned int seed = 99 + ca->id;
	size_t pg;
	__u64 *w;

	while (!cc->stop) {
		pg = rand_r(&seed) % CC_UNRELATED;
		w = (__u64 *)(base + pg * cc->ps) + rand_r(&seed) % 512;
		/* Each word counts up from its initial value. */
		*(volatile __u64 *)w = *(volatile __u64 *)w + 1;
		cc->touches[ca->id]++;
	}
	return NULL;
}

static void concurrency(enum mover_kind kind)
{
	size_t ps = mt_page(), n = 2 * CC_PAGES + CC_UNRELATED, i, j;
	struct cc_arg args[4];
	pthread_t t[4];
	struct cc cc = {};
	__u64 *w;
	long t0;

	MOVER_OPEN_OR_SKIP(cc.m, kind);
	cc.ps = ps;
	cc.a = mt_map(n * ps, 0, false);
	cc.b = mt_map(n * ps, 0, false);
	mt_fill(cc.a, 2 * CC_PAGES, (unsigned long)cc.a);
	memset(cc.a + 2 * CC_PAGES * ps, 0, CC_UNRELATED * ps);
	memset(cc.b + 2 * CC_PAGES * ps, 0, CC_UNRELATED * ps);
	mover_prepare_dst(cc.m, cc.a, n * ps);
	mover_prepare_dst(cc.m, cc.b, n * ps);
	for (i = 0; i < 4; i++) {
		args[i].cc = &cc;
		args[i].id = i % 2;
		ck_assert_int_eq(pthread_create(&t[i], NULL,
						i < 2 ? cc_mover : cc_toucher,
						&args[i]),
				 0);
	}
	for (t0 = mt_now_ms(); mt_now_ms() - t0 < CC_MS;)
		usleep(10000);
	cc.stop = 1;
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	pgr_diag("round trips %lu + %lu, touches %lu + %lu", cc.trips[0],
		 cc.trips[1], cc.touches[0], cc.touches[1]);
	ck_assert_msg(!cc.err[0] && !cc.err[1], "mover errors: %s / %s",
		      strerror(cc.err[0]), strerror(cc.err[1]));
	ck_assert_msg(cc.trips[0] && cc.trips[1], "a mover made no trip");
	mover_release_dst(cc.m, cc.a, n * ps);
	mover_release_dst(cc.m, cc.b, n * ps);
	mt_assert_pattern(cc.a, 2 * CC_PAGES, (unsigned long)cc.a, "moved");
	ck_assert_uint_eq(mt_pagemap_count(cc.b, 2 * CC_PAGES, PM_PRESENT), 0);
	for (j = 0; j < 2; j++) {
		unsigned long sum = 0;

		w = (__u64 *)((j ? cc.b : cc.a) + 2 * CC_PAGES * ps);
		for (i = 0; i < CC_UNRELATED * ps / 8; i++)
			sum += w[i];
		ck_assert_msg(sum == cc.touches[j],
			      "unrelated pages of VMA %zu: %lu increments "
			      "seen, %lu made",
			      j, sum, cc.touches[j]);
	}
	mover_close(cc.m);
}
MOVE_TEST(concurrency)

/* ---- differential ------------------------------------------------------- */

#define DF_PAGES 32

struct df_step {
	long dst, src, len; /* pages; dst/src relative to their mapping */
	__u64 mode;
	const char *what;
};

/* src: pages 0-31 with pattern except holes 10, 20; dst: page 5 busy. */
static const struct df_step df_steps[] = {
	{ 0, 0, 4, 0, "plain" },
	{ 5, 4, 2, 0, "dst populated" },
	{ 6, 6, 8, 0, "stops at the hole" },
	{ 10, 10, 2, 0, "starts at the hole" },
	{ 10, 10, 6, MV_HOLES, "over the hole with holes" },
	{ 4, 4, 1, 0, "src page already moved" },
	{ 16, 16, 1, 1 << 2, "bad mode" },
	{ 16, 16, 0, 0, "len 0" },
	{ 16, 16, 32, 0, "runs off the VMA" },
	{ 16, 16, 4, MV_DONTWAKE, "dontwake" },
	{ 20, 20, 12, MV_HOLES, "rest with holes" },
	{ 0, 0, 4, 0, "again: dst populated" },
};

struct df_result {
	int err[ARRAY_SIZE(df_steps)];
	__s64 mv[ARRAY_SIZE(df_steps)];
	__u64 present_src, present_dst; /* bitmaps */
	__u64 sum[2][DF_PAGES];
};

static void df_run(enum mover_kind kind, struct df_result *r)
{
	size_t ps = mt_page(), len = DF_PAGES * ps, i;
	struct mover *m;
	char *src, *dst;
	const char *why;

	m = mover_open(kind, &why);
	ck_assert_msg(m, "%s: %s", mover_name(kind), why);
	src = mt_map(len, 0, false);
	dst = mt_map(len, 0, false);
	/* Same seeds for both runs: the pattern ignores the address. */
	mt_fill(src, DF_PAGES, 0x100000);
	ck_assert_int_eq(madvise(src + 10 * ps, ps, MADV_DONTNEED), 0);
	ck_assert_int_eq(madvise(src + 20 * ps, ps, MADV_DONTNEED), 0);
	mt_fill(dst + 5 * ps, 1, 0xbeef);
	mover_prepare_dst(m, dst, len);
	for (i = 0; i < ARRAY_SIZE(df_steps); i++) {
		const struct df_step *s = &df_steps[i];

		r->err[i] = mover_move(m, (unsigned long)dst + s->dst * ps,
				       (unsigned long)src + s->src * ps,
				       s->len * ps, s->mode, &r->mv[i]);
	}
	for (i = 0; i < DF_PAGES; i++) {
		if (mt_pagemap(src + i * ps) & PM_PRESENT)
			r->present_src |= 1ULL << i;
		if (mt_pagemap(dst + i * ps) & PM_PRESENT)
			r->present_dst |= 1ULL << i;
	}
	mover_release_dst(m, dst, len);
	for (i = 0; i < DF_PAGES; i++) {
		const __u64 *a = (const __u64 *)(src + i * ps);
		const __u64 *b = (const __u64 *)(dst + i * ps);
		size_t j;

		for (j = 0; j < ps / 8; j++) {
			r->sum[0][i] = r->sum[0][i] * 31 + a[j];
			r->sum[1][i] = r->sum[1][i] * 31 + b[j];
		}
	}
	mover_close(m);
}

START_TEST(differential_pgremap_vs_uffd)
{
	static struct df_result p, u;
	struct mover *m;
	size_t i;

	MOVER_OPEN_OR_SKIP(m, MOVER_UFFD);
	mover_close(m);
	MOVER_OPEN_OR_SKIP(m, MOVER_PGREMAP);
	mover_close(m);
	df_run(MOVER_UFFD, &u);
	df_run(MOVER_PGREMAP, &p);
	for (i = 0; i < ARRAY_SIZE(df_steps); i++) {
		pgr_diag("step %zu (%s): uffd %s move %lld, pgremap %s move "
			 "%lld",
			 i, df_steps[i].what, strerror(u.err[i]),
			 (long long)u.mv[i], strerror(p.err[i]),
			 (long long)p.mv[i]);
		ck_assert_msg(p.err[i] == u.err[i],
			      "step %zu (%s): pgremap %s, uffd %s", i,
			      df_steps[i].what, strerror(p.err[i]),
			      strerror(u.err[i]));
		/* Unwritten by uffd on argument errors: -errno is fine too. */
		ck_assert_msg(p.mv[i] == u.mv[i] || (u.mv[i] == MV_UNTOUCHED &&
						     p.mv[i] == -p.err[i]),
			      "step %zu (%s): move pgremap %lld, uffd %lld", i,
			      df_steps[i].what, (long long)p.mv[i],
			      (long long)u.mv[i]);
	}
	ck_assert_msg(p.present_src == u.present_src,
		      "src presence pgremap %#llx uffd %#llx",
		      (unsigned long long)p.present_src,
		      (unsigned long long)u.present_src);
	ck_assert_msg(p.present_dst == u.present_dst,
		      "dst presence pgremap %#llx uffd %#llx",
		      (unsigned long long)p.present_dst,
		      (unsigned long long)u.present_dst);
	for (i = 0; i < DF_PAGES; i++) {
		ck_assert_msg(p.sum[0][i] == u.sum[0][i],
			      "src page %zu differs", i);
		ck_assert_msg(p.sum[1][i] == u.sum[1][i],
			      "dst page %zu differs", i);
	}
}
END_TEST

/* ---- suite -------------------------------------------------------------- */

Suite *pgr_suite_move_gc(void)
{
	Suite *s = suite_create("move-gc");
	TCase *tc;

	tc = pgr_tcase("move-gc", PGR_TIMEOUT_LONG);
	MOVE_TEST_ADD(tc, gc_scenario);
	MOVE_TEST_ADD(tc, concurrency);
	suite_add_tcase(s, tc);

	tc = pgr_tcase("move-differential", PGR_TIMEOUT_SHORT);
	tcase_add_test(tc, differential_pgremap_vs_uffd);
	suite_add_tcase(s, tc);

	return s;
}
