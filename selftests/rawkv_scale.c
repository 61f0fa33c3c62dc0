// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv_scale: the rows of `make scale` (issue 9, "Measured by make
 * scale"), run in the test VM on sparse disk images:
 *
 *   1. 4 TiB, 64 KiB slots (~67 M slots): format, PUT --values values,
 *      rmmod, reload, GET them all: every value back, no kernel WARNING.
 *   2. 4 TiB, 1 MiB slots, --values values: device bytes read by a clean
 *      reload (rawkv_stat bytes_read right after insmod) <= 32 B x slots
 *      + 64 MiB; every value back.
 *   3. 32 GiB, 8 KiB slots, --entries entries of 128 B: bytes written by
 *      a FLUSH after 1 PUT <= 64 KiB, and after 100 PUTs <= 512 KiB (the
 *      largest of three tries each).
 *   4. The same store: flushed PUTs, then unflushed ones, then a power
 *      cut (fault_inject's powercut_at: rmmod's final commit never
 *      reaches the device), reload: every flushed key holds its flushed
 *      value and no unflushed PUT left a trace. The load time is printed.
 *   5. The same store: GET p99 while another thread runs PUT + FLUSH back
 *      to back, over GET p99 with nothing else running: <= 2. The GETs
 *      alternate between the two in ROW5_BLOCKS blocks each, so that
 *      the host's noise falls on both alike, and the writer goes on until
 *      it has filled half the log (a background writeback runs among
 *      them). With --scratch, a third side is printed, not judged: GETs
 *      beside the same I/O done with O_DIRECT on another disk, which is
 *      what the emulated machine alone does to a GET's latency.
 *   6. Kernel memory per slot, (entry_mem_bytes + table_mem_bytes) /
 *      slots_total <= 40 B, on each of the three devices.
 *
 * Usage: rawkv_scale [--dev64k DEV] [--dev1m DEV] [--dev8k DEV]
 *                    [--values N] [--entries N] [--gets N] [--scratch DEV]
 *
 * Rows run only for the devices given. Every device given is formatted,
 * and --scratch DEV (33 MiB at least) overwritten. --gets is the number of
 * GETs on each side of row 5 (default 4000).
 * Prints TAP ("ok N - ..." per row, informational "# " lines in between),
 * then the table (measured against target), then "N passed, N failed".
 * Exit status: 0 when every row that ran met its target, 1 otherwise, 2 on
 * bad usage. Every row also fails on a BUG/WARNING/Oops line in the
 * kernel log written while it ran (read from /dev/kmsg).
 *
 * Only the power-cut row loads the module with fault_inject=1; the rows
 * that measure run without it. No periodic commit runs (checkpoint_ms is
 * an hour), so FLUSH and rmmod are the only commits.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rawkv_crash_util.h"
#include "rawkv_test_util.h"

#define KiB		1024ULL
#define MiB		(1024 * KiB)
#define GiB		(1024 * MiB)

#define BIG_BATCH	64		/* values per batch on the 4 TiB disks */
#define SMALL_BATCH	256		/* entries per batch on the 32 GiB disk */
#define SMALL_VLEN	128		/* bytes of each entry's value */
#define HOT_KEYS	2000		/* keys the writer of row 5 overwrites */
#define TRIES		3		/* FLUSH measurements per row 3 case */
#define ROW5_BLOCKS	8		/* row 5: idle and busy blocks, alternating */
#define CUT_ROUNDS	10		/* row 4: flushed rounds of 100 PUTs */
#define CUT_NEW		(CUT_ROUNDS * 50 + 100)	/* new keys row 4 PUTs */

enum {
	R_64K, R_1M_READ, R_FLUSH1, R_FLUSH100, R_POWERCUT, R_P99,
	R_MEM_64K, R_MEM_1M, R_MEM_8K, NROWS
};

struct row {
	char name[128];
	const char *today;
	char target[96];
	char measured[192];
	int state;			/* 0: not run, 1: pass, -1: fail */
};

static struct row rows[NROWS] = {
	/* The first three are named with the device size when they run. */
	[R_64K] = { "", "insmod -ENOMEM + WARNING" },
	[R_1M_READ] = { "", "17.2 GB" },
	[R_FLUSH1] = { "", "7.2 MB" },
	[R_FLUSH100] = { "same: bytes written by FLUSH after 100 PUTs", "8.0 MB" },
	[R_POWERCUT] = { "same: reload after a power cut (no final commit), all flushed keys back",
			 "-" },
	[R_P99] = { "same: GET p99 while PUT+FLUSH run back to back, over GET p99 idle",
		    "-" },
	[R_MEM_64K] = { "kernel memory per slot, 64 KiB slots", "40 B" },
	[R_MEM_1M] = { "kernel memory per slot, 1 MiB slots", "40 B" },
	[R_MEM_8K] = { "kernel memory per slot, 8 KiB slots", "40 B" },
};

static int tap_n;

static void __attribute__((format(printf, 3, 4)))
row_done(int r, bool pass, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rows[r].measured, sizeof(rows[r].measured), fmt, ap);
	va_end(ap);
	rows[r].state = pass ? 1 : -1;
	printf("%sok %d - %s: %s (target %s)\n", pass ? "" : "not ",
	       ++tap_n, rows[r].name, rows[r].measured, rows[r].target);
	fflush(stdout);
}

/* "4 TiB" when exact, else "1.2 GiB" style, for the table. */
static const char *human(uint64_t b, char *s, size_t n)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u;

	for (u = 4; u > 0; u--)
		if (b >= 1ULL << (10 * u) && !(b & ((1ULL << (10 * u)) - 1)))
			break;
	if (u > 0 && u < 4 && b >= 10ULL << (10 * (u + 1)))
		u = 0;		/* "16384 MiB": better approximate */
	if (u > 0 || b < 10 * KiB) {
		snprintf(s, n, "%" PRIu64 " %s", b >> (10 * u), unit[u]);
		return s;
	}
	for (u = 4; u > 1 && b < 10ULL << (10 * u); u--)
		;
	snprintf(s, n, "%.1f %s", (double)b / (1ULL << (10 * u)), unit[u]);
	return s;
}

/* ---- kernel log: rawkv's lines are shown, problem lines counted ---- */

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static const char *const klog_bad[] = {
	"BUG:", "WARNING:", "Oops", "general protection fault",
	"Kernel panic", "blocked for more than", "INFO: task",
	"possible circular locking", "DEBUG_LOCKS_WARN_ON", "UBSAN", "KASAN",
	"Call Trace", "unreferenced object", "inconsistent lock state",
};

/* The first problem line klog_read() saw, for the table. */
static char klog_first_bad[80];

/* /dev/kmsg positioned at the end: klog_read() reports what came later. */
static int klog_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

/* Print the new rawkv lines; return the new problem lines (printed too). */
static int klog_read(int fd)
{
	char rec[8192];
	int bad = 0;
	ssize_t n;

	if (fd < 0)
		return 0;
	for (;;) {
		const char *msg;
		unsigned int i;
		char *nl;

		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;	/* overwritten records: go on */
		if (n <= 0)
			break;
		rec[n] = 0;
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		nl = strchr(msg, '\n');
		if (nl)
			*nl = 0;
		for (i = 0; i < ARRAY_SIZE(klog_bad); i++)
			if (strstr(msg, klog_bad[i]))
				break;
		if (i < ARRAY_SIZE(klog_bad)) {
			if (!klog_first_bad[0])
				snprintf(klog_first_bad, sizeof(klog_first_bad),
					 "%.*s", (int)strcspn(msg, "+"), msg);
			bad++;
			printf("# kernel PROBLEM: %s\n", msg);
		} else if (!strncmp(msg, "rawkv", 5)) {
			printf("# kernel: %s\n", msg);
		}
	}
	fflush(stdout);
	return bad;
}

/* ---- module and handle ---- */

/*
 * insmod with @params, then wait until /dev/rawkv opens: *@secs is the
 * wall-clock time of both. Returns 0 with *@kv open, or -errno.
 */
static int load_timed(const char *params, double *secs, struct rawkv **kv)
{
	double t0 = kv_now();
	int ret, i;

	*kv = NULL;
	ret = kv_load("%s", params);
	if (ret)
		return ret;
	for (i = 0; i < 1000; i++) {
		ret = rawkv_open(NULL, kv);
		if (!ret)
			break;
		usleep(10 * 1000);
	}
	*secs = kv_now() - t0;
	return ret;
}

static int unload_timed(struct rawkv **kv, double *secs)
{
	double t0;
	int ret;

	if (*kv)
		rawkv_close(*kv);
	*kv = NULL;
	t0 = kv_now();
	ret = kv_unload();
	*secs = kv_now() - t0;
	return ret;
}

static int stat_of(struct rawkv *kv, struct rawkv_stat *st)
{
	int ret = rawkv_stat(kv, st);

	if (ret)
		printf("# rawkv_stat: %s\n", rawkv_strerror(ret));
	return ret;
}

static double mem_per_slot(const struct rawkv_stat *st)
{
	return st->slots_total ?
	       (double)(st->entry_mem_bytes + st->table_mem_bytes) /
	       st->slots_total : 0;
}

static void mem_row(int r, const struct rawkv_stat *st)
{
	double per = mem_per_slot(st);

	row_done(r, per <= 40.0,
		 "%.2f B (%" PRIu64 " + %" PRIu64 " B for %" PRIu64 " slots)",
		 per, st->entry_mem_bytes, st->table_mem_bytes,
		 st->slots_total);
}

static void note_mem(void)
{
	char line[256];
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "MemTotal:", 9) ||
		    !strncmp(line, "MemAvailable:", 13))
			printf("# guest %s", line);
	fclose(f);
}

/* ---- rows 1 and 2, and 6 for the 4 TiB disks ---- */

static uint64_t big_seed(unsigned int tag, uint32_t i)
{
	return ((uint64_t)tag << 40) ^ ((uint64_t)i * 0x9e3779b97f4a7c15ULL);
}

static size_t big_len(unsigned int tag, uint32_t i, size_t maxlen)
{
	uint64_t s = big_seed(tag, i) ^ 0x5bd1e995;

	return kv_rand(&s) % (maxlen + 1);
}

static void big_key(char *key, unsigned int tag, uint32_t i)
{
	snprintf(key, 32, "scale-%u-%07u", tag, i);
}

/*
 * Format @dev with @slot_size, PUT @nvalues values of 0 to 64 KiB (within
 * value_max), rmmod, reload, read the stats right after insmod, GET every
 * value back. @r is R_64K or R_1M_READ, @rmem the memory row.
 */
static void big_device(const char *dev, unsigned int slot_size, int r,
		       int rmem, uint32_t nvalues)
{
	unsigned int tag = slot_size >> 10;
	char params[256], key[BIG_BATCH][32], h1[32], h2[32];
	struct rawkv_op ops[BIG_BATCH];
	struct rawkv_stat st, ld;
	struct rawkv *kv = NULL;
	uint64_t bytes = 0, limit = 0;
	double t, t_fill;
	uint32_t i, j, n, good = 0, bad_put = 0, shown = 0;
	size_t maxlen;
	char *bufs = NULL, *want = NULL;
	int kfd, ret, problems = 0;
	int64_t devbytes = kv_dev_bytes(dev);

	human(devbytes > 0 ? devbytes : 0, h1, sizeof(h1));
	printf("# ==== %s: %s, slot_size %u, %u values\n", dev, h1, slot_size,
	       nvalues);
	if (r == R_64K)
		snprintf(rows[r].name, sizeof(rows[r].name),
			 "%s, %s slots: format, PUT %u values, rmmod, reload, GET all",
			 h1, human(slot_size, h2, sizeof(h2)), nvalues);
	else
		snprintf(rows[r].name, sizeof(rows[r].name),
			 "%s, %s slots, %u values: device bytes read by a clean reload",
			 h1, human(slot_size, h2, sizeof(h2)), nvalues);
	snprintf(rows[rmem].name, sizeof(rows[rmem].name),
		 "kernel memory per slot, %s / %s slots", h1, h2);
	kfd = klog_open();
	snprintf(params, sizeof(params), "dev=%s format=1 slot_size=%u %s",
		 dev, slot_size, KV_NO_PERIODIC);
	ret = load_timed(params, &t, &kv);
	problems += klog_read(kfd);
	if (ret) {
		printf("# insmod %s: %s\n", params, strerror(-ret));
		row_done(r, false, "insmod format=1: %s%s%s", strerror(-ret),
			 problems ? " + " : "", problems ? klog_first_bad : "");
		row_done(rmem, false, "not loaded");
		goto out;
	}
	if (stat_of(kv, &st))
		goto fail_stat;
	printf("# format (insmod format=1 until /dev/rawkv opens): %.2f s; %" PRIu64
	       " slots, value_max %" PRIu64 ", %s written\n", t, st.slots_total,
	       st.value_max, human(st.bytes_written, h1, sizeof(h1)));
	maxlen = st.value_max < 64 * KiB ? st.value_max : 64 * KiB;
	bufs = kv_alloc_aligned(BIG_BATCH * maxlen);
	want = malloc(maxlen ? maxlen : 1);
	if (!bufs || !want) {
		row_done(r, false, "out of memory in the test");
		row_done(rmem, false, "not measured");
		goto out;
	}

	t = kv_now();
	for (i = 0; i < nvalues; i += n) {
		n = nvalues - i < BIG_BATCH ? nvalues - i : BIG_BATCH;
		for (j = 0; j < n; j++) {
			size_t len = big_len(tag, i + j, maxlen);

			big_key(key[j], tag, i + j);
			kv_fill(bufs + j * maxlen, len, big_seed(tag, i + j));
			ops[j] = (struct rawkv_op){ key[j], strlen(key[j]),
						    bufs + j * maxlen, len, 0 };
			bytes += len;
		}
		ret = rawkv_put_batch(kv, ops, n);
		for (j = 0; j < n; j++)
			if (ret || ops[j].result) {
				if (!bad_put++)
					printf("# PUT %s: %s\n", key[j],
					       rawkv_strerror(ret ?: ops[j].result));
			}
	}
	t_fill = kv_now() - t;
	ret = rawkv_flush(kv);
	printf("# PUT %u values (%s) in %.2f s, %u failed; FLUSH: %s\n",
	       nvalues, human(bytes, h1, sizeof(h1)), t_fill, bad_put,
	       rawkv_strerror(ret));

	ret = unload_timed(&kv, &t);
	problems += klog_read(kfd);
	printf("# rmmod: %.2f s%s%s\n", t, ret ? ", failed: " : "",
	       ret ? strerror(-ret) : "");
	snprintf(params, sizeof(params), "dev=%s %s", dev, KV_NO_PERIODIC);
	ret = load_timed(params, &t, &kv);
	problems += klog_read(kfd);
	if (ret) {
		row_done(r, false, "reload failed: %s", strerror(-ret));
		row_done(rmem, false, "not loaded");
		goto out;
	}
	if (stat_of(kv, &ld))
		goto fail_stat;
	limit = 32 * ld.slots_total + 64 * MiB;
	printf("# clean reload: %.2f s, read %s (%" PRIu64 " B, %.2f B per slot), %"
	       PRIu64 " keys, load_dropped %" PRIu64 "\n", t,
	       human(ld.bytes_read, h1, sizeof(h1)), ld.bytes_read,
	       (double)ld.bytes_read / ld.slots_total, ld.slots_used,
	       ld.load_dropped);

	t = kv_now();
	for (i = 0; i < nvalues; i += n) {
		n = nvalues - i < BIG_BATCH ? nvalues - i : BIG_BATCH;
		for (j = 0; j < n; j++) {
			big_key(key[j], tag, i + j);
			ops[j] = (struct rawkv_op){ key[j], strlen(key[j]),
						    bufs + j * maxlen, maxlen, 0 };
		}
		ret = rawkv_get_batch(kv, ops, n);
		for (j = 0; j < n; j++) {
			size_t len = big_len(tag, i + j, maxlen);

			if (!ret && ops[j].result == (ssize_t)len) {
				kv_fill(want, len, big_seed(tag, i + j));
				if (!memcmp(want, bufs + j * maxlen, len)) {
					good++;
					continue;
				}
			}
			if (shown++ < 5)
				printf("# GET %s: %zd (want %zu bytes)%s\n",
				       key[j], ret ?: ops[j].result, len,
				       !ret && ops[j].result == (ssize_t)len ?
				       ", wrong bytes" : "");
		}
	}
	printf("# GET %u values: %u right, in %.2f s\n", nvalues, good,
	       kv_now() - t);
	if (stat_of(kv, &st))
		goto fail_stat;
	ret = unload_timed(&kv, &t);
	problems += klog_read(kfd);
	printf("# rmmod: %.2f s\n", t);

	if (r == R_1M_READ)
		snprintf(rows[r].target, sizeof(rows[r].target),
			 "<= 32 B x slots + 64 MiB = %s",
			 human(limit, h2, sizeof(h2)));
	if (r == R_64K)
		row_done(r, good == nvalues && !bad_put && !problems &&
			 ld.slots_used == nvalues && !ld.load_dropped,
			 "loads; %u of %u values back; %d kernel log problems; reload %s",
			 good, nvalues, problems,
			 human(ld.bytes_read, h1, sizeof(h1)));
	else
		row_done(r, ld.bytes_read <= limit && good == nvalues &&
			 !bad_put && !problems && ld.slots_used == nvalues &&
			 !ld.load_dropped,
			 "%s (%.2f B x %" PRIu64 " slots); %u of %u values back%s",
			 human(ld.bytes_read, h1, sizeof(h1)),
			 (double)ld.bytes_read / ld.slots_total,
			 ld.slots_total, good, nvalues,
			 problems ? "; kernel log problems" : "");
	mem_row(rmem, &st);
	goto out;

fail_stat:
	row_done(r, false, "rawkv_stat failed");
	row_done(rmem, false, "not measured");
out:
	if (kv || kv_loaded())
		unload_timed(&kv, &t);
	klog_read(kfd);
	if (kfd >= 0)
		close(kfd);
	free(bufs);
	free(want);
}

/* ---- rows 3, 4, 5, and 6 for the 32 GiB disk ---- */

/* Versions of every key of the small device; 0: absent. */
static uint32_t *ver;
static uint32_t nkeys;

static void small_key(char *key, uint32_t k)
{
	snprintf(key, 32, "scale-8k-%09u", k);
}

static void small_val(void *buf, uint32_t k, uint32_t v)
{
	kv_fill(buf, SMALL_VLEN, ((uint64_t)k << 24) ^ v ^ 0x8000000000ULL);
}

/* PUT keys @k[0..@n) with versions @v[]; returns how many failed. */
static int small_put(struct rawkv *kv, const uint32_t *k, const uint32_t *v,
		     uint32_t n)
{
	char key[SMALL_BATCH][32], val[SMALL_BATCH][SMALL_VLEN];
	struct rawkv_op ops[SMALL_BATCH];
	uint32_t i, done, m;
	int ret, bad = 0;

	for (done = 0; done < n; done += m) {
		m = n - done < SMALL_BATCH ? n - done : SMALL_BATCH;
		for (i = 0; i < m; i++) {
			small_key(key[i], k[done + i]);
			small_val(val[i], k[done + i], v[done + i]);
			ops[i] = (struct rawkv_op){ key[i], strlen(key[i]),
						    val[i], SMALL_VLEN, 0 };
		}
		ret = rawkv_put_batch(kv, ops, m);
		for (i = 0; i < m; i++)
			if (ret || ops[i].result) {
				if (!bad++)
					printf("# PUT %s: %s\n", key[i],
					       rawkv_strerror(ret ?: ops[i].result));
			}
	}
	return bad;
}

static uint64_t bytes_written(struct rawkv *kv)
{
	struct rawkv_stat st;

	return stat_of(kv, &st) ? 0 : st.bytes_written;
}

/* Row 3: the bytes one FLUSH writes after @n PUTs, the largest of TRIES. */
static uint64_t flush_cost(struct rawkv *kv, uint32_t n, uint32_t first,
			   int *err)
{
	uint32_t k[100], v[100], i, t;
	uint64_t worst = 0;

	for (t = 0; t < TRIES; t++) {
		uint64_t b0, b1;
		int ret;

		for (i = 0; i < n; i++) {
			k[i] = first + t * n + i;
			v[i] = ver[k[i]] + 1;
		}
		if (small_put(kv, k, v, n)) {
			(*err)++;
			continue;
		}
		for (i = 0; i < n; i++)
			ver[k[i]] = v[i];
		b0 = bytes_written(kv);
		ret = rawkv_flush(kv);
		b1 = bytes_written(kv);
		if (ret) {
			printf("# FLUSH: %s\n", rawkv_strerror(ret));
			(*err)++;
		}
		printf("# FLUSH after %u PUT%s (overwrites): %" PRIu64 " B written\n",
		       n, n > 1 ? "s" : "", b1 - b0);
		if (b1 - b0 > worst)
			worst = b1 - b0;
	}
	return worst;
}

/*
 * Row 5's writer: PUT a hot key, FLUSH, again, until told to stop; while
 * @pause is set it only sleeps (and says so in @paused). The reader polls
 * @rounds, @paused and @err.
 */
struct writer {
	struct rawkv *kv;
	int raw_fd;			/* >= 0: the raw baseline instead */
	void *raw_buf;
	int stop, pause, paused;
	uint64_t seed;
	long rounds;
	uint64_t fl_max, fl_sum;
	int err;
};

#define LOAD(x)		__atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define STORE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_RELEASE)

/*
 * The baseline of row 5: the same I/O as a PUT of a small value and its
 * FLUSH (8 KiB at a random slot, 4 KiB at a log block, a cache flush),
 * straight to a scratch device with O_DIRECT: what the emulated machine
 * itself does to a GET's latency, without rawkv's code in the way.
 */
static int raw_round(struct writer *w)
{
	uint64_t slot = kv_rand(&w->seed) % 4096;

	if (pwrite(w->raw_fd, w->raw_buf, 8192, (1 + slot) * 8192) != 8192 ||
	    pwrite(w->raw_fd, w->raw_buf, 4096, 4096 * (w->rounds % 64)) != 4096 ||
	    fdatasync(w->raw_fd)) {
		printf("# raw writer: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;

	while (!LOAD(w->stop)) {
		uint32_t k = kv_rand(&w->seed) % HOT_KEYS, v = ver[k] + 1;
		uint64_t b0, b1;
		int ret;

		if (LOAD(w->pause)) {
			STORE(w->paused, 1);
			usleep(1000);
			continue;
		}
		STORE(w->paused, 0);
		if (w->raw_fd >= 0) {
			if (raw_round(w)) {
				STORE(w->err, 1);
				break;
			}
			STORE(w->rounds, w->rounds + 1);
			continue;
		}
		if (small_put(w->kv, &k, &v, 1)) {
			STORE(w->err, 1);
			break;
		}
		ver[k] = v;
		b0 = bytes_written(w->kv);
		ret = rawkv_flush(w->kv);
		b1 = bytes_written(w->kv);
		if (ret) {
			printf("# writer FLUSH: %s\n", rawkv_strerror(ret));
			STORE(w->err, 1);
			break;
		}
		w->fl_sum += b1 - b0;
		if (b1 - b0 > w->fl_max)
			w->fl_max = b1 - b0;
		STORE(w->rounds, w->rounds + 1);
	}
	STORE(w->paused, 1);
	return NULL;
}

/* Pause or resume the writer, and wait until it is so. */
static void writer_pause(struct writer *w, int pause)
{
	STORE(w->pause, pause);
	while (LOAD(w->paused) != pause && !LOAD(w->err))
		usleep(200);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* p50 and p99 (nearest rank) of @n latencies, sorted in place. */
static void percentiles(double *lat, uint32_t n, double *p50, double *p99)
{
	qsort(lat, n, sizeof(*lat), cmp_double);
	*p50 = lat[(n * 50 + 99) / 100 - 1];
	*p99 = lat[(n * 99 + 99) / 100 - 1];
}

/*
 * GETs of random keys outside the writer's, one at a time, each timed into
 * *@lat from index *@done on (seconds; grown as needed) and checked: at
 * least @n of them, and with @w, on until its writer has done @rounds
 * PUT+FLUSH cycles (or failed). Adds them to *@done; returns how many were wrong.
 */
static int timed_gets(struct rawkv *kv, uint32_t entries, uint32_t n,
		      uint64_t *seed, double **lat, uint32_t *cap,
		      uint32_t *done, struct writer *w, long rounds)
{
	char key[32], buf[SMALL_VLEN * 2], want[SMALL_VLEN];
	uint32_t i;
	int bad = 0;

	for (i = *done; i < *done + n ||
	     (w && LOAD(w->rounds) < rounds && !LOAD(w->err)); i++) {
		uint32_t k = HOT_KEYS + kv_rand(seed) % (entries - HOT_KEYS);
		double t0;
		ssize_t r;

		if (i == *cap) {
			double *more = realloc(*lat, 2 * *cap * sizeof(**lat));

			if (!more) {
				printf("# out of memory for latencies\n");
				bad++;
				break;
			}
			*lat = more;
			*cap *= 2;
		}
		small_key(key, k);
		t0 = kv_now();
		r = rawkv_get(kv, key, strlen(key), buf, sizeof(buf));
		(*lat)[i] = kv_now() - t0;
		small_val(want, k, ver[k]);
		if (r != SMALL_VLEN || memcmp(buf, want, SMALL_VLEN)) {
			if (!bad++)
				printf("# GET %s: %zd%s\n", key, r,
				       r == SMALL_VLEN ? ", wrong bytes" : "");
		}
	}
	*done = i;
	return bad;
}

/*
 * Read back keys 0..nkeys-1 and compare each with ver[] (0: must be
 * absent). @unflushed[k] is the version an unflushed PUT wrote (0: none),
 * to name what a wrong value is. Returns the number of wrong keys;
 * *@n_good: keys present with the right value, *@n_leaked: keys holding
 * an unflushed value.
 */
static uint32_t small_verify(struct rawkv *kv, const uint32_t *unflushed,
			     uint32_t *n_good, uint32_t *n_leaked)
{
	static char key[SMALL_BATCH][32];
	static char buf[SMALL_BATCH][SMALL_VLEN * 2];
	char want[SMALL_VLEN];
	struct rawkv_op ops[SMALL_BATCH];
	uint32_t k, i, m, wrong = 0;
	int ret;

	*n_good = 0;
	*n_leaked = 0;
	for (k = 0; k < nkeys; k += m) {
		m = nkeys - k < SMALL_BATCH ? nkeys - k : SMALL_BATCH;
		for (i = 0; i < m; i++) {
			small_key(key[i], k + i);
			ops[i] = (struct rawkv_op){ key[i], strlen(key[i]),
						    buf[i], sizeof(buf[i]), 0 };
		}
		ret = rawkv_get_batch(kv, ops, m);
		for (i = 0; i < m; i++) {
			uint32_t id = k + i, v = ver[id];
			ssize_t r = ret ?: ops[i].result;
			const char *what = NULL;

			if (!v) {
				if (r == -ENOENT)
					continue;
				what = "should be absent";
			} else if (r == SMALL_VLEN) {
				small_val(want, id, v);
				if (!memcmp(buf[i], want, SMALL_VLEN)) {
					(*n_good)++;
					continue;
				}
				what = "wrong bytes";
			} else {
				what = "missing";
			}
			if (unflushed[id] && r == SMALL_VLEN) {
				small_val(want, id, unflushed[id]);
				if (!memcmp(buf[i], want, SMALL_VLEN)) {
					what = "holds its unflushed value";
					(*n_leaked)++;
				}
			}
			if (wrong++ < 10)
				printf("# key %s (flushed version %u): %s (GET %zd)\n",
				       key[i], v, what, r);
		}
	}
	return wrong;
}

static void small_device(const char *dev, uint32_t entries, uint32_t ngets,
			 const char *scratch)
{
	char params[256], h1[32];
	struct rawkv_stat st, ld;
	struct rawkv *kv = NULL;
	uint32_t *k = NULL, *v = NULL, *unflushed = NULL, i, r, wrong;
	uint32_t good, leaked, flushed_new = 0, cap, cap_busy, cap_raw, n;
	uint32_t n_busy, n_raw;
	uint64_t log_blocks = 0;
	struct rawkv_sb sb;
	uint64_t seed = 42, w1, w100, cut_w = 0;
	double t, t_cut = 0, idle50, idle99, busy50, busy99;
	double *lat = NULL, *lat_busy = NULL, *lat_raw = NULL;
	struct writer w = { .seed = 7 }, raw = {};
	pthread_t th, raw_th;
	int kfd = -1, ret, err = 0, bad, problems = 0, p3, p5;
	int64_t devbytes = kv_dev_bytes(dev);

	human(devbytes > 0 ? devbytes : 0, h1, sizeof(h1));
	printf("# ==== %s: %s, slot_size 8192, %u entries of %u B\n", dev, h1,
	       entries, SMALL_VLEN);
	snprintf(rows[R_FLUSH1].name, sizeof(rows[R_FLUSH1].name),
		 "%s, 8 KiB slots, %u entries: bytes written by FLUSH after 1 PUT",
		 h1, entries);
	snprintf(rows[R_MEM_8K].name, sizeof(rows[R_MEM_8K].name),
		 "kernel memory per slot, %s / 8 KiB slots", h1);
	nkeys = entries + CUT_NEW;
	ver = calloc(nkeys, sizeof(*ver));
	unflushed = calloc(nkeys, sizeof(*unflushed));
	k = calloc(entries, sizeof(*k));
	v = calloc(entries, sizeof(*v));
	cap = ngets;
	cap_busy = ngets;
	cap_raw = ngets;
	lat = calloc(cap, sizeof(*lat));
	lat_busy = calloc(cap_busy, sizeof(*lat_busy));
	lat_raw = calloc(cap_raw, sizeof(*lat_raw));
	if (!ver || !unflushed || !k || !v || !lat || !lat_busy || !lat_raw || entries <= HOT_KEYS + 1000) {
		printf("# out of memory, or --entries not above %u\n",
		       HOT_KEYS + 1000);
		goto fail_all;
	}

	kfd = klog_open();
	snprintf(params, sizeof(params), "dev=%s format=1 slot_size=8192 %s",
		 dev, KV_NO_PERIODIC);
	ret = load_timed(params, &t, &kv);
	problems += klog_read(kfd);
	if (ret) {
		printf("# insmod %s: %s\n", params, strerror(-ret));
		goto fail_all_klog;
	}
	if (stat_of(kv, &st))
		goto fail_all_klog;
	printf("# format: %.2f s; %" PRIu64 " slots\n", t, st.slots_total);

	/* Fill, and commit it all. */
	for (i = 0; i < entries; i++) {
		k[i] = i;
		v[i] = 1;
	}
	t = kv_now();
	bad = small_put(kv, k, v, entries);
	for (i = 0; i < entries; i++)
		ver[i] = 1;
	ret = rawkv_flush(kv);
	if (stat_of(kv, &st))
		goto fail_all_klog;
	printf("# PUT %u entries in batches of %u + FLUSH: %.1f s, %d failed, FLUSH %s; %"
	       PRIu64 " keys, %" PRIu64 " commits, %" PRIu64 " evictions\n",
	       entries, SMALL_BATCH, kv_now() - t, bad, rawkv_strerror(ret),
	       st.slots_used, st.checkpoints, st.evictions);
	err += bad + !!ret + (st.slots_used != entries);
	mem_row(R_MEM_8K, &st);

	/* A clean reload: the log is released, nothing runs in the back. */
	ret = unload_timed(&kv, &t);
	printf("# rmmod: %.2f s%s\n", t, ret ? " (failed)" : "");
	if (!kv_read_sb(dev, &sb))
		log_blocks = le64toh(sb.log_blocks);
	snprintf(params, sizeof(params), "dev=%s %s", dev, KV_NO_PERIODIC);
	ret = load_timed(params, &t, &kv);
	problems += klog_read(kfd);
	if (ret || stat_of(kv, &ld)) {
		printf("# reload: %s\n", strerror(-ret));
		goto fail_rows_klog;
	}
	printf("# clean reload of %" PRIu64 " keys: %.2f s, read %s (%.2f B per slot)\n",
	       ld.slots_used, t, human(ld.bytes_read, h1, sizeof(h1)),
	       (double)ld.bytes_read / ld.slots_total);

	/* Row 3 */
	w1 = flush_cost(kv, 1, 0, &err);
	w100 = flush_cost(kv, 100, 100, &err);
	p3 = klog_read(kfd);
	problems += p3;
	row_done(R_FLUSH1, w1 <= 64 * KiB && !err && !p3,
		 "%s (largest of %d)", human(w1, h1, sizeof(h1)), TRIES);
	row_done(R_FLUSH100, w100 <= 512 * KiB && !err && !p3,
		 "%s (largest of %d)", human(w100, h1, sizeof(h1)), TRIES);

	/*
	 * Row 5, in ROW5_BLOCKS rounds of: GETs with the writer paused, then
	 * GETs beside it, so that the host's noise falls on both alike (and,
	 * with a scratch device, GETs beside the raw baseline writer). The
	 * writer runs until it has filled half the log at least once (a
	 * commit of one PUT is one log block), so that its FLUSHes queue a
	 * background writeback while GETs run.
	 */
	w.kv = kv;
	w.raw_fd = -1;
	w.pause = 1;
	w.paused = 1;
	raw.raw_fd = -1;
	raw.pause = 1;
	raw.paused = 1;
	raw.seed = 11;
	if (scratch) {
		raw.raw_fd = open(scratch, O_RDWR | O_DIRECT | O_CLOEXEC);
		raw.raw_buf = kv_alloc_aligned(8192);
		if (raw.raw_fd < 0 || !raw.raw_buf ||
		    kv_dev_bytes(scratch) < 33 * (int64_t)MiB) {
			printf("# scratch device %s: cannot use it (needs 33 MiB)\n",
			       scratch);
			if (raw.raw_fd >= 0)
				close(raw.raw_fd);
			raw.raw_fd = -1;
		}
	}
	if (pthread_create(&th, NULL, writer_main, &w) ||
	    (raw.raw_fd >= 0 && pthread_create(&raw_th, NULL, writer_main, &raw))) {
		printf("# pthread_create failed\n");
		goto fail_rows_klog;
	}
	n = 0;
	n_busy = 0;
	n_raw = 0;
	t = 0;
	bad = 0;
	for (r = 0; r < ROW5_BLOCKS; r++) {
		double tb;

		bad += timed_gets(kv, entries, ngets / ROW5_BLOCKS, &seed, &lat,
				  &cap, &n, NULL, 0);
		writer_pause(&w, 0);
		tb = kv_now();
		bad += timed_gets(kv, entries, ngets / ROW5_BLOCKS, &seed,
				  &lat_busy, &cap_busy, &n_busy, &w,
				  (log_blocks / 2 + 64) * (r + 1) / ROW5_BLOCKS);
		t += kv_now() - tb;
		writer_pause(&w, 1);
		if (raw.raw_fd < 0)
			continue;
		writer_pause(&raw, 0);
		bad += timed_gets(kv, entries, ngets / ROW5_BLOCKS, &seed,
				  &lat_raw, &cap_raw, &n_raw, NULL, 0);
		writer_pause(&raw, 1);
	}
	STORE(w.stop, 1);
	pthread_join(th, NULL);
	if (raw.raw_fd >= 0) {
		STORE(raw.stop, 1);
		pthread_join(raw_th, NULL);
		close(raw.raw_fd);
	}
	free(raw.raw_buf);
	percentiles(lat, n, &idle50, &idle99);
	percentiles(lat_busy, n_busy, &busy50, &busy99);
	p5 = klog_read(kfd);
	problems += p5;
	printf("# GET p50/p99 (us): idle %.0f/%.0f (%u GETs); beside PUT+FLUSH %.0f/%.0f (%u GETs); %d blocks of each, alternating\n",
	       idle50 * 1e6, idle99 * 1e6, n, busy50 * 1e6, busy99 * 1e6,
	       n_busy, ROW5_BLOCKS);
	printf("# writer: %ld PUT+FLUSH rounds in %.1f s (log of %" PRIu64 " blocks); bytes written per FLUSH: mean %.0f, largest %" PRIu64 "\n",
	       w.rounds, t, log_blocks,
	       w.rounds ? (double)w.fl_sum / w.rounds : 0.0, w.fl_max);
	if (n_raw) {
		double raw50, raw99;

		percentiles(lat_raw, n_raw, &raw50, &raw99);
		printf("# baseline: GET p50/p99 beside raw O_DIRECT writes + fdatasync on %s (the same I/O as PUT+FLUSH, %ld rounds): %.0f/%.0f us, %.2fx idle\n",
		       scratch, raw.rounds, raw50 * 1e6, raw99 * 1e6,
		       idle99 > 0 ? raw99 / idle99 : 0);
	}
	row_done(R_P99, busy99 <= 2 * idle99 && !bad && !w.err && !p5,
		 "%.2fx (p99 %.0f us beside PUT+FLUSH, %.0f us idle; %ld FLUSHes meanwhile%s)",
		 idle99 > 0 ? busy99 / idle99 : 0, busy99 * 1e6, idle99 * 1e6,
		 w.rounds, bad ? "; wrong GETs" : w.err ? "; writer failed" : "");

	/* Row 4: a store with fault injection, flushed and unflushed PUTs. */
	ret = unload_timed(&kv, &t);
	snprintf(params, sizeof(params), "dev=%s fault_inject=1 %s", dev,
		 KV_NO_PERIODIC);
	ret = ret ?: load_timed(params, &t, &kv);
	problems += klog_read(kfd);
	if (ret) {
		printf("# reload with fault_inject=1: %s\n", strerror(-ret));
		row_done(R_POWERCUT, false, "reload with fault_inject=1 failed");
		goto out;
	}
	err = 0;
	for (r = 0; r < CUT_ROUNDS; r++) {
		for (i = 0; i < 100; i++) {
			k[i] = i < 50 ? HOT_KEYS + kv_rand(&seed) % (entries - HOT_KEYS) :
			       entries + flushed_new++;
			/* the same key twice in a batch: the last wins */
			v[i] = ++ver[k[i]];
		}
		err += small_put(kv, k, v, 100);
		ret = rawkv_flush(kv);
		if (ret) {
			printf("# FLUSH: %s\n", rawkv_strerror(ret));
			err++;
		}
	}
	/* Unflushed: 100 overwrites of distinct keys and 100 new keys. */
	for (i = 0; i < 200; i++) {
		k[i] = i < 100 ? HOT_KEYS + 1 + i * ((entries - HOT_KEYS - 1) / 100) :
		       entries + flushed_new + (i - 100);
		v[i] = ver[k[i]] + 1;
		unflushed[k[i]] = v[i];
	}
	err += small_put(kv, k, v, 200);
	ret = kv_dbg_get("write_bios", &cut_w);
	ret = ret ?: kv_dbg_set("powercut_at", cut_w + 1);
	if (ret) {
		printf("# arming the power cut: %s\n", strerror(-ret));
		row_done(R_POWERCUT, false, "cannot arm the power cut");
		goto out;
	}
	ret = unload_timed(&kv, &t);
	printf("# %u flushed PUTs (%u new keys) in %d FLUSHes, then 200 unflushed PUTs; power cut at write bio %" PRIu64 "; rmmod %.2f s\n",
	       CUT_ROUNDS * 100, flushed_new, CUT_ROUNDS, cut_w + 1, t);
	snprintf(params, sizeof(params), "dev=%s %s", dev, KV_NO_PERIODIC);
	ret = ret ?: load_timed(params, &t_cut, &kv);
	problems += klog_read(kfd);
	if (ret || stat_of(kv, &ld)) {
		printf("# reload after the power cut: %s\n", strerror(-ret));
		row_done(R_POWERCUT, false, "reload after the power cut failed: %s",
			 strerror(-ret));
		goto out;
	}
	printf("# reload after the power cut: %.2f s, read %s, %" PRIu64 " keys, load_dropped %" PRIu64 "\n",
	       t_cut, human(ld.bytes_read, h1, sizeof(h1)), ld.slots_used,
	       ld.load_dropped);
	{
		double tv = kv_now();

		wrong = small_verify(kv, unflushed, &good, &leaked);
		printf("# read back %u keys in %.1f s: %u right, %u wrong, %u unflushed PUTs survived\n",
		       nkeys, kv_now() - tv, good, wrong, leaked);
	}
	ret = unload_timed(&kv, &t);
	bad = klog_read(kfd);
	problems += bad;
	row_done(R_POWERCUT, !wrong && !err && !bad && !ld.load_dropped &&
		 ld.slots_used == entries + flushed_new,
		 "%s: %u of %u flushed keys back, %u unflushed PUTs survived; load %.2f s (%s read)%s",
		 wrong ? "no" : "yes", good, entries + flushed_new,
		 leaked, t_cut, human(ld.bytes_read, h1, sizeof(h1)),
		 err ? "; PUT or FLUSH failed" : bad ? "; kernel log problems" : "");
	goto out;

fail_all_klog:
	klog_read(kfd);
fail_all:
	row_done(R_MEM_8K, false, "not measured");
fail_rows_klog:
	row_done(R_FLUSH1, false, "not run");
	row_done(R_FLUSH100, false, "not run");
	row_done(R_P99, false, "not run");
	row_done(R_POWERCUT, false, "not run");
out:
	if (kv || kv_loaded())
		unload_timed(&kv, &t);
	if (problems)
		printf("# %d kernel log problems on %s\n", problems, dev);
	free(ver);
	free(unflushed);
	free(k);
	free(v);
	free(lat);
	free(lat_busy);
	free(lat_raw);
	ver = NULL;
	if (kfd >= 0)
		close(kfd);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: rawkv_scale [--dev64k DEV] [--dev1m DEV] [--dev8k DEV]\n"
		"                   [--values N] [--entries N] [--gets N] [--scratch DEV]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dev64k", required_argument, NULL, 'a' },
		{ "dev1m", required_argument, NULL, 'b' },
		{ "dev8k", required_argument, NULL, 'c' },
		{ "values", required_argument, NULL, 'v' },
		{ "entries", required_argument, NULL, 'e' },
		{ "gets", required_argument, NULL, 'g' },
		{ "scratch", required_argument, NULL, 's' },
		{}
	};
	const char *dev64k = NULL, *dev1m = NULL, *dev8k = NULL, *scratch = NULL;
	uint32_t values = 2000, entries = 300000, gets = 4000;
	int c, i, passed = 0, failed = 0;
	double t0 = kv_now();

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			dev64k = optarg;
			break;
		case 'b':
			dev1m = optarg;
			break;
		case 'c':
			dev8k = optarg;
			break;
		case 'v':
			values = strtoul(optarg, NULL, 0);
			break;
		case 'e':
			entries = strtoul(optarg, NULL, 0);
			break;
		case 'g':
			gets = strtoul(optarg, NULL, 0);
			break;
		case 's':
			scratch = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || (!dev64k && !dev1m && !dev8k) || !gets)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);

	strcpy(rows[R_64K].target, "loads, all values back, no WARNING");
	strcpy(rows[R_1M_READ].target, "<= 32 B x slots + 64 MiB");
	strcpy(rows[R_FLUSH1].target, "<= 64 KiB");
	strcpy(rows[R_FLUSH100].target, "<= 512 KiB");
	strcpy(rows[R_POWERCUT].target, "yes; time printed");
	strcpy(rows[R_P99].target, "<= 2x");
	for (i = R_MEM_64K; i <= R_MEM_8K; i++)
		strcpy(rows[i].target, "<= 40 B");

	printf("TAP version 13\n");
	printf("# rawkv_scale: %u values on the 4 TiB disks, %u entries on the 32 GiB one\n",
	       values, entries);
	note_mem();
	if (kv_loaded() && kv_unload())
		printf("# rawkv was loaded and does not unload\n");
	if (dev64k)
		big_device(dev64k, 64 * 1024, R_64K, R_MEM_64K, values);
	if (dev1m)
		big_device(dev1m, 1024 * 1024, R_1M_READ, R_MEM_1M, values);
	if (dev8k)
		small_device(dev8k, entries, gets, scratch);
	printf("1..%d\n", tap_n);

	printf("\n| case | today | target | measured | |\n|---|---|---|---|---|\n");
	for (i = 0; i < NROWS; i++) {
		if (!rows[i].state)
			continue;
		printf("| %s | %s | %s | %s | %s |\n", rows[i].name,
		       rows[i].today, rows[i].target, rows[i].measured,
		       rows[i].state > 0 ? "ok" : "MISSED");
		if (rows[i].state > 0)
			passed++;
		else
			failed++;
	}
	printf("\n# rawkv_scale: %.0f s\n", kv_now() - t0);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
