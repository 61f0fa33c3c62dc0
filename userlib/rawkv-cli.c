// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv: command-line client of the rawkv store, built on librawkv only.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <time.h>
#include <unistd.h>

#include "rawkv.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const char usage[] =
"usage: rawkv [-d DEVICE] COMMAND [ARGS]\n"
"\n"
"Commands:\n"
"  put [META] KEY [FILE|-]  store the contents of FILE (default: stdin) under\n"
"                    KEY, replacing any previous value (and its metadata)\n"
"      --meta TEXT        store TEXT as the value's user metadata\n"
"      --meta-file FILE   store the contents of FILE as its metadata\n"
"                         (at most 256 bytes, any bytes)\n"
"  put-sync [META] KEY [FILE|-]  the same, durable when it returns\n"
"  get KEY [FILE|-]  write the value of KEY to FILE (default: stdout)\n"
"  meta KEY          write the user metadata of KEY to stdout, as stored\n"
"                    (nothing when it has none); exit status 1 if no KEY\n"
"  del KEY           remove KEY\n"
"  exists KEY        print the value length of KEY; exit status 1 if none\n"
"  flush             commit every put and del so far to the device\n"
"  stat [--json]     print the geometry and counters of the store (--json:\n"
"                    as one JSON object, the same names)\n"
"  ls [-l]           list the keys (-l: with value lengths), one per line;\n"
"                    bytes outside printable ASCII, and \\, are escaped as\n"
"                    \\xHH and \\\\\n"
"\n"
"Stores (one module serves several devices; /dev/rawkv is store 0):\n"
"  attach [OPTIONS] BLOCKDEV  serve BLOCKDEV as a new store; prints its node\n"
"      --format             write a fresh layout first (ERASES BLOCKDEV)\n"
"      --slot-size SIZE     with --format: bytes per slot, e.g. 64K, 1M (default)\n"
"      --checkpoint-ms N    period of the background commit (0: none; 5000)\n"
"      --no-evict           when full, PUT fails instead of evicting\n"
"  detach STORE      write the final metadata and release STORE (a number,\n"
"                    rawkvN or /dev/rawkvN); fails while it is open\n"
"  stores            list the attached stores and their devices\n"
"\n"
"Options:\n"
"  -d, --device DEVICE  device node (default: " RAWKV_DEFAULT_DEVICE ")\n"
"  -h, --help           print this help\n"
"\n"
"KEY is taken byte for byte from the command line and must be 1..255 bytes;\n"
"keys containing NUL bytes can only be used through librawkv. A put or del\n"
"survives a crash only after a flush (or the module's periodic commit).\n"
"\n"
"Exit status: 0 on success, 1 on error, 2 on a usage error.\n";

static int usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, "rawkv: %s%s\nTry 'rawkv --help'.\n", msg, arg);
	return 2;
}

/* "rawkv: put KEY: no such key"; returns the exit status. */
static int fail(const char *cmd, const char *key, int err)
{
	fprintf(stderr, "rawkv: %s%s%s: %s\n", cmd, key ? " " : "",
		key ? key : "", rawkv_strerror(err));
	return 1;
}

static int check(const char *cmd, const char *key, int err)
{
	return err ? fail(cmd, key, err) : 0;
}

static int cmd_exists(struct rawkv *kv, const char *key)
{
	int len = rawkv_exists(kv, key, strlen(key));

	if (len < 0)
		return fail("exists", key, len);
	printf("%d\n", len);
	return fflush(stdout) ? fail("exists", key, -errno) : 0;
}

/*
 * Progress of long operations on a terminal: a line on stderr, rewritten
 * at most every 0.2 s, and erased at the end; nothing when stderr is not
 * a terminal.
 */
static double progress_last;
static bool progress_shown;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void progress(const char *fmt, ...)
{
	double t = now_s();
	va_list ap;

	if (t - progress_last < 0.2 || !isatty(STDERR_FILENO))
		return;
	if (!progress_last) {	/* not for operations shorter than 0.2 s */
		progress_last = t;
		return;
	}
	progress_last = t;
	fputs("\r", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\033[K", stderr);
	progress_shown = true;
}

static void progress_end(void)
{
	if (progress_shown)
		fputs("\r\033[K", stderr);
	progress_shown = false;
	progress_last = 0;
}

static int fail_file(const char *file, int err)
{
	fprintf(stderr, "rawkv: %s: %s\n", file, strerror(-err));
	return 1;
}

/* Read all of @fd into a malloc'ed buffer; return 0 or -errno. */
static int read_all(int fd, char **bufp, size_t *lenp)
{
	size_t len = 0, cap = 64 << 10;
	char *buf = malloc(cap), *p;
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (len == cap) {
			p = realloc(buf, cap *= 2);
			if (!p) {
				free(buf);
				return -ENOMEM;
			}
			buf = p;
		}
		n = read(fd, buf + len, cap - len);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			free(buf);
			return -errno;
		}
		len += n;
		progress("read %.1f MiB", len / 1048576.0);
	}
	progress_end();
	*bufp = buf;
	*lenp = len;
	return 0;
}

/* Write all of @buf to @fd; return 0 or -errno. */
static int write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= n;
	}
	return 0;
}

/* A put's user metadata, from --meta TEXT or --meta-file FILE. */
struct put_meta {
	const char *text;
	const char *file;
};

/* Take put's options off the front of @argv; returns how many, or -1. */
static int put_options(int argc, char **argv, struct put_meta *pm)
{
	int i;

	for (i = 0; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--meta"))
			pm->text = argv[i + 1];
		else if (!strcmp(argv[i], "--meta-file"))
			pm->file = argv[i + 1];
		else
			break;
	}
	if (pm->text && pm->file)
		return -1;
	return i;
}

/* The metadata bytes of @pm into @buf (RAWKV_META_MAX + 1 bytes). */
static int put_meta_read(const struct put_meta *pm, char *buf, size_t *len)
{
	ssize_t n = 0;
	int fd;

	*len = 0;
	if (pm->text) {
		*len = strlen(pm->text);
		if (*len > RAWKV_META_MAX)
			return -EMSGSIZE;
		memcpy(buf, pm->text, *len);
		return 0;
	}
	if (!pm->file)
		return 0;
	fd = open(pm->file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* one more byte than fits tells a file that is too long */
	while (*len <= RAWKV_META_MAX) {
		n = read(fd, buf + *len, RAWKV_META_MAX + 1 - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		*len += n;
	}
	close(fd);
	if (n < 0)
		return -errno;
	return *len > RAWKV_META_MAX ? -EMSGSIZE : 0;
}

static int cmd_put(struct rawkv *kv, const char *key, const char *file,
		   bool sync, const struct put_meta *pm)
{
	char meta[RAWKV_META_MAX + 1];
	int fd = STDIN_FILENO, err;
	char *val = NULL;
	size_t vlen = 0, mlen;

	err = put_meta_read(pm, meta, &mlen);
	if (err)
		return err == -EMSGSIZE ?
		       fail(sync ? "put-sync" : "put", key, err) :
		       fail_file(pm->file, err);

	if (file && strcmp(file, "-")) {
		fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return fail_file(file, -errno);
	}
	err = read_all(fd, &val, &vlen);
	if (fd != STDIN_FILENO)
		close(fd);
	if (err)
		return fail_file(fd == STDIN_FILENO ? "stdin" : file, err);

	err = rawkv_put_meta(kv, key, strlen(key), val, vlen, meta, mlen,
			     sync ? RAWKV_PUT_SYNC : 0);
	free(val);
	return check(sync ? "put-sync" : "put", key, err);
}

static int cmd_meta(struct rawkv *kv, const char *key)
{
	char meta[RAWKV_META_MAX];
	size_t mlen = sizeof(meta);
	int ret = rawkv_exists_meta(kv, key, strlen(key), meta, &mlen);

	if (ret < 0)
		return fail("meta", key, ret);
	ret = write_all(STDOUT_FILENO, meta, mlen);
	return ret ? fail_file("stdout", ret) : 0;
}

static int cmd_get(struct rawkv *kv, const char *key, const char *file)
{
	size_t klen = strlen(key);
	char *buf = NULL, *p;
	ssize_t len;
	int fd = STDOUT_FILENO, err, tries = 0;

	/* Retry while another writer replaces the value with a longer one. */
	do {
		len = rawkv_get(kv, key, klen, NULL, 0);
		if (len < 0)
			break;
		p = realloc(buf, len ? len : 1);
		if (!p) {
			free(buf);
			return fail_file("get", -ENOMEM);
		}
		buf = p;
		len = len ? rawkv_get(kv, key, klen, buf, len) : 0;
	} while (len == -ERANGE && ++tries < 100);
	if (len < 0) {
		free(buf);
		return fail("get", key, len);
	}

	if (file && strcmp(file, "-")) {
		fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
		if (fd < 0) {
			free(buf);
			return fail_file(file, -errno);
		}
	}
	err = write_all(fd, buf, len);
	free(buf);
	if (fd != STDOUT_FILENO && close(fd) && !err)
		err = -errno;
	return err ? fail_file(fd == STDOUT_FILENO ? "stdout" : file, err) : 0;
}

static void print_bytes(const char *name, uint64_t v)
{
	static const char *const units[] = {
		"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"
	};
	double d = v;
	int i = -1;

	while (d >= 1024 && i < 5) {
		d /= 1024;
		i++;
	}
	if (i < 0)
		printf("%-19s %" PRIu64 " B\n", name, v);
	else
		printf("%-19s %.1f %s (%" PRIu64 ")\n", name, d, units[i], v);
}

#define FIELD(name, bytes) { #name, offsetof(struct rawkv_stat, name), bytes }

static const struct {
	const char *name;
	size_t off;
	int bytes;
} stat_fields[] = {
	FIELD(slot_size, 1),
	FIELD(value_max, 1),
	FIELD(key_max, 0),
	FIELD(slots_total, 0),
	FIELD(slots_used, 0),
	FIELD(device_bytes, 1),
	FIELD(logical_block_size, 1),
	FIELD(checkpoint_seq, 0),
	FIELD(puts, 0),
	FIELD(gets, 0),
	FIELD(hits, 0),
	FIELD(misses, 0),
	FIELD(deletes, 0),
	FIELD(evictions, 0),
	FIELD(checkpoints, 0),
	FIELD(bytes_written, 1),
	FIELD(bytes_read, 1),
	FIELD(entry_mem_bytes, 1),
	FIELD(table_mem_bytes, 1),
	FIELD(io_errors, 0),
	FIELD(load_dropped, 0),
	FIELD(stale_dropped, 0),
	FIELD(bytes_zero_copy, 1),
	FIELD(bytes_bounced, 1),
	FIELD(crc32c_mbps, 0),
};

/* A size: digits with an optional K, M or G (powers of 1024). */
static int parse_size(const char *s, unsigned long long *v)
{
	unsigned int shift = 0;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (*end) {
	case 'K': case 'k':
		shift = 10;
		break;
	case 'M': case 'm':
		shift = 20;
		break;
	case 'G': case 'g':
		shift = 30;
		break;
	case '\0':
		return 0;
	default:
		return -1;
	}
	if (end[1] || *v > (~0ULL >> shift))
		return -1;
	*v <<= shift;
	return 0;
}

static int cmd_attach(int argc, char **argv)
{
	struct rawkv_attach_opts o = { .checkpoint_ms = -1 };
	const char *blockdev = NULL;
	unsigned long long v;
	char node[32];
	unsigned int id;
	int i, err;

	for (i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--format")) {
			o.flags |= RAWKV_ATTACH_FORMAT;
		} else if (!strcmp(a, "--no-evict")) {
			o.flags |= RAWKV_ATTACH_NO_EVICT;
		} else if (!strcmp(a, "--slot-size") ||
			   !strcmp(a, "--checkpoint-ms")) {
			if (i + 1 == argc || parse_size(argv[i + 1], &v))
				return usage_error("attach: bad or missing value for ", a);
			if (a[2] == 's') {
				o.slot_size = v;
			} else {
				if (v > 0x7fffffff)
					return usage_error("attach: too large: ", argv[i + 1]);
				o.checkpoint_ms = (int)v;
			}
			i++;
		} else if (a[0] == '-' && a[1]) {
			return usage_error("attach: unknown option ", a);
		} else if (blockdev) {
			return usage_error("attach: expects one BLOCKDEV, got another: ", a);
		} else {
			blockdev = a;
		}
	}
	if (!blockdev)
		return usage_error("attach", ": expects [OPTIONS] BLOCKDEV");
	if (o.slot_size && !(o.flags & RAWKV_ATTACH_FORMAT))
		return usage_error("attach: --slot-size needs --format", "");
	err = rawkv_attach(blockdev, &o, &id);
	if (err == -ENOENT && access(RAWKV_CONTROL_DEVICE, F_OK))
		return fail_file(RAWKV_CONTROL_DEVICE " (is the rawkv module loaded?)", err);
	if (err) {
		fprintf(stderr, "rawkv: attach %s: %s%s\n", blockdev,
			err == -ENOENT ? "no such device" : rawkv_strerror(err),
			err == -EINVAL ? " (see dmesg)" : "");
		return 1;
	}
	rawkv_store_path(id, node, sizeof(node));
	printf("%s\n", node);
	return fflush(stdout) ? fail_file("stdout", -errno) : 0;
}

static int cmd_detach(const char *store)
{
	int id = rawkv_store_id(store), err;

	if (id < 0)
		return usage_error("detach: not a store (N, rawkvN or /dev/rawkvN): ", store);
	err = rawkv_detach(id);
	if (err == -ENOENT)
		return fail_file(RAWKV_CONTROL_DEVICE " (is the rawkv module loaded?)", err);
	return check("detach", store, err);
}

/* Read the first line of /sys/class/misc/NAME/FILE into @buf ("?" if none). */
static void read_attr(const char *name, const char *file, char *buf, size_t len)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/misc/%s/%s", name, file);
	f = fopen(path, "r");
	if (!f || !fgets(buf, len, f))
		snprintf(buf, len, "?");
	buf[strcspn(buf, "\n")] = '\0';
	if (f)
		fclose(f);
}

static int cmd_stores(void)
{
	char name[32], dev[RAWKV_PATH_MAX], used[32], total[32];
	unsigned int id;
	int n = 0;

	/* Numbers are few: probe each rather than sort a directory listing. */
	for (id = 0; id < RAWKV_STORES_MAX; id++) {
		char node[32];

		snprintf(name, sizeof(name), id ? "rawkv%u" : "rawkv", id);
		read_attr(name, "backing_dev", dev, sizeof(dev));
		if (!strcmp(dev, "?"))
			continue;
		read_attr(name, "slots_used", used, sizeof(used));
		read_attr(name, "slots_total", total, sizeof(total));
		rawkv_store_path(id, node, sizeof(node));
		if (!n++)
			printf("%-14s %-24s %s\n", "STORE", "DEVICE", "SLOTS USED");
		printf("%-14s %-24s %s/%s\n", node, dev, used, total);
	}
	if (!n)
		fprintf(stderr, "rawkv: no stores attached\n");
	return fflush(stdout) ? fail_file("stdout", -errno) : 0;
}

/* A key as text: printable ASCII as is, the rest (and \\) escaped. */
static void print_key(const unsigned char *k, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (k[i] == '\\')
			fputs("\\\\", stdout);
		else if (k[i] >= 0x20 && k[i] < 0x7f)
			putchar(k[i]);
		else
			printf("\\x%02x", k[i]);
	}
}

static int cmd_ls(struct rawkv *kv, bool lengths)
{
	struct rawkv_iter *it;
	const void *key;
	uint64_t vlen, n = 0;
	size_t klen;
	int ret;

	ret = rawkv_iter_open(kv, &it);
	if (ret)
		return fail("ls", NULL, ret);
	while ((ret = rawkv_iter_next(it, &key, &klen, &vlen)) > 0) {
		if (lengths)
			printf("%12" PRIu64 "  ", vlen);
		print_key(key, klen);
		putchar('\n');
		if (!(++n & 1023))
			progress("%" PRIu64 " keys", n);
	}
	progress_end();
	rawkv_iter_close(it);
	if (ret < 0)
		return fail("ls", NULL, ret);
	return fflush(stdout) ? fail_file("stdout", -errno) : 0;
}

/* A string as a JSON string (the driver name: printable ASCII). */
static void print_json_str(const char *s)
{
	putchar('"');
	for (; *s; s++)
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			printf("\\u%04x", (unsigned char)*s);
		else
			putchar(*s);
	putchar('"');
}

/* "name: value" lines, or with @json one JSON object on one line. */
static int cmd_stat(struct rawkv *kv, bool json)
{
	struct rawkv_stat st;
	char name[32];
	uint64_t v;
	size_t i;
	int err;

	err = rawkv_stat(kv, &st);
	if (err)
		return fail("stat", NULL, err);

	if (json)
		putchar('{');
	for (i = 0; i < ARRAY_SIZE(stat_fields); i++) {
		memcpy(&v, (char *)&st + stat_fields[i].off, sizeof(v));
		snprintf(name, sizeof(name), "%s:", stat_fields[i].name);
		if (json)
			printf("\"%s\": %" PRIu64 ", ", stat_fields[i].name, v);
		else if (stat_fields[i].bytes)
			print_bytes(name, v);
		else
			printf("%-19s %" PRIu64 "\n", name, v);
	}
	if (json) {
		printf("\"crc32c_driver\": ");
		print_json_str(st.crc32c_driver);
		printf("}\n");
	} else {
		printf("%-19s %s\n", "crc32c_driver:", st.crc32c_driver);
	}
	if (fflush(stdout))
		return fail_file("stdout", -errno);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *dev = RAWKV_DEFAULT_DEVICE, *cmd;
	struct put_meta pm = { NULL, NULL };
	struct rawkv *kv;
	int c, nargs, ret, skip = 0;

	while ((c = getopt_long(argc, argv, "+d:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dev = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs("Try 'rawkv --help'.\n", stderr);
			return 2;
		}
	}
	if (optind == argc)
		return usage_error("missing command", "");
	cmd = argv[optind];
	nargs = argc - optind - 1;

	/* Commands on the set of stores, through the control device. */
	if (!strcmp(cmd, "attach"))
		return cmd_attach(nargs, argv + optind + 1);
	if (!strcmp(cmd, "detach")) {
		if (nargs != 1)
			return usage_error(cmd, ": expects STORE");
		return cmd_detach(argv[optind + 1]);
	}
	if (!strcmp(cmd, "stores")) {
		if (nargs)
			return usage_error(cmd, ": takes no arguments");
		return cmd_stores();
	}

	if (!strcmp(cmd, "put") || !strcmp(cmd, "put-sync")) {
		skip = put_options(nargs, argv + optind + 1, &pm);
		if (skip < 0)
			return usage_error(cmd, ": --meta and --meta-file exclude each other");
		nargs -= skip;
		if (nargs < 1 || nargs > 2)
			return usage_error(cmd, ": expects [--meta TEXT | --meta-file FILE] KEY [FILE|-]");
	} else if (!strcmp(cmd, "get")) {
		if (nargs < 1 || nargs > 2)
			return usage_error(cmd, ": expects KEY [FILE|-]");
	} else if (!strcmp(cmd, "del") || !strcmp(cmd, "exists") ||
		   !strcmp(cmd, "meta")) {
		if (nargs != 1)
			return usage_error(cmd, ": expects KEY");
	} else if (!strcmp(cmd, "flush")) {
		if (nargs)
			return usage_error(cmd, ": takes no arguments");
	} else if (!strcmp(cmd, "stat")) {
		if (nargs > 1 || (nargs && strcmp(argv[optind + 1], "--json")))
			return usage_error(cmd, ": takes only --json");
	} else if (!strcmp(cmd, "ls")) {
		if (nargs > 1 || (nargs && strcmp(argv[optind + 1], "-l")))
			return usage_error(cmd, ": takes only -l");
	} else {
		return usage_error("unknown command: ", cmd);
	}

	ret = rawkv_open(dev, &kv);
	if (ret) {
		fprintf(stderr, "rawkv: %s: %s\n", dev, ret == -ENOENT ?
			"no such device node (is the rawkv module loaded?)" :
			rawkv_strerror(ret));
		return 1;
	}

	argv += optind + 1 + skip;
	if (!strcmp(cmd, "put") || !strcmp(cmd, "put-sync"))
		ret = cmd_put(kv, argv[0], argv[1], !strcmp(cmd, "put-sync"),
			      &pm);
	else if (!strcmp(cmd, "get"))
		ret = cmd_get(kv, argv[0], argv[1]);
	else if (!strcmp(cmd, "del"))
		ret = check("del", argv[0],
			    rawkv_delete(kv, argv[0], strlen(argv[0])));
	else if (!strcmp(cmd, "exists"))
		ret = cmd_exists(kv, argv[0]);
	else if (!strcmp(cmd, "meta"))
		ret = cmd_meta(kv, argv[0]);
	else if (!strcmp(cmd, "flush"))
		ret = check("flush", NULL, rawkv_flush(kv));
	else if (!strcmp(cmd, "ls"))
		ret = cmd_ls(kv, nargs == 1);
	else
		ret = cmd_stat(kv, nargs == 1);
	rawkv_close(kv);
	return ret;
}
