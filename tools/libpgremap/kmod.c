// SPDX-License-Identifier: GPL-2.0
/*
 * libpgremap: finding and loading the pgremap module through libkmod,
 * the way "modprobe pgremap" would (modules.dep, modprobe.d options),
 * with two differences suited to a library: a modprobe.d "blacklist
 * pgremap" is honoured (an automatic load is what blacklisting is for),
 * and a modprobe.d "install" command is never run (the load is refused
 * instead, naming it). libkmod's own messages are kept, not printed.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <libkmod.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

#include "internal.h"

struct pgr_kmod {
	struct kmod_ctx *ctx;
	struct kmod_module *mod; /* NULL: no module of that name */
	char log[200]; /* libkmod's last error message */
};

static void pgr_kmod_log(void *data, int priority, const char *file, int line,
			 const char *fn, const char *format, va_list args)
{
	struct pgr_kmod *k = data;

	(void)priority;
	(void)file;
	(void)line;
	(void)fn;
	vsnprintf(k->log, sizeof(k->log), format, args);
	k->log[strcspn(k->log, "\n")] = '\0';
}

static void pgr_kmod_put(struct pgr_kmod *k)
{
	if (k->mod)
		kmod_module_unref(k->mod);
	if (k->ctx)
		kmod_unref(k->ctx);
}

/* 0 (k->mod NULL if there is no such module) or -errno with why. */
static int pgr_kmod_get(struct pgr_kmod *k, char *why, size_t len)
{
	struct kmod_list *list = NULL;
	int err;

	memset(k, 0, sizeof(*k));
	k->ctx = kmod_new(NULL, NULL);
	if (!k->ctx) {
		snprintf(why, len, "libkmod: cannot create a context");
		return -ENOMEM;
	}
	kmod_set_log_fn(k->ctx, pgr_kmod_log, k);
	err = kmod_module_new_from_lookup(k->ctx, PGR_MODULE, &list);
	if (err < 0) {
		snprintf(why, len, "libkmod lookup of '%s' failed: %s%s%s",
			 PGR_MODULE, strerror(-err), k->log[0] ? ": " : "",
			 k->log);
		pgr_kmod_put(k);
		return err;
	}
	if (list) {
		k->mod = kmod_module_get_module(list);
		kmod_module_unref_list(list);
	}
	return 0;
}

static const char *pgr_release(struct utsname *u)
{
	return uname(u) ? "the running kernel" : u->release;
}

int pgr_kmod_installed(char *path, size_t plen, char *why, size_t wlen)
{
	struct pgr_kmod k;
	struct utsname u;
	const char *p;
	struct stat st;
	int err;

	err = pgr_kmod_get(&k, why, wlen);
	if (err)
		return err;
	if (!k.mod) {
		snprintf(why, wlen, "pgremap module not installed for %s",
			 pgr_release(&u));
		pgr_kmod_put(&k);
		return 0;
	}
	if (kmod_module_get_initstate(k.mod) == KMOD_MODULE_BUILTIN) {
		snprintf(path, plen, "(built in)");
		pgr_kmod_put(&k);
		return 1;
	}
	p = kmod_module_get_path(k.mod);
	if (!p) {
		snprintf(why, wlen, "pgremap module not installed for %s",
			 pgr_release(&u));
		pgr_kmod_put(&k);
		return 0;
	}
	if (stat(p, &st)) {
		snprintf(
			why, wlen,
			"pgremap module not installed for %s (modules.dep names %s: %s)",
			pgr_release(&u), p, strerror(errno));
		pgr_kmod_put(&k);
		return 0;
	}
	snprintf(path, plen, "%s", p);
	pgr_kmod_put(&k);
	return 1;
}

int pgr_kmod_may_load(char *why, size_t len)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	char buf[8] = "";
	ssize_t n;
	FILE *f;

	if (!syscall(SYS_capget, &hdr, data) &&
	    !(data[CAP_TO_INDEX(CAP_SYS_MODULE)].effective &
	      CAP_TO_MASK(CAP_SYS_MODULE))) {
		snprintf(why, len, "this process lacks CAP_SYS_MODULE");
		return 0;
	}
	f = fopen("/proc/sys/kernel/modules_disabled", "re");
	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n > 0 ? n : 0] = '\0';
		if (buf[0] == '1') {
			snprintf(
				why, len,
				"module loading is disabled (kernel.modules_disabled = 1)");
			return 0;
		}
	}
	return 1;
}

int pgr_kmod_load(char *why, size_t len)
{
	const unsigned int flags = KMOD_PROBE_APPLY_BLACKLIST_ALL |
				   KMOD_PROBE_IGNORE_COMMAND;
	struct pgr_kmod k;
	struct utsname u;
	const char *hint = "";
	int err;

	err = pgr_kmod_get(&k, why, len);
	if (err)
		return err;
	if (!k.mod) {
		snprintf(why, len, "pgremap module not installed for %s",
			 pgr_release(&u));
		pgr_kmod_put(&k);
		return -ENOENT;
	}
	if (kmod_module_get_install_commands(k.mod)) {
		snprintf(
			why, len,
			"modprobe.d has an 'install' command for pgremap, which the library does not run (modprobe pgremap runs it)");
		pgr_kmod_put(&k);
		return -EPERM;
	}
	err = kmod_module_probe_insert_module(k.mod, flags, NULL, NULL, NULL,
					      NULL);
	if (err > 0) {
		snprintf(why, len, "pgremap is blacklisted in modprobe.d");
		pgr_kmod_put(&k);
		return -EPERM;
	}
	if (err == -EEXIST)
		err = 0; /* loaded meanwhile by someone else */
	if (err) {
		switch (-err) {
		case EPERM:
			hint = " (needs CAP_SYS_MODULE)";
			break;
		case ENOEXEC:
			hint = " (built for another build of this kernel; see the kernel log)";
			break;
		case EOPNOTSUPP:
			hint = " (the module refuses this kernel, e.g. for IBT; see the kernel log)";
			break;
		case ENOENT:
			hint = " (a kernel symbol it needs is missing; see the kernel log)";
			break;
		}
		snprintf(why, len, "loading the pgremap module failed: %s%s",
			 strerror(-err), hint);
	}
	pgr_kmod_put(&k);
	return err;
}
