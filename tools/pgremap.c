// SPDX-License-Identifier: GPL-2.0
/*
 * pgremap: command-line front end to /dev/pgremap.
 *
 *   pgremap status [--json]   is the module loaded, which API it speaks
 *
 * Exit status: 0 the module answers; 1 it is not loaded or does not
 * answer; 2 usage error; 3 it answers but speaks another API version.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/pgremap.h>

#define EXIT_NOT_LOADED 1
#define EXIT_USAGE 2
#define EXIT_API 3

static const char *const usage_text =
	"Usage: pgremap [--help] [--version] COMMAND [OPTIONS]\n"
	"\n"
	"Commands:\n"
	"  status [--json]  show whether the pgremap module is loaded, its\n"
	"                   version, and the API, features and ioctls it\n"
	"                   reports through PGREMAP_IOC_API\n"
	"\n"
	"Exit status: 0 the module answers; 1 not loaded or no answer;\n"
	"2 usage error; 3 the module speaks another API version.\n"
	"See pgremap(8).\n";

struct status {
	int err; /* errno of open/ioctl, 0 if it answered */
	const char *failed; /* what failed: "open" or "ioctl" */
	struct pgremap_api api;
	char version[64]; /* module version from sysfs, or "" */
};

static void read_version(char *buf, size_t len)
{
	FILE *f = fopen("/sys/module/pgremap/version", "r");

	buf[0] = '\0';
	if (!f)
		return;
	if (fgets(buf, (int)len, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

static void query(struct status *st)
{
	int fd = open("/dev/" PGREMAP_DEVICE_NAME, O_RDWR | O_CLOEXEC);

	memset(st, 0, sizeof(*st));
	read_version(st->version, sizeof(st->version));
	if (fd < 0) {
		st->err = errno;
		st->failed = "open";
		return;
	}
	st->api.api = PGREMAP_API;
	if (ioctl(fd, PGREMAP_IOC_API, &st->api)) {
		st->err = errno;
		st->failed = "ioctl";
	}
	close(fd);
}

static int exit_code(const struct status *st)
{
	if (st->err == EINVAL && st->api.api != PGREMAP_API)
		return EXIT_API;
	return st->err ? EXIT_NOT_LOADED : 0;
}

static void print_text(const struct status *st)
{
	if (st->err) {
		printf("pgremap: not available: %s /dev/%s: %s\n", st->failed,
		       PGREMAP_DEVICE_NAME, strerror(st->err));
		if (st->err == ENOENT)
			printf("hint: load it with 'modprobe pgremap'\n");
		return;
	}
	printf("module:   loaded, version %s\n",
	       st->version[0] ? st->version : "unknown");
	printf("device:   /dev/%s\n", PGREMAP_DEVICE_NAME);
	printf("api:      %#llx\n", (unsigned long long)st->api.api);
	printf("features: %#llx\n", (unsigned long long)st->api.features);
	printf("ioctls:   %#llx%s\n", (unsigned long long)st->api.ioctls,
	       st->api.ioctls & (1ULL << _PGREMAP_API) ? " (API)" : "");
}

static void print_json(const struct status *st)
{
	printf("{\"loaded\": %s, \"version\": \"%s\", ",
	       st->err ? "false" : "true", st->version);
	if (st->err)
		printf("\"error\": \"%s: %s\"}\n", st->failed,
		       strerror(st->err));
	else
		printf("\"api\": %llu, \"features\": %llu, \"ioctls\": %llu}\n",
		       (unsigned long long)st->api.api,
		       (unsigned long long)st->api.features,
		       (unsigned long long)st->api.ioctls);
}

static int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct status st;
	int json = 0, c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = 1;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
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
	return exit_code(&st);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("pgremap %s (API %#llx)\n", PGREMAP_TOOLS_VERSION,
		       (unsigned long long)PGREMAP_API);
		return 0;
	}
	if (!strcmp(argv[1], "status"))
		return cmd_status(argc - 1, argv + 1);
	fprintf(stderr, "pgremap: unknown command '%s' (see --help)\n",
		argv[1]);
	return EXIT_USAGE;
}
