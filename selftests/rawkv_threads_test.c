// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv under concurrency: 8 threads share one handle and do random PUT,
 * GET and DELETE on 32 overlapping keys. Every value names its key, its
 * writer and a version, and carries a checksum, so a GET result can be
 * checked to be a value some thread PUT for that very key: never another
 * key's bytes, never a mix of two values. GET and DELETE may find no key;
 * nothing else may fail. With 512 KiB slots vdb has about 120: far more
 * than the 32 keys and 8 PUTs in flight, so nothing may be evicted (evict=1)
 * and no PUT may fail with -ENOSPC (evict=0), but few enough that replaced values fill the device many times over and PUTs
 * must wait for checkpoints to free their slots. Afterwards the slot count
 * matches the keys that exist, and the table survives a reload unchanged.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rawkv_test_util.h"
#include "kselftest_harness.h"

#define NTHREADS	8
#define NKEYS		32
#define OPS		1000		/* per thread */
#define VAL_MAX		(16 * 1024)
#define SLOT_SIZE	(512 * 1024UL)
#define VAL_MAGIC	0x564b5754	/* "TWKV" */

/* The start of every value; the rest is kv_fill(value_seed(...)). */
struct val_hdr {
	uint32_t magic;
	uint32_t key;
	uint32_t writer;
	uint32_t version;
	uint32_t len;
	uint32_t crc;	/* crc32c of the whole value with this field zero */
};

struct shared {
	struct rawkv *kv;
	/* highest version each writer started to PUT for each key */
	uint32_t issued[NTHREADS][NKEYS];
};

struct worker {
	pthread_t thread;
	struct shared *sh;
	uint32_t id;
	unsigned long puts, gets, hits, deletes;
	int errors;
	char first_error[160];
};

static uint64_t value_seed(uint32_t key, uint32_t writer, uint32_t version)
{
	return (uint64_t)key << 48 | (uint64_t)writer << 32 | version;
}

static int key_of(char *key, uint32_t k)
{
	return sprintf(key, "thread-key-%02u", k);
}

static void make_value(unsigned char *buf, uint32_t len, uint32_t key,
		       uint32_t writer, uint32_t version)
{
	struct val_hdr h = {
		.magic = VAL_MAGIC, .key = key, .writer = writer,
		.version = version, .len = len, .crc = 0,
	};

	memcpy(buf, &h, sizeof(h));
	kv_fill(buf + sizeof(h), len - sizeof(h),
		value_seed(key, writer, version));
	h.crc = kv_crc32c(~0U, buf, len);
	memcpy(buf, &h, sizeof(h));
}

/*
 * Check that @buf (@len bytes, read for key @key) is a value PUT for @key.
 * Returns NULL or what is wrong; *h gets the header.
 */
static const char *check_value(struct shared *sh, const unsigned char *buf,
			       size_t len, uint32_t key, struct val_hdr *h,
			       unsigned char *scratch)
{
	if (len < sizeof(*h))
		return "value shorter than its header";
	memcpy(h, buf, sizeof(*h));
	if (h->magic != VAL_MAGIC)
		return "bad magic";
	if (h->key != key)
		return "another key's value";
	if (h->len != len || h->writer >= NTHREADS)
		return "bad length or writer";
	if (h->version > __atomic_load_n(&sh->issued[h->writer][key],
					 __ATOMIC_ACQUIRE))
		return "a version that was never PUT";
	make_value(scratch, len, key, h->writer, h->version);
	if (memcmp(scratch, buf, len))
		return "torn or damaged value";
	return NULL;
}

static void fail(struct worker *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void fail(struct worker *w, const char *fmt, ...)
{
	va_list ap;

	if (!w->errors++) {
		va_start(ap, fmt);
		vsnprintf(w->first_error, sizeof(w->first_error), fmt, ap);
		va_end(ap);
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	unsigned char *buf = malloc(VAL_MAX), *scratch = malloc(VAL_MAX);
	uint64_t rng = 0x1234 + w->id;
	struct val_hdr h;
	const char *what;
	char key[32];
	uint32_t k, len, version;
	ssize_t got;
	int i, klen, op, ret;

	if (!buf || !scratch) {
		fail(w, "out of memory");
		goto out;
	}
	for (i = 0; i < OPS; i++) {
		k = kv_rand(&rng) % NKEYS;
		klen = key_of(key, k);
		op = kv_rand(&rng) % 100;
		if (op < 40) {
			len = sizeof(h) + kv_rand(&rng) % (VAL_MAX - sizeof(h));
			version = w->sh->issued[w->id][k] + 1;
			__atomic_store_n(&w->sh->issued[w->id][k], version,
					 __ATOMIC_RELEASE);
			make_value(buf, len, k, w->id, version);
			ret = rawkv_put(w->sh->kv, key, klen, buf, len);
			if (ret)
				fail(w, "PUT %s: %s", key, rawkv_strerror(ret));
			w->puts++;
		} else if (op < 85) {
			got = rawkv_get(w->sh->kv, key, klen, buf, VAL_MAX);
			w->gets++;
			if (got == -ENOENT)
				continue;
			if (got < 0) {
				fail(w, "GET %s: %s", key,
				     rawkv_strerror(got));
				continue;
			}
			w->hits++;
			what = check_value(w->sh, buf, got, k, &h, scratch);
			if (what)
				fail(w, "GET %s (%zd bytes): %s", key, got,
				     what);
		} else {
			ret = rawkv_delete(w->sh->kv, key, klen);
			if (ret && ret != -ENOENT)
				fail(w, "DELETE %s: %s", key,
				     rawkv_strerror(ret));
			w->deletes += !ret;
		}
	}
out:
	free(buf);
	free(scratch);
	return NULL;
}

FIXTURE(threads) {
	struct shared sh;
	struct worker w[NTHREADS];
};

/* Neither evicts nor fails with -ENOSPC: the device is never full. */
FIXTURE_VARIANT(threads) {
	int evict;
};

FIXTURE_VARIANT_ADD(threads, evict_on) {
	.evict = 1,
};

FIXTURE_VARIANT_ADD(threads, evict_off) {
	.evict = 0,
};

FIXTURE_SETUP(threads)
{
	ASSERT_EQ(0, geteuid()) TH_LOG("run as root in the rawkv test VM");
	ASSERT_EQ(0, kv_reload("dev=%s format=1 slot_size=%lu evict=%d",
			       KV_DEV_4K, SLOT_SIZE, variant->evict));
	ASSERT_EQ(0, rawkv_open(NULL, &self->sh.kv));
}

FIXTURE_TEARDOWN(threads)
{
	rawkv_close(self->sh.kv);
	EXPECT_EQ(0, kv_unload());
}

/*
 * Read every key once; record its writer and version in @ver (0: absent).
 * Returns how many keys exist.
 */
static int snapshot(struct __test_metadata *_metadata, struct shared *sh,
		    uint64_t ver[NKEYS])
{
	unsigned char *buf = malloc(VAL_MAX), *scratch = malloc(VAL_MAX);
	struct val_hdr h;
	const char *what;
	char key[32];
	uint32_t k;
	ssize_t got;
	int n = 0;

	ASSERT_NE(NULL, buf);
	ASSERT_NE(NULL, scratch);
	for (k = 0; k < NKEYS; k++) {
		got = rawkv_get(sh->kv, key, key_of(key, k), buf, VAL_MAX);
		ver[k] = 0;
		if (got == -ENOENT)
			continue;
		ASSERT_LE(0, got) TH_LOG("GET %s: %s", key,
					 rawkv_strerror(got));
		what = check_value(sh, buf, got, k, &h, scratch);
		ASSERT_EQ(NULL, what) TH_LOG("%s: %s", key, what);
		ver[k] = (uint64_t)h.writer << 32 | h.version;
		n++;
	}
	free(buf);
	free(scratch);
	return n;
}

/*
 * Run the 8 threads to the end; none may have seen an error or a value
 * that was not PUT for its key. Returns the number of PUTs.
 */
static unsigned long run_threads(struct __test_metadata *_metadata,
				 FIXTURE_DATA(threads) *self)
{
	unsigned long puts = 0, hits = 0;
	int i, errors = 0;

	for (i = 0; i < NTHREADS; i++) {
		self->w[i].sh = &self->sh;
		self->w[i].id = i;
		ASSERT_EQ(0, pthread_create(&self->w[i].thread, NULL,
					    worker_main, &self->w[i]));
	}
	for (i = 0; i < NTHREADS; i++) {
		ASSERT_EQ(0, pthread_join(self->w[i].thread, NULL));
	}
	for (i = 0; i < NTHREADS; i++) {
		if (self->w[i].errors)
			TH_LOG("thread %d: %d errors, first: %s", i,
			       self->w[i].errors, self->w[i].first_error);
		errors += self->w[i].errors;
		puts += self->w[i].puts;
		hits += self->w[i].hits;
	}
	ASSERT_EQ(0, errors);
	/* the mix really raced on keys that existed */
	ASSERT_LT(1000UL, puts);
	ASSERT_LT(500UL, hits);
	return puts;
}

TEST_F_TIMEOUT(threads, random_ops_see_only_values_put_for_their_key, 300)
{
	unsigned long puts = run_threads(_metadata, self);
	uint64_t ver[NKEYS];
	struct rawkv_stat st;
	int n;

	n = snapshot(_metadata, &self->sh, ver);
	ASSERT_EQ(0, rawkv_stat(self->sh.kv, &st));
	ASSERT_EQ((uint64_t)n, st.slots_used) TH_LOG("slots leaked or lost");
	ASSERT_EQ(puts, st.puts);
	ASSERT_EQ(0U, st.stale_dropped);
	ASSERT_EQ(0U, st.io_errors);
}

TEST_F_TIMEOUT(threads, random_ops_on_a_roomy_device_never_evict, 300)
{
	struct rawkv_stat st;

	run_threads(_metadata, self);
	ASSERT_EQ(0, rawkv_stat(self->sh.kv, &st));
	ASSERT_EQ(0U, st.evictions)
		TH_LOG("%llu live keys at most, %llu slots",
		       (unsigned long long)NKEYS,
		       (unsigned long long)st.slots_total);
}

TEST_F_TIMEOUT(threads, table_after_random_ops_survives_reload, 300)
{
	uint64_t before[NKEYS], after[NKEYS];
	int n;

	run_threads(_metadata, self);
	n = snapshot(_metadata, &self->sh, before);
	rawkv_close(self->sh.kv);
	self->sh.kv = NULL;
	ASSERT_EQ(0, kv_unload());
	ASSERT_EQ(0, kv_load("dev=%s evict=%d", KV_DEV_4K, variant->evict));
	ASSERT_EQ(0, rawkv_open(NULL, &self->sh.kv));
	ASSERT_EQ(n, snapshot(_metadata, &self->sh, after));
	ASSERT_EQ(0, memcmp(before, after, sizeof(before)));
}

TEST_HARNESS_MAIN
