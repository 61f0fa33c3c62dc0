// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv_replay_log: list or replay a dm-log-writes log, like xfstests'
 * src/log-writes/replay-log (see rawkv_logwrites.h).
 *
 *   rawkv_replay_log --log DEV [--list] [--replay DEV [--limit N | --end-mark TEXT]]
 *
 * --list      one line per entry: index, sector and nr_sectors (512 B
 *             units), flags as letters (F flush, U fua, D discard, M mark,
 *             T metadata; "-" for none), and a mark's text
 * --replay    write the entries onto DEV in log order (a discard writes
 *             zeros; nothing else is zeroed), then fsync DEV
 * --limit N   replay entries [0, N) only
 * --end-mark  replay through the (first) mark entry with this text
 *
 * Exit status: 0 done, 1 error, 2 usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "rawkv_logwrites.h"

static const char usage_text[] =
	"usage: rawkv_replay_log --log DEV [--list] [--replay DEV [--limit N | --end-mark TEXT]]\n";

static int usage(const char *why)
{
	if (why)
		fprintf(stderr, "rawkv_replay_log: %s\n", why);
	fputs(usage_text, stderr);
	return 2;
}

static void flags_str(uint64_t flags, char *s)
{
	static const struct {
		uint64_t flag;
		char c;
	} letters[] = {
		{ LW_FLUSH, 'F' }, { LW_FUA, 'U' }, { LW_DISCARD, 'D' },
		{ LW_MARK, 'M' }, { LW_METADATA, 'T' },
	};
	unsigned int i;
	char *p = s;

	for (i = 0; i < sizeof(letters) / sizeof(letters[0]); i++)
		if (flags & letters[i].flag)
			*p++ = letters[i].c;
	if (p == s)
		*p++ = '-';
	*p = 0;
}

static void list_log(const struct lw_log *log)
{
	char f[8];
	size_t i;

	for (i = 0; i < log->n; i++) {
		const struct lw_entry *e = &log->e[i];

		flags_str(e->flags, f);
		printf("%zu %" PRIu64 " %" PRIu64 " %s%s%s\n", i, e->sector,
		       e->nr_sectors, f, e->mark ? " " : "",
		       e->mark ? e->mark : "");
	}
}

static int pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const unsigned char *p = buf;
	ssize_t n;

	while (len) {
		n = pwrite(fd, p, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			return -EIO;
		p += n;
		len -= n;
		off += n;
	}
	return 0;
}

/* Write entries [0, end) of @log onto @dev. */
static int replay(const struct lw_log *log, size_t end, const char *dev)
{
	static const unsigned char zeros[65536];
	uint64_t size, off, len, k;
	struct stat st;
	size_t i;
	int fd, ret = 0;

	fd = open(dev, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		fprintf(stderr, "rawkv_replay_log: %s: %s\n", dev, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st)) {
		ret = -errno;
	} else if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &size))
			ret = -errno;
	} else {
		size = st.st_size;
	}
	if (ret) {
		fprintf(stderr, "rawkv_replay_log: %s: %s\n", dev, strerror(-ret));
		goto out;
	}
	for (i = 0; i < end && !ret; i++) {
		const struct lw_entry *e = &log->e[i];

		if (!e->nr_sectors)	/* flush, mark */
			continue;
		off = e->sector * 512;
		len = e->nr_sectors * 512;
		if (e->sector > size / 512 || e->nr_sectors > size / 512 - e->sector) {
			fprintf(stderr,
				"rawkv_replay_log: entry %zu (sectors %" PRIu64
				"+%" PRIu64 ") is beyond the end of %s\n",
				i, e->sector, e->nr_sectors, dev);
			ret = -ERANGE;
			goto out;
		}
		if (e->data) {
			ret = pwrite_all(fd, e->data, len, off);
			continue;
		}
		for (k = 0; k < len && !ret; k += sizeof(zeros))	/* discard */
			ret = pwrite_all(fd, zeros, len - k < sizeof(zeros) ?
					 len - k : sizeof(zeros), off + k);
	}
	if (!ret && fsync(fd))
		ret = -errno;
	if (ret)
		fprintf(stderr, "rawkv_replay_log: writing %s: %s\n", dev,
			strerror(-ret));
out:
	if (close(fd) && !ret)
		ret = -errno;
	return ret;
}

int main(int argc, char **argv)
{
	enum { O_LOG = 1, O_LIST, O_REPLAY, O_LIMIT, O_END_MARK, O_HELP };
	static const struct option opts[] = {
		{ "log", required_argument, NULL, O_LOG },
		{ "list", no_argument, NULL, O_LIST },
		{ "replay", required_argument, NULL, O_REPLAY },
		{ "limit", required_argument, NULL, O_LIMIT },
		{ "end-mark", required_argument, NULL, O_END_MARK },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *log_dev = NULL, *replay_dev = NULL, *end_mark = NULL;
	unsigned long long limit = 0;
	int c, list = 0, have_limit = 0, ret;
	struct lw_log log;
	size_t end, i;
	char *endp;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_LOG:
			log_dev = optarg;
			break;
		case O_LIST:
			list = 1;
			break;
		case O_REPLAY:
			replay_dev = optarg;
			break;
		case O_LIMIT:
			errno = 0;
			limit = strtoull(optarg, &endp, 10);
			if (errno || endp == optarg || *endp || *optarg == '-')
				return usage("--limit needs a number");
			have_limit = 1;
			break;
		case O_END_MARK:
			end_mark = optarg;
			break;
		case O_HELP:
			fputs(usage_text, stdout);
			return 0;
		default:
			return usage("unknown option or missing argument");
		}
	}
	if (optind < argc)
		return usage("unexpected argument");
	if (!log_dev)
		return usage("--log is required");
	if (!list && !replay_dev)
		return usage("nothing to do: give --list and/or --replay");
	if ((have_limit || end_mark) && !replay_dev)
		return usage("--limit and --end-mark go with --replay");
	if (have_limit && end_mark)
		return usage("--limit and --end-mark exclude each other");

	ret = lw_log_read(log_dev, &log);
	if (ret) {
		fprintf(stderr, "rawkv_replay_log: reading the log on %s: %s\n",
			log_dev, ret == -EBADMSG ?
			"not a dm-log-writes log, or a garbled one" :
			strerror(-ret));
		return 1;
	}
	if (list)
		list_log(&log);
	ret = 0;
	if (replay_dev) {
		end = log.n;
		if (have_limit && limit < end)
			end = limit;
		if (end_mark) {
			for (i = 0; i < log.n; i++)
				if (log.e[i].mark && !strcmp(log.e[i].mark, end_mark))
					break;
			if (i == log.n) {
				fprintf(stderr, "rawkv_replay_log: no mark \"%s\" in the log\n",
					end_mark);
				lw_log_free(&log);
				return 1;
			}
			end = i + 1;
		}
		ret = replay(&log, end, replay_dev);
	}
	lw_log_free(&log);
	if (fflush(stdout) && !ret) {
		fprintf(stderr, "rawkv_replay_log: stdout: %s\n", strerror(errno));
		ret = -EIO;
	}
	return ret ? 1 : 0;
}
