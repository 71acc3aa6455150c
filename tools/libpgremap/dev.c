// SPDX-License-Identifier: GPL-2.0
/*
 * libpgremap: the /dev/pgremap backend's setup. Opens the device and does
 * the PGREMAP_IOC_API handshake; the moves themselves are in move.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "internal.h"

static int pgr_dev_try_open(int wait_ms)
{
	const struct timespec tick = { 0, 10 * 1000 * 1000 };
	int fd, waited = 0;

	for (;;) {
		fd = open(PGR_DEV_PATH, O_RDWR | O_CLOEXEC);
		if (fd >= 0 || errno != ENOENT || waited >= wait_ms)
			return fd;
		nanosleep(&tick, NULL);
		waited += 10;
	}
}

int pgr_dev_open(struct pgr_dev_info *info, int wait_ms, char *why, size_t len)
{
	struct pgremap_api *a = &info->api;
	int fd, err;

	memset(info, 0, sizeof(*info));
	fd = pgr_dev_try_open(wait_ms);
	err = fd < 0 ? -errno : 0;
	info->loaded = access(PGR_SYSFS_MODULE, F_OK) == 0;
	if (fd < 0) {
		if (err == -ENOENT && info->loaded)
			snprintf(
				why, len,
				"the pgremap module is loaded but " PGR_DEV_PATH
				" does not exist (no devtmpfs or udev?)");
		else if (err == -ENOENT)
			snprintf(why, len, "the pgremap module is not loaded");
		else
			snprintf(
				why, len, "cannot open " PGR_DEV_PATH ": %s%s",
				strerror(-err),
				err == -EACCES ?
					" (see the module's dev_mode parameter)" :
					"");
		return err;
	}

	a->api = PGREMAP_API;
	a->features = 0;
	a->ioctls = 0;
	if (ioctl(fd, PGREMAP_IOC_API, a)) {
		err = -errno;
		close(fd);
		if (err == -EINVAL && a->api && a->api != PGREMAP_API) {
			/* The module wrote back the API it speaks. */
			info->answered = 1;
			info->loaded = 1;
			snprintf(why, len,
				 PGR_DEV_PATH
				 " speaks API %#llx, this library %#llx",
				 (unsigned long long)a->api,
				 (unsigned long long)PGREMAP_API);
			return -EPROTO;
		}
		memset(a, 0, sizeof(*a));
		snprintf(why, len, "PGREMAP_IOC_API on " PGR_DEV_PATH ": %s",
			 strerror(-err));
		return err;
	}
	info->answered = 1;
	info->loaded = 1;
	if (!(a->ioctls & (1ULL << _PGREMAP_MOVE))) {
		close(fd);
		snprintf(why, len,
			 PGR_DEV_PATH
			 " (API %#llx) does not serve PGREMAP_IOC_MOVE",
			 (unsigned long long)a->api);
		return -EOPNOTSUPP;
	}
	return fd;
}
