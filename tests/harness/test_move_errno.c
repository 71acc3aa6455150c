// SPDX-License-Identifier: GPL-2.0
/*
 * move-errno suite: every error of the move, and that memory is exactly as
 * the error says afterwards: nothing moved when a check fails before the
 * first page, exactly `move` bytes moved when a page in the middle fails
 * (the ioctl then fails with EAGAIN, as UFFDIO_MOVE does), and a resume at
 * src + move / dst + move reports the error itself.
 *
 * The move field: UFFDIO_MOVE leaves it unwritten when the argument checks
 * (alignment, range, mode) fail, and writes the negative errno for errors
 * found once the VMAs are looked up. Tests accept either for the former.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/io_uring.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "mover.h"

#define NP 16

/* src: NP pages of pattern; dst: NP empty pages, prepared. */
struct fx {
	struct mover *m;
	char *src, *dst;
	size_t ps, len;
};

static void fx_setup(struct fx *f, int dst_prot)
{
	f->ps = mt_page();
	f->len = NP * f->ps;
	f->src = mt_map(f->len, 0, false);
	f->dst = mt_map_prot(f->len, 0, dst_prot, MAP_PRIVATE, false);
	mt_fill(f->src, NP, (unsigned long)f->src);
	mover_prepare_dst(f->m, f->dst, f->len);
}

/* Nothing moved: src intact and mapped, dst empty. */
static void fx_unchanged(struct fx *f, const char *what)
{
	ck_assert_msg(mt_pagemap_count(f->src, NP, PM_PRESENT) == NP,
		      "%s: src pages unmapped", what);
	ck_assert_msg(mt_pagemap_count(f->dst, NP, PM_PRESENT) == 0,
		      "%s: dst pages mapped", what);
	mt_assert_pattern(f->src, NP, (unsigned long)f->src, what);
}

/* An argument check failed: errno EINVAL, move unwritten or -EINVAL. */
static void expect_einval(struct fx *f, unsigned long dst, unsigned long src,
			  unsigned long len, __u64 mode, const char *what)
{
	__s64 mv;
	int err;

	err = mover_move(f->m, dst, src, len, mode, &mv);
	ck_assert_msg(err == EINVAL,
		      "%s (dst %#lx src %#lx len %#lx mode %#llx): %s, want "
		      "EINVAL",
		      what, dst, src, len, (unsigned long long)mode,
		      err ? strerror(err) : "success");
	ck_assert_msg(mv == MV_UNTOUCHED || mv == -EINVAL,
		      "%s: move field %lld", what, (long long)mv);
	fx_unchanged(f, what);
}

/* A check after the VMA lookup failed: errno err, move = -err. */
static void expect_err(struct mover *m, unsigned long dst, unsigned long src,
		       unsigned long len, __u64 mode, int want,
		       const char *what)
{
	__s64 mv;
	int err;

	err = mover_move(m, dst, src, len, mode, &mv);
	MT_ASSERT_ERR(err, want, what);
	ck_assert_msg(mv == -want, "%s: move field %lld, want %d", what,
		      (long long)mv, -want);
}

/* ---- move-einval -------------------------------------------------------- */

static void einval_alignment(enum mover_kind kind)
{
	unsigned long s, d;
	struct fx f = {};

	MOVER_OPEN_OR_SKIP(f.m, kind);
	fx_setup(&f, PROT_READ | PROT_WRITE);
	s = (unsigned long)f.src;
	d = (unsigned long)f.dst;
	expect_einval(&f, d + 1, s, f.ps, 0, "unaligned dst");
	expect_einval(&f, d + f.ps / 2, s, f.ps, 0, "dst + half a page");
	expect_einval(&f, d, s + 1, f.ps, 0, "unaligned src");
	expect_einval(&f, d, s + f.ps - 8, f.ps, 0, "src + page - 8");
	expect_einval(&f, d, s, f.ps + 1, 0, "len page + 1");
	expect_einval(&f, d, s, 1, 0, "len 1");
	expect_einval(&f, d, s, f.ps - 1, 0, "len page - 1");
	expect_einval(&f, d, s, 0, 0, "len 0");
	expect_einval(&f, d, s, 0, MV_HOLES, "len 0 with holes");
	mover_close(f.m);
}
MOVE_TEST(einval_alignment)

static void einval_range(enum mover_kind kind)
{
	unsigned long s, d, ts = mt_task_size();
	struct fx f = {};

	MOVER_OPEN_OR_SKIP(f.m, kind);
	fx_setup(&f, PROT_READ | PROT_WRITE);
	s = (unsigned long)f.src;
	d = (unsigned long)f.dst;
	pgr_diag("task size %#lx", ts);
	expect_einval(&f, d, s, -f.ps, 0, "len wraps");
	expect_einval(&f, d, s, ~(f.ps - 1) - d + f.ps, 0, "dst + len wraps");
	expect_einval(&f, -f.ps, s, f.ps, 0, "dst at top page");
	expect_einval(&f, d, -f.ps, f.ps, 0, "src at top page");
	expect_einval(&f, ts, s, f.ps, 0, "dst at task size");
	expect_einval(&f, d, ts, f.ps, 0, "src at task size");
	expect_einval(&f, ts - f.ps, s, 2 * f.ps, 0, "dst ends past task size");
	expect_einval(&f, d, ts - f.ps, 2 * f.ps, 0, "src ends past task size");
	expect_einval(&f, 1UL << 63, s, f.ps, 0, "dst non-canonical");
	expect_einval(&f, d, s, ts, 0, "len task size");
	mover_close(f.m);
}
MOVE_TEST(einval_range)

static void einval_mode(enum mover_kind kind)
{
	unsigned long s, d;
	struct fx f = {};
	int bit;

	MOVER_OPEN_OR_SKIP(f.m, kind);
	fx_setup(&f, PROT_READ | PROT_WRITE);
	s = (unsigned long)f.src;
	d = (unsigned long)f.dst;
	for (bit = 2; bit < 64; bit++)
		expect_einval(&f, d, s, f.len, 1ULL << bit, "unknown mode bit");
	expect_einval(&f, d, s, f.len, ~0ULL, "mode ~0");
	expect_einval(&f, d, s, f.len, MV_HOLES | MV_DONTWAKE | 4,
		      "known bits plus bit 2");
	mover_close(f.m);
}
MOVE_TEST(einval_mode)

/* The range must lie inside one VMA, for src and for dst. */
static void einval_spans_vmas(enum mover_kind kind)
{
	struct fx f = {};
	unsigned long s, d;
	int vmas;

	MOVER_OPEN_OR_SKIP(f.m, kind);
	fx_setup(&f, PROT_READ | PROT_WRITE);
	s = (unsigned long)f.src;
	d = (unsigned long)f.dst;
	/* Split src into two VMAs that differ only in VM_DONTCOPY. */
	vmas = mt_vma_count();
	ck_assert_int_eq(madvise(f.src + NP / 2 * f.ps, NP / 2 * f.ps,
				 MADV_DONTFORK),
			 0);
	ck_assert_int_eq(mt_vma_count(), vmas + 1);
	expect_err(f.m, d, s, f.len, 0, EINVAL, "src spans two VMAs");
	expect_err(f.m, d, s + f.ps, f.len - f.ps, 0, EINVAL,
		   "src spans two VMAs (offset)");
	/* dst range runs past the end of its VMA (into the guard page). */
	expect_err(f.m, d + f.ps, s, f.len, 0, EINVAL, "dst runs off its VMA");
	expect_err(f.m, d + f.len - f.ps, s, 2 * f.ps, 0, EINVAL,
		   "dst last page + one");
	fx_unchanged(&f, "after span errors");
	/* Each half alone is fine. */
	mover_move_all(f.m, f.dst, f.src, NP / 2 * f.ps, 0);
	mover_release_dst(f.m, f.dst, f.len);
	mt_assert_pattern(f.dst, NP / 2, s, "dst");
	mover_close(f.m);
}
MOVE_TEST(einval_spans_vmas)

static void einval_shared(enum mover_kind kind)
{
	struct fx f = {};
	char *sh;

	MOVER_OPEN_OR_SKIP(f.m, kind);
	fx_setup(&f, PROT_READ | PROT_WRITE);
	sh = mt_map_prot(f.len, 0, PROT_READ | PROT_WRITE, MAP_SHARED, false);
	mt_fill(sh, NP, (unsigned long)sh);
	expect_err(f.m, (unsigned long)f.dst, (unsigned long)sh, f.len, 0,
		   EINVAL, "src MAP_SHARED");
	mt_assert_pattern(sh, NP, (unsigned long)sh, "shared src");
	ck_assert_uint_eq(mt_pagemap_count(f.dst, NP, PM_PRESENT), 0);
	/* A MAP_SHARED dst (shmem can be registered MISSING). */
	mover_prepare_dst(f.m, sh + NP * f.ps / 2, f.ps);
	expect_err(f.m, (unsigned long)sh + NP * f.ps / 2, (unsigned long)f.src,
		   f.ps, 0, EINVAL, "dst MAP_SHARED");
	fx_unchanged(&f, "after MAP_SHARED");
	mover_close(f.m);
}
MOVE_TEST(einval_shared)

/* A private mapping of a file (memfd) is not anonymous, even when COWed. */
static void einval_file_private(enum mover_kind kind)
{
	struct fx f = {};
	char *fp;
	int fd;

	MOVER_OPEN_OR_SKIP(f.m, kind);
	fx_setup(&f, PROT_READ | PROT_WRITE);
	fd = memfd_create("pgremap-test", MFD_CLOEXEC);
	ck_assert_msg(fd >= 0, "memfd_create: %s", strerror(errno));
	ck_assert_int_eq(ftruncate(fd, 2 * f.len), 0);
	fp = mmap(NULL, 2 * f.len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	ck_assert(fp != MAP_FAILED);
	mt_fill(fp, NP, (unsigned long)fp); /* anonymous COW pages */
	expect_err(f.m, (unsigned long)f.dst, (unsigned long)fp, f.len, 0,
		   EINVAL, "src private file mapping");
	mt_assert_pattern(fp, NP, (unsigned long)fp, "file src");
	mover_prepare_dst(f.m, fp + f.len, f.len);
	expect_err(f.m, (unsigned long)fp + f.len, (unsigned long)f.src, f.len,
		   0, EINVAL, "dst private file mapping");
	fx_unchanged(&f, "after file mappings");
	close(fd);
	mover_close(f.m);
}
MOVE_TEST(einval_file_private)

static void einval_prot_differs(enum mover_kind kind)
{
	static const int prots[] = { PROT_READ, PROT_READ | PROT_EXEC,
				     PROT_READ | PROT_WRITE | PROT_EXEC };
	struct fx f = {};
	size_t i;
	char *d;

	MOVER_OPEN_OR_SKIP(f.m, kind);
	fx_setup(&f, PROT_READ | PROT_WRITE);
	for (i = 0; i < ARRAY_SIZE(prots); i++) {
		d = mt_map_prot(f.len, 0, prots[i], MAP_PRIVATE, false);
		mover_prepare_dst(f.m, d, f.len);
		expect_err(f.m, (unsigned long)d, (unsigned long)f.src, f.len,
			   0, EINVAL, "dst protection differs");
		ck_assert_uint_eq(mt_pagemap_count(d, NP, PM_PRESENT), 0);
	}
	fx_unchanged(&f, "after protection errors");
	mover_close(f.m);
}
MOVE_TEST(einval_prot_differs)

static void einval_mlock_differs(enum mover_kind kind)
{
	struct fx f = {};

	MOVER_OPEN_OR_SKIP(f.m, kind);
	fx_setup(&f, PROT_READ | PROT_WRITE);
	ck_assert_msg(!mlock(f.src, f.len), "mlock: %s", strerror(errno));
	expect_err(f.m, (unsigned long)f.dst, (unsigned long)f.src, f.len, 0,
		   EINVAL, "src mlocked, dst not");
	fx_unchanged(&f, "after VM_LOCKED error");
	/* Both locked (dst on fault, so that nothing populates it). */
	ck_assert_msg(!mlock2(f.dst, f.len, MLOCK_ONFAULT), "mlock2: %s",
		      strerror(errno));
	ck_assert_uint_eq(mt_pagemap_count(f.dst, NP, PM_PRESENT), 0);
	mover_move_all(f.m, f.dst, f.src, f.len, 0);
	mover_release_dst(f.m, f.dst, f.len);
	mt_assert_pattern(f.dst, NP, (unsigned long)f.src, "mlocked dst");
	mover_close(f.m);
}
MOVE_TEST(einval_mlock_differs)

static void einval_src_readonly(enum mover_kind kind)
{
	struct fx f = {};

	MOVER_OPEN_OR_SKIP(f.m, kind);
	fx_setup(&f, PROT_READ);
	ck_assert_int_eq(mprotect(f.src, f.len, PROT_READ), 0);
	expect_err(f.m, (unsigned long)f.dst, (unsigned long)f.src, f.len, 0,
		   EINVAL, "both PROT_READ");
	fx_unchanged(&f, "after read-only error");
	mover_close(f.m);
}
MOVE_TEST(einval_src_readonly)

/* ---- move-enoent -------------------------------------------------------- */

static void enoent_no_vma(enum mover_kind kind)
{
	struct fx f = {};
	char *gone;

	MOVER_OPEN_OR_SKIP(f.m, kind);
	fx_setup(&f, PROT_READ | PROT_WRITE);
	gone = mt_map(f.len, 0, false);
	mt_unmap(gone, f.len);
	expect_err(f.m, (unsigned long)gone, (unsigned long)f.src, f.len, 0,
		   ENOENT, "no VMA at dst");
	expect_err(f.m, (unsigned long)f.dst, (unsigned long)gone, f.len, 0,
		   ENOENT, "no VMA at src");
	expect_err(f.m, (unsigned long)f.dst, (unsigned long)gone, f.len,
		   MV_HOLES, ENOENT, "no VMA at src, holes allowed");
	fx_unchanged(&f, "after ENOENT");
	mover_close(f.m);
}
MOVE_TEST(enoent_no_vma)

/*
 * A hole in src: the pages before it move, the ioctl fails with EAGAIN and
 * move = bytes before the hole; resuming there gives ENOENT; with
 * ALLOW_SRC_HOLES the hole counts as moved and dst stays a hole there.
 */
static void enoent_src_hole(enum mover_kind kind)
{
	const size_t hole = 5;
	struct fx f = {};
	unsigned long s, d;
	__s64 mv;
	int err;

	MOVER_OPEN_OR_SKIP(f.m, kind);
	fx_setup(&f, PROT_READ | PROT_WRITE);
	s = (unsigned long)f.src;
	d = (unsigned long)f.dst;
	ck_assert_int_eq(madvise(f.src + hole * f.ps, f.ps, MADV_DONTNEED), 0);
	ck_assert_uint_eq(mt_pagemap_count(f.src, NP, PM_PRESENT), NP - 1);

	err = mover_move(f.m, d, s, f.len, 0, &mv);
	MT_ASSERT_ERR(err, EAGAIN, "short move stopped by a hole");
	ck_assert_msg(mv == (__s64)(hole * f.ps), "move %lld, want %zu",
		      (long long)mv, hole * f.ps);
	ck_assert_uint_eq(mt_pagemap_count(f.dst, NP, PM_PRESENT), hole);
	ck_assert_uint_eq(mt_pagemap_count(f.src, NP, PM_PRESENT),
			  NP - 1 - hole);
	expect_err(f.m, d + mv, s + mv, f.len - mv, 0, ENOENT,
		   "resume at the hole");
	expect_err(f.m, d + mv, s + mv, f.ps, 0, ENOENT, "the hole alone");
	ck_assert_uint_eq(mt_pagemap_count(f.dst, NP, PM_PRESENT), hole);

	err = mover_move(f.m, d + mv, s + mv, f.len - mv, MV_HOLES, &mv);
	MT_ASSERT_ERR(err, 0, "resume with ALLOW_SRC_HOLES");
	ck_assert_int_eq(mv, f.len - hole * f.ps);
	ck_assert_uint_eq(mt_pagemap_count(f.src, NP, PM_PRESENT), 0);
	ck_assert_uint_eq(mt_pagemap_count(f.dst, NP, PM_PRESENT), NP - 1);
	ck_assert_uint_eq(mt_pagemap(f.dst + hole * f.ps) & PM_PRESENT, 0);
	mover_release_dst(f.m, f.dst, f.len);
	mt_assert_pattern(f.dst, hole, s, "dst before hole");
	mt_assert_pattern(f.dst + (hole + 1) * f.ps, NP - hole - 1,
			  s + (hole + 1) * f.ps, "dst after hole");
	ck_assert_msg(mt_check_zero(f.dst + hole * f.ps, 1) < 0,
		      "dst hole not zero");
	mover_close(f.m);
}
MOVE_TEST(enoent_src_hole)

/* src entirely unpopulated (no page table at all), with and without holes. */
static void enoent_src_unpopulated(enum mover_kind kind)
{
	size_t ps = mt_page(), len = MT_PMD_SIZE;
	struct mover *m;
	char *src, *dst;
	__s64 mv;
	int err;

	MOVER_OPEN_OR_SKIP(m, kind);
	src = mt_map(len, MT_PMD_SIZE, false);
	dst = mt_map(len, MT_PMD_SIZE, false);
	mover_prepare_dst(m, dst, len);
	expect_err(m, (unsigned long)dst, (unsigned long)src, len, 0, ENOENT,
		   "unpopulated src");
	expect_err(m, (unsigned long)dst, (unsigned long)src, ps, 0, ENOENT,
		   "unpopulated src page");
	err = mover_move(m, (unsigned long)dst, (unsigned long)src, len,
			 MV_HOLES, &mv);
	MT_ASSERT_ERR(err, 0, "unpopulated src, holes allowed");
	ck_assert_int_eq(mv, len);
	ck_assert_uint_eq(mt_pagemap_count(dst, len / ps, PM_PRESENT), 0);
	ck_assert_uint_eq(mt_pagemap_count(src, len / ps, PM_PRESENT), 0);
	mover_close(m);
}
MOVE_TEST(enoent_src_unpopulated)

/* ---- move-eexist -------------------------------------------------------- */

static void eexist_dst_populated(enum mover_kind kind)
{
	const size_t busy = 7;
	struct fx f = {};
	unsigned long s, d;
	__s64 mv;
	int err;

	MOVER_OPEN_OR_SKIP(f.m, kind);
	f.ps = mt_page();
	f.len = NP * f.ps;
	f.src = mt_map(f.len, 0, false);
	f.dst = mt_map(f.len, 0, false);
	mt_fill(f.src, NP, (unsigned long)f.src);
	mt_fill(f.dst + busy * f.ps, 1, 0xd57);
	mover_prepare_dst(f.m, f.dst, f.len);
	s = (unsigned long)f.src;
	d = (unsigned long)f.dst;

	expect_err(f.m, d + busy * f.ps, s, f.ps, 0, EEXIST,
		   "dst page populated");
	expect_err(f.m, d + busy * f.ps, s, 4 * f.ps, MV_HOLES, EEXIST,
		   "dst first page populated, holes allowed");
	ck_assert_uint_eq(mt_pagemap_count(f.src, NP, PM_PRESENT), NP);
	/* A populated dst page in the middle: short move, then EEXIST. */
	err = mover_move(f.m, d, s, f.len, 0, &mv);
	MT_ASSERT_ERR(err, EAGAIN, "short move stopped by dst page");
	ck_assert_int_eq(mv, busy * f.ps);
	expect_err(f.m, d + mv, s + mv, f.len - mv, 0, EEXIST, "resume");
	ck_assert_uint_eq(mt_pagemap_count(f.src, NP, PM_PRESENT), NP - busy);
	/* Skip the busy page and finish. */
	mover_move_all(f.m, f.dst + (busy + 1) * f.ps,
		       f.src + (busy + 1) * f.ps, (NP - busy - 1) * f.ps, 0);
	mover_release_dst(f.m, f.dst, f.len);
	mt_assert_pattern(f.dst, busy, s, "dst before");
	mt_assert_pattern(f.dst + busy * f.ps, 1, 0xd57, "populated dst page");
	mt_assert_pattern(f.dst + (busy + 1) * f.ps, NP - busy - 1,
			  s + (busy + 1) * f.ps, "dst after");
	mt_assert_pattern(f.src + busy * f.ps, 1, s + busy * f.ps,
			  "src page not moved");
	mover_close(f.m);
}
MOVE_TEST(eexist_dst_populated)

/* A dst zero-page mapping is populated too. */
static void eexist_dst_zero_page(enum mover_kind kind)
{
	struct fx f = {};
	volatile char c;

	MOVER_OPEN_OR_SKIP(f.m, kind);
	f.ps = mt_page();
	f.len = NP * f.ps;
	f.src = mt_map(f.len, 0, false);
	f.dst = mt_map(f.len, 0, false);
	mt_fill(f.src, NP, (unsigned long)f.src);
	c = f.dst[3 * f.ps];
	(void)c;
	mover_prepare_dst(f.m, f.dst, f.len);
	ck_assert_msg(mt_pagemap(f.dst + 3 * f.ps) & PM_PRESENT,
		      "read fault did not map the zero page");
	expect_err(f.m, (unsigned long)f.dst + 3 * f.ps, (unsigned long)f.src,
		   f.ps, 0, EEXIST, "dst maps the zero page");
	mt_assert_pattern(f.src, NP, (unsigned long)f.src, "src");
	mover_close(f.m);
}
MOVE_TEST(eexist_dst_zero_page)

static void eexist_dst_thp(enum mover_kind kind)
{
	size_t ps = mt_page(), len = MT_PMD_SIZE;
	struct mover *m;
	char *src, *dst;

	MOVER_OPEN_OR_SKIP(m, kind);
	PGR_SKIP_IF(mt_thp_mode() != 'a' && mt_thp_mode() != 'm',
		    "THP disabled");
	src = mt_map(len, MT_PMD_SIZE, false);
	dst = mt_map(len, MT_PMD_SIZE, true);
	mt_fill(src, len / ps, (unsigned long)src);
	mt_fill(dst, len / ps, (unsigned long)dst);
	PGR_SKIP_IF(mt_smaps_kb(dst, "AnonHugePages") != 2048,
		    "kernel gave no THP for dst");
	mover_prepare_dst(m, dst, len);
	expect_err(m, (unsigned long)dst + 100 * ps, (unsigned long)src, ps, 0,
		   EEXIST, "dst page inside a THP");
	expect_err(m, (unsigned long)dst, (unsigned long)src, len, 0, EEXIST,
		   "dst THP, whole PMD");
	mover_release_dst(m, dst, len);
	ck_assert_int_eq(mt_smaps_kb(dst, "AnonHugePages"), 2048);
	mt_assert_pattern(dst, len / ps, (unsigned long)dst, "dst THP");
	mt_assert_pattern(src, len / ps, (unsigned long)src, "src");
	mover_close(m);
}
MOVE_TEST(eexist_dst_thp)

/* ---- move-efault -------------------------------------------------------- */

static void efault_struct(enum mover_kind kind)
{
	unsigned long nr;
	struct mover *m;
	void *gone;

	MOVER_OPEN_OR_SKIP(m, kind);
	nr = kind == MOVER_PGREMAP ? PGREMAP_IOC_MOVE : UFFDIO_MOVE;
	errno = 0;
	ck_assert_int_eq(ioctl(m->fd, nr, NULL), -1);
	ck_assert_msg(errno == EFAULT, "NULL struct: %s", strerror(errno));
	gone = mt_map(mt_page(), 0, false);
	mt_unmap(gone, mt_page());
	errno = 0;
	ck_assert_int_eq(ioctl(m->fd, nr, gone), -1);
	ck_assert_msg(errno == EFAULT, "unmapped struct: %s", strerror(errno));
	mover_close(m);
}
MOVE_TEST(efault_struct)

static volatile sig_atomic_t hwpoison_sigbus;

static void note_sigbus(int sig)
{
	(void)sig;
	hwpoison_sigbus = 1;
}

/*
 * A source entry that cannot be moved: a hardware-poisoned page (here
 * injected with MADV_HWPOISON, CONFIG_MEMORY_FAILURE) leaves a hwpoison
 * entry in the PTE. The pages before it move, the move stops there with
 * EFAULT, and the pages after it move on resume.
 */
static void efault_hwpoison(enum mover_kind kind)
{
	struct sigaction sa = { .sa_handler = note_sigbus };
	const size_t n = 4, bad = 1;
	size_t ps = mt_page(), i;
	struct mover *m;
	char *src, *dst;
	__s64 mv;
	int err;

	MOVER_OPEN_OR_SKIP(m, kind);
	src = mt_map(n * ps, 0, false);
	dst = mt_map(n * ps, 0, false);
	for (i = 0; i < n; i++)
		mt_fill(src + i * ps, 1, (unsigned long)(src + i * ps));
	/*
	 * 6.12 injects with MF_ACTION_REQUIRED: the caller gets SIGBUS
	 * (BUS_MCEERR_AR) on return from madvise(); note it and go on.
	 */
	ck_assert_int_eq(sigaction(SIGBUS, &sa, NULL), 0);
	PGR_SKIP_IF(madvise(src + bad * ps, ps, MADV_HWPOISON) != 0,
		    "MADV_HWPOISON: %s", strerror(errno));
	pgr_diag("SIGBUS on injection: %s", hwpoison_sigbus ? "yes" : "no");
	ck_assert_msg(!(mt_pagemap(src + bad * ps) & PM_PRESENT),
		      "poisoned page still present");
	mover_prepare_dst(m, dst, n * ps);

	err = mover_move(m, (unsigned long)dst, (unsigned long)src, n * ps, 0,
			 &mv);
	MT_ASSERT_ERR(err, EAGAIN, "move over a poisoned page");
	ck_assert_int_eq(mv, (__s64)(bad * ps));
	err = mover_move(m, (unsigned long)(dst + bad * ps),
			 (unsigned long)(src + bad * ps), ps, 0, &mv);
	MT_ASSERT_ERR(err, EFAULT, "move of the poisoned page");
	ck_assert_int_eq(mv, -EFAULT);
	err = mover_move(m, (unsigned long)(dst + (bad + 1) * ps),
			 (unsigned long)(src + (bad + 1) * ps),
			 (n - bad - 1) * ps, 0, &mv);
	MT_ASSERT_ERR(err, 0, "move of the pages after it");

	mover_release_dst(m, dst, n * ps);
	for (i = 0; i < n; i++) {
		if (i == bad)
			continue;
		mt_assert_pattern(dst + i * ps, 1,
				  (unsigned long)(src + i * ps), "dst");
		ck_assert(!(mt_pagemap(src + i * ps) & PM_PRESENT));
	}
	ck_assert(!(mt_pagemap(dst + bad * ps) & PM_PRESENT));
	mover_close(m);
}
MOVE_TEST(efault_hwpoison)

/* ---- move-ebusy --------------------------------------------------------- */

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

static void ebusy_fork(enum mover_kind kind)
{
	struct fx f = {};
	unsigned long s, d;
	int wfd, err;
	pid_t pid;
	__s64 mv;

	MOVER_OPEN_OR_SKIP(f.m, kind);
	fx_setup(&f, PROT_READ | PROT_WRITE);
	s = (unsigned long)f.src;
	d = (unsigned long)f.dst;
	pid = fork_sleeper(&wfd);
	/* Pages 0-3 written after the fork are the parent's own again. */
	mt_fill(f.src, 4, s);
	expect_err(f.m, d + 4 * f.ps, s + 4 * f.ps, f.ps, 0, EBUSY,
		   "page shared with a child");
	err = mover_move(f.m, d, s, f.len, 0, &mv);
	MT_ASSERT_ERR(err, EAGAIN, "short move stopped by a shared page");
	ck_assert_int_eq(mv, 4 * f.ps);
	expect_err(f.m, d + mv, s + mv, f.len - mv, 0, EBUSY, "resume");
	ck_assert_uint_eq(mt_pagemap_count(f.dst, NP, PM_PRESENT), 4);
	reap(pid, wfd);
	err = mover_move(f.m, d + 4 * f.ps, s + 4 * f.ps, f.ps, 0, &mv);
	pgr_diag("after the child exited, before a write: %s",
		 err ? strerror(err) : "moved");
	if (pgr_kernel_at_least(5, 19)) {
		/*
		 * The child is gone, but a page COW-shared by fork stays
		 * !PageAnonExclusive in the parent until it write-faults it.
		 */
		MT_ASSERT_ERR(err, EBUSY, "after child exit, page not written");
	} else {
		/*
		 * No PageAnonExclusive: exclusivity comes from the counts
		 * (module/compat.h), and with the child gone the page is
		 * mapped once again: it moves, read-only, and back.
		 */
		ck_assert_msg(!err, "after child exit (mapcount 1): %s",
			      strerror(err));
		mt_assert_pattern(f.dst + 4 * f.ps, 1, s + 4 * f.ps,
				  "dst page 4");
		mover_move_all(f.m, f.src + 4 * f.ps, f.dst + 4 * f.ps, f.ps,
			       0);
	}
	mt_fill(f.src + 4 * f.ps, NP - 4, s + 4 * f.ps);
	mover_move_all(f.m, f.dst + 4 * f.ps, f.src + 4 * f.ps,
		       f.len - 4 * f.ps, 0);
	mover_release_dst(f.m, f.dst, f.len);
	mt_assert_pattern(f.dst, NP, s, "dst");
	mover_close(f.m);
}
MOVE_TEST(ebusy_fork)

static void dontfork_then_fork(enum mover_kind kind)
{
	struct fx f = {};
	int wfd;
	pid_t pid;

	MOVER_OPEN_OR_SKIP(f.m, kind);
	fx_setup(&f, PROT_READ | PROT_WRITE);
	ck_assert_int_eq(madvise(f.src, f.len, MADV_DONTFORK), 0);
	pid = fork_sleeper(&wfd);
	mover_move_all(f.m, f.dst, f.src, f.len, 0);
	reap(pid, wfd);
	mover_release_dst(f.m, f.dst, f.len);
	mt_assert_pattern(f.dst, NP, (unsigned long)f.src, "dst");
	mover_close(f.m);
}
MOVE_TEST(dontfork_then_fork)

#define KSM "/sys/kernel/mm/ksm/"

static void ebusy_ksm(enum mover_kind kind)
{
	unsigned long sharing = 0;
	struct fx f = {};
	char old_run[16];
	__u64 e0, e1;
	long t0;
	bool merged = false;

	MOVER_OPEN_OR_SKIP(f.m, kind);
	PGR_SKIP_IF(pgr_read_file(KSM "run", old_run, sizeof(old_run)) < 0,
		    "no KSM");
	f.ps = mt_page();
	f.len = NP * f.ps;
	f.src = mt_map(f.len, 0, false);
	f.dst = mt_map(f.len, 0, false);
	mt_fill(f.src, NP, (unsigned long)f.src);
	/* Pages 2 and 3 hold the same bytes. */
	mt_fill(f.src + 2 * f.ps, 1, 0x4b534d);
	mt_fill(f.src + 3 * f.ps, 1, 0x4b534d);
	mover_prepare_dst(f.m, f.dst, f.len);
	ck_assert_int_eq(madvise(f.src, f.len, MADV_MERGEABLE), 0);
	mt_write_file(KSM "pages_to_scan", "4096");
	mt_write_file(KSM "sleep_millisecs", "10");
	ck_assert_int_eq(mt_write_file(KSM "run", "1"), 0);
	for (t0 = mt_now_ms(); mt_now_ms() - t0 < 20000; usleep(20000)) {
		e0 = mt_pagemap(f.src + 2 * f.ps);
		e1 = mt_pagemap(f.src + 3 * f.ps);
		pgr_read_ulong(KSM "pages_sharing", &sharing);
		if ((e0 & PM_PRESENT) &&
		    (e0 & PM_PFN_MASK) == (e1 & PM_PFN_MASK)) {
			merged = true;
			break;
		}
	}
	pgr_diag("KSM: merged %d after %ld ms, pages_sharing %lu", merged,
		 mt_now_ms() - t0, sharing);
	if (!merged) {
		mt_write_file(KSM "run", old_run);
		PGR_SKIP("KSM did not merge the pages within 20 s");
	}
	ck_assert_msg(mt_kpageflags(e0 & PM_PFN_MASK) & (1ULL << KPF_KSM_BIT),
		      "merged page is not KPF_KSM");
	expect_err(f.m, (unsigned long)f.dst + 2 * f.ps,
		   (unsigned long)f.src + 2 * f.ps, f.ps, 0, EBUSY, "KSM page");
	expect_err(f.m, (unsigned long)f.dst + 3 * f.ps,
		   (unsigned long)f.src + 3 * f.ps, f.ps, 0, EBUSY,
		   "KSM page (other)");
	/* Unmerged neighbours still move. */
	mover_move_all(f.m, f.dst, f.src, 2 * f.ps, 0);
	mt_write_file(KSM "run", old_run);
	mover_release_dst(f.m, f.dst, f.len);
	mt_assert_pattern(f.dst, 2, (unsigned long)f.src, "dst");
	mt_assert_pattern(f.src + 2 * f.ps, 1, 0x4b534d, "KSM page");
	mt_assert_pattern(f.src + 3 * f.ps, 1, 0x4b534d, "KSM page");
	ck_assert_uint_eq(mt_pagemap_count(f.dst + 2 * f.ps, 2, PM_PRESENT), 0);
	mover_close(f.m);
}
MOVE_TEST(ebusy_ksm)

/* Pages pinned long-term by io_uring fixed buffers (FOLL_LONGTERM). */
static void ebusy_pinned(enum mover_kind kind)
{
	struct io_uring_params p = {};
	struct fx f = {};
	struct iovec iov;
	int ring;

	MOVER_OPEN_OR_SKIP(f.m, kind);
	fx_setup(&f, PROT_READ | PROT_WRITE);
	ring = syscall(__NR_io_uring_setup, 4, &p);
	PGR_SKIP_IF(ring < 0, "io_uring_setup: %s", strerror(errno));
	iov.iov_base = f.src + 4 * f.ps;
	iov.iov_len = 4 * f.ps;
	if (syscall(__NR_io_uring_register, ring, IORING_REGISTER_BUFFERS, &iov,
		    1)) {
		close(ring);
		PGR_SKIP("IORING_REGISTER_BUFFERS: %s", strerror(errno));
	}
	expect_err(f.m, (unsigned long)f.dst + 4 * f.ps,
		   (unsigned long)f.src + 4 * f.ps, f.ps, 0, EBUSY,
		   "pinned page");
	expect_err(f.m, (unsigned long)f.dst + 7 * f.ps,
		   (unsigned long)f.src + 7 * f.ps, 2 * f.ps, 0, EBUSY,
		   "last pinned page");
	fx_unchanged(&f, "after EBUSY on pinned pages");
	mover_move_all(f.m, f.dst, f.src, 4 * f.ps, 0);
	ck_assert_int_eq(syscall(__NR_io_uring_register, ring,
				 IORING_UNREGISTER_BUFFERS, NULL, 0),
			 0);
	close(ring);
	/* Unpinned: moves now. */
	mover_move_all(f.m, f.dst + 4 * f.ps, f.src + 4 * f.ps,
		       f.len - 4 * f.ps, 0);
	mover_release_dst(f.m, f.dst, f.len);
	mt_assert_pattern(f.dst, NP, (unsigned long)f.src, "dst");
	mover_close(f.m);
}
MOVE_TEST(ebusy_pinned)

/* ---- suite -------------------------------------------------------------- */

Suite *pgr_suite_move_errno(void)
{
	Suite *s = suite_create("move-errno");
	TCase *tc;

	tc = pgr_tcase("move-einval", PGR_TIMEOUT_SHORT);
	MOVE_TEST_ADD(tc, einval_alignment);
	MOVE_TEST_ADD(tc, einval_range);
	MOVE_TEST_ADD(tc, einval_mode);
	MOVE_TEST_ADD(tc, einval_spans_vmas);
	MOVE_TEST_ADD(tc, einval_shared);
	MOVE_TEST_ADD(tc, einval_file_private);
	MOVE_TEST_ADD(tc, einval_prot_differs);
	MOVE_TEST_ADD(tc, einval_mlock_differs);
	MOVE_TEST_ADD(tc, einval_src_readonly);
	suite_add_tcase(s, tc);

	tc = pgr_tcase("move-enoent", PGR_TIMEOUT_SHORT);
	MOVE_TEST_ADD(tc, enoent_no_vma);
	MOVE_TEST_ADD(tc, enoent_src_hole);
	MOVE_TEST_ADD(tc, enoent_src_unpopulated);
	suite_add_tcase(s, tc);

	tc = pgr_tcase("move-eexist", PGR_TIMEOUT_SHORT);
	MOVE_TEST_ADD(tc, eexist_dst_populated);
	MOVE_TEST_ADD(tc, eexist_dst_zero_page);
	MOVE_TEST_ADD(tc, eexist_dst_thp);
	suite_add_tcase(s, tc);

	tc = pgr_tcase("move-efault", PGR_TIMEOUT_SHORT);
	MOVE_TEST_ADD(tc, efault_struct);
	MOVE_TEST_ADD(tc, efault_hwpoison);
	suite_add_tcase(s, tc);

	tc = pgr_tcase("move-ebusy", PGR_TIMEOUT_LONG);
	MOVE_TEST_ADD(tc, ebusy_fork);
	MOVE_TEST_ADD(tc, dontfork_then_fork);
	MOVE_TEST_ADD(tc, ebusy_ksm);
	MOVE_TEST_ADD(tc, ebusy_pinned);
	suite_add_tcase(s, tc);

	return s;
}
