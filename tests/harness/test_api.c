// SPDX-License-Identifier: GPL-2.0
/*
 * api suite: the device node, who may open it, the PGREMAP_IOC_API
 * handshake and its error paths, and everything the fd must refuse.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>

#include "util.h"

#define GARBAGE 0x5a5a5a5a5a5a5a5aULL

static long page_size(void)
{
	return sysconf(_SC_PAGESIZE);
}

static unsigned long dev_mode_param(void)
{
	unsigned long mode;
	int err;

	err = pgr_read_ulong(PGR_SYSFS_PARAM("dev_mode"), &mode);
	ck_assert_msg(err == 0, "cannot read %s: %s",
		      PGR_SYSFS_PARAM("dev_mode"), strerror(-err));
	return mode;
}

/* Expect EINVAL and the documented write-back for this request. */
static void expect_api_einval(int fd, __u64 api, __u64 features)
{
	struct pgremap_api a = { .api = api,
				 .features = features,
				 .ioctls = GARBAGE };
	int err;

	err = pgr_api_call(fd, &a);
	ck_assert_msg(err == EINVAL,
		      "api %#llx features %#llx: got '%s', want EINVAL",
		      (unsigned long long)api, (unsigned long long)features,
		      err ? strerror(err) : "success");
	ck_assert_msg(a.api == PGREMAP_API,
		      "api %#llx features %#llx: written-back api %#llx",
		      (unsigned long long)api, (unsigned long long)features,
		      (unsigned long long)a.api);
	ck_assert_msg(a.features == PGREMAP_FEATURES_ALL,
		      "api %#llx features %#llx: written-back features %#llx",
		      (unsigned long long)api, (unsigned long long)features,
		      (unsigned long long)a.features);
	ck_assert_msg(a.ioctls == 0,
		      "api %#llx features %#llx: written-back ioctls %#llx",
		      (unsigned long long)api, (unsigned long long)features,
		      (unsigned long long)a.ioctls);
}

/* ---- api-node ----------------------------------------------------------- */

START_TEST(api_node_is_misc_char_device)
{
	unsigned int maj, min;
	char buf[64];
	struct stat st;
	int err;

	ck_assert_msg(stat(PGR_DEV_PATH, &st) == 0, "stat %s: %s", PGR_DEV_PATH,
		      strerror(errno));
	ck_assert_msg(S_ISCHR(st.st_mode), "%s is not a char device (mode %o)",
		      PGR_DEV_PATH, st.st_mode);
	ck_assert_msg(major(st.st_rdev) == PGR_MISC_MAJOR,
		      "%s major %u, want misc major %d", PGR_DEV_PATH,
		      major(st.st_rdev), PGR_MISC_MAJOR);
	err = pgr_read_file(PGR_SYSFS_MISC "/dev", buf, sizeof(buf));
	ck_assert_msg(err > 0, "cannot read %s: %s", PGR_SYSFS_MISC "/dev",
		      strerror(-err));
	ck_assert_msg(sscanf(buf, "%u:%u", &maj, &min) == 2, "bad %s: '%s'",
		      PGR_SYSFS_MISC "/dev", buf);
	ck_assert_msg(maj == major(st.st_rdev) && min == minor(st.st_rdev),
		      "%s is %u:%u but the misc device is %u:%u", PGR_DEV_PATH,
		      major(st.st_rdev), minor(st.st_rdev), maj, min);
}
END_TEST

START_TEST(api_node_mode_matches_dev_mode_param)
{
	unsigned long mode = dev_mode_param();
	struct stat st;

	ck_assert_msg(stat(PGR_DEV_PATH, &st) == 0, "stat %s: %s", PGR_DEV_PATH,
		      strerror(errno));
	pgr_diag("dev_mode parameter %lu (%#lo), node mode %#o", mode, mode,
		 st.st_mode & 07777);
	ck_assert_msg((st.st_mode & 07777) == mode,
		      "%s mode %#o but dev_mode parameter is %#lo",
		      PGR_DEV_PATH, st.st_mode & 07777, mode);
	ck_assert_msg(st.st_uid == 0 && st.st_gid == 0,
		      "%s owned by %d:%d, want 0:0", PGR_DEV_PATH,
		      (int)st.st_uid, (int)st.st_gid);
}
END_TEST

/* ---- api-open ----------------------------------------------------------- */

START_TEST(api_open_rdwr_as_root)
{
	int fd;

	PGR_SKIP_IF(geteuid() != 0, "not running as root");
	fd = pgr_open_dev(O_RDWR);
	pgr_assert_handshake(fd);
	close(fd);
}
END_TEST

enum { UNPRIV_OK, UNPRIV_SETID, UNPRIV_EACCES, UNPRIV_OPEN, UNPRIV_API };

static int open_as_nobody(void *arg)
{
	struct pgremap_api a = { .api = PGREMAP_API };
	int fd;

	(void)arg;
	if (setgroups(0, NULL) || setgid(PGR_NOBODY) || setuid(PGR_NOBODY) ||
	    geteuid() != PGR_NOBODY)
		return UNPRIV_SETID;
	fd = open(PGR_DEV_PATH, O_RDWR);
	if (fd < 0)
		return errno == EACCES ? UNPRIV_EACCES : UNPRIV_OPEN;
	if (ioctl(fd, PGREMAP_IOC_API, &a) || a.api != PGREMAP_API ||
	    a.ioctls != PGR_IOCTLS_SERVED)
		return UNPRIV_API;
	close(fd);
	return UNPRIV_OK;
}

START_TEST(api_open_rdwr_as_unprivileged_user)
{
	unsigned long mode = dev_mode_param();
	bool world_rw = (mode & 006) == 006;
	int ret;

	PGR_SKIP_IF(geteuid() != 0, "not root: cannot switch to uid %d",
		    PGR_NOBODY);
	ret = pgr_run_in_child(open_as_nobody, NULL);
	ck_assert_msg(ret != UNPRIV_SETID, "cannot switch to uid/gid %d",
		      PGR_NOBODY);
	if (world_rw) {
		ck_assert_msg(ret == UNPRIV_OK, "dev_mode %#lo: uid %d: %s",
			      mode, PGR_NOBODY,
			      ret == UNPRIV_EACCES ? "open EACCES" :
			      ret == UNPRIV_OPEN   ? "open failed" :
			      ret == UNPRIV_API	   ? "handshake failed" :
						     "child crashed");
	} else {
		pgr_diag("dev_mode %#lo does not grant o+rw: expect EACCES",
			 mode);
		ck_assert_msg(ret == UNPRIV_EACCES,
			      "dev_mode %#lo: uid %d got %d, want EACCES", mode,
			      PGR_NOBODY, ret);
	}
}
END_TEST

/* ---- api-handshake ------------------------------------------------------ */

START_TEST(api_handshake_returns_api_and_features)
{
	struct pgremap_api a = { .api = PGREMAP_API,
				 .features = 0,
				 .ioctls = GARBAGE };
	int fd = pgr_open_dev(O_RDWR);
	int err;

	err = pgr_api_call(fd, &a);
	ck_assert_msg(err == 0, "PGREMAP_IOC_API: %s", strerror(err));
	ck_assert_msg(a.api == PGREMAP_API, "api %#llx, want %#llx",
		      (unsigned long long)a.api,
		      (unsigned long long)PGREMAP_API);
	ck_assert_msg(a.features == PGREMAP_FEATURES_ALL,
		      "features %#llx, want %#llx",
		      (unsigned long long)a.features,
		      (unsigned long long)PGREMAP_FEATURES_ALL);
	close(fd);
}
END_TEST

START_TEST(api_handshake_ioctls_mask_exact)
{
	struct pgremap_api a = { .api = PGREMAP_API,
				 .features = 0,
				 .ioctls = GARBAGE };
	int fd = pgr_open_dev(O_RDWR);
	int err;

	err = pgr_api_call(fd, &a);
	ck_assert_msg(err == 0, "PGREMAP_IOC_API: %s", strerror(err));
	ck_assert_msg(a.ioctls & (1ULL << _PGREMAP_API),
		      "ioctls %#llx lacks the API ioctl bit",
		      (unsigned long long)a.ioctls);
	ck_assert_msg(a.ioctls == PGR_IOCTLS_SERVED,
		      "ioctls %#llx announces ioctls the module does not serve",
		      (unsigned long long)a.ioctls);
	close(fd);
}
END_TEST

START_TEST(api_handshake_bad_version_einval)
{
	static const __u64 bad[] = {
		0,
		1,
		PGREMAP_API - 1,
		PGREMAP_API + 1,
		0xBA00,
		0xBA02,
		0x01BA,
		PGREMAP_API << 32,
		PGREMAP_API | (1ULL << 32),
		PGREMAP_API | (1ULL << 63),
		~0ULL,
	};
	int fd = pgr_open_dev(O_RDWR);
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		expect_api_einval(fd, bad[i], 0);
	close(fd);
}
END_TEST

START_TEST(api_handshake_unknown_feature_bits_einval)
{
	int fd = pgr_open_dev(O_RDWR);
	int bit, tested = 0;

	for (bit = 0; bit < 64; bit++) {
		if (PGREMAP_FEATURES_ALL & (1ULL << bit))
			continue;
		expect_api_einval(fd, PGREMAP_API, 1ULL << bit);
		tested++;
	}
	expect_api_einval(fd, PGREMAP_API, ~PGREMAP_FEATURES_ALL);
	expect_api_einval(fd, PGREMAP_API, ~0ULL);
	pgr_diag("%d unknown feature bits refused", tested);
	close(fd);
}
END_TEST

START_TEST(api_handshake_stateless_repeated)
{
	int fd = pgr_open_dev(O_RDWR);
	int i;

	/* Failed calls must leave nothing behind that changes later ones. */
	for (i = 0; i < 1000; i++) {
		__u64 bit = 1ULL << (i % 64);

		/* Only bits the module does not know make the call fail. */
		if (bit & PGREMAP_FEATURES_ALL)
			bit = 1ULL << 63;
		pgr_assert_handshake(fd);
		if (i % 3 == 0)
			expect_api_einval(fd, PGREMAP_API + 1, 0);
		else if (i % 3 == 1)
			expect_api_einval(fd, PGREMAP_API, bit);
	}
	pgr_assert_handshake(fd);
	close(fd);
}
END_TEST

START_TEST(api_handshake_two_fds)
{
	int fd1 = pgr_open_dev(O_RDWR);
	int fd2 = pgr_open_dev(O_RDWR);

	pgr_assert_handshake(fd1);
	pgr_assert_handshake(fd2);
	expect_api_einval(fd1, 0, 0);
	pgr_assert_handshake(fd2);
	pgr_assert_handshake(fd1);
	close(fd1);
	pgr_assert_handshake(fd2);
	close(fd2);
}
END_TEST

static int handshake_in_child(void *arg)
{
	struct pgremap_api a = { .api = PGREMAP_API, .ioctls = GARBAGE };
	int fd = *(int *)arg;

	if (ioctl(fd, PGREMAP_IOC_API, &a))
		return 1;
	if (a.api != PGREMAP_API || a.features != PGREMAP_FEATURES_ALL ||
	    a.ioctls != PGR_IOCTLS_SERVED)
		return 2;
	a.api = 0;
	if (ioctl(fd, PGREMAP_IOC_API, &a) != -1 || errno != EINVAL)
		return 3;
	return 0;
}

START_TEST(api_handshake_in_forked_child)
{
	int fd = pgr_open_dev(O_RDWR);
	int ret;

	pgr_assert_handshake(fd);
	ret = pgr_run_in_child(handshake_in_child, &fd);
	ck_assert_msg(ret == 0,
		      "handshake on the inherited fd in the child: %s",
		      ret == 1 ? "ioctl failed" :
		      ret == 2 ? "wrong values" :
		      ret == 3 ? "bad version not refused" :
				 "child crashed");
	pgr_assert_handshake(fd);
	close(fd);
}
END_TEST

/* ---- api-efault --------------------------------------------------------- */

START_TEST(api_efault_null)
{
	int fd = pgr_open_dev(O_RDWR);
	int err;

	err = pgr_api_call(fd, NULL);
	ck_assert_msg(err == EFAULT, "NULL struct: got '%s', want EFAULT",
		      err ? strerror(err) : "success");
	pgr_assert_handshake(fd);
	close(fd);
}
END_TEST

START_TEST(api_efault_unmapped)
{
	int fd = pgr_open_dev(O_RDWR);
	void *p;
	int err;

	p = mmap(NULL, page_size(), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(p != MAP_FAILED);
	ck_assert_int_eq(munmap(p, page_size()), 0);
	err = pgr_api_call(fd, p);
	ck_assert_msg(err == EFAULT, "unmapped struct: got '%s', want EFAULT",
		      err ? strerror(err) : "success");
	pgr_assert_handshake(fd);
	close(fd);
}
END_TEST

START_TEST(api_efault_readonly_struct)
{
	int fd = pgr_open_dev(O_RDWR);
	struct pgremap_api *a;
	int err;

	/* A valid request the module can read but not write back. */
	a = mmap(NULL, page_size(), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(a != MAP_FAILED);
	a->api = PGREMAP_API;
	a->features = 0;
	a->ioctls = GARBAGE;
	ck_assert_int_eq(mprotect(a, page_size(), PROT_READ), 0);
	err = pgr_api_call(fd, a);
	ck_assert_msg(err == EFAULT, "read-only struct: got '%s', want EFAULT",
		      err ? strerror(err) : "success");
	ck_assert(a->ioctls == GARBAGE);
	munmap(a, page_size());
	pgr_assert_handshake(fd);
	close(fd);
}
END_TEST

START_TEST(api_efault_struct_straddles_prot_none_page)
{
	int fd = pgr_open_dev(O_RDWR);
	long ps = page_size();
	__u64 *first;
	char *p;
	int err;

	/* Only the first field is accessible; the rest is PROT_NONE. */
	p = mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(p != MAP_FAILED);
	ck_assert_int_eq(mprotect(p + ps, ps, PROT_NONE), 0);
	first = (__u64 *)(p + ps - sizeof(__u64));
	*first = PGREMAP_API;
	err = pgr_api_call(fd, (struct pgremap_api *)first);
	ck_assert_msg(
		err == EFAULT,
		"struct straddling a PROT_NONE page: got '%s', want EFAULT",
		err ? strerror(err) : "success");
	munmap(p, 2 * ps);
	pgr_assert_handshake(fd);
	close(fd);
}
END_TEST

/* ---- api-foreign -------------------------------------------------------- */

struct pgr_u64x4 {
	__u64 v[4];
};

static const struct {
	unsigned long nr;
	const char *what;
} foreign_ioctls[] = {
	{ _IOR(PGREMAP_IOC_MAGIC, _PGREMAP_API, struct pgremap_api),
	  "API nr, _IOR" },
	{ _IOW(PGREMAP_IOC_MAGIC, _PGREMAP_API, struct pgremap_api),
	  "API nr, _IOW" },
	{ _IO(PGREMAP_IOC_MAGIC, _PGREMAP_API), "API nr, _IO" },
	{ _IOWR(PGREMAP_IOC_MAGIC, _PGREMAP_API, __u32), "API nr, u32 size" },
	{ _IOWR(PGREMAP_IOC_MAGIC, _PGREMAP_API, __u64), "API nr, u64 size" },
	{ _IOWR(PGREMAP_IOC_MAGIC, _PGREMAP_API, struct pgr_u64x4),
	  "API nr, 32-byte size" },
	{ _IOWR(PGREMAP_IOC_MAGIC, 0x01, struct pgremap_api), "nr 0x01" },
	{ _IOWR(PGREMAP_IOC_MAGIC, 0x3f, struct pgremap_api), "nr 0x3f" },
	{ _IOWR(PGREMAP_IOC_MAGIC, 0xff, struct pgremap_api), "nr 0xff" },
	{ _IOWR(0xBB, _PGREMAP_API, struct pgremap_api), "magic 0xBB" },
	{ _IOWR(0xAA, 0x3F, struct pgremap_api), "UFFDIO_API-like (0xAA)" },
	{ TCGETS, "TCGETS" },
	{ 0, "number 0" },
};

START_TEST(api_enotty_foreign_ioctls)
{
	int fd = pgr_open_dev(O_RDWR);
	union {
		struct pgremap_api a;
		char bytes[4096];
	} buf, ref;
	size_t i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(foreign_ioctls); i++) {
		/*
		 * A valid API request: a module that matched loosely would
		 * accept it and write back.
		 */
		memset(&ref, 0xa5, sizeof(ref));
		ref.a.api = PGREMAP_API;
		ref.a.features = 0;
		ref.a.ioctls = GARBAGE;
		buf = ref;
		errno = 0;
		ret = ioctl(fd, foreign_ioctls[i].nr, &buf);
		ck_assert_msg(
			ret == -1 && errno == ENOTTY,
			"ioctl %#lx (%s): returned %d errno '%s', want ENOTTY",
			foreign_ioctls[i].nr, foreign_ioctls[i].what, ret,
			strerror(errno));
		ck_assert_msg(!memcmp(&buf, &ref, sizeof(buf)),
			      "ioctl %#lx (%s) wrote to the argument",
			      foreign_ioctls[i].nr, foreign_ioctls[i].what);
	}
	pgr_assert_handshake(fd);
	close(fd);
}
END_TEST

static void assert_unsupported(const char *what, int ret, int err)
{
	ck_assert_msg(ret == -1 && (err == EINVAL || err == ENODEV),
		      "%s on %s: returned %d errno '%s', want EINVAL or ENODEV",
		      what, PGR_DEV_PATH, ret, strerror(err));
}

START_TEST(api_read_fails)
{
	int fd = pgr_open_dev(O_RDWR);
	char buf[64];
	ssize_t n;

	n = read(fd, buf, sizeof(buf));
	assert_unsupported("read", n, errno);
	pgr_assert_handshake(fd);
	close(fd);
}
END_TEST

START_TEST(api_write_fails)
{
	int fd = pgr_open_dev(O_RDWR);
	char buf[64] = "pgremap";
	ssize_t n;

	n = write(fd, buf, sizeof(buf));
	assert_unsupported("write", n, errno);
	pgr_assert_handshake(fd);
	close(fd);
}
END_TEST

START_TEST(api_mmap_fails)
{
	static const int types[] = { MAP_SHARED, MAP_PRIVATE };
	int fd = pgr_open_dev(O_RDWR);
	size_t i;
	void *p;

	for (i = 0; i < 2; i++) {
		p = mmap(NULL, page_size(), PROT_READ, types[i], fd, 0);
		if (p != MAP_FAILED)
			munmap(p, page_size());
		assert_unsupported(types[i] == MAP_SHARED ? "mmap MAP_SHARED" :
							    "mmap MAP_PRIVATE",
				   p == MAP_FAILED ? -1 : 0, errno);
	}
	pgr_assert_handshake(fd);
	close(fd);
}
END_TEST

/* ---- suite -------------------------------------------------------------- */

static TCase *api_tcase(const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, pgr_fixture_module_ready, NULL);
	tcase_set_timeout(tc, PGR_TIMEOUT_SHORT);
	return tc;
}

Suite *pgr_suite_api(void)
{
	Suite *s = suite_create("api");
	TCase *tc;

	tc = api_tcase("api-node");
	tcase_add_test(tc, api_node_is_misc_char_device);
	tcase_add_test(tc, api_node_mode_matches_dev_mode_param);
	suite_add_tcase(s, tc);

	tc = api_tcase("api-open");
	tcase_add_test(tc, api_open_rdwr_as_root);
	tcase_add_test(tc, api_open_rdwr_as_unprivileged_user);
	suite_add_tcase(s, tc);

	tc = api_tcase("api-handshake");
	tcase_add_test(tc, api_handshake_returns_api_and_features);
	tcase_add_test(tc, api_handshake_ioctls_mask_exact);
	tcase_add_test(tc, api_handshake_bad_version_einval);
	tcase_add_test(tc, api_handshake_unknown_feature_bits_einval);
	tcase_add_test(tc, api_handshake_stateless_repeated);
	tcase_add_test(tc, api_handshake_two_fds);
	tcase_add_test(tc, api_handshake_in_forked_child);
	suite_add_tcase(s, tc);

	tc = api_tcase("api-efault");
	tcase_add_test(tc, api_efault_null);
	tcase_add_test(tc, api_efault_unmapped);
	tcase_add_test(tc, api_efault_readonly_struct);
	tcase_add_test(tc, api_efault_struct_straddles_prot_none_page);
	suite_add_tcase(s, tc);

	tc = api_tcase("api-foreign");
	tcase_add_test(tc, api_enotty_foreign_ioctls);
	tcase_add_test(tc, api_read_fails);
	tcase_add_test(tc, api_write_fails);
	tcase_add_test(tc, api_mmap_fails);
	suite_add_tcase(s, tc);

	return s;
}
