// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv-bench: throughput and latency of rawkv next to two baselines on the
 * same block device, plus load time and kernel memory per entry.
 *
 *   rawkv-bench [options] DEVICE
 *
 * For every value size, on DEVICE, one after the other:
 *
 *   rawkv   insmod rawkv.ko format=1 with the smallest slot size that fits
 *           the value; for every (threads, batch) group, PUT n fresh keys,
 *           then GET them back; rmmod (final checkpoint).
 *   raw     with the module unloaded: O_DIRECT pwrite, then pread, of the
 *           same sizes at the byte offsets where rawkv put each group's
 *           values (found in the slot headers on the device), same
 *           threads; batched groups keep `batch` I/Os in flight per thread
 *           with Linux AIO.
 *   file    mkfs.ext4 (the --mkfs program) on DEVICE, mount; per key, a
 *           file: create, write, fsync, close; read: open O_DIRECT,
 *           pread, close. Batched groups write `batch` files, then fsync
 *           them; and read `batch` files with AIO. umount.
 *
 * The groups of a size: 1 and 8 threads, each with one value per call and
 * (values <= 64 KiB) with batches of 32; and a PUT-sync group, 1 thread:
 * rawkv_put_sync() next to O_DIRECT|O_DSYNC pwrite (FUA) and the same
 * write + fsync per file. Each group has its own keys (and slots).
 *
 * Plus, first, on a store formatted with 8 KiB slots: the time of
 * finit_module (format=1, then a reload of --mem-entries entries), and
 * entry_mem_bytes / table_mem_bytes after storing them.
 *
 * Every GET / read checks the length and a stamp at both ends of the value.
 * Prints progress lines starting with "# " and, at the end, the tables in
 * Markdown. Exit status 0 when every operation succeeded, 1 otherwise, 2 on
 * bad usage. Nothing about timing is ever asserted.
 *
 * Safety: DEVICE is only ever opened without O_CREAT / O_TRUNC, and must be
 * a block device. The only files created or truncated are under the ext4
 * mount point, and only after lstat()/fstat() show a regular file (or
 * nothing, with O_EXCL).
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/aio_abi.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../userlib/rawkv.h"
#include "../kmod/rawkv_format.h"

#ifndef RAWKV_HAVE_BATCH	/* bench/Makefile sets it from userlib/rawkv.h */
#define RAWKV_HAVE_BATCH 0
#endif

#define KiB		1024UL
#define MiB		(1024 * KiB)
#define MAX_THREADS	64
#define MAX_BATCH	256
#define MAX_SIZES	16
#define MAX_GROUPS	8
#define KEY_BUF		64
#define PATH_BUF	160

enum { BK_RAWKV, BK_RAW, BK_FILE, NBK };
enum { OP_PUT, OP_GET, NOP };
static const char *const bk_name[NBK] = { "rawkv", "raw", "file" };
static const char *const op_name[NOP] = { "PUT", "GET" };

/* ---- options ---- */

static struct {
	const char *dev;
	const char *label;
	const char *ko;
	const char *mkfs;
	const char *mnt;
	size_t sizes[MAX_SIZES];
	int nsizes;
	int threads[2];
	int batch;
	double row_mib;		/* target MiB moved per row */
	size_t min_ops, max_ops;
	size_t mem_entries;
	size_t mem_klen, mem_vlen;
} opt = {
	.ko = "/rawkv/rawkv.ko",
	.threads = { 1, 8 },
	.batch = 32,
	.row_mib = 256,
	.min_ops = 24,
	.max_ops = 1024,
	.mem_entries = 100000,
	.mem_klen = 32,
	.mem_vlen = 128,
};

static int failures;

/* ---- small helpers ---- */

static double t_start;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	va_list ap;

	printf("# [%7.1fs] ", now() - t_start);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	va_list ap;

	failures++;
	printf("# ERROR: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void *xalloc(size_t len)
{
	void *p;

	if (posix_memalign(&p, 4096, len ? len : 1)) {
		fprintf(stderr, "rawkv-bench: out of memory (%zu bytes)\n", len);
		exit(1);
	}
	return p;
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void fill(void *buf, size_t len, uint64_t seed)
{
	uint64_t *p = buf;
	size_t i;

	for (i = 0; i < len / 8; i++)
		p[i] = splitmix(&seed);
}

static const char *size_str(size_t v)
{
	static __thread char bufs[8][32];
	static __thread int k;
	char *b = bufs[k++ & 7];

	if (v >= MiB && v % MiB == 0)
		snprintf(b, 32, "%zu MiB", v / MiB);
	else if (v >= KiB && v % KiB == 0)
		snprintf(b, 32, "%zu KiB", v / KiB);
	else
		snprintf(b, 32, "%zu B", v);
	return b;
}

static int parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	switch (*end) {
	case 'k': case 'K': v *= KiB; end++; break;
	case 'm': case 'M': v *= MiB; end++; break;
	case 'g': case 'G': v *= 1024 * MiB; end++; break;
	}
	if (*end == 'i' && end[1] == 'B')
		end += 2;
	if (*end || end == s)
		return -1;
	*out = v;
	return 0;
}

/* ---- crc32c, as the format uses it (seed ~0, result not inverted) ---- */

static uint32_t crc_table[256];

static void crc_init(void)
{
	uint32_t i, j, c;

	for (i = 0; i < 256; i++) {
		for (c = i, j = 0; j < 8; j++)
			c = (c >> 1) ^ (c & 1 ? 0x82f63b78 : 0);
		crc_table[i] = c;
	}
}

static uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

/* crc of a struct whose last field is its own __le32 crc, taken as zero */
static uint32_t crc_self(const void *s, size_t size)
{
	static const unsigned char zero[4];

	return crc32c(crc32c(~0U, s, size - 4), zero, 4);
}

/* ---- the device ---- */

/* The device, O_DIRECT (+ @flags); never O_CREAT or O_TRUNC: a block device only. */
static int dev_fd_direct(int flags)
{
	struct stat st;
	int fd = open(opt.dev, O_RDWR | O_DIRECT | O_CLOEXEC | flags);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISBLK(st.st_mode)) {
		close(fd);
		return -ENOTBLK;
	}
	return fd;
}

static int dev_read(int fd, uint64_t off, void *buf, size_t len)
{
	ssize_t r = pread(fd, buf, len, off);

	return r == (ssize_t)len ? 0 : r < 0 ? -errno : -EIO;
}

/* ---- the module ---- */

static bool mod_loaded(void)
{
	return access("/sys/module/rawkv", F_OK) == 0;
}

/*
 * finit_module(rawkv.ko, params), then wait for /dev/rawkv to open.
 * Returns 0 or -errno; *secs = finit_module return to /dev/rawkv open.
 */
static int mod_load(double *secs, struct rawkv **kv, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int mod_load(double *secs, struct rawkv **kv, const char *fmt, ...)
{
	char params[256];
	double t0;
	va_list ap;
	int fd, ret = 0, i;

	va_start(ap, fmt);
	vsnprintf(params, sizeof(params), fmt, ap);
	va_end(ap);
	fd = open(opt.ko, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		fail("cannot open %s: %s", opt.ko, strerror(-ret));
		return ret;
	}
	t0 = now();
	if (syscall(SYS_finit_module, fd, params, 0) < 0)
		ret = -errno;
	close(fd);
	if (ret) {
		fail("insmod rawkv.ko %s: %s (see dmesg)", params, strerror(-ret));
		return ret;
	}
	for (i = 0; i < 10000; i++) {
		ret = rawkv_open(NULL, kv);
		if (ret != -ENOENT)
			break;
		usleep(1000);
	}
	*secs = now() - t0;
	if (ret)
		fail("open /dev/rawkv: %s", strerror(-ret));
	return ret;
}

static int mod_unload(double *secs)
{
	double t0 = now();
	int i;

	for (i = 0; i < 400; i++) {
		if (syscall(SYS_delete_module, "rawkv", O_NONBLOCK) == 0) {
			if (secs)
				*secs = now() - t0;
			return 0;
		}
		if (errno != EAGAIN && errno != EBUSY)
			break;
		usleep(50 * 1000);
	}
	fail("rmmod rawkv: %s", strerror(errno));
	return -errno;
}

/* ---- work description and results ---- */

struct result {
	bool ran;
	size_t ops;		/* values moved */
	size_t calls;		/* latency samples (calls; a batch is one) */
	double secs;
	double p50, p99;	/* seconds per call */
	int errors;
};

struct group {
	int id;
	size_t vsize;
	int threads;
	int batch;		/* 1: one value per call */
	bool sync;		/* PUT-sync rows only: rawkv_put_sync(), O_DSYNC, fsync */
	size_t n;		/* values */
	uint64_t *off;		/* per value: byte offset of its bytes in rawkv */
	bool off_exact;		/* offsets from rawkv's checkpoint */
	struct result res[NBK][NOP];
};

struct sizerun {
	size_t vsize;
	uint64_t slot_size;
	uint64_t slots;
	double format_load;
	bool own_format;	/* a format per group (few slots) */
	int ngroups;
	struct group g[MAX_GROUPS];
};

static struct sizerun runs[MAX_SIZES];
static int nruns;

static struct {
	bool ran;
	uint64_t slot_size, slots_total, slots_used, entries;
	uint64_t entry_mem, table_mem;
	double format_load, fill_secs, unload_secs, reload_secs;
	int fill_threads, fill_batch;
	uint64_t reload_used;
} mem;

static void key_of(const struct group *g, size_t i, char *key)
{
	snprintf(key, KEY_BUF, "bench-g%d-%zu-%07zu", g->id, g->vsize, i);
}

static uint64_t stamp_of(const struct group *g, size_t i)
{
	return 0x5241574b56000000ULL ^ ((uint64_t)g->id << 32) ^ i;
}

static void stamp(void *buf, size_t len, uint64_t s)
{
	memcpy(buf, &s, 8);
	memcpy((char *)buf + len - 8, &s, 8);
}

static bool stamp_ok(const void *buf, size_t len, uint64_t s)
{
	return !memcmp(buf, &s, 8) && !memcmp((const char *)buf + len - 8, &s, 8);
}

/* ---- per-thread workers ---- */

struct ctx {
	struct rawkv *kv;	/* rawkv rows */
	int rawfd;		/* raw rows: the device, O_DIRECT */
	int rawfd_sync;		/* the same with O_DSYNC (FUA writes) */
	char dir[96];		/* file rows: directory of the group */
};

struct worker {
	pthread_t thr;
	struct ctx *c;
	struct group *g;
	int bk, op, tid;
	size_t lo, hi;		/* value indexes [lo, hi) */
	unsigned char *bufs[MAX_BATCH];
	double *lat;
	size_t nlat;
	int errors;
	char err[200];
	pthread_barrier_t *bar;
	aio_context_t aio;
	double t0, t1;		/* this thread's first call started, last ended */
};

static void werr(struct worker *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void werr(struct worker *w, const char *fmt, ...)
{
	va_list ap;

	if (!w->errors++) {
		va_start(ap, fmt);
		vsnprintf(w->err, sizeof(w->err), fmt, ap);
		va_end(ap);
	}
}

static void path_of(struct worker *w, size_t i, char *path, size_t len)
{
	char key[KEY_BUF];

	key_of(w->g, i, key);
	snprintf(path, len, "%s/%s", w->c->dir, key);
}

/*
 * Open @path for writing from offset 0, as a regular file only: create it
 * with O_EXCL when nothing is there; when something is, it must be a
 * regular file before and after open, and only then is it truncated.
 */
static int open_regular_trunc(const char *path)
{
	struct stat st, st2;
	int fd;

	if (lstat(path, &st) < 0) {
		if (errno != ENOENT)
			return -errno;
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		return fd < 0 ? -errno : fd;
	}
	if (!S_ISREG(st.st_mode))
		return -EEXIST;
	fd = open(path, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st2) || !S_ISREG(st2.st_mode) || st2.st_ino != st.st_ino ||
	    st2.st_dev != st.st_dev || ftruncate(fd, 0)) {
		close(fd);
		return -EEXIST;
	}
	return fd;
}

static int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t r = write(fd, p, len);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += r;
		len -= r;
	}
	return 0;
}

/* Submit @n prepared iocbs and wait for all; returns errors counted. */
static int aio_run(struct worker *w, struct iocb *cbs, size_t n, size_t len)
{
	struct iocb *ptrs[MAX_BATCH];
	struct io_event ev[MAX_BATCH];
	size_t i, done = 0, sub = 0;
	int errs = 0;

	for (i = 0; i < n; i++)
		ptrs[i] = &cbs[i];
	while (sub < n) {
		long r = syscall(SYS_io_submit, w->aio, n - sub, ptrs + sub);

		if (r <= 0) {
			werr(w, "io_submit: %s", r < 0 ? strerror(errno) : "0 submitted");
			return errs + (int)(n - sub) + 1;
		}
		sub += r;
	}
	while (done < n) {
		long r = syscall(SYS_io_getevents, w->aio, 1, n - done, ev, NULL);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			werr(w, "io_getevents: %s", strerror(errno));
			return errs + 1;
		}
		for (i = 0; i < (size_t)r; i++)
			if (ev[i].res != (__s64)len) {
				errs++;
				werr(w, "aio: result %lld, wanted %zu", (long long)ev[i].res, len);
			}
		done += r;
	}
	return errs;
}

/* One call: values [i, i + m). */
static void do_call(struct worker *w, size_t i, size_t m)
{
	struct group *g = w->g;
	size_t V = g->vsize, j;
	char keys[MAX_BATCH][PATH_BUF];	/* keys, or paths for file rows */
	int fds[MAX_BATCH];
	struct iocb cbs[MAX_BATCH];
	double t0, t1;
	int r;

	/* Prepare outside the timed part: keys, stamps, paths. */
	for (j = 0; j < m; j++) {
		if (w->bk == BK_FILE)
			path_of(w, i + j, keys[j], PATH_BUF);
		else
			key_of(g, i + j, keys[j]);
		if (w->op == OP_PUT)
			stamp(w->bufs[j], V, stamp_of(g, i + j));
		else
			stamp(w->bufs[j], V, 0);
	}

	t0 = now();
	switch (w->bk * NOP + w->op) {
	case BK_RAWKV * NOP + OP_PUT:
		if (m == 1) {
			r = g->sync ?
				rawkv_put_sync(w->c->kv, keys[0], strlen(keys[0]), w->bufs[0], V) :
				rawkv_put(w->c->kv, keys[0], strlen(keys[0]), w->bufs[0], V);
			if (r)
				werr(w, "rawkv_put%s %s: %s", g->sync ? "_sync" : "", keys[0],
				     rawkv_strerror(r));
#if RAWKV_HAVE_BATCH
		} else {
			struct rawkv_op ops[MAX_BATCH];

			for (j = 0; j < m; j++)
				ops[j] = (struct rawkv_op){ .key = keys[j], .klen = strlen(keys[j]),
							    .val = w->bufs[j], .vlen = V };
			r = rawkv_put_batch(w->c->kv, ops, m);
			if (r)
				werr(w, "rawkv_put_batch: %s", rawkv_strerror(r));
			for (j = 0; j < m && !r; j++)
				if (ops[j].result)
					werr(w, "rawkv_put_batch %s: %s", keys[j],
					     rawkv_strerror((int)ops[j].result));
#endif
		}
		break;
	case BK_RAWKV * NOP + OP_GET:
		if (m == 1) {
			ssize_t n = rawkv_get(w->c->kv, keys[0], strlen(keys[0]), w->bufs[0], V);

			if (n != (ssize_t)V)
				werr(w, "rawkv_get %s: %zd (%s)", keys[0], n,
				     n < 0 ? rawkv_strerror((int)n) : "bad length");
#if RAWKV_HAVE_BATCH
		} else {
			struct rawkv_op ops[MAX_BATCH];

			for (j = 0; j < m; j++)
				ops[j] = (struct rawkv_op){ .key = keys[j], .klen = strlen(keys[j]),
							    .val = w->bufs[j], .vlen = V };
			r = rawkv_get_batch(w->c->kv, ops, m);
			if (r)
				werr(w, "rawkv_get_batch: %s", rawkv_strerror(r));
			for (j = 0; j < m && !r; j++)
				if (ops[j].result != (ssize_t)V)
					werr(w, "rawkv_get_batch %s: %zd", keys[j], ops[j].result);
#endif
		}
		break;
	case BK_RAW * NOP + OP_PUT:
	case BK_RAW * NOP + OP_GET:
		if (m == 1) {
			ssize_t n = w->op == OP_PUT ?
				pwrite(g->sync ? w->c->rawfd_sync : w->c->rawfd, w->bufs[0], V,
				       g->off[i]) :
				pread(w->c->rawfd, w->bufs[0], V, g->off[i]);

			if (n != (ssize_t)V)
				werr(w, "%s at %" PRIu64 ": %s", w->op == OP_PUT ? "pwrite" : "pread",
				     g->off[i], n < 0 ? strerror(errno) : "short");
		} else {
			memset(cbs, 0, sizeof(cbs[0]) * m);
			for (j = 0; j < m; j++) {
				cbs[j].aio_lio_opcode = w->op == OP_PUT ? IOCB_CMD_PWRITE :
									  IOCB_CMD_PREAD;
				cbs[j].aio_fildes = w->c->rawfd;
				cbs[j].aio_buf = (uintptr_t)w->bufs[j];
				cbs[j].aio_nbytes = V;
				cbs[j].aio_offset = g->off[i + j];
			}
			aio_run(w, cbs, m, V);
		}
		break;
	case BK_FILE * NOP + OP_PUT:
		for (j = 0; j < m; j++) {
			fds[j] = open_regular_trunc(keys[j]);
			if (fds[j] < 0) {
				werr(w, "create %s: %s", keys[j], strerror(-fds[j]));
				continue;
			}
			r = write_full(fds[j], w->bufs[j], V);
			if (r)
				werr(w, "write %s: %s", keys[j], strerror(-r));
			if (m == 1 && fsync(fds[j]))
				werr(w, "fsync %s: %s", keys[j], strerror(errno));
		}
		for (j = 0; j < m; j++) {
			if (fds[j] < 0)
				continue;
			if (m > 1 && fsync(fds[j]))
				werr(w, "fsync %s: %s", keys[j], strerror(errno));
			close(fds[j]);
		}
		break;
	case BK_FILE * NOP + OP_GET:
		for (j = 0; j < m; j++) {
			fds[j] = open(keys[j], O_RDONLY | O_DIRECT | O_NOFOLLOW | O_CLOEXEC);
			if (fds[j] < 0)
				werr(w, "open %s: %s", keys[j], strerror(errno));
		}
		if (m == 1) {
			if (fds[0] >= 0) {
				ssize_t n = pread(fds[0], w->bufs[0], V, 0);

				if (n != (ssize_t)V)
					werr(w, "pread %s: %s", keys[0], n < 0 ? strerror(errno) : "short");
			}
		} else {
			size_t k = 0;

			memset(cbs, 0, sizeof(cbs[0]) * m);
			for (j = 0; j < m; j++) {
				if (fds[j] < 0)
					continue;
				cbs[k].aio_lio_opcode = IOCB_CMD_PREAD;
				cbs[k].aio_fildes = fds[j];
				cbs[k].aio_buf = (uintptr_t)w->bufs[j];
				cbs[k].aio_nbytes = V;
				k++;
			}
			aio_run(w, cbs, k, V);
		}
		for (j = 0; j < m; j++)
			if (fds[j] >= 0)
				close(fds[j]);
		break;
	}
	t1 = now();
	w->lat[w->nlat++] = t1 - t0;

	if (w->op == OP_GET)
		for (j = 0; j < m; j++)
			if (!stamp_ok(w->bufs[j], V, stamp_of(g, i + j)))
				werr(w, "%s GET of value %zu: wrong bytes", bk_name[w->bk], i + j);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	size_t i, m = w->g->batch;

	pthread_barrier_wait(w->bar);
	w->t0 = now();
	for (i = w->lo; i < w->hi; i += m)
		do_call(w, i, m < w->hi - i ? m : w->hi - i);
	w->t1 = now();
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted @v. */
static double pct(const double *v, size_t n, double p)
{
	size_t k;

	if (!n)
		return 0;
	k = (size_t)(p / 100 * n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1];
}

/* Run one row: backend @bk, operation @op, over every value of @g. */
static void run_row(struct ctx *c, struct group *g, int bk, int op)
{
	int T = g->threads, t;
	size_t per = g->n / T, B = g->batch, j, k = 0;
	struct worker *ws = calloc(T, sizeof(*ws));
	pthread_barrier_t bar;
	struct result *res = &g->res[bk][op];
	double *all, t0, t1;

	if (!ws)
		exit(1);
	pthread_barrier_init(&bar, NULL, T + 1);
	for (t = 0; t < T; t++) {
		struct worker *w = &ws[t];

		w->c = c;
		w->g = g;
		w->bk = bk;
		w->op = op;
		w->tid = t;
		w->bar = &bar;
		w->lo = t * per;
		w->hi = t == T - 1 ? g->n : (t + 1) * per;
		w->lat = calloc((w->hi - w->lo) / B + 2, sizeof(double));
		for (j = 0; j < B; j++) {
			w->bufs[j] = xalloc(g->vsize);
			fill(w->bufs[j], g->vsize, ((uint64_t)g->id << 40) ^ (t << 16) ^ j);
		}
		if (B > 1 && (bk == BK_RAW || bk == BK_FILE) &&
		    syscall(SYS_io_setup, B, &w->aio) < 0) {
			fail("io_setup: %s", strerror(errno));
			exit(1);
		}
		if (pthread_create(&w->thr, NULL, worker_main, w)) {
			fail("pthread_create failed");
			exit(1);
		}
	}
	pthread_barrier_wait(&bar);
	for (t = 0; t < T; t++)
		pthread_join(ws[t].thr, NULL);
	/* From the first call's start to the last call's end, in any thread. */
	t0 = ws[0].t0;
	t1 = ws[0].t1;
	for (t = 1; t < T; t++) {
		t0 = ws[t].t0 < t0 ? ws[t].t0 : t0;
		t1 = ws[t].t1 > t1 ? ws[t].t1 : t1;
	}

	all = calloc(g->n / B + 2 * T, sizeof(double));
	memset(res, 0, sizeof(*res));
	for (t = 0; t < T; t++) {
		struct worker *w = &ws[t];

		memcpy(all + k, w->lat, w->nlat * sizeof(double));
		k += w->nlat;
		if (w->errors) {
			res->errors += w->errors;
			fail("%s %s %s T%d B%d thread %d: %d errors, first: %s",
			     bk_name[bk], op_name[op], size_str(g->vsize), T, g->batch,
			     t, w->errors, w->err);
		}
		for (j = 0; j < B; j++)
			free(w->bufs[j]);
		free(w->lat);
		if (w->aio)
			syscall(SYS_io_destroy, w->aio);
	}
	qsort(all, k, sizeof(double), cmp_double);
	res->ran = true;
	res->ops = g->n;
	res->calls = k;
	res->secs = t1 - t0;
	res->p50 = pct(all, k, 50);
	res->p99 = pct(all, k, 99);
	pthread_barrier_destroy(&bar);
	{
		double smax = 0, busy = 0;

		for (t = 0; t < T; t++) {
			smax = ws[t].t0 - t0 > smax ? ws[t].t0 - t0 : smax;
		}
		for (j = 0; j < k; j++)
			busy += all[j];
		note("%-5s %-8s %7s T%d B%-2d n=%-5zu %8.1f MB/s %8.0f ops/s p50 %9.0f us p99 %9.0f us"
		     " [start spread %.1f ms, in calls %.0f%%]%s",
		     bk_name[bk], g->sync ? "PUT-sync" : op_name[op], size_str(g->vsize), T,
		     g->batch, g->n,
		     g->n * (double)g->vsize / res->secs / 1e6, g->n / res->secs,
		     res->p50 * 1e6, res->p99 * 1e6, smax * 1e3, busy / T / res->secs * 100,
		     res->errors ? "  ERRORS" : "");
	}
	free(all);
	free(ws);
}

/* ---- where rawkv put the values: its superblock and last checkpoint ---- */

struct layout {
	uint64_t slot_size, slot_count, data_off;
};

static int read_sb(int fd, struct layout *lo, struct rawkv_sb *sbout)
{
	struct rawkv_sb *sb = xalloc(4096);
	int ret = dev_read(fd, 0, sb, 4096);

	if (!ret && (le64toh(sb->magic) != RAWKV_SB_MAGIC ||
		     crc_self(sb, sizeof(*sb)) != le32toh(sb->crc)))
		ret = -EBADMSG;
	if (!ret) {
		lo->slot_size = le64toh(sb->slot_size);
		lo->slot_count = le64toh(sb->slot_count);
		lo->data_off = le64toh(sb->data_off);
		*sbout = *sb;
	}
	free(sb);
	return ret;
}

/*
 * Set g->off for the groups [g0, g1) of @r from the slot headers on the
 * device (the module must be unloaded; every PUT has completed). A slot
 * header holds the whole key and its slot index; it counts when its magic,
 * crc, uuid and index are right. The scan starts at slot 0 and stops once
 * every value is found, so on a fresh format it reads about as many
 * headers as there are values. Values not found keep the offset of slot
 * (index of the value among the groups), where a freshly formatted store
 * that hands out the lowest free slot first puts them.
 */
static void map_slots(struct sizerun *r, int g0, int g1)
{
	struct layout lo;
	struct rawkv_sb sb;
	unsigned char *chunk = NULL;
	uint64_t found = 0, want = 0, base = 0, slot, per_read, bytes;
	int fd, gi;
	size_t i;

	for (gi = g0; gi < g1; gi++)
		want += r->g[gi].n;
	fd = dev_fd_direct(0);
	if (fd < 0 || read_sb(fd, &lo, &sb)) {
		fail("%s: cannot read the rawkv superblock", opt.dev);
		lo.slot_size = r->slot_size;
		lo.data_off = 0;
		lo.slot_count = r->slots;
		goto fallback;
	}
	/* Small slots: 1 MiB reads cover many headers; large: the header block. */
	per_read = lo.slot_size <= 64 * KiB ? MiB / lo.slot_size : 1;
	bytes = per_read > 1 ? per_read * lo.slot_size : RAWKV_BLOCK_SIZE;
	chunk = xalloc(bytes);
	for (slot = 0; slot < lo.slot_count && found < want; slot += per_read) {
		uint64_t k, nr = lo.slot_count - slot < per_read ? lo.slot_count - slot : per_read;

		if (dev_read(fd, lo.data_off + slot * lo.slot_size, chunk,
			     per_read > 1 ? nr * lo.slot_size : RAWKV_BLOCK_SIZE))
			break;
		for (k = 0; k < nr; k++) {
			const struct rawkv_slot_hdr *h = (const void *)(chunk + k * lo.slot_size);
			unsigned int klen = le16toh(h->key_len);
			char key[KEY_BUF];
			size_t vs, idx;
			int id;

			if (le64toh(h->magic) != RAWKV_SLOT_MAGIC || le32toh(h->slot) != slot + k ||
			    klen >= KEY_BUF || memcmp(h->uuid, sb.uuid, sizeof(sb.uuid)) ||
			    crc_self(h, sizeof(*h)) != le32toh(h->crc))
				continue;
			memcpy(key, h->key, klen);
			key[klen] = 0;
			if (sscanf(key, "bench-g%d-%zu-%zu", &id, &vs, &idx) != 3)
				continue;
			for (gi = g0; gi < g1; gi++) {
				struct group *g = &r->g[gi];

				if (g->id == id && g->vsize == vs && idx < g->n && !g->off[idx] &&
				    le64toh(h->value_len) == g->vsize) {
					g->off[idx] = lo.data_off + (slot + k) * lo.slot_size +
						      RAWKV_BLOCK_SIZE;
					found++;
				}
			}
		}
	}
	if (found == want) {
		for (gi = g0; gi < g1; gi++)
			r->g[gi].off_exact = true;
		note("raw offsets: the slots of all %" PRIu64 " values, from their slot headers "
		     "(scanned slots 0..%" PRIu64 ")", found, slot - 1);
		goto out;
	}
	note("WARNING: raw offsets: found %" PRIu64 " of %" PRIu64 " values in the slot "
	     "headers; using slots in allocation order for the rest", found, want);
fallback:
	for (gi = g0; gi < g1; gi++) {
		struct group *g = &r->g[gi];

		for (i = 0; i < g->n; i++)
			if (!g->off[i])
				g->off[i] = lo.data_off + (base + i) * lo.slot_size + RAWKV_BLOCK_SIZE;
		base += g->n;
	}
out:
	free(chunk);
	if (fd >= 0)
		close(fd);
}

/* ---- the phases ---- */

static uint64_t slot_size_for(size_t v)
{
	uint64_t s = RAWKV_SLOT_SIZE_MIN;

	while (s < v + RAWKV_BLOCK_SIZE)
		s <<= 1;
	return s;
}

static size_t round_down(size_t n, size_t k)
{
	return n / k * k;
}

/* The groups of a value size: (no batch, batch) x the two thread counts. */
static void make_groups(struct sizerun *r)
{
	int ti, bi;

	r->ngroups = 0;
	for (bi = 0; bi < 2; bi++) {
		int B = bi ? opt.batch : 1;

		if (B > 1 && (!RAWKV_HAVE_BATCH || r->vsize > 64 * KiB || opt.batch <= 1))
			continue;
		for (ti = 0; ti < 2; ti++) {
			struct group *g = &r->g[r->ngroups];

			if (ti && opt.threads[1] == opt.threads[0])
				continue;
			g->id = (int)(r - runs) * MAX_GROUPS + r->ngroups;
			g->vsize = r->vsize;
			g->threads = opt.threads[ti];
			g->batch = B;
			r->ngroups++;
		}
	}
	/* Durable PUTs, one thread: what a caller that needs them waits for. */
	r->g[r->ngroups] = (struct group){ .id = (int)(r - runs) * MAX_GROUPS + r->ngroups,
					   .vsize = r->vsize, .threads = opt.threads[0],
					   .batch = 1, .sync = true };
	r->ngroups++;
}

/*
 * Values per group: row_mib worth, within [min_ops, max_ops], a multiple
 * of (larger thread count x batch) so that every group of a size moves the
 * same number; and within the slots: the groups share one format, unless
 * that leaves each too few slots and formatting is cheap (few slots), then
 * every group gets a format of its own.
 */
static void size_groups(struct sizerun *r)
{
	int tmax = opt.threads[0] > opt.threads[1] ? opt.threads[0] : opt.threads[1];
	size_t want = (size_t)(opt.row_mib * MiB / r->vsize);
	size_t budget = r->slots * 9 / 10 / r->ngroups;
	int gi;

	if (want < opt.min_ops)
		want = opt.min_ops;
	if (want > opt.max_ops)
		want = opt.max_ops;
	if (want > budget && r->slots <= 4096 && r->ngroups > 1) {
		r->own_format = true;
		budget = r->slots * 9 / 10;
	}
	if (want > budget)
		want = budget;
	for (gi = 0; gi < r->ngroups; gi++) {
		struct group *g = &r->g[gi];
		size_t unit = (size_t)tmax * g->batch;

		g->n = round_down(want, unit);
		if (!g->n)
			g->n = round_down(want, g->threads);
		g->off = calloc(g->n + 1, sizeof(uint64_t));
	}
}

static int rawkv_format_load(struct sizerun *r, struct rawkv **kv)
{
	struct rawkv_stat st;
	double t;

	note("== %s values: insmod rawkv.ko format=1 slot_size=%s", size_str(r->vsize),
	     size_str(r->slot_size));
	if (mod_load(&t, kv, "dev=%s format=1 slot_size=%" PRIu64, opt.dev, r->slot_size))
		return -1;
	if (rawkv_stat(*kv, &st)) {
		fail("rawkv_stat failed");
		return -1;
	}
	if (!r->slots) {
		r->slots = st.slots_total;
		r->format_load = t;
	}
	note("load (format=1): %.3f s, %" PRIu64 " slots", t, (uint64_t)st.slots_total);
	return 0;
}

static int rawkv_unload_map(struct sizerun *r, struct rawkv **kv, int g0, int g1)
{
	double t;

	rawkv_close(*kv);
	*kv = NULL;
	if (mod_unload(&t))
		return -1;
	note("rmmod (final checkpoint): %.3f s", t);
	map_slots(r, g0, g1);
	return 0;
}

/* The rawkv rows of one value size. */
static void phase_rawkv(struct sizerun *r)
{
	struct ctx c = { 0 };
	int gi, g0 = 0;

	make_groups(r);
	if (rawkv_format_load(r, &c.kv))
		goto out;
	size_groups(r);
	if (r->own_format)
		note("%" PRIu64 " slots: a fresh format for each group", r->slots);
	for (gi = 0; gi < r->ngroups; gi++) {
		struct group *g = &r->g[gi];

		if (gi && r->own_format) {
			if (rawkv_unload_map(r, &c.kv, g0, gi) || rawkv_format_load(r, &c.kv))
				goto out;
			g0 = gi;
		}
		if (!g->n)
			continue;
		run_row(&c, g, BK_RAWKV, OP_PUT);
		if (!g->sync)
			run_row(&c, g, BK_RAWKV, OP_GET);
	}
	rawkv_unload_map(r, &c.kv, g0, r->ngroups);
	return;
out:
	rawkv_close(c.kv);
	if (mod_loaded())
		mod_unload(NULL);
}

static void phase_raw(struct sizerun *r)
{
	struct ctx c = { .rawfd = dev_fd_direct(0), .rawfd_sync = dev_fd_direct(O_DSYNC) };
	int gi;

	if (c.rawfd < 0 || c.rawfd_sync < 0) {
		fail("open %s O_DIRECT: %s", opt.dev, strerror(-(c.rawfd < 0 ? c.rawfd : c.rawfd_sync)));
		return;
	}
	for (gi = 0; gi < r->ngroups; gi++) {
		if (!r->g[gi].n)
			continue;
		run_row(&c, &r->g[gi], BK_RAW, OP_PUT);
		if (!r->g[gi].sync)
			run_row(&c, &r->g[gi], BK_RAW, OP_GET);
	}
	close(c.rawfd);
	close(c.rawfd_sync);
}

static int run_prog(const char *prog, const char *arg)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (!pid) {
		execl(prog, prog, arg, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -EIO;
}

/* mkfs.ext4 on the device and mount it on --mnt; 0 or -1. */
static int fs_make(void)
{
	double t0 = now();

	if (run_prog(opt.mkfs, opt.dev)) {
		fail("%s %s failed", opt.mkfs, opt.dev);
		return -1;
	}
	/* noinit_itable: no background inode table zeroing during the rows */
	if (mount(opt.dev, opt.mnt, "ext4", 0, "noinit_itable")) {
		fail("mount %s on %s: %s", opt.dev, opt.mnt, strerror(errno));
		return -1;
	}
	note("mkfs.ext4 + mount: %.1f s", now() - t0);
	return 0;
}

/* The file rows of one size: one file system, or one per group when rawkv had too. */
static void phase_file(struct sizerun *r)
{
	struct ctx c = { 0 };
	struct stat st;
	bool mounted = false;
	int gi;

	if (!opt.mkfs || !opt.mnt)
		return;
	if (lstat(opt.mnt, &st) || !S_ISDIR(st.st_mode)) {
		fail("--mnt %s is not a directory", opt.mnt);
		return;
	}
	for (gi = 0; gi < r->ngroups; gi++) {
		struct group *g = &r->g[gi];

		if (!g->n)
			continue;
		if (mounted && r->own_format) {
			if (umount2(opt.mnt, 0)) {
				fail("umount %s: %s", opt.mnt, strerror(errno));
				return;
			}
			mounted = false;
		}
		if (!mounted) {
			if (fs_make())
				return;
			mounted = true;
		}
		snprintf(c.dir, sizeof(c.dir), "%s/g%d", opt.mnt, g->id);
		if (mkdir(c.dir, 0755) && errno != EEXIST) {
			fail("mkdir %s: %s", c.dir, strerror(errno));
			continue;
		}
		run_row(&c, g, BK_FILE, OP_PUT);
		if (!g->sync)
			run_row(&c, g, BK_FILE, OP_GET);
	}
	if (mounted && umount2(opt.mnt, 0))
		fail("umount %s: %s", opt.mnt, strerror(errno));
}

/* ---- load time and kernel memory per entry ---- */

struct fill_worker {
	pthread_t thr;
	struct rawkv *kv;
	size_t lo, hi;
	int batch;
	int errors;
	int first;
};

static void mem_key(size_t i, char *key)
{
	uint64_t s = i * 2654435761ULL + 12345;

	/* hex of 128 pseudo-random bits: 32 bytes, like a hash used as a key */
	snprintf(key, KEY_BUF, "%016" PRIx64 "%016" PRIx64, splitmix(&s), splitmix(&s));
	key[opt.mem_klen < KEY_BUF - 1 ? opt.mem_klen : KEY_BUF - 1] = 0;
}

static void *fill_main(void *arg)
{
	struct fill_worker *w = arg;
	char keys[MAX_BATCH][KEY_BUF];
	unsigned char *val = xalloc(opt.mem_vlen);
	size_t i, j, m;
	int r;

	fill(val, opt.mem_vlen, 7);
	for (i = w->lo; i < w->hi; i += m) {
		m = w->hi - i < (size_t)w->batch ? w->hi - i : (size_t)w->batch;
		for (j = 0; j < m; j++)
			mem_key(i + j, keys[j]);
		if (m == 1) {
			r = rawkv_put(w->kv, keys[0], strlen(keys[0]), val, opt.mem_vlen);
			if (r && !w->errors++)
				w->first = r;
#if RAWKV_HAVE_BATCH
		} else {
			struct rawkv_op ops[MAX_BATCH];

			for (j = 0; j < m; j++)
				ops[j] = (struct rawkv_op){ .key = keys[j], .klen = strlen(keys[j]),
							    .val = val, .vlen = opt.mem_vlen };
			r = rawkv_put_batch(w->kv, ops, m);
			for (j = 0; j < m; j++)
				if ((r || ops[j].result) && !w->errors++)
					w->first = r ? r : (int)ops[j].result;
#endif
		}
	}
	free(val);
	return NULL;
}

static void phase_mem(void)
{
	struct rawkv *kv = NULL;
	struct rawkv_stat st;
	struct fill_worker ws[MAX_THREADS];
	int T = opt.threads[1], t, errs = 0;
	size_t n, per;
	double t0;

	mem.slot_size = RAWKV_SLOT_SIZE_MIN;
	note("== load time and memory: insmod rawkv.ko format=1 slot_size=8 KiB");
	if (mod_load(&mem.format_load, &kv, "dev=%s format=1 slot_size=%u", opt.dev,
		     RAWKV_SLOT_SIZE_MIN))
		return;
	if (rawkv_stat(kv, &st)) {
		fail("rawkv_stat failed");
		goto out;
	}
	mem.slots_total = st.slots_total;
	note("load (format=1): %.3f s, %" PRIu64 " slots", mem.format_load, mem.slots_total);
	n = opt.mem_entries;
	if (n > st.slots_total * 95 / 100) {
		n = st.slots_total * 95 / 100;
		note("only %" PRIu64 " slots: storing %zu entries, not %zu", st.slots_total, n,
		     opt.mem_entries);
	}
	mem.entries = n;
	mem.fill_threads = T;
	mem.fill_batch = RAWKV_HAVE_BATCH && opt.batch > 1 ? opt.batch : 1;
	per = n / T;
	t0 = now();
	for (t = 0; t < T; t++) {
		ws[t] = (struct fill_worker){ .kv = kv, .lo = t * per,
					      .hi = t == T - 1 ? n : (t + 1) * per,
					      .batch = mem.fill_batch };
		if (pthread_create(&ws[t].thr, NULL, fill_main, &ws[t])) {
			fail("pthread_create failed");
			exit(1);
		}
	}
	for (t = 0; t < T; t++) {
		pthread_join(ws[t].thr, NULL);
		if (ws[t].errors) {
			errs += ws[t].errors;
			fail("fill thread %d: %d errors, first %s", t, ws[t].errors,
			     rawkv_strerror(ws[t].first));
		}
	}
	mem.fill_secs = now() - t0;
	if (rawkv_stat(kv, &st)) {
		fail("rawkv_stat failed");
		goto out;
	}
	mem.slots_used = st.slots_used;
	mem.entry_mem = st.entry_mem_bytes;
	mem.table_mem = st.table_mem_bytes;
	note("stored %zu entries (key %zu B, value %zu B) in %.1f s: slots_used %" PRIu64
	     ", entry_mem_bytes %" PRIu64 ", table_mem_bytes %" PRIu64,
	     n, opt.mem_klen, opt.mem_vlen, mem.fill_secs, mem.slots_used, mem.entry_mem,
	     mem.table_mem);
	if (st.slots_used != n)
		fail("slots_used %" PRIu64 " after storing %zu entries", st.slots_used, n);
	rawkv_close(kv);
	kv = NULL;
	if (mod_unload(&mem.unload_secs))
		return;
	note("rmmod (final checkpoint of %zu entries): %.3f s", n, mem.unload_secs);
	if (mod_load(&mem.reload_secs, &kv, "dev=%s", opt.dev))
		return;
	if (!rawkv_stat(kv, &st))
		mem.reload_used = st.slots_used;
	note("load of %" PRIu64 " entries: %.3f s", mem.reload_used, mem.reload_secs);
	if (mem.reload_used != mem.slots_used)
		fail("reload found %" PRIu64 " entries, %" PRIu64 " were stored",
		     mem.reload_used, mem.slots_used);
	mem.ran = !errs;
out:
	rawkv_close(kv);
	mod_unload(NULL);
}

/* ---- the report ---- */

static void cell_rate(const struct result *r, size_t vsize)
{
	if (!r->ran)
		printf(" - | - | - | - |");
	else if (r->errors)
		printf(" ERR | ERR | - | - |");
	else
		printf(" %.1f | %.0f | %.0f | %.0f |", r->ops * (double)vsize / r->secs / 1e6,
		       r->ops / r->secs, r->p50 * 1e6, r->p99 * 1e6);
}

static void cell_ratio(const struct result *a, const struct result *b)
{
	if (!a->ran || !b->ran || a->errors || b->errors || !a->secs || !b->secs)
		printf(" - |");
	else
		printf(" %.2f |", (a->ops / a->secs) / (b->ops / b->secs));
}

static void report(void)
{
	int ri, gi, op;
	struct stat st;
	uint64_t bytes = 0;
	unsigned int lbs = 0;
	int fd = open(opt.dev, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		ioctl(fd, BLKGETSIZE64, &bytes);
		ioctl(fd, BLKSSZGET, &lbs);
		close(fd);
	}
	(void)st;
	printf("\n### %s: %s, %" PRIu64 " MiB, %u B logical blocks\n\n",
	       opt.dev, opt.label ? opt.label : "block device", bytes / MiB, lbs);
	printf("| op | value | thr | batch | values | rawkv MB/s | rawkv ops/s | rawkv p50 us | "
	       "rawkv p99 us | raw MB/s | raw ops/s | raw p50 us | raw p99 us | file MB/s | "
	       "file ops/s | file p50 us | file p99 us | rawkv/raw | rawkv/file |\n");
	printf("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
	for (ri = 0; ri < nruns; ri++)
		for (gi = 0; gi < runs[ri].ngroups; gi++) {
			struct group *g = &runs[ri].g[gi];

			for (op = 0; op < NOP; op++) {
				if (!g->res[BK_RAWKV][op].ran)
					continue;
				printf("| %s%s | %s | %d | %d | %zu |", op_name[op],
				       g->sync ? "-sync" : "", size_str(g->vsize),
				       g->threads, g->batch, g->n);
				cell_rate(&g->res[BK_RAWKV][op], g->vsize);
				cell_rate(&g->res[BK_RAW][op], g->vsize);
				cell_rate(&g->res[BK_FILE][op], g->vsize);
				cell_ratio(&g->res[BK_RAWKV][op], &g->res[BK_RAW][op]);
				cell_ratio(&g->res[BK_RAWKV][op], &g->res[BK_FILE][op]);
				putchar('\n');
			}
		}

	printf("\n| %s: load and memory | |\n|---|--:|\n", opt.dev);
	for (ri = 0; ri < nruns; ri++)
		if (runs[ri].slots)
			printf("| load (insmod to /dev/rawkv open), format=1, slot_size %s, "
			       "%" PRIu64 " slots (%s rows) | %.3f s |\n",
			       size_str(runs[ri].slot_size), runs[ri].slots,
			       size_str(runs[ri].vsize), runs[ri].format_load);
	if (mem.entries) {
		printf("| load, format=1, slot_size %s, %" PRIu64 " slots (memory rows) | %.3f s |\n",
		       size_str(mem.slot_size), mem.slots_total, mem.format_load);
		printf("| store %" PRIu64 " entries (key %zu B, value %zu B, %d threads, batch %d) "
		       "| %.1f s, %.0f ops/s |\n", mem.entries, opt.mem_klen, opt.mem_vlen,
		       mem.fill_threads, mem.fill_batch, mem.fill_secs,
		       mem.entries / mem.fill_secs);
		printf("| slots_used / slots_total | %" PRIu64 " / %" PRIu64 " |\n",
		       mem.slots_used, mem.slots_total);
		printf("| entry_mem_bytes | %" PRIu64 " |\n| table_mem_bytes | %" PRIu64 " |\n",
		       mem.entry_mem, mem.table_mem);
		if (mem.slots_used) {
			printf("| (entry_mem + table_mem) / slots_used | %.1f B |\n",
			       (double)(mem.entry_mem + mem.table_mem) / mem.slots_used);
			printf("| entry_mem / slots_used | %.1f B |\n",
			       (double)mem.entry_mem / mem.slots_used);
		}
		if (mem.unload_secs)
			printf("| rmmod with %" PRIu64 " entries (final checkpoint) | %.3f s |\n",
			       mem.slots_used, mem.unload_secs);
		if (mem.reload_secs)
			printf("| load (insmod to /dev/rawkv open) of %" PRIu64 " entries | %.3f s |\n",
			       mem.reload_used, mem.reload_secs);
	}
	fflush(stdout);
}

/* ---- main ---- */

static void usage(void)
{
	fprintf(stderr,
"usage: rawkv-bench [options] DEVICE\n"
"  --label TEXT       name of the device in the report\n"
"  --ko PATH          rawkv.ko (default /rawkv/rawkv.ko)\n"
"  --mkfs PROG        run PROG DEVICE to make an ext4 file system (file rows)\n"
"  --mnt DIR          mount point for the file rows (an existing directory)\n"
"  --sizes LIST       value sizes, e.g. 4K,64K,1M,4M,16M (the default)\n"
"  --threads A,B      the two thread counts (default 1,8)\n"
"  --batch N          values per batch call for sizes <= 64 KiB (default 32; 1: none)\n"
"  --row-mib X        MiB moved per row, before the limits below (default 256)\n"
"  --min-ops N        at least N values per row (default 24)\n"
"  --max-ops N        at most N values per row (default 1024)\n"
"  --mem-entries N    entries stored for the memory row (default 100000; 0: skip)\n"
"Must run as root with rawkv unloaded. DEVICE is overwritten.\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct stat st;
	int i, ri;

	t_start = now();
	crc_init();
	setvbuf(stdout, NULL, _IOLBF, 0);
	opt.nsizes = 5;
	opt.sizes[0] = 4 * KiB;
	opt.sizes[1] = 64 * KiB;
	opt.sizes[2] = MiB;
	opt.sizes[3] = 4 * MiB;
	opt.sizes[4] = 16 * MiB;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (a[0] != '-') {
			if (opt.dev)
				usage();
			opt.dev = a;
			continue;
		}
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--label"))
			opt.label = v;
		else if (!strcmp(a, "--ko"))
			opt.ko = v;
		else if (!strcmp(a, "--mkfs"))
			opt.mkfs = v;
		else if (!strcmp(a, "--mnt"))
			opt.mnt = v;
		else if (!strcmp(a, "--sizes")) {
			char *s = strdup(v), *tok, *save = NULL;

			opt.nsizes = 0;
			for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				if (opt.nsizes == MAX_SIZES || parse_size(tok, &opt.sizes[opt.nsizes]) ||
				    opt.sizes[opt.nsizes] < 16 ||
				    opt.sizes[opt.nsizes] % 4096 ||
				    opt.sizes[opt.nsizes] > RAWKV_SLOT_SIZE_MAX - RAWKV_BLOCK_SIZE)
					usage();
				opt.nsizes++;
			}
			free(s);
		} else if (!strcmp(a, "--threads")) {
			if (sscanf(v, "%d,%d", &opt.threads[0], &opt.threads[1]) != 2 ||
			    opt.threads[0] < 1 || opt.threads[1] < 1 ||
			    opt.threads[0] > MAX_THREADS || opt.threads[1] > MAX_THREADS)
				usage();
		} else if (!strcmp(a, "--batch")) {
			opt.batch = atoi(v);
			if (opt.batch < 1 || opt.batch > MAX_BATCH)
				usage();
		} else if (!strcmp(a, "--row-mib"))
			opt.row_mib = atof(v);
		else if (!strcmp(a, "--min-ops"))
			opt.min_ops = strtoul(v, NULL, 0);
		else if (!strcmp(a, "--max-ops"))
			opt.max_ops = strtoul(v, NULL, 0);
		else if (!strcmp(a, "--mem-entries"))
			opt.mem_entries = strtoul(v, NULL, 0);
		else
			usage();
	}
	if (!opt.dev || opt.row_mib <= 0 || !opt.min_ops || opt.max_ops < opt.min_ops)
		usage();
	/* Only ever a block device: it is opened without O_CREAT or O_TRUNC. */
	if (stat(opt.dev, &st) || !S_ISBLK(st.st_mode)) {
		fprintf(stderr, "rawkv-bench: %s is not a block device\n", opt.dev);
		return 2;
	}
	if (mod_loaded()) {
		fprintf(stderr, "rawkv-bench: rawkv is loaded; rmmod it first\n");
		return 2;
	}
	note("rawkv-bench on %s (%s); batch calls %s", opt.dev, opt.label ? opt.label : "",
	     RAWKV_HAVE_BATCH ? "built in" : "not in this librawkv: no batch rows");

	if (opt.mem_entries)
		phase_mem();
	for (ri = 0; ri < opt.nsizes; ri++) {
		struct sizerun *r = &runs[nruns++];

		r->vsize = opt.sizes[ri];
		r->slot_size = slot_size_for(r->vsize);
		phase_rawkv(r);
		if (mod_loaded())
			break;	/* cannot touch the device */
		phase_raw(r);
		phase_file(r);
	}
	note("done in %.1f s, %d errors", now() - t_start, failures);
	report();
	return failures ? 1 : 0;
}
