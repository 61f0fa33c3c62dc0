// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv and a failing device, through the module's fault injection
 * (fault_inject=1: fail_read_at, fail_write_at, fail_sticky in
 * /sys/kernel/debug/rawkv/):
 *
 *   - a GET whose read fails returns -EIO for that key only, and the key
 *     reads fine once the fault is gone (an I/O error does not drop it);
 *   - a PUT whose write fails returns -EIO and leaves the previous value
 *     (or the absence) of the key intact, plain or sync; a sync PUT whose
 *     commit fails returns -EIO with the value stored, not yet durable;
 *   - a FLUSH whose commit (its log write) fails returns -EIO, the
 *     previous commit stays the newest (checked across rmmod with every
 *     later write failing too, so the final commit of rmmod fails as
 *     well), and the next FLUSH succeeds;
 *   - with every write failing, the module still serves reads and STAT,
 *     and rmmod completes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rawkv_crash_util.h"
#include "kselftest_harness.h"

#define SLOT		(2 * KV_MiB)
/*
 * 511 blocks: a PUT writes them in 2 bios (256 + 255), then the slot
 * header; a GET reads header and value in 9 pieces of up to 63 blocks.
 */
#define VMAX		(SLOT - 4096)
#define PARAMS		"evict=1 fault_inject=1 " KV_NO_PERIODIC

enum { KA, KB, KC, KD, KS, NKEYS };
static const char *const names[NKEYS] = {
	"err-a", "err-b", "err-c", "err-d", "err-sync",
};

FIXTURE(err) {
	struct rawkv *kv;
	unsigned char *buf, *want;
};

FIXTURE_SETUP(err)
{
	ASSERT_EQ(0, geteuid()) TH_LOG("run as root in the rawkv test VM");
	ASSERT_EQ(0, kv_reload("dev=%s format=1 slot_size=%lu %s", KV_DEV_4K,
			       SLOT, PARAMS));
	ASSERT_EQ(0, access(KV_DBG_DIR "/fail_write_at", W_OK))
		TH_LOG("this rawkv.ko has no fault injection");
	ASSERT_EQ(0, rawkv_open(NULL, &self->kv));
	self->buf = malloc(VMAX);
	self->want = malloc(VMAX);
	ASSERT_NE(NULL, self->buf);
	ASSERT_NE(NULL, self->want);
}

FIXTURE_TEARDOWN(err)
{
	if (kv_loaded())
		kv_dbg_disarm();
	rawkv_close(self->kv);
	free(self->buf);
	free(self->want);
	if (kv_loaded())
		EXPECT_EQ(0, kv_unload());
}

static int put_v(FIXTURE_DATA(err) *self, int k, uint32_t ver, size_t len,
		 bool sync)
{
	kv_val_make(self->want, k, ver, len);
	return sync ? rawkv_put_sync(self->kv, names[k], strlen(names[k]),
				     self->want, len) :
		      rawkv_put(self->kv, names[k], strlen(names[k]),
				self->want, len);
}

/* GET @k: its length, or -errno; then *@ok says if the bytes are v@ver. */
static ssize_t get_v(FIXTURE_DATA(err) *self, int k, uint32_t ver,
		     bool *ok)
{
	ssize_t r = rawkv_get(self->kv, names[k], strlen(names[k]),
			      self->buf, VMAX);

	*ok = false;
	if (r >= 0) {
		kv_val_make(self->want, k, ver, r);
		*ok = !memcmp(self->want, self->buf, r);
	}
	return r;
}

#define EXPECT_VALUE(k, ver, len) do {					\
	bool _ok;							\
	EXPECT_EQ((ssize_t)(len), get_v(self, k, ver, &_ok))		\
		TH_LOG("GET %s (v%u)", names[k], ver);			\
	EXPECT_TRUE(_ok) TH_LOG("%s does not hold v%u", names[k], ver);	\
} while (0)

#define EXPECT_ABSENT(k) do {						\
	bool _ok;							\
	EXPECT_EQ(-ENOENT, get_v(self, k, 0, &_ok))			\
		TH_LOG("%s should be absent", names[k]);		\
} while (0)

static uint64_t dbg(struct __test_metadata *_metadata, const char *name)
{
	uint64_t v = 0;

	EXPECT_EQ(0, kv_dbg_get(name, &v)) TH_LOG("read %s", name);
	return v;
}

static void set(struct __test_metadata *_metadata, const char *name,
		uint64_t v)
{
	ASSERT_EQ(0, kv_dbg_set(name, v)) TH_LOG("write %s", name);
}

/* The kind of write bio @n in write_log, into @kind. */
static void wlog_kind(struct __test_metadata *_metadata, uint64_t n,
		      char *kind, size_t len)
{
	const struct kv_wlog *e;
	struct kv_wlog *log;
	int cnt = kv_dbg_write_log(&log);

	ASSERT_LT(0, cnt);
	e = kv_wlog_find(log, cnt, n);
	snprintf(kind, len, "%s", e ? e->kind : "missing");
	free(log);
}

static struct rawkv_stat stat_of(struct __test_metadata *_metadata,
				 struct rawkv *kv)
{
	struct rawkv_stat st;

	memset(&st, 0, sizeof(st));
	EXPECT_EQ(0, rawkv_stat(kv, &st));
	return st;
}

/* rmmod, insmod format=0 (faults are gone with the old module), reopen */
static void reload(struct __test_metadata *_metadata,
		   FIXTURE_DATA(err) *self)
{
	rawkv_close(self->kv);
	self->kv = NULL;
	ASSERT_EQ(0, kv_unload());
	ASSERT_EQ(0, kv_load("dev=%s format=0 %s", KV_DEV_4K, PARAMS));
	ASSERT_EQ(0, rawkv_open(NULL, &self->kv));
}

TEST_F(err, read_error_fails_one_get_and_keeps_the_key)
{
	struct rawkv_stat st;
	uint64_t r;
	bool ok;

	ASSERT_EQ(0, put_v(self, KA, 1, 4096, false));
	ASSERT_EQ(0, put_v(self, KB, 1, 5000, false));
	ASSERT_EQ(0, put_v(self, KC, 1, VMAX, false));	/* 9 read bios */

	/* the next read bio is the one GET a submits */
	r = dbg(_metadata, "read_bios");
	set(_metadata, "fail_read_at", r + 1);
	EXPECT_EQ(-EIO, get_v(self, KA, 1, &ok));
	EXPECT_EQ(r + 1, dbg(_metadata, "read_bios"));
	EXPECT_VALUE(KB, 1, 5000);		/* other keys still read */
	set(_metadata, "fail_read_at", 0);
	EXPECT_VALUE(KA, 1, 4096);		/* and a is still there */

	/* the second piece of a GET of 9: all are read, then it fails */
	r = dbg(_metadata, "read_bios");
	set(_metadata, "fail_read_at", r + 2);
	EXPECT_EQ(-EIO, get_v(self, KC, 1, &ok));
	EXPECT_EQ(r + 9, dbg(_metadata, "read_bios"));
	set(_metadata, "fail_read_at", 0);
	EXPECT_VALUE(KC, 1, VMAX);

	/* the last piece, whose checksum follows the last completion */
	r = dbg(_metadata, "read_bios");
	set(_metadata, "fail_read_at", r + 9);
	EXPECT_EQ(-EIO, get_v(self, KC, 1, &ok));
	EXPECT_EQ(r + 9, dbg(_metadata, "read_bios"));
	set(_metadata, "fail_read_at", 0);
	EXPECT_VALUE(KC, 1, VMAX);

	/* every read failing: GETs fail, PUT and STAT work, nothing dropped */
	set(_metadata, "fail_sticky", 1);
	set(_metadata, "fail_read_at", dbg(_metadata, "read_bios") + 1);
	EXPECT_EQ(-EIO, get_v(self, KA, 1, &ok));
	EXPECT_EQ(-EIO, get_v(self, KB, 1, &ok));
	EXPECT_EQ(0, put_v(self, KD, 1, 100, false));
	st = stat_of(_metadata, self->kv);
	EXPECT_EQ(4U, st.slots_used);
	EXPECT_LE(4U, st.io_errors);
	set(_metadata, "fail_sticky", 0);
	set(_metadata, "fail_read_at", 0);
	EXPECT_VALUE(KA, 1, 4096);
	EXPECT_VALUE(KB, 1, 5000);
	EXPECT_VALUE(KC, 1, VMAX);
	EXPECT_VALUE(KD, 1, 100);
	st = stat_of(_metadata, self->kv);
	EXPECT_EQ(4U, st.slots_used);
	EXPECT_EQ(0U, st.stale_dropped);

	/* and everything is still committed at rmmod */
	reload(_metadata, self);
	EXPECT_VALUE(KA, 1, 4096);
	EXPECT_VALUE(KB, 1, 5000);
	EXPECT_VALUE(KC, 1, VMAX);
	EXPECT_VALUE(KD, 1, 100);
}

TEST_F(err, write_error_fails_the_put_and_keeps_the_old_value)
{
	struct rawkv_stat st;
	char kind[16];
	uint64_t w;

	ASSERT_EQ(0, put_v(self, KA, 1, 4096, false));
	ASSERT_EQ(0, put_v(self, KB, 1, VMAX, false));
	ASSERT_EQ(0, rawkv_flush(self->kv));

	/* a PUT writes its value, then its slot header: either may fail */
	w = dbg(_metadata, "write_bios");
	set(_metadata, "fail_write_at", w + 1);
	EXPECT_EQ(-EIO, put_v(self, KA, 2, 5000, false));
	wlog_kind(_metadata, w + 1, kind, sizeof(kind));
	EXPECT_STREQ("value", kind);
	EXPECT_VALUE(KA, 1, 4096);
	w = dbg(_metadata, "write_bios");
	set(_metadata, "fail_write_at", w + 2);
	EXPECT_EQ(-EIO, put_v(self, KA, 2, 5000, false));
	EXPECT_EQ(w + 2, dbg(_metadata, "write_bios"));
	wlog_kind(_metadata, w + 2, kind, sizeof(kind));
	EXPECT_STREQ("slot", kind);
	EXPECT_VALUE(KA, 1, 4096);

	/* a new key */
	w = dbg(_metadata, "write_bios");
	set(_metadata, "fail_write_at", w + 1);
	EXPECT_EQ(-EIO, put_v(self, KC, 1, 4096, false));
	EXPECT_ABSENT(KC);

	/* the second bio of the value: the header is still written */
	w = dbg(_metadata, "write_bios");
	set(_metadata, "fail_write_at", w + 2);
	EXPECT_EQ(-EIO, put_v(self, KB, 2, VMAX, false));
	EXPECT_EQ(w + 3, dbg(_metadata, "write_bios"));
	wlog_kind(_metadata, w + 2, kind, sizeof(kind));
	EXPECT_STREQ("value", kind);
	EXPECT_VALUE(KB, 1, VMAX);

	/*
	 * A sync PUT: its value bio, its header bio, then its commit. A
	 * failed slot write leaves the old value; a failed commit leaves the
	 * new value stored, but not durable (uapi/rawkv.h).
	 */
	w = dbg(_metadata, "write_bios");
	set(_metadata, "fail_write_at", w + 2);
	EXPECT_EQ(-EIO, put_v(self, KA, 3, 4096, true));
	wlog_kind(_metadata, w + 2, kind, sizeof(kind));
	EXPECT_STREQ("slot", kind);
	EXPECT_VALUE(KA, 1, 4096);
	w = dbg(_metadata, "write_bios");
	set(_metadata, "fail_write_at", w + 3);
	EXPECT_EQ(-EIO, put_v(self, KA, 4, 4096, true));
	wlog_kind(_metadata, w + 3, kind, sizeof(kind));
	EXPECT_STREQ("log", kind);
	EXPECT_VALUE(KA, 4, 4096);
	EXPECT_ABSENT(KC);

	st = stat_of(_metadata, self->kv);
	EXPECT_EQ(2U, st.slots_used);
	EXPECT_LE(5U, st.io_errors);
	EXPECT_EQ(0U, st.stale_dropped);

	/* the device works again */
	set(_metadata, "fail_write_at", 0);
	EXPECT_EQ(0, put_v(self, KA, 5, 5000, false));
	EXPECT_EQ(0, put_v(self, KC, 2, 100, true));
	EXPECT_VALUE(KA, 5, 5000);
	EXPECT_VALUE(KC, 2, 100);
	EXPECT_VALUE(KB, 1, VMAX);

	/* none of the failed PUTs comes back after a reload */
	reload(_metadata, self);
	EXPECT_VALUE(KA, 5, 5000);
	EXPECT_VALUE(KB, 1, VMAX);
	EXPECT_VALUE(KC, 2, 100);
	st = stat_of(_metadata, self->kv);
	EXPECT_EQ(3U, st.slots_used);
	EXPECT_EQ(0U, st.load_dropped);
}

TEST_F(err, flush_error_keeps_the_previous_commit)
{
	struct rawkv_stat st, before;
	char kind[16];
	uint64_t w, seq;

	ASSERT_EQ(0, put_v(self, KA, 1, 4096, false));
	ASSERT_EQ(0, put_v(self, KB, 1, 5000, false));
	ASSERT_EQ(0, rawkv_flush(self->kv));
	before = stat_of(_metadata, self->kv);

	ASSERT_EQ(0, put_v(self, KC, 1, 100, false));
	ASSERT_EQ(0, put_v(self, KA, 2, 300, false));
	ASSERT_EQ(0, rawkv_delete(self->kv, names[KB], strlen(names[KB])));

	/* the commit's log write fails, twice: the retry too */
	w = dbg(_metadata, "write_bios");
	set(_metadata, "fail_write_at", w + 1);
	EXPECT_EQ(-EIO, rawkv_flush(self->kv));
	wlog_kind(_metadata, w + 1, kind, sizeof(kind));
	EXPECT_STREQ("log", kind);
	EXPECT_EQ(w + 1, dbg(_metadata, "write_bios"));
	st = stat_of(_metadata, self->kv);
	EXPECT_EQ(before.checkpoint_seq, st.checkpoint_seq);
	EXPECT_EQ(before.checkpoints, st.checkpoints);
	w = dbg(_metadata, "write_bios");
	set(_metadata, "fail_write_at", w + 1);
	EXPECT_EQ(-EIO, rawkv_flush(self->kv));
	wlog_kind(_metadata, w + 1, kind, sizeof(kind));
	EXPECT_STREQ("log", kind);
	st = stat_of(_metadata, self->kv);
	EXPECT_EQ(before.checkpoint_seq, st.checkpoint_seq);

	/* the live table is unaffected, and the next FLUSH commits it */
	EXPECT_VALUE(KA, 2, 300);
	EXPECT_ABSENT(KB);
	EXPECT_VALUE(KC, 1, 100);
	set(_metadata, "fail_write_at", 0);
	EXPECT_EQ(0, rawkv_flush(self->kv));
	st = stat_of(_metadata, self->kv);
	EXPECT_LT(before.checkpoint_seq, st.checkpoint_seq);
	seq = st.checkpoint_seq;

	/*
	 * Now change the table and make every write fail from the next
	 * commit on: the FLUSH fails, and so does the final commit of rmmod
	 * (and with it its writeback). The reloaded store is the one the
	 * last successful FLUSH committed.
	 */
	ASSERT_EQ(0, put_v(self, KD, 1, 4096, false));
	ASSERT_EQ(0, put_v(self, KC, 2, 200, false));
	ASSERT_EQ(0, rawkv_delete(self->kv, names[KA], strlen(names[KA])));
	w = dbg(_metadata, "write_bios");
	set(_metadata, "fail_sticky", 1);
	set(_metadata, "fail_write_at", w + 1);
	EXPECT_EQ(-EIO, rawkv_flush(self->kv));
	wlog_kind(_metadata, w + 1, kind, sizeof(kind));
	EXPECT_STREQ("log", kind);
	reload(_metadata, self);
	st = stat_of(_metadata, self->kv);
	EXPECT_EQ(seq, st.checkpoint_seq);
	EXPECT_VALUE(KA, 2, 300);
	EXPECT_ABSENT(KB);
	EXPECT_VALUE(KC, 1, 100);
	EXPECT_ABSENT(KD);
	st = stat_of(_metadata, self->kv);
	EXPECT_EQ(2U, st.slots_used);
	EXPECT_EQ(0U, st.load_dropped);
	EXPECT_EQ(0U, st.stale_dropped);
}

TEST_F(err, every_write_failing_still_serves_reads_and_unloads)
{
	struct rawkv_stat st;
	bool ok;

	ASSERT_EQ(0, put_v(self, KA, 1, 4096, false));
	ASSERT_EQ(0, put_v(self, KB, 1, VMAX, false));
	ASSERT_EQ(0, put_v(self, KS, 1, 5000, true));
	ASSERT_EQ(0, rawkv_flush(self->kv));

	set(_metadata, "fail_sticky", 1);
	set(_metadata, "fail_write_at", dbg(_metadata, "write_bios") + 1);
	EXPECT_EQ(-EIO, put_v(self, KC, 1, 4096, false));
	EXPECT_EQ(-EIO, put_v(self, KA, 2, 4096, false));
	EXPECT_EQ(-EIO, put_v(self, KA, 3, 100, true));
	/* a plain DELETE needs no write; the FLUSH committing it fails */
	EXPECT_EQ(0, rawkv_delete(self->kv, names[KB], strlen(names[KB])));
	EXPECT_EQ(-EIO, rawkv_flush(self->kv));
	/* deleting a sync key commits, which fails */
	EXPECT_EQ(-EIO, rawkv_delete(self->kv, names[KS], strlen(names[KS])));
	EXPECT_ABSENT(KS);
	EXPECT_EQ(0, kv_dbg_kick_checkpoint());	/* fails, but returns */

	EXPECT_VALUE(KA, 1, 4096);
	EXPECT_ABSENT(KB);
	EXPECT_ABSENT(KC);
	st = stat_of(_metadata, self->kv);
	EXPECT_EQ(1U, st.slots_used);
	EXPECT_LE(6U, st.io_errors);
	EXPECT_EQ(0U, st.stale_dropped);

	/* rmmod completes though its final commit fails */
	reload(_metadata, self);
	EXPECT_VALUE(KA, 1, 4096);
	EXPECT_VALUE(KB, 1, VMAX);	/* the DELETE never committed */
	{
		ssize_t r = get_v(self, KS, 1, &ok);

		EXPECT_TRUE(r == -ENOENT || (r == 5000 && ok))
			TH_LOG("sync key after a failed durable DELETE: %zd", r);
	}
	EXPECT_ABSENT(KC);
	st = stat_of(_metadata, self->kv);
	EXPECT_EQ(0U, st.load_dropped);
	EXPECT_EQ(0U, st.stale_dropped);
}

/*
 * On a full device a PUT first commits to free the slots of removed
 * values; when that log write fails, the PUT fails and nothing changes.
 */
TEST_F(err, put_fails_when_its_commit_fails)
{
	struct rawkv_stat st;
	char key[32], kind[16];
	uint64_t i, w;
	bool ok;

	ASSERT_EQ(0, rawkv_stat(self->kv, &st));
	for (i = 0; i < st.slots_total; i++) {
		snprintf(key, sizeof(key), "full-%llu", (unsigned long long)i);
		kv_val_make(self->want, 100 + i, 1, 4096);
		ASSERT_EQ(0, rawkv_put(self->kv, key, strlen(key), self->want,
				       4096));
	}
	ASSERT_EQ(0, put_v(self, KA, 1, 4096, false));	/* evicts full-0 */
	ASSERT_EQ(0, rawkv_delete(self->kv, "full-1", 6));	/* to limbo */

	w = dbg(_metadata, "write_bios");
	set(_metadata, "fail_write_at", w + 1);
	EXPECT_EQ(-EIO, put_v(self, KB, 1, 4096, false));
	wlog_kind(_metadata, w + 1, kind, sizeof(kind));
	EXPECT_STREQ("log", kind);
	EXPECT_ABSENT(KB);
	EXPECT_VALUE(KA, 1, 4096);
	/* the fault was one-shot: the next PUT's commit succeeds */
	EXPECT_EQ(0, put_v(self, KA, 2, 4096, false));
	EXPECT_VALUE(KA, 2, 4096);
	st = stat_of(_metadata, self->kv);
	for (i = 2; i < st.slots_total; i++) {
		snprintf(key, sizeof(key), "full-%llu", (unsigned long long)i);
		EXPECT_EQ(4096, rawkv_get(self->kv, key, strlen(key),
					  self->buf, VMAX)) TH_LOG("%s", key);
		kv_val_make(self->want, 100 + i, 1, 4096);
		ok = !memcmp(self->want, self->buf, 4096);
		EXPECT_TRUE(ok) TH_LOG("%s changed", key);
	}
	EXPECT_EQ(st.slots_total - 1, st.slots_used);	/* full-2.. and a */
	EXPECT_EQ(0U, st.stale_dropped);
}

TEST_HARNESS_MAIN
