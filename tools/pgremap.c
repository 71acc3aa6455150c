// SPDX-License-Identifier: GPL-2.0
/*
 * pgremap: command-line front end to the pgremap module and libpgremap.
 *
 *   pgremap status [--json]             module, device, backends, IBT
 *   pgremap load [--json] [PARAM=VAL]   load the module (libkmod)
 *   pgremap unload [--json]             unload it (libkmod)
 *
 * Exit status (pgremap(8), kept stable): 0 success; 1 status: the module
 * does not answer, load/unload: the operation failed; 2 usage; 3 the
 * module speaks another API version; 4 permission denied; 5 load: no
 * pgremap module installed for the running kernel; 6 unload: in use.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <libkmod.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <linux/userfaultfd.h>

#include <linux/pgremap.h>
#include <pgremap.h>

/* Debian 12's <linux/userfaultfd.h> is from 6.1: no UFFDIO_MOVE. */
#ifndef UFFD_FEATURE_MOVE
#define UFFD_FEATURE_MOVE (1 << 16)
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define EXIT_API 3
#define EXIT_PERM 4
#define EXIT_NOT_INSTALLED 5
#define EXIT_IN_USE 6

#define MODULE_NAME "pgremap"
#define DEV_PATH "/dev/" PGREMAP_DEVICE_NAME
#define SYSFS_MODULE "/sys/module/" MODULE_NAME
#define DKMS_TREE "/var/lib/dkms/" MODULE_NAME
#define LOG_PREFIX MODULE_NAME ": "

static const char *const usage_main =
	"Usage: pgremap [--help] [--version] COMMAND [OPTIONS]\n"
	"\n"
	"Commands:\n"
	"  status [--json]          the module (loaded? version, API,\n"
	"                           features), the backend libpgremap would\n"
	"                           pick and why, the kernel's UFFDIO_MOVE,\n"
	"                           IBT, the installed module for this kernel\n"
	"  load [--json] [P=V...]   load the module through libkmod, with\n"
	"                           optional module parameters\n"
	"  unload [--json]          unload it through libkmod\n"
	"\n"
	"'pgremap COMMAND --help' describes one command.\n"
	"\n"
	"Exit status: 0 success; 1 the module does not answer (status) or\n"
	"the operation failed (load, unload); 2 usage error; 3 the module\n"
	"speaks another API version; 4 permission denied; 5 no pgremap module\n"
	"installed for this kernel (load); 6 the module is in use (unload).\n"
	"See pgremap(8).\n";

static const char *const usage_status =
	"Usage: pgremap status [--json]\n"
	"\n"
	"Shows whether the pgremap module is loaded and answers on " DEV_PATH
	"\n"
	"(its version, API version, feature bits and ioctls from\n"
	"PGREMAP_IOC_API), which module libkmod would load for this kernel\n"
	"and whether DKMS installed it, whether the kernel has the in-tree\n"
	"UFFDIO_MOVE, the IBT state, and which backend libpgremap's\n"
	"pgremap_open() would pick, without and with a userfaultfd, and why.\n"
	"\n"
	"  --json   one JSON object on one line (fields: pgremap(8))\n"
	"\n"
	"Exit status: 0 the module answers; 1 it is not loaded or does not\n"
	"answer; 3 it answers but speaks another API version; 2 usage.\n";

static const char *const usage_load =
	"Usage: pgremap load [--json] [PARAM=VALUE...]\n"
	"\n"
	"Loads the pgremap module for the running kernel through libkmod, as\n"
	"'modprobe pgremap' would (options from modprobe.d apply), with the\n"
	"given module parameters added. Succeeds without change if the\n"
	"module is already loaded and no parameters were given. On failure,\n"
	"shows the module's own kernel log lines (if /dev/kmsg is readable).\n"
	"\n"
	"  --json   one JSON object on one line (fields: pgremap(8))\n"
	"\n"
	"Exit status: 0 loaded (or already loaded); 1 the load failed (the\n"
	"module refused, or already loaded with other parameters); 2 usage;\n"
	"4 permission denied (root or CAP_SYS_MODULE needed, or module\n"
	"loading disabled); 5 no pgremap module installed for this kernel.\n";

static const char *const usage_unload =
	"Usage: pgremap unload [--json]\n"
	"\n"
	"Unloads the pgremap module through libkmod (without waiting).\n"
	"Succeeds without change if it is not loaded. The module cannot be\n"
	"unloaded while a process holds " DEV_PATH " open: those are listed.\n"
	"\n"
	"  --json   one JSON object on one line (fields: pgremap(8))\n"
	"\n"
	"Exit status: 0 unloaded (or was not loaded); 1 the unload failed;\n"
	"2 usage; 4 permission denied; 6 the module is in use.\n";

/* ---- small helpers ---------------------------------------------------- */

static const char *errname(int err)
{
	const char *n = strerrorname_np(err);

	return n ? n : "E?";
}

/* Read the first line of @path into @buf; false if unreadable. */
static bool read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	bool ok = false;

	buf[0] = '\0';
	if (!f)
		return false;
	if (fgets(buf, (int)len, f)) {
		buf[strcspn(buf, "\n")] = '\0';
		ok = true;
	}
	fclose(f);
	return ok;
}

static bool path_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* ---- JSON output -------------------------------------------------------- */

struct json {
	bool first;
};

static void json_begin(struct json *j)
{
	j->first = true;
	putchar('{');
}

static void json_end(struct json *j)
{
	(void)j;
	puts("}");
}

static void json_key(struct json *j, const char *key)
{
	printf("%s\"%s\": ", j->first ? "" : ", ", key);
	j->first = false;
}

static void json_puts(const char *s)
{
	const unsigned char *p;

	putchar('"');
	for (p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", stdout);
		else if (*p < 0x20 || *p == 0x7f)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

/* A string, or null for NULL. */
static void json_str(struct json *j, const char *key, const char *val)
{
	json_key(j, key);
	if (val)
		json_puts(val);
	else
		fputs("null", stdout);
}

static void json_u64(struct json *j, const char *key, uint64_t val)
{
	json_key(j, key);
	printf("%llu", (unsigned long long)val);
}

/* A boolean: 0 false, > 0 true, < 0 null (unknown). */
static void json_bool(struct json *j, const char *key, int val)
{
	json_key(j, key);
	fputs(val < 0 ? "null" : val ? "true" : "false", stdout);
}

static void json_null(struct json *j, const char *key)
{
	json_key(j, key);
	fputs("null", stdout);
}

/* ---- the kernel log (/dev/kmsg) ---------------------------------------- */

struct lines {
	char **v;
	size_t n;
};

static void lines_add(struct lines *l, const char *s)
{
	char **v = realloc(l->v, (l->n + 1) * sizeof(*v));

	if (!v)
		return;
	l->v = v;
	l->v[l->n] = strdup(s);
	if (l->v[l->n])
		l->n++;
}

static void lines_free(struct lines *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Open /dev/kmsg for reading, at its end if @at_end; -errno if denied. */
static int kmsg_open(bool at_end)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (at_end && lseek(fd, 0, SEEK_END) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* Append the messages of the module ("pgremap: ...") read from @fd. */
static void kmsg_collect(int fd, struct lines *out)
{
	char rec[8192], *msg;
	ssize_t n;

	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && (errno == EINTR || errno == EPIPE))
			continue; /* EPIPE: records were overwritten */
		if (n <= 0)
			break;
		rec[n] = '\0';
		msg = strchr(rec, ';');
		if (!msg)
			continue;
		msg++;
		msg[strcspn(msg, "\n")] = '\0';
		if (!strncmp(msg, LOG_PREFIX, strlen(LOG_PREFIX)))
			lines_add(out, msg);
	}
}

/* ---- libkmod ------------------------------------------------------------ */

static void kmod_quiet(void *data, int priority, const char *file, int line,
		       const char *fn, const char *format, va_list args)
{
	(void)data;
	(void)priority;
	(void)file;
	(void)line;
	(void)fn;
	(void)format;
	(void)args;
}

/* A libkmod context for the running kernel and the module; -errno. */
static int kmod_get(struct kmod_ctx **ctx, struct kmod_module **mod)
{
	int err;

	*ctx = kmod_new(NULL, NULL);
	if (!*ctx)
		return -ENOMEM;
	kmod_set_log_fn(*ctx, kmod_quiet, NULL);
	err = kmod_module_new_from_name(*ctx, MODULE_NAME, mod);
	if (err < 0) {
		kmod_unref(*ctx);
		return err;
	}
	return 0;
}

static void kmod_put(struct kmod_ctx *ctx, struct kmod_module *mod)
{
	kmod_module_unref(mod);
	kmod_unref(ctx);
}

/* ---- status --------------------------------------------------------------- */

struct status {
	int loaded; /* /sys/module/pgremap exists */
	char version[64]; /* /sys/module/pgremap/version, or "" */
	int dev_err; /* errno of open/ioctl of /dev/pgremap, 0: answered */
	const char *dev_failed; /* "open" or "ioctl" */
	bool api_valid; /* api written by the module (answer or EINVAL) */
	bool api_other; /* ... and it speaks another API version */
	struct pgremap_api api;

	char kernel[65]; /* uname -r */
	int kmod_err; /* libkmod lookup failure, -errno */
	char ko_path[PATH_MAX]; /* "" if not installed for this kernel */
	char ko_version[64];
	char ko_vermagic[256];
	int ko_dkms; /* installed under updates/dkms */
	struct lines dkms_versions; /* /var/lib/dkms/pgremap/<version> */
	int dkms_tree; /* 1 /var/lib/dkms/pgremap exists, 0 not */

	int uffd; /* a userfaultfd with UFFDIO_API done, or -1 */
	int uffd_err; /* errno of userfaultfd() or UFFDIO_API */
	int uffd_move; /* UFFD_FEATURE_MOVE: 1 yes, 0 no, -1 unknown */

	int ibt_enabled; /* CPU flag "ibt" in /proc/cpuinfo; -1 unknown */
	int ibt_config; /* CONFIG_X86_KERNEL_IBT=y; -1 unknown */
	int kmsg_err; /* -errno opening /dev/kmsg, 0 readable */
	int ibt_refused; /* last load refused for IBT; -1 unknown */
	char refusal[1024]; /* the module's last refusal line since a load */

	int probe_err;
	struct pgremap_probe probe; /* opts.uffd = -1 */
	int probe_uffd_err;
	struct pgremap_probe probe_uffd; /* opts.uffd = a userfaultfd */
};

static void query_device(struct status *st)
{
	int fd = open(DEV_PATH, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		st->dev_err = errno;
		st->dev_failed = "open";
		return;
	}
	st->api.api = PGREMAP_API;
	if (ioctl(fd, PGREMAP_IOC_API, &st->api)) {
		st->dev_err = errno;
		st->dev_failed = "ioctl";
	}
	close(fd);
	/* On EINVAL the module still writes back what it speaks. */
	st->api_valid = !st->dev_err || st->dev_err == EINVAL;
	st->api_other = st->api_valid && st->api.api != PGREMAP_API;
}

static void query_installed(struct status *st)
{
	struct kmod_list *info = NULL, *l;
	struct kmod_module *mod;
	struct kmod_ctx *ctx;
	const char *p;

	st->kmod_err = kmod_get(&ctx, &mod);
	if (st->kmod_err)
		return;
	p = kmod_module_get_path(mod);
	if (p) {
		snprintf(st->ko_path, sizeof(st->ko_path), "%s", p);
		st->ko_dkms = strstr(p, "/updates/dkms/") != NULL;
		if (kmod_module_get_info(mod, &info) >= 0) {
			kmod_list_foreach(l, info)
			{
				const char *k = kmod_module_info_get_key(l);
				const char *v = kmod_module_info_get_value(l);

				if (!v)
					continue;
				if (!strcmp(k, "version"))
					snprintf(st->ko_version,
						 sizeof(st->ko_version), "%s",
						 v);
				else if (!strcmp(k, "vermagic"))
					snprintf(st->ko_vermagic,
						 sizeof(st->ko_vermagic), "%s",
						 v);
			}
			kmod_module_info_free_list(info);
		}
	}
	kmod_put(ctx, mod);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The versions DKMS has registered: directories in /var/lib/dkms/pgremap. */
static void query_dkms(struct status *st)
{
	DIR *d = opendir(DKMS_TREE);
	struct dirent *e;

	st->dkms_tree = d != NULL;
	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_type != DT_DIR || e->d_name[0] == '.' ||
		    !isdigit((unsigned char)e->d_name[0]))
			continue;
		lines_add(&st->dkms_versions, e->d_name);
	}
	closedir(d);
	if (st->dkms_versions.n)
		qsort(st->dkms_versions.v, st->dkms_versions.n, sizeof(char *),
		      cmp_str);
}

/* A userfaultfd with UFFDIO_API done, and whether it reports MOVE. */
static void query_uffd(struct status *st)
{
	struct uffdio_api api = { .api = UFFD_API, .features = 0 };
	int fd;

	st->uffd = -1;
	st->uffd_move = -1;
	fd = (int)syscall(SYS_userfaultfd,
			  O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	if (fd < 0 && errno == EINVAL) /* before 5.11: no user-mode-only */
		fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		st->uffd_err = errno;
		return;
	}
	if (ioctl(fd, UFFDIO_API, &api)) {
		st->uffd_err = errno;
		close(fd);
		return;
	}
	st->uffd = fd;
	st->uffd_move = !!(api.features & UFFD_FEATURE_MOVE);
}

static void query_ibt(struct status *st)
{
	char line[4096], path[128];
	FILE *f;

	st->ibt_enabled = -1;
	f = fopen("/proc/cpuinfo", "re");
	if (f) {
		st->ibt_enabled = 0;
		while (fgets(line, sizeof(line), f)) {
			if (strncmp(line, "flags", 5))
				continue;
			/* One CPU's flags say it all: the kernel sets it on all. */
			line[strcspn(line, "\n")] = ' ';
			st->ibt_enabled = strstr(line, " ibt ") != NULL;
			break;
		}
		fclose(f);
	}

	st->ibt_config = -1;
	snprintf(path, sizeof(path), "/boot/config-%s", st->kernel);
	f = fopen(path, "re");
	if (f) {
		st->ibt_config = 0;
		while (fgets(line, sizeof(line), f))
			if (!strcmp(line, "CONFIG_X86_KERNEL_IBT=y\n"))
				st->ibt_config = 1;
		fclose(f);
	}
}

/*
 * The module's most recent refusal to load, if it has not loaded since:
 * its "refusing to load" lines after its last "loaded:" line.
 */
static void query_kmsg(struct status *st)
{
	struct lines l = { 0 };
	const char *ibt = NULL, *last = NULL;
	int fd = kmsg_open(false);
	size_t i;

	st->ibt_refused = -1;
	if (fd < 0) {
		st->kmsg_err = fd;
		return;
	}
	kmsg_collect(fd, &l);
	close(fd);
	for (i = 0; i < l.n; i++) {
		const char *m = l.v[i] + strlen(LOG_PREFIX);

		if (!strncmp(m, "loaded:", 7)) {
			ibt = last = NULL;
		} else if (!strncmp(m, "refusing to load", 16)) {
			last = l.v[i];
			if (strstr(m, "IBT"))
				ibt = l.v[i];
		}
	}
	st->ibt_refused = ibt != NULL;
	if (ibt || last)
		snprintf(st->refusal, sizeof(st->refusal), "%s", ibt ?: last);
	lines_free(&l);
}

static void query_backend(struct status *st)
{
	struct pgremap_open_opts opts = { .size = sizeof(opts), .uffd = -1 };

	st->probe_err = pgremap_probe(&st->probe, &opts);
	if (st->uffd < 0) {
		st->probe_uffd_err = -st->uffd_err;
		return;
	}
	opts.uffd = st->uffd;
	st->probe_uffd_err = pgremap_probe(&st->probe_uffd, &opts);
}

static void query(struct status *st)
{
	struct utsname u;

	memset(st, 0, sizeof(*st));
	st->loaded = path_exists(SYSFS_MODULE);
	read_line(SYSFS_MODULE "/version", st->version, sizeof(st->version));
	query_device(st);
	if (!uname(&u))
		snprintf(st->kernel, sizeof(st->kernel), "%s", u.release);
	query_installed(st);
	query_dkms(st);
	query_uffd(st);
	query_ibt(st);
	query_kmsg(st);
	query_backend(st);
	if (st->uffd >= 0)
		close(st->uffd);
}

static int status_exit(const struct status *st)
{
	if (st->api_other)
		return EXIT_API;
	return st->dev_err ? EXIT_FAILED : 0;
}

static const char *backend_name(enum pgremap_backend b)
{
	switch (b) {
	case PGREMAP_BACKEND_UFFD:
		return "uffd";
	case PGREMAP_BACKEND_DEV:
		return "dev";
	default:
		return "none";
	}
}

static const char *backend_text(enum pgremap_backend b)
{
	switch (b) {
	case PGREMAP_BACKEND_UFFD:
		return "in-tree UFFDIO_MOVE";
	case PGREMAP_BACKEND_DEV:
		return DEV_PATH;
	default:
		return "none";
	}
}

static const char *tristate(int v, const char *yes, const char *no)
{
	return v < 0 ? "unknown" : v ? yes : no;
}

static void print_features(uint64_t f)
{
	static const struct {
		uint64_t bit;
		const char *name;
	} names[] = {
		{ PGREMAP_FEATURE_MOVE_ZEROPAGE, "zeropage" },
		{ PGREMAP_FEATURE_MOVE_SWAP, "swap" },
		{ PGREMAP_FEATURE_MOVE_THP_PMD, "thp-pmd" },
		{ PGREMAP_FEATURE_MOVE_THP_SPLIT, "thp-split" },
	};
	const char *sep = " (";
	size_t i;

	printf("%#llx", (unsigned long long)f);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (f & names[i].bit) {
			printf("%s%s", sep, names[i].name);
			sep = " ";
		}
	}
	if (f & ~PGREMAP_FEATURES_ALL)
		printf("%sunknown %#llx", sep,
		       (unsigned long long)(f & ~PGREMAP_FEATURES_ALL));
	if (f)
		putchar(')');
}

static void print_backend(const char *label, int err,
			  const struct pgremap_probe *p)
{
	if (err)
		printf("%s%s (%s)\n", label, "unknown: pgremap_probe failed",
		       strerror(-err));
	else
		printf("%s%s: %s\n", label, backend_text(p->backend),
		       p->why ? p->why : "");
}

static void print_text(const struct status *st)
{
	size_t i;

	if (st->loaded)
		printf("module:     loaded, version %s\n",
		       st->version[0] ? st->version : "unknown");
	else
		printf("module:     not loaded\n");
	if (st->dev_err) {
		printf("device:     %s: %s %s: %s\n",
		       st->api_other ? "speaks another API" : "does not answer",
		       st->dev_failed, DEV_PATH, strerror(st->dev_err));
		if (st->api_other)
			printf("            module API %#llx, this program %#llx\n",
			       (unsigned long long)st->api.api,
			       (unsigned long long)PGREMAP_API);
	} else {
		printf("device:     %s, API %#llx\n", DEV_PATH,
		       (unsigned long long)st->api.api);
		printf("features:   ");
		print_features(st->api.features);
		printf("\nioctls:     %#llx (%s%s)\n",
		       (unsigned long long)st->api.ioctls,
		       st->api.ioctls & (1ULL << _PGREMAP_API) ? "API" : "",
		       st->api.ioctls & (1ULL << _PGREMAP_MOVE) ? " MOVE" : "");
	}
	printf("kernel:     %s\n", st->kernel);
	if (st->kmod_err)
		printf("installed:  unknown: libkmod: %s\n",
		       strerror(-st->kmod_err));
	else if (!st->ko_path[0])
		printf("installed:  no pgremap module for %s (modules.dep)\n",
		       st->kernel);
	else
		printf("installed:  %s, version %s%s\n", st->ko_path,
		       st->ko_version[0] ? st->ko_version : "unknown",
		       st->ko_dkms ? ", by DKMS" : "");
	printf("dkms:       ");
	if (!st->dkms_tree)
		printf("pgremap not registered (no %s)\n", DKMS_TREE);
	else {
		printf("pgremap registered:");
		for (i = 0; i < st->dkms_versions.n; i++)
			printf(" %s", st->dkms_versions.v[i]);
		putchar('\n');
	}
	if (st->uffd_move < 0)
		printf("uffd_move:  unknown: userfaultfd: %s\n",
		       strerror(st->uffd_err));
	else
		printf("uffd_move:  %s\n",
		       st->uffd_move ?
			       "yes: the kernel reports UFFD_FEATURE_MOVE" :
			       "no: the kernel does not report UFFD_FEATURE_MOVE");
	printf("ibt:        %s; kernel built with CONFIG_X86_KERNEL_IBT: %s\n",
	       tristate(st->ibt_enabled,
			"enabled (CPU flag 'ibt' in /proc/cpuinfo)",
			"not enabled (no 'ibt' flag in /proc/cpuinfo)"),
	       tristate(st->ibt_config, "yes", "no"));
	if (st->kmsg_err)
		printf("refusal:    unknown (/dev/kmsg: %s)\n",
		       strerror(-st->kmsg_err));
	else if (st->refusal[0])
		printf("refusal:    last load refused%s: %s\n",
		       st->ibt_refused ? " for IBT" : "", st->refusal);
	else
		printf("refusal:    none in the kernel log since the last load\n");
	print_backend("backend:    ", st->probe_err, &st->probe);
	if (st->uffd < 0)
		printf("with uffd:  unknown: cannot create a userfaultfd: %s\n",
		       strerror(st->uffd_err));
	else
		print_backend("with uffd:  ", st->probe_uffd_err,
			      &st->probe_uffd);
	printf("counters:   not kept (the module keeps no per-errno counters)\n");
	if (st->dev_err == ENOENT && !st->loaded && st->ko_path[0])
		printf("hint: load it with 'pgremap load'\n");
	else if (st->dev_err == ENOENT && !st->loaded && !st->kmod_err)
		printf("hint: install the pgremap-dkms package (or 'make dkms-install') and the headers of %s\n",
		       st->kernel);
}

static void json_backend(struct json *j, const char *key, const char *why_key,
			 int err, const struct pgremap_probe *p)
{
	if (err) {
		json_null(j, key);
		json_null(j, why_key);
		return;
	}
	json_str(j, key, backend_name(p->backend));
	json_str(j, why_key, p->why);
}

static void print_json(const struct status *st)
{
	struct json j;
	char err[256];
	size_t i;

	json_begin(&j);
	json_bool(&j, "loaded", st->loaded);
	json_str(&j, "version", st->version);
	json_bool(&j, "answers", !st->dev_err);
	if (st->dev_err) {
		snprintf(err, sizeof(err), "%s: %s", st->dev_failed,
			 strerror(st->dev_err));
		json_str(&j, "error", err);
		json_str(&j, "errno", errname(st->dev_err));
	} else {
		json_null(&j, "error");
		json_null(&j, "errno");
	}
	if (st->api_valid) {
		json_u64(&j, "api", st->api.api);
		json_u64(&j, "features", st->api.features);
		json_u64(&j, "ioctls", st->api.ioctls);
	} else {
		json_null(&j, "api");
		json_null(&j, "features");
		json_null(&j, "ioctls");
	}
	json_str(&j, "kernel", st->kernel);
	json_bool(&j, "installed", st->kmod_err ? -1 : !!st->ko_path[0]);
	json_str(&j, "installed_path", st->ko_path[0] ? st->ko_path : NULL);
	json_str(&j, "installed_version",
		 st->ko_version[0] ? st->ko_version : NULL);
	json_str(&j, "installed_vermagic",
		 st->ko_vermagic[0] ? st->ko_vermagic : NULL);
	json_bool(&j, "installed_by_dkms", st->ko_path[0] ? st->ko_dkms : -1);
	json_key(&j, "dkms_versions");
	putchar('[');
	for (i = 0; i < st->dkms_versions.n; i++) {
		if (i)
			fputs(", ", stdout);
		json_puts(st->dkms_versions.v[i]);
	}
	putchar(']');
	json_bool(&j, "uffd_move", st->uffd_move);
	json_str(&j, "uffd_error",
		 st->uffd_move < 0 ? strerror(st->uffd_err) : NULL);
	json_bool(&j, "ibt_enabled", st->ibt_enabled);
	json_bool(&j, "ibt_kernel_config", st->ibt_config);
	json_bool(&j, "ibt_refused", st->ibt_refused);
	json_str(&j, "refusal", st->refusal[0] ? st->refusal : NULL);
	json_backend(&j, "backend", "backend_why", st->probe_err, &st->probe);
	json_backend(&j, "backend_with_uffd", "backend_with_uffd_why",
		     st->uffd < 0 ? -st->uffd_err : st->probe_uffd_err,
		     &st->probe_uffd);
	json_null(&j, "errno_counters");
	json_end(&j);
}

/* ---- load / unload -------------------------------------------------------- */

struct result {
	const char *command;
	bool changed;
	int err; /* 0 or a positive errno */
	int code; /* exit status */
	char message[512];
	char hint[512];
	struct lines log; /* the module's kernel log lines of this operation */
};

static void report(struct result *r, bool json)
{
	size_t i;

	if (json) {
		struct json j;

		json_begin(&j);
		json_str(&j, "command", r->command);
		json_bool(&j, "ok", r->code == 0);
		json_bool(&j, "changed", r->changed);
		json_str(&j, "errno", r->err ? errname(r->err) : NULL);
		json_str(&j, "message", r->message);
		json_str(&j, "hint", r->hint[0] ? r->hint : NULL);
		json_key(&j, "kernel_log");
		putchar('[');
		for (i = 0; i < r->log.n; i++) {
			if (i)
				fputs(", ", stdout);
			json_puts(r->log.v[i]);
		}
		putchar(']');
		json_end(&j);
	} else {
		FILE *out = r->code ? stderr : stdout;

		fprintf(out, "pgremap %s: %s\n", r->command, r->message);
		for (i = 0; i < r->log.n; i++)
			fprintf(out, "  kernel: %s\n", r->log.v[i]);
		if (r->hint[0])
			fprintf(out, "hint: %s\n", r->hint);
	}
	lines_free(&r->log);
}

static void __attribute__((format(printf, 2, 3)))
set_msg(struct result *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->message, sizeof(r->message), fmt, ap);
	va_end(ap);
}

static void __attribute__((format(printf, 2, 3)))
set_hint(struct result *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->hint, sizeof(r->hint), fmt, ap);
	va_end(ap);
}

/* Wait up to 2 s for @path to appear (devtmpfs, udev). */
static bool wait_path(const char *path)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int i;

	for (i = 0; i < 200; i++) {
		if (path_exists(path))
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

static int do_load(struct result *r, const char *params)
{
	struct kmod_module *mod;
	struct kmod_ctx *ctx;
	struct utsname u;
	const char *kver = uname(&u) ? "this kernel" : u.release;
	int err, kfd;
	char buf[8];

	r->command = "load";
	err = kmod_get(&ctx, &mod);
	if (err) {
		r->err = -err;
		set_msg(r, "libkmod: %s", strerror(-err));
		return EXIT_FAILED;
	}
	if (kmod_module_get_initstate(mod) >= 0) {
		kmod_put(ctx, mod);
		if (params[0]) {
			r->err = EEXIST;
			set_msg(r,
				"already loaded: parameters '%s' not applied",
				params);
			set_hint(r, "unload it first: pgremap unload");
			return EXIT_FAILED;
		}
		set_msg(r, "already loaded");
		return 0;
	}
	if (!kmod_module_get_path(mod)) {
		kmod_put(ctx, mod);
		r->err = ENOENT;
		set_msg(r, "no pgremap module installed for kernel %s", kver);
		set_hint(
			r,
			"install the pgremap-dkms package (or 'make dkms-install') and the headers of %s",
			kver);
		return EXIT_NOT_INSTALLED;
	}

	kfd = kmsg_open(true);
	err = kmod_module_probe_insert_module(mod, KMOD_PROBE_FAIL_ON_LOADED,
					      params[0] ? params : NULL, NULL,
					      NULL, NULL);
	kmod_put(ctx, mod);
	if (kfd >= 0) {
		kmsg_collect(kfd, &r->log);
		close(kfd);
	}
	if (err > 0) {
		/* Stopped by libkmod itself (a modprobe.d rule). */
		r->err = EPERM;
		set_msg(r,
			"libkmod refused to load it (modprobe.d configuration, status %d)",
			err);
		return EXIT_FAILED;
	}
	if (err == -EEXIST) { /* loaded by someone else meanwhile */
		set_msg(r, "already loaded");
		return 0;
	}
	if (err < 0) {
		r->err = -err;
		set_msg(r, "cannot load: %s", strerror(-err));
		switch (-err) {
		case EPERM:
		case EACCES:
			if (read_line("/proc/sys/kernel/modules_disabled", buf,
				      sizeof(buf)) &&
			    !strcmp(buf, "1"))
				set_hint(
					r,
					"module loading is disabled (kernel.modules_disabled=1) until reboot");
			else
				set_hint(
					r,
					"loading a module needs root (CAP_SYS_MODULE)");
			return EXIT_PERM;
		case EKEYREJECTED:
		case ENOKEY:
			set_hint(
				r,
				"Secure Boot: enrol DKMS's key (mokutil --import /var/lib/dkms/mok.pub) and reboot");
			return EXIT_FAILED;
		case EOPNOTSUPP:
			set_hint(
				r,
				"the module refused because of IBT; use the in-tree UFFDIO_MOVE if the kernel has it, or boot with ibt=off");
			return EXIT_FAILED;
		case ENOEXEC:
			set_hint(
				r,
				"the module was built for another build of %s: rebuild it (dkms build/install pgremap -k %s --force)",
				kver, kver);
			return EXIT_FAILED;
		default:
			if (!r->log.n && kfd < 0)
				set_hint(r, "the kernel log (dmesg) says why");
			return EXIT_FAILED;
		}
	}
	r->changed = true;
	if (!wait_path(DEV_PATH)) {
		set_msg(r, "loaded, but %s did not appear", DEV_PATH);
		r->err = ENODEV;
		return EXIT_FAILED;
	}
	set_msg(r, "loaded");
	return 0;
}

/* The processes holding /dev/pgremap open, as "PID (COMM)" in @buf. */
static void find_holders(char *buf, size_t len)
{
	char path[PATH_MAX], target[PATH_MAX], comm[64];
	DIR *proc = opendir("/proc"), *fds;
	struct dirent *p, *f;
	size_t used = 0;
	ssize_t n;

	buf[0] = '\0';
	if (!proc)
		return;
	while ((p = readdir(proc))) {
		if (!isdigit((unsigned char)p->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", p->d_name);
		fds = opendir(path);
		if (!fds)
			continue;
		while ((f = readdir(fds))) {
			snprintf(path, sizeof(path), "/proc/%s/fd/%s",
				 p->d_name, f->d_name);
			n = readlink(path, target, sizeof(target) - 1);
			if (n < 0)
				continue;
			target[n] = '\0';
			if (strcmp(target, DEV_PATH))
				continue;
			snprintf(path, sizeof(path), "/proc/%s/comm",
				 p->d_name);
			if (!read_line(path, comm, sizeof(comm)))
				snprintf(comm, sizeof(comm), "?");
			if (used < len)
				used += snprintf(buf + used, len - used,
						 "%s%s (%s)", used ? ", " : "",
						 p->d_name, comm);
			break;
		}
		closedir(fds);
	}
	closedir(proc);
}

static int do_unload(struct result *r)
{
	struct kmod_module *mod;
	struct kmod_ctx *ctx;
	char holders[256], refcnt[32];
	int err, kfd;

	r->command = "unload";
	err = kmod_get(&ctx, &mod);
	if (err) {
		r->err = -err;
		set_msg(r, "libkmod: %s", strerror(-err));
		return EXIT_FAILED;
	}
	if (kmod_module_get_initstate(mod) < 0) {
		kmod_put(ctx, mod);
		set_msg(r, "not loaded");
		return 0;
	}
	kfd = kmsg_open(true);
	err = kmod_module_remove_module(mod, KMOD_REMOVE_NOWAIT);
	kmod_put(ctx, mod);
	if (kfd >= 0) {
		kmsg_collect(kfd, &r->log);
		close(kfd);
	}
	if (!err) {
		r->changed = true;
		set_msg(r, "unloaded");
		return 0;
	}
	r->err = -err;
	set_msg(r, "cannot unload: %s", strerror(-err));
	switch (-err) {
	case EPERM:
	case EACCES:
		set_hint(r, "unloading a module needs root (CAP_SYS_MODULE)");
		return EXIT_PERM;
	case ENOENT: /* unloaded by someone else meanwhile */
		r->err = 0;
		set_msg(r, "not loaded");
		return 0;
	case EAGAIN: /* EWOULDBLOCK: references held, O_NONBLOCK */
	case EBUSY:
		find_holders(holders, sizeof(holders));
		if (!read_line(SYSFS_MODULE "/refcnt", refcnt, sizeof(refcnt)))
			snprintf(refcnt, sizeof(refcnt), "?");
		set_msg(r,
			"cannot unload: the module is in use (%s, %s references)",
			errname(-err), refcnt);
		if (holders[0])
			set_hint(
				r,
				"%s held open by: %s; close it (end those processes) and retry",
				DEV_PATH, holders);
		else
			set_hint(
				r,
				"a process holds %s open (or the module is still loading); close it and retry",
				DEV_PATH);
		return EXIT_IN_USE;
	default:
		return EXIT_FAILED;
	}
}

/* ---- main ------------------------------------------------------------------- */

/*
 * Parse "[--json] [--help]" for COMMAND; the remaining arguments start at
 * optind. Returns -1 to go on, else an exit status.
 */
static int parse_common(int argc, char **argv, const char *usage, bool *json)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*json = false;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			*json = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fprintf(stderr,
				"pgremap %s: unknown option '%s' (see 'pgremap %s --help')\n",
				argv[0], argv[optind - 1], argv[0]);
			return EXIT_USAGE;
		}
	}
	return -1;
}

static int cmd_status(int argc, char **argv)
{
	struct status st;
	bool json;
	int ret = parse_common(argc, argv, usage_status, &json);

	if (ret >= 0)
		return ret;
	if (optind != argc) {
		fprintf(stderr, "pgremap status: unexpected argument '%s'\n",
			argv[optind]);
		return EXIT_USAGE;
	}
	query(&st);
	if (json)
		print_json(&st);
	else
		print_text(&st);
	lines_free(&st.dkms_versions);
	return status_exit(&st);
}

static int cmd_load(int argc, char **argv)
{
	struct result r = { 0 };
	char params[1024] = "";
	size_t used = 0;
	bool json;
	int ret = parse_common(argc, argv, usage_load, &json);

	if (ret >= 0)
		return ret;
	for (; optind < argc; optind++) {
		const char *p = argv[optind];

		if (!strchr(p, '=') || p[0] == '=' || strpbrk(p, " \t\n")) {
			fprintf(stderr,
				"pgremap load: '%s' is not a PARAM=VALUE module parameter\n",
				p);
			return EXIT_USAGE;
		}
		if (used + strlen(p) + 2 > sizeof(params)) {
			fprintf(stderr, "pgremap load: parameters too long\n");
			return EXIT_USAGE;
		}
		used += snprintf(params + used, sizeof(params) - used, "%s%s",
				 used ? " " : "", p);
	}
	r.code = do_load(&r, params);
	report(&r, json);
	return r.code;
}

static int cmd_unload(int argc, char **argv)
{
	struct result r = { 0 };
	bool json;
	int ret = parse_common(argc, argv, usage_unload, &json);

	if (ret >= 0)
		return ret;
	if (optind != argc) {
		fprintf(stderr, "pgremap unload: unexpected argument '%s'\n",
			argv[optind]);
		return EXIT_USAGE;
	}
	r.code = do_unload(&r);
	report(&r, json);
	return r.code;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage_main, stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		if (argc > 2 && !strcmp(argv[1], "help")) {
			if (!strcmp(argv[2], "status"))
				fputs(usage_status, stdout);
			else if (!strcmp(argv[2], "load"))
				fputs(usage_load, stdout);
			else if (!strcmp(argv[2], "unload"))
				fputs(usage_unload, stdout);
			else {
				fprintf(stderr,
					"pgremap: unknown command '%s' (see --help)\n",
					argv[2]);
				return EXIT_USAGE;
			}
			return 0;
		}
		fputs(usage_main, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("pgremap %s (API %#llx)\n", PGREMAP_TOOLS_VERSION,
		       (unsigned long long)PGREMAP_API);
		return 0;
	}
	if (!strcmp(argv[1], "status"))
		return cmd_status(argc - 1, argv + 1);
	if (!strcmp(argv[1], "load"))
		return cmd_load(argc - 1, argv + 1);
	if (!strcmp(argv[1], "unload"))
		return cmd_unload(argc - 1, argv + 1);
	fprintf(stderr, "pgremap: unknown command '%s' (see --help)\n",
		argv[1]);
	return EXIT_USAGE;
}
