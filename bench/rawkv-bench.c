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
#include <linux/if_alg.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
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
#ifndef RAWKV_HAVE_RING		/* rawkv_ring_*(): librawkv's io_uring API */
#define RAWKV_HAVE_RING 0
#endif
#ifndef RAWKV_HAVE_CRC_STAT	/* rawkv_stat.crc32c_mbps / crc32c_driver */
#define RAWKV_HAVE_CRC_STAT 0
#endif
#ifndef HAVE_LIBURING		/* liburing.h (Debian liburing-dev) */
#define HAVE_LIBURING 0
#endif
#if HAVE_LIBURING
#include <liburing.h>
#endif

#define KiB		1024UL
#define MiB		(1024 * KiB)
#define MAX_THREADS	64
#define MAX_BATCH	256
#define MAX_SIZES	16
#define MAX_GROUPS	16
#define MAX_TCOUNTS	4
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
	int threads[MAX_TCOUNTS];
	int nthreads;
	int batch;
	double row_mib;		/* target MiB moved per row */
	size_t min_ops, max_ops;
	size_t mem_entries;
	size_t mem_klen, mem_vlen;
	bool model;		/* the drive model's rows (--model) */
	size_t batch_only_max;	/* --model: sizes up to this get only a batch group */
	size_t uring_max;	/* --model: sizes up to this get an io_uring group */
	int depth;		/* io_uring depth */
	double row_secs;	/* a row stops after this long (0: never) */
	double throttle_mbps;	/* QEMU's throttle of DEVICE, 10^6 B/s (0: none) */
	double host_crc_mbps;	/* user-space crc32c on the host, for the projection */
	double host_hwcrc_mbps;	/* SSE4.2 crc32c on the host, for the projection */
	bool calibrate;
	bool no_raw, no_sync;	/* profile run: rawkv rows only, no PUT-sync group */
	const char *perf;	/* profile a PUT and a GET row with this perf */
} opt = {
	.ko = "/rawkv/rawkv.ko",
	.threads = { 1, 8 },
	.nthreads = 2,
	.batch = 32,
	.batch_only_max = 4 * KiB,
	.uring_max = MiB,
	.depth = 32,
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

/*
 * ---- calibration: crc32c speeds ----
 *
 * The user-space crc32c is a slicing-by-8 table version: plain C, the same
 * instructions in the guest and on the host, so its speed in the guest over
 * its speed on the host is the guest's slowdown on this code.
 */

static uint32_t crc8_table[8][256];

static uint32_t crc32c_s8(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint64_t v;

	while (len >= 8) {
		memcpy(&v, p, 8);
		v = le64toh(v) ^ crc;
		crc = crc8_table[7][v & 0xff] ^ crc8_table[6][(v >> 8) & 0xff] ^
		      crc8_table[5][(v >> 16) & 0xff] ^ crc8_table[4][(v >> 24) & 0xff] ^
		      crc8_table[3][(v >> 32) & 0xff] ^ crc8_table[2][(v >> 40) & 0xff] ^
		      crc8_table[1][(v >> 48) & 0xff] ^ crc8_table[0][v >> 56];
		p += 8;
		len -= 8;
	}
	return crc32c(crc, p, len);
}

/*
 * crc32c with the SSE4.2 crc32 instruction, one 8-byte stream: what a real
 * core's kernel computes at least (crc32c-intel interleaves three streams
 * and is faster still). Measured on the host for the projection.
 */
#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static uint32_t crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint64_t c = crc, v;

	while (len >= 8) {
		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
		p += 8;
		len -= 8;
	}
	crc = c;
	while (len--)
		crc = __builtin_ia32_crc32qi(crc, *p++);
	return crc;
}
#endif

#define CAL_BUF		MiB
#define CAL_ROUNDS	5
#define CAL_SECS	0.3
/*
 * Cold: the 1 MiB pieces cycle through this much memory, more than any
 * cache holds, as a value just written by a caller or by a device is
 * (mostly) not in the cache the checksum runs from.
 */
#define CAL_COLD	(128 * MiB)

/*
 * Speed of @fn over 1 MiB pieces of @span bytes (CAL_BUF: the same, hot
 * piece; CAL_COLD: cold ones) after checking it against the bytewise
 * crc32c: best of CAL_ROUNDS rounds of at least CAL_SECS each; 10^6 B/s.
 */
static double crc_fn_mbps(uint32_t (*fn)(uint32_t, const void *, size_t),
			  const char *name, size_t span)
{
	unsigned char *buf = xalloc(span);
	double best = 0;
	uint32_t sink = 0;
	size_t off = 0;
	int r;

	fill(buf, span, 42);
	if (fn(~0U, buf, CAL_BUF - 3) != crc32c(~0U, buf, CAL_BUF - 3)) {
		fail("%s crc32c disagrees with the bytewise one", name);
		free(buf);
		return 0;
	}
	for (r = 0; r < CAL_ROUNDS; r++) {
		double t0 = now(), t;
		size_t n = 0;

		do {
			sink ^= fn(~0U, buf + off, CAL_BUF);
			off = (off + CAL_BUF) % span;
			n++;
		} while ((t = now() - t0) < CAL_SECS);
		if (n * (double)CAL_BUF / t / 1e6 > best)
			best = n * (double)CAL_BUF / t / 1e6;
	}
	free(buf);
	return sink == 0x12345678 ? best + 1e-9 : best;	/* keep the work */
}

static double user_crc_mbps(void)
{
	uint32_t i, k;

	for (i = 0; i < 256; i++) {
		crc8_table[0][i] = crc_table[i];
		for (k = 1; k < 8; k++)
			crc8_table[k][i] = (crc8_table[k - 1][i] >> 8) ^
					   crc_table[crc8_table[k - 1][i] & 0xff];
	}
	return crc_fn_mbps(crc32c_s8, "slicing-by-8", CAL_BUF);
}

/* The SSE4.2 crc32c's speed here over @span; 0 without SSE4.2. */
static double hw_crc_mbps(size_t span)
{
#if defined(__x86_64__)
	if (__builtin_cpu_supports("sse4.2"))
		return crc_fn_mbps(crc32c_hw, "SSE4.2", span);
#endif
	return 0;
}

/* The crc32c driver the crypto API picks: the highest priority in /proc/crypto. */
static void crypto_driver(const char *alg, char *drv, size_t len)
{
	FILE *f = fopen("/proc/crypto", "r");
	char line[256], name[64] = "", d[64] = "";
	int prio, best = -1;

	snprintf(drv, len, "?");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "name : %63s", name) == 1)
			continue;
		if (sscanf(line, "driver : %63s", d) == 1)
			continue;
		if (sscanf(line, "priority : %d", &prio) == 1 && !strcmp(name, alg) &&
		    prio > best) {
			best = prio;
			snprintf(drv, len, "%s", d);
		}
	}
	fclose(f);
}

/*
 * The kernel's crc32c from user space: AF_ALG "hash" "crc32c", 1 MiB per
 * send() (the pages are pinned, not copied), digest read back. Best of
 * CAL_ROUNDS rounds; 10^6 B/s, or 0 when AF_ALG is not there.
 */
static double kernel_crc_mbps(char *drv, size_t dlen, size_t span)
{
	struct sockaddr_alg sa = { .salg_family = AF_ALG, .salg_type = "hash",
				   .salg_name = "crc32c" };
	unsigned char *buf = xalloc(span), out[4];
	double best = 0;
	size_t off = 0;
	int tfm, op = -1, r;

	snprintf(drv, dlen, "-");
	tfm = socket(AF_ALG, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (tfm < 0 || bind(tfm, (struct sockaddr *)&sa, sizeof(sa)) ||
	    (op = accept(tfm, NULL, 0)) < 0) {
		note("calibration: AF_ALG crc32c unavailable: %s", strerror(errno));
		goto out;
	}
	crypto_driver("crc32c", drv, dlen);
	fill(buf, span, 43);
	for (r = 0; r < CAL_ROUNDS; r++) {
		double t0 = now(), t;
		size_t n = 0;

		do {
			off = (off + CAL_BUF) % span;
			if (send(op, buf + off, CAL_BUF, 0) != (ssize_t)CAL_BUF ||
			    read(op, out, 4) != 4) {
				note("calibration: AF_ALG crc32c: %s", strerror(errno));
				best = 0;
				goto out;
			}
			n++;
		} while ((t = now() - t0) < CAL_SECS);
		if (n * (double)CAL_BUF / t / 1e6 > best)
			best = n * (double)CAL_BUF / t / 1e6;
	}
out:
	if (op >= 0)
		close(op);
	if (tfm >= 0)
		close(tfm);
	free(buf);
	return best;
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
	double cpu_op;		/* CPU seconds of the calling threads per value */
	double busy;		/* share of the machine's CPUs busy during the row */
	int errors;
	bool cut;		/* stopped at --row-secs */
};

struct group {
	int id;
	size_t vsize;
	int threads;
	int batch;		/* 1: one value per call */
	bool sync;		/* PUT-sync rows only: rawkv_put_sync(), O_DSYNC, fsync */
	bool uring;		/* io_uring rows, 1 thread, depth = batch */
	size_t n;		/* values */
	/*
	 * After the rawkv PUT row: thread t stored values [t * (n / threads),
	 * stored_hi[t]); fewer than its share when the row was cut at
	 * --row-secs. The later rows of the group cycle over those values
	 * until they have moved n (or are cut too).
	 */
	bool stored_set;
	size_t stored_hi[MAX_THREADS];
	/*
	 * After the raw PUT row: thread t wrote [t * (n / threads), raw_hi[t]);
	 * the raw GET reads only those (with a format per group, the other
	 * offsets hold another group's values).
	 */
	bool raw_set;
	size_t raw_hi[MAX_THREADS];
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
	double cpu;		/* this thread's CPU seconds over its calls */
	size_t todo, done;	/* values to move, moved */
	double deadline;	/* stop starting calls after this (0: never) */
	bool cut;
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

/*
 * io_uring rows: one thread keeps g->batch operations in flight, each on
 * its own buffer, refilling as completions arrive. Latency is per value,
 * from its queueing to its completion being reaped.
 */
#if HAVE_LIBURING
static int uring_raw_open(struct worker *w, struct io_uring *ring, unsigned int depth)
{
	int r = io_uring_queue_init(depth, ring, 0);

	if (r < 0)
		werr(w, "io_uring_queue_init(%u): %s", depth, strerror(-r));
	return r;
}
#endif

static void uring_loop(struct worker *w)
{
	struct group *g = w->g;
	size_t V = g->vsize, D = g->batch, span = w->hi - w->lo;
	size_t issued = 0, reaped = 0, nfree = D, s, i;
	size_t idx[MAX_BATCH], freel[MAX_BATCH];
	double ts[MAX_BATCH];
	char keys[MAX_BATCH][KEY_BUF];
	bool stop = false, raw = w->bk == BK_RAW;
#if HAVE_LIBURING
	struct io_uring ring;
#endif
#if RAWKV_HAVE_RING
	struct rawkv_ring *kr = NULL;
	struct rawkv_completion comp[MAX_BATCH];
#endif

	for (s = 0; s < D; s++)
		freel[s] = D - 1 - s;
	if (raw) {
#if HAVE_LIBURING
		if (uring_raw_open(w, &ring, D) < 0)
			return;
#else
		werr(w, "built without liburing");
		return;
#endif
	} else {
#if RAWKV_HAVE_RING
		int r = rawkv_ring_open(w->c->kv, D, &kr);

		if (r) {
			werr(w, "rawkv_ring_open(%zu): %s", D, rawkv_strerror(r));
			return;
		}
#else
		werr(w, "built without rawkv_ring_*()");
		return;
#endif
	}
	while (reaped < issued || (!stop && issued < w->todo && span)) {
		size_t q = 0;
		int r = 0;

		/* Queue into every free buffer. */
		while (!stop && nfree && issued < w->todo && span) {
			s = freel[--nfree];
			i = w->lo + issued % span;
			idx[s] = i;
			key_of(g, i, keys[s]);
			stamp(w->bufs[s], V, w->op == OP_PUT ? stamp_of(g, i) : 0);
			ts[s] = now();
			if (raw) {
#if HAVE_LIBURING
				struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

				if (!sqe) {
					werr(w, "io_uring_get_sqe: ring full");
					r = -EBUSY;
				} else {
					if (w->op == OP_PUT)
						io_uring_prep_write(sqe, w->c->rawfd, w->bufs[s], V,
								    g->off[i]);
					else
						io_uring_prep_read(sqe, w->c->rawfd, w->bufs[s], V,
								   g->off[i]);
					sqe->user_data = s;
				}
#endif
			} else {
#if RAWKV_HAVE_RING
				r = w->op == OP_PUT ?
					rawkv_ring_put(kr, keys[s], strlen(keys[s]), w->bufs[s], V, s) :
					rawkv_ring_get(kr, keys[s], strlen(keys[s]), w->bufs[s], V, s);
				if (r)
					werr(w, "rawkv_ring_%s %s: %s", w->op == OP_PUT ? "put" : "get",
					     keys[s], rawkv_strerror(r));
#endif
			}
			if (r) {
				freel[nfree++] = s;
				stop = true;
				break;
			}
			issued++;
			q++;
		}
		if (q) {
#if HAVE_LIBURING
			if (raw)
				r = io_uring_submit(&ring);
#endif
#if RAWKV_HAVE_RING
			if (!raw)
				r = rawkv_ring_submit(kr);
#endif
			if (r < 0) {
				werr(w, "%s submit: %s", raw ? "io_uring" : "rawkv_ring",
				     strerror(-r));
				break;	/* what is in flight is lost to us */
			}
		}
		if (reaped == issued)
			continue;
		/* Reap at least one completion. */
		{
			uint64_t ud[MAX_BATCH];
			int64_t res[MAX_BATCH];
			size_t n = 0, j;

#if HAVE_LIBURING
			if (raw) {
				struct io_uring_cqe *cqe;

				r = io_uring_wait_cqe(&ring, &cqe);
				while (!r && cqe && n < D) {
					ud[n] = cqe->user_data;
					res[n++] = cqe->res;
					io_uring_cqe_seen(&ring, cqe);
					r = io_uring_peek_cqe(&ring, &cqe);
				}
				if (r == -EAGAIN || n)
					r = 0;
			}
#endif
#if RAWKV_HAVE_RING
			if (!raw) {
				r = rawkv_ring_reap(kr, comp, D, 1);
				for (j = 0; r > 0 && j < (size_t)r; j++) {
					ud[n] = comp[j].user_data;
					res[n++] = comp[j].result;
				}
				r = r < 0 ? r : 0;
			}
#endif
			if (r < 0) {
				werr(w, "%s reap: %s", raw ? "io_uring" : "rawkv_ring", strerror(-r));
				break;
			}
			for (j = 0; j < n; j++) {
				double t = now();

				s = ud[j];
				if (s >= D) {
					werr(w, "completion with user_data %zu", s);
					continue;
				}
				i = idx[s];
				if (w->op == OP_GET ? res[j] != (int64_t)V :
				    res[j] < 0 || (res[j] && res[j] != (int64_t)V))
					werr(w, "%s %s of value %zu: result %" PRId64,
					     raw ? "io_uring" : "rawkv_ring", op_name[w->op], i, res[j]);
				else if (w->op == OP_GET && !stamp_ok(w->bufs[s], V, stamp_of(g, i)))
					werr(w, "%s GET of value %zu: wrong bytes", bk_name[w->bk], i);
				w->lat[w->nlat++] = t - ts[s];
				freel[nfree++] = s;
				reaped++;
			}
		}
		if (w->deadline && !stop && now() > w->deadline) {
			stop = true;
			w->cut = issued < w->todo;
		}
	}
	w->done = reaped;
#if HAVE_LIBURING
	if (raw)
		io_uring_queue_exit(&ring);
#endif
#if RAWKV_HAVE_RING
	if (kr)
		rawkv_ring_close(kr);
#endif
}

static double thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Busy and total jiffies of all CPUs, from /proc/stat (idle and iowait are idle). */
static void cpu_jiffies(double *busy, double *total)
{
	unsigned long long v[10] = { 0 };
	FILE *f = fopen("/proc/stat", "r");
	int i;

	*busy = *total = 0;
	if (!f)
		return;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
		   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]) >= 8) {
		/* user nice system idle iowait irq softirq steal (guest is in user) */
		for (i = 0; i < 8; i++)
			*total += v[i];
		*busy = *total - v[3] - v[4];
	}
	fclose(f);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	size_t B = w->g->batch, span = w->hi - w->lo, k = 0, m, i;
	double c0;

	pthread_barrier_wait(w->bar);
	c0 = thread_cpu();
	w->t0 = now();
	if (w->g->uring) {
		uring_loop(w);
		w->t1 = now();
		w->cpu = thread_cpu() - c0;
		return NULL;
	}
	while (k < w->todo && span) {
		if (w->deadline && k && now() > w->deadline) {
			w->cut = true;
			break;
		}
		i = w->lo + k % span;
		m = B;
		if (m > w->todo - k)
			m = w->todo - k;
		if (m > w->lo + span - i)
			m = w->lo + span - i;
		do_call(w, i, m);
		k += m;
	}
	w->done = k;
	w->t1 = now();
	w->cpu = thread_cpu() - c0;
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
	double *all, t0, t1, b0, b1, j0, j1, cpu = 0;

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
		w->todo = w->hi - w->lo;
		/* Rows after the rawkv PUT cycle over the values it stored. */
		if (g->stored_set && !(bk == BK_RAWKV && op == OP_PUT))
			w->hi = g->stored_hi[t];
		if (g->raw_set && bk == BK_RAW && op == OP_GET && g->raw_hi[t] < w->hi)
			w->hi = g->raw_hi[t];
		if (bk == BK_FILE)
			w->todo = w->hi - w->lo;
		w->lat = calloc(w->todo + 2, sizeof(double));
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
	if (opt.row_secs > 0 && bk != BK_FILE) {
		double dl = now() + opt.row_secs;

		for (t = 0; t < T; t++)
			ws[t].deadline = dl;
	}
	cpu_jiffies(&b0, &j0);
	pthread_barrier_wait(&bar);
	for (t = 0; t < T; t++)
		pthread_join(ws[t].thr, NULL);
	cpu_jiffies(&b1, &j1);
	if (bk == BK_RAWKV && op == OP_PUT) {
		for (t = 0; t < T; t++)
			g->stored_hi[t] = ws[t].lo + ws[t].done;
		g->stored_set = true;
	}
	if (bk == BK_RAW && op == OP_PUT) {
		for (t = 0; t < T; t++)
			g->raw_hi[t] = ws[t].lo + (ws[t].done < ws[t].hi - ws[t].lo ?
						   ws[t].done : ws[t].hi - ws[t].lo);
		g->raw_set = true;
	}
	/* From the first call's start to the last call's end, in any thread. */
	t0 = ws[0].t0;
	t1 = ws[0].t1;
	for (t = 1; t < T; t++) {
		t0 = ws[t].t0 < t0 ? ws[t].t0 : t0;
		t1 = ws[t].t1 > t1 ? ws[t].t1 : t1;
	}

	for (t = 0, j = 0; t < T; t++)
		j += ws[t].todo + 2;
	all = calloc(j, sizeof(double));
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
	res->ops = 0;
	for (t = 0; t < T; t++) {
		res->ops += ws[t].done;
		res->cut |= ws[t].cut;
		cpu += ws[t].cpu;
	}
	res->cpu_op = res->ops ? cpu / res->ops : 0;
	res->busy = j1 > j0 ? (b1 - b0) / (j1 - j0) : 0;
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
		note("%-5s %-8s %7s T%d %s%-2d n=%-5zu %6.2f s %8.1f MB/s %8.0f ops/s p50 %9.0f us"
		     " p99 %9.0f us cpu/value %7.0f us, CPUs busy %3.0f%% [start spread %.1f ms,"
		     " in calls %.0f%%]%s%s",
		     bk_name[bk], g->sync ? "PUT-sync" : op_name[op], size_str(g->vsize), T,
		     g->uring ? "Q" : "B", g->batch, res->ops, res->secs,
		     res->ops * (double)g->vsize / res->secs / 1e6, res->ops / res->secs,
		     res->p50 * 1e6, res->p99 * 1e6, res->cpu_op * 1e6, res->busy * 100,
		     smax * 1e3, busy / T / res->secs * 100,
		     res->cut ? " CUT at --row-secs" : "", res->errors ? "  ERRORS" : "");
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

/* Values the rawkv PUT row stored (all n, unless it was cut). */
static size_t group_stored(const struct group *g)
{
	size_t per = g->n / g->threads, n = 0;
	int t;

	if (!g->stored_set)
		return g->n;
	for (t = 0; t < g->threads; t++)
		n += g->stored_hi[t] - t * per;
	return n;
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
		want += group_stored(&r->g[gi]);
	fd = dev_fd_direct(0);
	if (fd < 0 || read_sb(fd, &lo, &sb)) {
		fail("%s: cannot read the rawkv superblock", opt.dev);
		lo.slot_size = r->slot_size;
		lo.data_off = 0;
		lo.slot_count = r->slots;
		goto fallback;
	}
	/* Small slots: 1 MiB reads cover many headers; large: the header block. */
	per_read = lo.slot_size <= 16 * KiB ? MiB / lo.slot_size : 1;
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

static void add_group(struct sizerun *r, int threads, int batch, bool sync, bool uring)
{
	if (r->ngroups == MAX_GROUPS)
		return;
	r->g[r->ngroups] = (struct group){ .id = (int)(r - runs) * MAX_GROUPS + r->ngroups,
					   .vsize = r->vsize, .threads = threads,
					   .batch = batch, .sync = sync, .uring = uring };
	r->ngroups++;
}

/*
 * The groups of a value size. Default: (no batch, batch up to 64 KiB) x
 * the thread counts, and PUT-sync with the first thread count. --model:
 * up to --batch-only-max one batch group of 1 thread; above it, a group
 * (PUT, GET) and a PUT-sync group per thread count, and up to --uring-max
 * an io_uring group (1 thread, depth --depth).
 */
static void make_groups(struct sizerun *r)
{
	int ti, bi;
	bool batch_ok = RAWKV_HAVE_BATCH && opt.batch > 1;

	r->ngroups = 0;
	if (opt.model) {
		if (r->vsize <= opt.batch_only_max) {
			if (batch_ok)
				add_group(r, 1, opt.batch, false, false);
			return;
		}
		for (ti = 0; ti < opt.nthreads; ti++)
			add_group(r, opt.threads[ti], 1, false, false);
		for (ti = 0; ti < opt.nthreads && !opt.no_sync; ti++)
			add_group(r, opt.threads[ti], 1, true, false);
		if (opt.depth > 1 && r->vsize <= opt.uring_max)
			add_group(r, 1, opt.depth, false, true);
		return;
	}
	for (bi = 0; bi < 2; bi++) {
		int B = bi ? opt.batch : 1;

		if (B > 1 && (!batch_ok || r->vsize > 64 * KiB))
			continue;
		for (ti = 0; ti < opt.nthreads; ti++)
			add_group(r, opt.threads[ti], B, false, false);
	}
	/* Durable PUTs, one thread: what a caller that needs them waits for. */
	add_group(r, opt.threads[0], 1, true, false);
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
	int tmax = 1, ti;
	size_t want = (size_t)(opt.row_mib * MiB / r->vsize);
	size_t budget = r->slots * 9 / 10 / r->ngroups;
	int gi;

	for (ti = 0; ti < opt.nthreads; ti++)
		tmax = opt.threads[ti] > tmax ? opt.threads[ti] : tmax;
	if (want < opt.min_ops)
		want = opt.min_ops;
	if (want > opt.max_ops)
		want = opt.max_ops;
	if (want > budget && r->ngroups > 1) {
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

/*
 * --perf PROG: `PROG record -a -g -e cpu-clock -o /tmp/perf-NAME.data`
 * around the rawkv PUT and GET rows of the first 1-thread group (one value
 * per call); run-guest.sh reports them.
 */
static pid_t perf_start(const char *name)
{
	static const char ctl[] = "/tmp/perf-ctl.fifo", ack[] = "/tmp/perf-ack.fifo";
	char out[64], buf[16] = "";
	double t0 = now();
	pid_t pid;
	int fd;

	snprintf(out, sizeof(out), "/tmp/perf-%s.data", name);
	unlink(ctl);
	unlink(ack);
	if (mkfifo(ctl, 0600) || mkfifo(ack, 0600)) {
		note("perf: mkfifo: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		/* Disabled until we say "enable" on the control fifo and it acks. */
		execl(opt.perf, opt.perf, "record", "-q", "-a", "-g", "-e", "cpu-clock", "-F", "1000",
		      "-D", "-1",
		      "--control", "fifo:/tmp/perf-ctl.fifo,/tmp/perf-ack.fifo", "-o", out,
		      (char *)NULL);
		_exit(127);
	}
	if (pid < 0)
		return -1;
	/* perf's setup (-a: every task, every map) takes seconds under TCG. */
	fd = open(ctl, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "enable\n", 7) != 7)
		note("perf: control fifo: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	fd = open(ack, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0)
		note("perf: no ack: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	note("perf record -a -g -e cpu-clock -F 1000 -o %s: enabled after %.1f s (%s)", out,
	     now() - t0, strncmp(buf, "ack", 3) ? "no ack" : "ack");
	return pid;
}

static void perf_stop(pid_t pid)
{
	int status;

	if (pid <= 0)
		return;
	kill(pid, SIGINT);
	waitpid(pid, &status, 0);
	note("perf record: stopped (status %d)", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

static void run_row_perf(struct ctx *c, struct group *g, int op)
{
	static bool done[NOP];
	bool prof = opt.perf && !done[op] && g->threads == 1 && g->batch == 1 && !g->sync &&
		    !g->uring;
	pid_t pid = prof ? perf_start(op == OP_PUT ? "put" : "get") : -1;

	run_row(c, g, BK_RAWKV, op);
	if (prof) {
		perf_stop(pid);
		done[op] = true;
	}
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
		if (g->uring && !RAWKV_HAVE_RING) {
			/*
			 * No rawkv_ring_*() in this librawkv: store the values
			 * with batch calls (not reported), so that the raw
			 * io_uring rows have rawkv's offsets.
			 */
			note("no rawkv_ring_*() in this librawkv: the io_uring group's values "
			     "are stored with rawkv_put_batch(), untimed; raw io_uring rows only");
			g->uring = false;
			if (RAWKV_HAVE_BATCH)
				run_row(&c, g, BK_RAWKV, OP_PUT);
			g->uring = true;
			memset(&g->res[BK_RAWKV], 0, sizeof(g->res[BK_RAWKV]));
			continue;
		}
		run_row_perf(&c, g, OP_PUT);
		if (!g->sync)
			run_row_perf(&c, g, OP_GET);
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

		if (!g->n || g->uring)
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
	int T = opt.threads[opt.nthreads - 1], t, errs = 0;
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

/* ---- calibration phase (--calibrate) ---- */

static struct {
	bool ran;
	double user_mbps;	/* slicing-by-8 crc32c, here */
	double kernel_mbps;	/* AF_ALG crc32c */
	double kernel_cold_mbps;	/* AF_ALG crc32c over CAL_COLD bytes */
	char kernel_drv[64];
	double stat_mbps;	/* rawkv_stat.crc32c_mbps (0: not reported) */
	char stat_drv[32];
	double used;		/* the kernel crc32c speed the throttle is set from */
	const char *source;
} cal;

static void phase_calibrate(void)
{
	struct rawkv *kv = NULL;
	double t;
	int load;

	cal.ran = true;
	cal.user_mbps = user_crc_mbps();
	note("calibration: user-space crc32c (slicing-by-8, this binary): %.1f MB/s",
	     cal.user_mbps);
	cal.kernel_mbps = kernel_crc_mbps(cal.kernel_drv, sizeof(cal.kernel_drv), CAL_BUF);
	note("calibration: kernel crc32c from user space (AF_ALG \"crc32c\", driver %s, "
	     "1 MiB per send): %.1f MB/s", cal.kernel_drv, cal.kernel_mbps);
	cal.kernel_cold_mbps = kernel_crc_mbps(cal.kernel_drv, sizeof(cal.kernel_drv),
					       CAL_COLD);
	note("calibration: the same over %zu MiB (cold): %.1f MB/s", CAL_COLD / MiB,
	     cal.kernel_cold_mbps);
	/* Three loads: rawkv measures once per load, the host is shared; the best counts. */
	for (load = 0; load < 3; load++) {
		if (mod_load(&t, &kv, "dev=%s format=1 slot_size=%lu", opt.dev, MiB))
			break;
#if RAWKV_HAVE_CRC_STAT
		{
			struct rawkv_stat st;

			if (!rawkv_stat(kv, &st)) {
				note("calibration: rawkv stat (load %d): crc32c_mbps %" PRIu64
				     ", crc32c_driver %.*s (measured by rawkv at module load)",
				     load + 1, (uint64_t)st.crc32c_mbps,
				     (int)sizeof(st.crc32c_driver), st.crc32c_driver);
				if ((double)st.crc32c_mbps > cal.stat_mbps) {
					cal.stat_mbps = (double)st.crc32c_mbps;
					snprintf(cal.stat_drv, sizeof(cal.stat_drv), "%.*s",
						 (int)sizeof(st.crc32c_driver), st.crc32c_driver);
				}
			}
		}
#else
		note("calibration: this librawkv has no rawkv_stat.crc32c_mbps");
		load = 3;
#endif
		rawkv_close(kv);
		kv = NULL;
		mod_unload(NULL);
	}
	if (cal.stat_mbps > 0) {
		cal.used = cal.stat_mbps;
		cal.source = "rawkv-stat";
	} else {
		cal.used = cal.kernel_mbps;
		cal.source = "af_alg";
	}
	printf("BENCH-CAL kernel_crc32c_mbps=%.1f source=%s user_crc32c_mbps=%.1f "
	       "af_alg_mbps=%.1f af_alg_driver=%s stat_mbps=%.1f stat_driver=%s\n",
	       cal.used, cal.source, cal.user_mbps, cal.kernel_mbps, cal.kernel_drv,
	       cal.stat_mbps, cal.stat_drv[0] ? cal.stat_drv : "-");
	fflush(stdout);
}

/* ---- the drive model's report (--model) ---- */

static double mbps(const struct result *r, size_t vsize)
{
	return r->ran && !r->errors && r->secs > 0 ? r->ops * (double)vsize / r->secs / 1e6 : 0;
}

static void mcell(const struct result *r, size_t vsize)
{
	if (!r->ran)
		printf(" - | - | - | - | - |");
	else if (r->errors)
		printf(" ERR | - | - | - | - |");
	else
		printf(" %zu | %.2f%s | %.1f | %.0f | %.0f |", r->ops, r->secs, r->cut ? "*" : "",
		       mbps(r, vsize), r->p50 * 1e6, r->p99 * 1e6);
}

/* A drive of 7 GB/s with 80 us access time: seconds to move @bytes. */
static double t_drive(double bytes)
{
	return 80e-6 + bytes / 7e9;
}

/*
 * Bytes a GET checksums after its last read completes: its last piece, an
 * eighth of the value from 64 KiB to 256 KiB (rawkv_piece_segs() in
 * kmod/store.c), or the whole value when it is one piece.
 */
static double get_tail_bytes(size_t vsize)
{
	size_t piece = vsize / 8;

	piece = piece < 64 * KiB ? 64 * KiB : piece > 256 * KiB ? 256 * KiB : piece;
	return (double)(piece < vsize ? piece : vsize);
}

/*
 * The latency a single caller sees at depth 1 on a fast drive, from the
 * unthrottled 1-thread rows: a model, printed with its inputs. Two
 * versions: the additive bound (all added wall time, scaled) and the one
 * that follows rawkv's request (CPU time, the checksum at hardware speed,
 * overlapped where the code overlaps it).
 */
static void report_projection(void)
{
	double slow = opt.host_crc_mbps / cal.user_mbps;
	double gcrc = cal.kernel_cold_mbps > 0 ? cal.kernel_cold_mbps : cal.used;
	double hcrc = opt.host_hwcrc_mbps;
	int ri, gi, op;

	printf("\n#### Model: depth 1 on a drive of 7 GB/s with 80 us access time\n\n");
	printf("Inputs: user-space crc32c (slicing-by-8) %.1f MB/s on the host, %.1f MB/s "
	       "in the guest: slowdown %.1fx; the guest kernel's crc32c over cold memory "
	       "(AF_ALG, 1 MiB pieces of %zu MiB) %.1f MB/s; the host's SSE4.2 crc32c over "
	       "cold memory (one stream, rawkv-bench --host-crc) %.1f MB/s; t_drive(n) = "
	       "80 us + n / 7 GB/s.\n\n", opt.host_crc_mbps, cal.user_mbps, slow,
	       CAL_COLD / MiB, gcrc, hcrc);
	printf("**Additive bound** (no overlap; all of rawkv's added wall time scaled like "
	       "the slicing-by-8 loop): added_host = (rawkv p50 - raw p50) / slowdown; "
	       "ratio = t_drive / (t_drive + added_host).\n\n");
	printf("| op | value | rawkv p50 us (guest) | raw p50 us (guest) | added_guest us | "
	       "added_host us | t_drive us | ratio |\n");
	printf("|---|---|--:|--:|--:|--:|--:|--:|\n");
	for (ri = 0; ri < nruns; ri++)
		for (gi = 0; gi < runs[ri].ngroups; gi++) {
			struct group *g = &runs[ri].g[gi];

			if (g->threads != 1 || g->batch != 1 || g->sync || g->uring)
				continue;
			for (op = 0; op < NOP; op++) {
				const struct result *a = &g->res[BK_RAWKV][op],
						    *b = &g->res[BK_RAW][op];
				double added, host, td;

				if (!a->ran || !b->ran || a->errors || b->errors)
					continue;
				added = (a->p50 - b->p50) * 1e6;
				host = added / slow;
				td = t_drive(g->vsize) * 1e6;
				printf("| %s | %s | %.0f | %.0f | %.0f | %.1f | %.1f | %.2f |\n",
				       op_name[op], size_str(g->vsize), a->p50 * 1e6, b->p50 * 1e6,
				       added, host, td, td / (td + (host > 0 ? host : 0)));
			}
		}
	if (gcrc <= 0 || hcrc <= 0)
		return;
	printf("\n**Request model** (projected rawkv/raw): cpu_added = rawkv CPU per value - "
	       "raw CPU per value (the calling thread's CPU time, guest); crc_guest = value / "
	       "guest kernel crc32c (cold), part of cpu_added; other_host = (cpu_added - crc_guest) / "
	       "slowdown; crc_host = bytes / SSE4.2 crc32c (cold). PUT: its value's bios are in flight "
	       "while the crc runs, then the 1 KiB header (a 512-byte-sector drive) goes out: "
	       "t = max(t_drive(value), crc_host(value) + t_drive(1024)) + other_host. GET: header and value are read "
	       "together, each piece checksummed as it completes: t = t_drive(value) + "
	       "crc_host(last piece) + other_host. raw: t_drive(value).\n\n");
	printf("| op | value | rawkv CPU us/value (guest) | raw CPU us/value (guest) | "
	       "crc_guest us | other_host us | crc_host us (after I/O) | t_drive us | "
	       "rawkv t us | projected rawkv/raw |\n");
	printf("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n");
	for (ri = 0; ri < nruns; ri++)
		for (gi = 0; gi < runs[ri].ngroups; gi++) {
			struct group *g = &runs[ri].g[gi];

			if (g->threads != 1 || g->batch != 1 || g->sync || g->uring)
				continue;
			for (op = 0; op < NOP; op++) {
				const struct result *a = &g->res[BK_RAWKV][op],
						    *b = &g->res[BK_RAW][op];
				double v = g->vsize, crc_g, other, crc_h, td, t;

				if (!a->ran || !b->ran || a->errors || b->errors)
					continue;
				crc_g = v / (gcrc * 1e6);
				other = (a->cpu_op - b->cpu_op - crc_g) / slow;
				other = other > 0 ? other : 0;
				td = t_drive(v);
				if (op == OP_PUT) {
					crc_h = v / (hcrc * 1e6);
					t = crc_h + t_drive(1024) > td ? crc_h + t_drive(1024) : td;
					crc_h = t - td;	/* what shows after the value's I/O */
				} else {
					crc_h = get_tail_bytes(g->vsize) / (hcrc * 1e6);
					t = td + crc_h;
				}
				t += other;
				printf("| %s | %s | %.0f | %.0f | %.0f | %.1f | %.1f | %.1f | %.1f | "
				       "%.2f |\n", op_name[op], size_str(g->vsize), a->cpu_op * 1e6,
				       b->cpu_op * 1e6, crc_g * 1e6, other * 1e6, crc_h * 1e6,
				       td * 1e6, t * 1e6, td / t);
			}
		}
	printf("\nA model, not a measurement. It assumes rawkv's CPU time other than the "
	       "checksum scales like the slicing-by-8 loop between guest and host, that a "
	       "real core's crc32c runs at least as fast as one SSE4.2 stream on this host "
	       "(crc32c-intel interleaves three), and that the drive serves the header and "
	       "the value's bios of one request in parallel.\n");
}

static void report_model(void)
{
	int ri, gi, op, counted = 0, rows = 0;
	uint64_t bytes = 0;
	unsigned int lbs = 0;
	bool thr = opt.throttle_mbps > 0;
	int fd = open(opt.dev, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		ioctl(fd, BLKGETSIZE64, &bytes);
		ioctl(fd, BLKSSZGET, &lbs);
		close(fd);
	}
	printf("\n### %s: %s, %" PRIu64 " MiB, %u B logical blocks\n\n",
	       opt.dev, opt.label ? opt.label : "block device", bytes / MiB, lbs);
	if (cal.ran)
		printf("Calibration: guest kernel crc32c %.1f MB/s (%s%s%s); AF_ALG %.1f MB/s "
		       "(%s), %.1f MB/s over cold memory; user-space slicing-by-8 crc32c "
		       "%.1f MB/s.\n\n", cal.used, cal.source, cal.stat_drv[0] ? ", " : "",
		       cal.stat_drv, cal.kernel_mbps, cal.kernel_drv, cal.kernel_cold_mbps,
		       cal.user_mbps);
	if (thr)
		printf("Throttle: %.1f MB/s (QEMU throttling.bps-total). A row counts when raw "
		       "ran within +-10 %% of it. Rows stop at %.0f s (* = cut there).\n\n",
		       opt.throttle_mbps, opt.row_secs);
	else if (opt.row_secs > 0)
		printf("Unthrottled. Rows stop at %.0f s (* = cut there).\n\n", opt.row_secs);
	printf("| op | value | thr | calls | rawkv values | rawkv s | rawkv MB/s | rawkv p50 us | "
	       "rawkv p99 us | raw values | raw s | raw MB/s | raw p50 us | raw p99 us | "
	       "rawkv/raw | CPUs busy rawkv / raw |%s\n", thr ? " raw vs throttle | counts |" : "");
	printf("|---|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|%s\n",
	       thr ? "--:|---|" : "");
	for (ri = 0; ri < nruns; ri++)
		for (gi = 0; gi < runs[ri].ngroups; gi++) {
			struct group *g = &runs[ri].g[gi];

			for (op = 0; op < NOP; op++) {
				const struct result *a = &g->res[BK_RAWKV][op], *b = &g->res[BK_RAW][op];
				char calls[48];

				if (!a->ran && !b->ran)
					continue;
				if (g->uring)
					snprintf(calls, sizeof(calls), "io_uring, depth %d", g->batch);
				else if (g->batch > 1)
					snprintf(calls, sizeof(calls), "batch %d%s", g->batch,
						 " (raw: AIO)");
				else
					snprintf(calls, sizeof(calls), "%s",
						 g->sync ? "sync (raw: O_DSYNC)" : "1");
				printf("| %s%s | %s | %d | %s |", op_name[op], g->sync ? "-sync" : "",
				       size_str(g->vsize), g->threads, calls);
				mcell(a, g->vsize);
				mcell(b, g->vsize);
				if (mbps(a, g->vsize) > 0 && mbps(b, g->vsize) > 0)
					printf(" %.2f |", mbps(a, g->vsize) / mbps(b, g->vsize));
				else
					printf(" - |");
				printf(" %.0f %% / %.0f %% |", a->busy * 100, b->busy * 100);
				if (thr) {
					double dev = mbps(b, g->vsize) / opt.throttle_mbps - 1;
					bool ok = b->ran && !b->errors && dev >= -0.10 && dev <= 0.10;

					rows++;
					counted += ok;
					if (mbps(b, g->vsize) > 0)
						printf(" %+.0f %% | %s |", dev * 100, ok ? "yes" : "no");
					else
						printf(" - | no |");
				}
				putchar('\n');
			}
		}
	if (thr)
		printf("\nRows that count (raw within +-10 %% of %.1f MB/s): %d of %d.\n",
		       opt.throttle_mbps, counted, rows);

	/* The latency a single caller sees, projected onto a fast drive: a model. */
	if (!thr && cal.user_mbps > 0 && opt.host_crc_mbps > 0)
		report_projection();
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
"  --batch N          values per batch call for sizes <= 64 KiB (default 32; 1: none)\n"
"  --row-mib X        MiB moved per row, before the limits below (default 256)\n"
"  --min-ops N        at least N values per row (default 24)\n"
"  --max-ops N        at most N values per row (default 1024)\n"
"  --mem-entries N    entries stored for the memory row (default 100000; 0: skip)\n"
"  --model            the drive model's rows: 4 KiB batches only, then per size\n"
"                     PUT/GET and PUT-sync per thread count, io_uring up to 1 MiB\n"
"  --threads LIST     thread counts, up to 4 (default 1,8; --model: 1,4,8)\n"
"  --depth N          io_uring depth (default 32; 0: no io_uring rows)\n"
"  --row-secs S       stop a row after S seconds (default 0: never)\n"
"  --throttle-mbps X  the device is throttled to X MB/s: print the +-10 %% check\n"
"  --host-crc-mbps X  the host's user-space crc32c speed, for the projection\n"
"  --host-hwcrc-mbps X  the host's SSE4.2 crc32c speed, for the projection\n"
"  --calibrate        first measure crc32c (user space, AF_ALG, rawkv stat)\n"
"  --no-raw, --no-sync  rawkv rows only; no PUT-sync group (--model)\n"
"  --perf PROG        profile the first 1-thread PUT and GET rows with PROG record\n"
"  rawkv-bench --host-crc   print this binary's crc32c speed here and exit\n"
"Must run as root with rawkv unloaded. DEVICE is overwritten.\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct stat st;
	int i, ri;
	bool threads_set = false;

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
		if (!strcmp(a, "--host-crc")) {
			double m = user_crc_mbps(), h = hw_crc_mbps(CAL_COLD);

			printf("BENCH-HOSTCRC user_crc32c_mbps=%.1f hw_crc32c_mbps=%.1f "
			       "hw_hot_crc32c_mbps=%.1f\n", m, h, hw_crc_mbps(CAL_BUF));
			return m > 0 ? 0 : 1;
		}
		if (!strcmp(a, "--model")) {
			opt.model = true;
			continue;
		}
		if (!strcmp(a, "--calibrate")) {
			opt.calibrate = true;
			continue;
		}
		if (!strcmp(a, "--no-raw")) {
			opt.no_raw = true;
			continue;
		}
		if (!strcmp(a, "--no-sync")) {
			opt.no_sync = true;
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
			threads_set = true;
			char *s = strdup(v), *tok, *save = NULL;

			opt.nthreads = 0;
			for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				if (opt.nthreads == MAX_TCOUNTS)
					usage();
				opt.threads[opt.nthreads] = atoi(tok);
				if (opt.threads[opt.nthreads] < 1 ||
				    opt.threads[opt.nthreads] > MAX_THREADS)
					usage();
				opt.nthreads++;
			}
			free(s);
			if (!opt.nthreads)
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
		else if (!strcmp(a, "--depth"))
			opt.depth = atoi(v);
		else if (!strcmp(a, "--row-secs"))
			opt.row_secs = atof(v);
		else if (!strcmp(a, "--throttle-mbps"))
			opt.throttle_mbps = atof(v);
		else if (!strcmp(a, "--host-crc-mbps"))
			opt.host_crc_mbps = atof(v);
		else if (!strcmp(a, "--host-hwcrc-mbps"))
			opt.host_hwcrc_mbps = atof(v);
		else if (!strcmp(a, "--perf"))
			opt.perf = v;
		else
			usage();
	}
	if (opt.model && !threads_set) {
		opt.threads[0] = 1;
		opt.threads[1] = 4;
		opt.threads[2] = 8;
		opt.nthreads = 3;
	}
	if (!opt.dev || opt.row_mib <= 0 || !opt.min_ops || opt.max_ops < opt.min_ops ||
	    opt.depth < 0 || opt.depth > MAX_BATCH)
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
	note("rawkv-bench on %s (%s); batch calls %s; rawkv io_uring calls %s; liburing %s",
	     opt.dev, opt.label ? opt.label : "",
	     RAWKV_HAVE_BATCH ? "built in" : "not in this librawkv: no batch rows",
	     RAWKV_HAVE_RING ? "built in" : "not in this librawkv: raw io_uring rows only",
	     HAVE_LIBURING ? "built in" : "missing: no raw io_uring rows");

	if (opt.calibrate)
		phase_calibrate();
	if (opt.mem_entries)
		phase_mem();
	for (ri = 0; ri < opt.nsizes; ri++) {
		struct sizerun *r = &runs[nruns++];

		r->vsize = opt.sizes[ri];
		r->slot_size = slot_size_for(r->vsize);
		phase_rawkv(r);
		if (mod_loaded())
			break;	/* cannot touch the device */
		if (opt.no_raw)
			continue;
		phase_raw(r);
		phase_file(r);
	}
	if (opt.calibrate) {
		/* Again after the rows: the host is shared, the faster of the two counts. */
		double m = user_crc_mbps();

		note("calibration: user-space crc32c again after the rows: %.1f MB/s (before: %.1f)",
		     m, cal.user_mbps);
		if (m > cal.user_mbps)
			cal.user_mbps = m;
	}
	note("done in %.1f s, %d errors", now() - t_start, failures);
	if (opt.model)
		report_model();
	else
		report();
	return failures ? 1 : 0;
}
