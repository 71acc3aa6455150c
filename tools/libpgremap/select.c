// SPDX-License-Identifier: GPL-2.0
/*
 * libpgremap: backend selection. pgremap_open() and pgremap_probe() run
 * the same decision, pgremap_choose(); the probe only looks (it neither
 * loads the module nor keeps anything open), pgremap_open() acts.
 *
 * The order:
 *  1. opts->uffd, if given, must be a userfaultfd with UFFDIO_API done;
 *  2. UFFD backend if the kernel reports UFFD_FEATURE_MOVE and opts->uffd
 *     was given (unless PGREMAP_OPEN_DEV_ONLY);
 *  3. else /dev/pgremap (unless PGREMAP_OPEN_UFFD_ONLY), loading the
 *     module through libkmod if it is installed but not loaded and
 *     PGREMAP_OPEN_NO_LOAD is not set.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/utsname.h>

#include "internal.h"

#define PGR_OPEN_FLAGS \
	(PGREMAP_OPEN_NO_LOAD | PGREMAP_OPEN_DEV_ONLY | PGREMAP_OPEN_UFFD_ONLY)

/* How long pgremap_open() waits for the node after loading the module. */
#define PGR_NODE_WAIT_MS 2000

struct pgr_choice {
	struct pgremap_probe *p; /* filled as far as the decision looked */
	char *why;
	size_t len;
	int devfd; /* pgremap_open(): the device, if the backend is DEV */
};

/* Copy and check the caller's options: 0 or -EINVAL (why set). */
static int pgr_opts_get(const struct pgremap_open_opts *opts,
			struct pgremap_open_opts *o, char *why, size_t len)
{
	const unsigned char *tail;
	size_t i;

	o->size = sizeof(*o);
	o->uffd = -1;
	o->flags = 0;
	if (!opts)
		return 0;
	if (opts->size < sizeof(*o)) {
		snprintf(
			why, len,
			"opts->size is %zu, want sizeof(struct pgremap_open_opts) = %zu",
			opts->size, sizeof(*o));
		return -EINVAL;
	}
	/* A newer caller's larger struct: what this version ignores is 0. */
	tail = (const unsigned char *)opts;
	for (i = sizeof(*o); i < opts->size; i++) {
		if (tail[i]) {
			snprintf(
				why, len,
				"opts has fields this library does not know (size %zu)",
				opts->size);
			return -EINVAL;
		}
	}
	o->uffd = opts->uffd;
	o->flags = opts->flags;
	if (o->flags & ~PGR_OPEN_FLAGS) {
		snprintf(why, len, "unknown opts->flags %#x",
			 o->flags & ~PGR_OPEN_FLAGS);
		return -EINVAL;
	}
	if ((o->flags & PGREMAP_OPEN_DEV_ONLY) &&
	    (o->flags & PGREMAP_OPEN_UFFD_ONLY)) {
		snprintf(
			why, len,
			"PGREMAP_OPEN_DEV_ONLY and PGREMAP_OPEN_UFFD_ONLY together");
		return -EINVAL;
	}
	if (o->uffd < -1) {
		snprintf(why, len, "opts->uffd is %d, want a descriptor or -1",
			 o->uffd);
		return -EINVAL;
	}
	return 0;
}

static const char *pgr_release(struct utsname *u)
{
	return uname(u) ? "?" : u->release;
}

/*
 * The /dev/pgremap half: fills p's module fields; returns 0 with the
 * backend decided (DEV or NONE) and why appended after prefix.
 */
static void pgr_choose_dev(const struct pgremap_open_opts *o, bool act,
			   const char *prefix, struct pgr_choice *c)
{
	char dwhy[PGR_WHY_LEN] = "", kwhy[PGR_WHY_LEN] = "";
	char path[256] = "";
	struct pgremap_probe *p = c->p;
	struct pgr_dev_info info;
	int fd, inst, err;

	fd = pgr_dev_open(&info, 0, dwhy, sizeof(dwhy));
	p->module_loaded = info.loaded;
	if (info.answered) {
		p->dev_api = info.api.api;
		p->dev_features = info.api.features;
		p->dev_ioctls = info.api.ioctls;
	}
	if (fd >= 0 && act) { /* libkmod has nothing to add */
		p->backend = PGREMAP_BACKEND_DEV;
		snprintf(c->why, c->len, "%s; using " PGR_DEV_PATH, prefix);
		c->devfd = fd;
		return;
	}
	inst = pgr_kmod_installed(path, sizeof(path), kwhy, sizeof(kwhy));
	p->module_installed = inst > 0;
	if (fd >= 0) {
		p->backend = PGREMAP_BACKEND_DEV;
		snprintf(c->why, c->len, "%s; using " PGR_DEV_PATH, prefix);
		close(fd);
		return;
	}
	p->backend = PGREMAP_BACKEND_NONE;
	if (fd != -ENOENT || info.loaded) {
		snprintf(c->why, c->len, "%s; %s", prefix, dwhy);
		return;
	}
	/* Not loaded. */
	if (inst <= 0) {
		snprintf(c->why, c->len, "%s; %s", prefix, kwhy);
		return;
	}
	if (o->flags & PGREMAP_OPEN_NO_LOAD) {
		snprintf(
			c->why, c->len,
			"%s; the pgremap module is installed but not loaded, and PGREMAP_OPEN_NO_LOAD forbids loading it",
			prefix);
		return;
	}
	if (!act) {
		if (pgr_kmod_may_load(kwhy, sizeof(kwhy))) {
			p->backend = PGREMAP_BACKEND_DEV;
			snprintf(
				c->why, c->len,
				"%s; the pgremap module is installed but not loaded: pgremap_open() would load it and use " PGR_DEV_PATH,
				prefix);
		} else {
			snprintf(
				c->why, c->len,
				"%s; the pgremap module is installed but not loaded, and cannot be loaded: %s",
				prefix, kwhy);
		}
		return;
	}
	err = pgr_kmod_load(kwhy, sizeof(kwhy));
	if (err) {
		snprintf(c->why, c->len, "%s; %s", prefix, kwhy);
		return;
	}
	fd = pgr_dev_open(&info, PGR_NODE_WAIT_MS, dwhy, sizeof(dwhy));
	p->module_loaded = info.loaded;
	if (info.answered) {
		p->dev_api = info.api.api;
		p->dev_features = info.api.features;
		p->dev_ioctls = info.api.ioctls;
	}
	if (fd < 0) {
		snprintf(c->why, c->len,
			 "%s; loaded the pgremap module, but %s", prefix, dwhy);
		return;
	}
	p->backend = PGREMAP_BACKEND_DEV;
	snprintf(c->why, c->len,
		 "%s; loaded the pgremap module (%s), using " PGR_DEV_PATH,
		 prefix, path);
	c->devfd = fd;
}

/* pgremap_probe(): the module's fields, whatever the backend. */
static void pgr_dev_facts(const struct pgremap_open_opts *o,
			  struct pgr_choice *c)
{
	enum pgremap_backend keep = c->p->backend;
	char why[PGR_WHY_LEN] = "";
	struct pgr_choice d = *c;

	d.why = why;
	d.len = sizeof(why);
	pgr_choose_dev(o, false, "", &d);
	c->p->backend = keep;
}

/*
 * The decision. act: pgremap_open() (may load, keeps the device open in
 * c->devfd) or pgremap_probe() (looks at everything, changes nothing).
 * Returns 0 (p->backend may be NONE) or -EINVAL for bad options.
 */
static int pgr_choose(const struct pgremap_open_opts *opts, bool act,
		      struct pgr_choice *c)
{
	char kwhy[PGR_WHY_LEN] = "", prefix[PGR_WHY_LEN] = "";
	struct pgremap_probe *p = c->p;
	struct pgremap_open_opts o;
	uint64_t ufeatures = 0;
	struct utsname u;
	int err;

	c->devfd = -1;
	c->why[0] = '\0';
	p->backend = PGREMAP_BACKEND_NONE;
	err = pgr_opts_get(opts, &o, c->why, c->len);
	if (!err && o.uffd >= 0)
		err = pgr_uffd_check(o.uffd, &ufeatures, c->why, c->len);
	if (err) {
		if (!act) { /* still tell the rest of the story */
			p->kernel_uffd_move =
				pgr_uffd_kernel_move(kwhy, sizeof(kwhy));
			pgr_dev_facts(&o, c);
		}
		return err;
	}

	/* A caller whose UFFDIO_API enabled UFFD_FEATURE_MOVE has the answer. */
	if (ufeatures & UFFD_FEATURE_MOVE) {
		p->kernel_uffd_move = 1;
		snprintf(kwhy, sizeof(kwhy), "enabled on opts->uffd");
	} else if (act && (o.flags & PGREMAP_OPEN_DEV_ONLY)) {
		p->kernel_uffd_move = 0; /* not asked: not needed */
	} else {
		p->kernel_uffd_move = pgr_uffd_kernel_move(kwhy, sizeof(kwhy));
	}

	if (!(o.flags & PGREMAP_OPEN_DEV_ONLY) && p->kernel_uffd_move &&
	    o.uffd >= 0) {
		p->backend = PGREMAP_BACKEND_UFFD;
		snprintf(
			c->why, c->len,
			"kernel %s has UFFDIO_MOVE; using it on the caller's userfaultfd (fd %d)",
			pgr_release(&u), o.uffd);
		if (!act)
			pgr_dev_facts(&o, c);
		return 0;
	}

	if (o.flags & PGREMAP_OPEN_DEV_ONLY)
		snprintf(prefix, sizeof(prefix), "PGREMAP_OPEN_DEV_ONLY");
	else if (p->kernel_uffd_move)
		snprintf(
			prefix, sizeof(prefix),
			"kernel has UFFDIO_MOVE but no userfaultfd was passed");
	else
		snprintf(prefix, sizeof(prefix),
			 "kernel %s has no UFFDIO_MOVE (%s)", pgr_release(&u),
			 kwhy);

	if (o.flags & PGREMAP_OPEN_UFFD_ONLY) {
		snprintf(c->why, c->len, "PGREMAP_OPEN_UFFD_ONLY: %s", prefix);
		if (!act)
			pgr_dev_facts(&o, c);
		return 0;
	}
	pgr_choose_dev(&o, act, prefix, c);
	return 0;
}

PGR_EXPORT int pgremap_open(struct pgremap **hp,
			    const struct pgremap_open_opts *opts)
{
	struct pgremap_probe p;
	struct pgr_choice c;
	struct pgremap *h;
	int err;

	if (!hp)
		return -EINVAL;
	*hp = NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	memset(&p, 0, sizeof(p));
	c.p = &p;
	c.why = h->why;
	c.len = sizeof(h->why);
	err = pgr_choose(opts, true, &c);
	if (!err && p.backend == PGREMAP_BACKEND_NONE)
		err = -ENODEV;
	if (err) {
		if (c.devfd >= 0)
			close(c.devfd);
		free(h);
		return err;
	}
	h->backend = p.backend;
	h->uffd = opts ? opts->uffd : -1;
	h->devfd = c.devfd;
	h->fd = h->backend == PGREMAP_BACKEND_UFFD ? h->uffd : h->devfd;
	*hp = h;
	return 0;
}

PGR_EXPORT void pgremap_close(struct pgremap *h)
{
	if (!h)
		return;
	if (h->devfd >= 0)
		close(h->devfd);
	free(h);
}

PGR_EXPORT enum pgremap_backend pgremap_backend(const struct pgremap *h)
{
	return h ? h->backend : PGREMAP_BACKEND_NONE;
}

PGR_EXPORT const char *pgremap_why(const struct pgremap *h)
{
	return h ? h->why : "no handle";
}

PGR_EXPORT int pgremap_probe(struct pgremap_probe *out,
			     const struct pgremap_open_opts *opts)
{
	struct pgr_choice c;
	int err;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	c.p = out;
	c.why = out->why_buf;
	c.len = sizeof(out->why_buf);
	err = pgr_choose(opts, false, &c);
	if (err)
		out->backend = PGREMAP_BACKEND_NONE;
	out->why = out->why_buf;
	return err;
}
