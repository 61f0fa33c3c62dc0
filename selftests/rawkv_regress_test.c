// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv regression tests: one test per bug of an issue, or per risk of a
 * design change, each failing on a module that has it. They run on
 * /dev/vdb (64 MiB, 4 KiB blocks) with 2 MiB slots (about 30) unless a
 * test says otherwise, no background commit unless a test says otherwise,
 * evict=1 and fault_inject=1 (the controls in /sys/kernel/debug/rawkv/,
 * see kmod/fault.c: hold_write_at, hold_reads, held_bios and
 * hold_release park bios and let them go; powercut_at cuts the power).
 *
 * The metadata log of format 3 (issue 9):
 *   sync_delete_is_durable_across_a_power_cut
 *	A DELETE of a key whose value was written with rawkv_put_sync()
 *	commits before it returns; any other DELETE waits for the next
 *	commit. Checked after a power cut: right after the DELETE, with an
 *	older PUT held in flight, after the key was overwritten without
 *	sync, after a reload (the sync flag is in the metadata), and for a
 *	key evicted after its sync PUT, PUT again without sync, deleted and
 *	flushed (the old sync value in its slot must not come back, as it
 *	did when recovery scanned free slots for sync values).
 *   group_commit_of_concurrent_sync_puts
 *	8 threads of rawkv_put_sync() share commits: fewer commits (STAT
 *	checkpoints) than sync PUTs, one commit for the seven PUTs that wait
 *	behind a commit held in flight, and every value back after a power
 *	cut right after the last PUT returned.
 *   log_wraps_across_reloads
 *	Many small FLUSHes (and some of several log blocks) on a small
 *	device, so the metadata log wraps many times and is written back
 *	when half full; sessions end with rmmod or with a power cut after
 *	unflushed changes, and every reload must hold exactly what was last
 *	committed.
 *
 * The durability issue before it:
 *   pins_of_65536_gets_do_not_wrap
 *	The pin count of an entry was 16 bits: 256 batches of 256 GETs of one
 *	key in flight wrapped it to 0, so eviction freed the slot under them.
 *   batch_put_fault_does_not_stall_sync_delete
 *	A PUT_BATCH took op 0's generation before it pinned op 1's buffer, so
 *	a page fault there (userfaultfd) held back the commit of a DELETE of
 *	a rawkv_put_sync() key, which hung on it. A commit must never wait
 *	for a caller's page fault.
 *   kick_checkpoint_during_insmod
 *	Teardown cancelled the checkpoint work before it removed debugfs: a
 *	write to kick_checkpoint in between queued work that ran after kfree.
 *	(A debugfs file holds a module reference while it is open, so rmmod
 *	cannot start while a write is in progress, and open fails once the
 *	module is going: that race is not reachable from user space on these
 *	kernels, and this test does not write during rmmod.) The same writes
 *	during insmod were: the files existed before the table, and a kick
 *	ran a checkpoint on it (a NULL pointer Oops in __wake_up_common).
 *	vm.sh fails the run on any Oops or KASAN report.
 *   zero_copy_get_survives_writes_to_its_buffer
 *	A GET straight into the caller's pages that found a checksum mismatch
 *	dropped the key, although the caller writing its buffer during the
 *	call explains the mismatch.
 *   read_only_descriptor_cannot_change_the_store
 *	PUT, PUT_BATCH, DELETE and FLUSH worked on a descriptor opened
 *	O_RDONLY.
 *
 * (That first test, a FLUSH after a DELETE that had to cover an
 * evicted sync value recovery would adopt, is now the last case of
 * sync_delete_is_durable_across_a_power_cut: recovery adopts nothing.)
 * A seventh bug of that issue (PAGE_SIZE > 4 KiB) cannot be shown on x86.
 *
 * RAWKV_REGRESS_TESTS="name ..." runs only the tests named (the others are
 * skipped).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rawkv_crash_util.h"
#include "../uapi/rawkv.h"
#include "kselftest_harness.h"

#define DEV		KV_DEV_4K
#define SLOT		(2UL << 20)	/* about 30 slots on vdb */
#define PARAMS		KV_NO_PERIODIC " evict=1 fault_inject=1"
#define PAGE		4096
#define VLEN		4096		/* small values: fillers and the like */

static int load_fresh(void)
{
	return kv_reload("dev=%s format=1 slot_size=%lu %s", DEV, SLOT, PARAMS);
}

static int load_existing(void)
{
	return kv_load("dev=%s format=0 %s", DEV, PARAMS);
}

/* Wait until debugfs file @name reads at least @want; 0 or -ETIMEDOUT. */
static int wait_dbg(const char *name, uint64_t want, double secs)
{
	double end = kv_now() + secs;

	while (kv_dbg_val(name) < want) {
		if (kv_now() > end)
			return -ETIMEDOUT;
		usleep(10 * 1000);
	}
	return 0;
}

/* Wait until *@flag is set; true if it was within @secs. */
static bool wait_flag(const int *flag, double secs)
{
	double end = kv_now() + secs;

	while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE)) {
		if (kv_now() > end)
			return false;
		usleep(10 * 1000);
	}
	return true;
}

/*
 * A key of a test: its value is kv_val_make(id, ver, len), so any bytes a
 * GET returns can be checked.
 */
struct tkey {
	char name[32];
	uint32_t id;
	uint32_t ver;
	uint32_t len;
	bool must_exist;
};

static void tkey_set(struct tkey *k, const char *prefix, int i, uint32_t id,
		     uint32_t len)
{
	snprintf(k->name, sizeof(k->name), "%s-%d", prefix, i);
	k->id = id;
	k->ver = 1;
	k->len = len;
	k->must_exist = false;
}

static int tkey_put(struct rawkv *kv, const struct tkey *k, void *buf)
{
	kv_val_make(buf, k->id, k->ver, k->len);
	return rawkv_put(kv, k->name, strlen(k->name), buf, k->len);
}

/*
 * GET every key of @keys: each must be absent (unless must_exist) or hold
 * exactly its value; then STAT slots_used must be the number present and
 * stale_dropped and load_dropped 0. Prints what is wrong; returns the
 * number of problems. @buf and @want hold value_max bytes.
 */
static int verify_keys(struct rawkv *kv, const struct tkey *keys, int n,
		       unsigned char *buf, unsigned char *want, size_t max,
		       const char *when)
{
	struct rawkv_stat st;
	int i, bad = 0, present = 0, ret;
	ssize_t r;

	for (i = 0; i < n; i++) {
		const struct tkey *k = &keys[i];

		r = rawkv_get(kv, k->name, strlen(k->name), buf, max);
		if (r == -ENOENT && !k->must_exist)
			continue;
		if (r < 0) {
			kv_note("%s: key %s: GET returned %zd (%s)", when,
				k->name, r, rawkv_strerror(r));
			bad++;
			continue;
		}
		present++;
		kv_val_make(want, k->id, k->ver, k->len);
		if ((size_t)r != k->len || memcmp(buf, want, k->len)) {
			uint32_t cid = 0, cver = 0;
			bool crc_ok = false;

			kv_val_claims(buf, r, &cid, &cver, &crc_ok);
			kv_note("%s: key %s: GET returned %zd bytes claiming key %u v%u (crc %s), not its %u bytes",
				when, k->name, r, cid, cver,
				crc_ok ? "ok" : "bad", k->len);
			bad++;
		}
	}
	ret = rawkv_stat(kv, &st);
	if (ret) {
		kv_note("%s: STAT failed: %s", when, rawkv_strerror(ret));
		return bad + 1;
	}
	if (st.slots_used != (uint64_t)present) {
		kv_note("%s: slots_used %" PRIu64 " but %d keys present",
			when, (uint64_t)st.slots_used, present);
		bad++;
	}
	if (st.stale_dropped || st.load_dropped) {
		kv_note("%s: stale_dropped %" PRIu64 ", load_dropped %" PRIu64,
			when, (uint64_t)st.stale_dropped,
			(uint64_t)st.load_dropped);
		bad++;
	}
	return bad;
}

#define HUNG_TASK	"/proc/sys/kernel/hung_task_timeout_secs"

/* Read or write a number in a /proc file; 0 or -errno. */
static int proc_num(const char *path, long *val, bool set)
{
	FILE *f = fopen(path, set ? "we" : "re");
	int ret = 0;

	if (!f)
		return -errno;
	if (set ? fprintf(f, "%ld\n", *val) < 0 : fscanf(f, "%ld", val) != 1)
		ret = -EIO;
	if (fclose(f) && !ret)
		ret = -errno;
	return ret;
}

/* Whether RAWKV_REGRESS_TESTS is unset or names test @name. */
static bool selected(const char *name)
{
	const char *only = getenv("RAWKV_REGRESS_TESTS");

	return !only || !*only || strstr(only, name);
}

FIXTURE(regress) {
	struct rawkv *kv;
	long hung_saved;	/* hung_task_timeout_secs to restore, or 0 */
};

FIXTURE_SETUP(regress)
{
	ASSERT_EQ(0, geteuid()) TH_LOG("run as root in the rawkv test VM");
}

FIXTURE_TEARDOWN(regress)
{
	rawkv_close(self->kv);
	self->kv = NULL;
	if (kv_loaded()) {
		/* a failed test may have left bios parked or a cut armed */
		kv_dbg_set("hold_release", 1);
		kv_dbg_disarm();
		kv_unload();
	}
	if (self->hung_saved)
		proc_num(HUNG_TASK, &self->hung_saved, true);
}

/* ---- helpers of the format 3 tests ---- */

/* The power fails at the next write bio: nothing written later lands. */
static int cut_power(void)
{
	uint64_t w;
	int ret = kv_dbg_get("write_bios", &w);

	return ret ?: kv_dbg_set("powercut_at", w + 1);
}

/*
 * Power cut now, rmmod (its commit and writeback are lost with the
 * power), load what the device holds, reopen self->kv.
 */
static int crash_reload(FIXTURE_DATA(regress) *self)
{
	int ret = cut_power();

	rawkv_close(self->kv);
	self->kv = NULL;
	if (!ret)
		ret = kv_unload();
	if (!ret)
		ret = load_existing();
	if (!ret)
		ret = rawkv_open(NULL, &self->kv);
	return ret;
}

/* A freshly formatted store in self->kv. */
static int open_fresh(FIXTURE_DATA(regress) *self)
{
	int ret;

	rawkv_close(self->kv);
	self->kv = NULL;
	ret = load_fresh();
	return ret ?: rawkv_open(NULL, &self->kv);
}

/* Clean rmmod and load again, reopening self->kv. */
static int clean_reload(FIXTURE_DATA(regress) *self)
{
	int ret;

	rawkv_close(self->kv);
	self->kv = NULL;
	ret = kv_unload();
	if (!ret)
		ret = load_existing();
	if (!ret)
		ret = rawkv_open(NULL, &self->kv);
	return ret;
}

static uint64_t commits(struct rawkv *kv)
{
	struct rawkv_stat st;

	return rawkv_stat(kv, &st) ? UINT64_MAX : st.checkpoints;
}

/*
 * Whether @name holds exactly version @ver (@len bytes) of value id @id,
 * or, with @ver 0, is absent. Prints what it holds otherwise.
 */
static bool holds(struct rawkv *kv, const char *name, uint32_t id,
		  uint32_t ver, uint32_t len, const char *when)
{
	static unsigned char buf[VLEN], want[VLEN];
	ssize_t r = rawkv_get(kv, name, strlen(name), buf, sizeof(buf));
	uint32_t cid = 0, cver = 0;
	bool crc_ok = false;

	if (!ver && r == -ENOENT)
		return true;
	if (ver && r == (ssize_t)len) {
		kv_val_make(want, id, ver, len);
		if (!memcmp(buf, want, len))
			return true;
	}
	if (r >= 0)
		kv_val_claims(buf, r, &cid, &cver, &crc_ok);
	kv_note("%s: key %s: GET returned %zd%s (v%u), expected %s v%u",
		when, name, r, r < 0 ? "" : " bytes", cver,
		ver ? "value" : "absent, not", ver);
	return false;
}

/* ---- 1. a DELETE of a sync-written key survives a power cut ---- */

#define SD_KEY		"sync-del"

static struct {
	struct rawkv *kv;
	unsigned char val[VLEN];
	int rc;
} held;

static void *held_put_thread(void *arg)
{
	(void)arg;
	held.rc = rawkv_put(held.kv, "held-put", 8, held.val, VLEN);
	return NULL;
}

/* A sync PUT of SD_KEY, then its DELETE, in a thread: they may hang. */
static struct {
	struct rawkv *kv;
	unsigned char val[VLEN];
	uint64_t c0, c1;	/* commits before the DELETE, after it */
	int put_rc;
	int del_rc;
	int done;
} sd;

static void *sd_thread(void *arg)
{
	(void)arg;
	sd.put_rc = rawkv_put_sync(sd.kv, SD_KEY, strlen(SD_KEY), sd.val,
				   VLEN);
	sd.c0 = commits(sd.kv);
	if (!sd.put_rc)
		sd.del_rc = rawkv_delete(sd.kv, SD_KEY, strlen(SD_KEY));
	sd.c1 = commits(sd.kv);
	__atomic_store_n(&sd.done, 1, __ATOMIC_RELEASE);
	return NULL;
}

TEST_F_TIMEOUT(regress, sync_delete_is_durable_across_a_power_cut, 300)
{
	unsigned char buf[VLEN];
	struct tkey *keys;
	struct rawkv_stat st;
	unsigned char *big, *want;
	pthread_t th, th2;
	uint64_t w, c0, c1, slots;
	int nkeys;

	if (!selected(_metadata->name))
		SKIP(return, "not in RAWKV_REGRESS_TESTS");

	kv_note("case 1: sync PUT, DELETE, power cut");
	ASSERT_EQ(0, open_fresh(self));
	kv_val_make(buf, 70, 1, VLEN);
	ASSERT_EQ(0, rawkv_put(self->kv, "base", 4, buf, VLEN));
	ASSERT_EQ(0, rawkv_flush(self->kv));
	kv_val_make(buf, 71, 1, VLEN);
	ASSERT_EQ(0, rawkv_put_sync(self->kv, SD_KEY, strlen(SD_KEY), buf,
				    VLEN));
	c0 = commits(self->kv);
	ASSERT_EQ(0, rawkv_delete(self->kv, SD_KEY, strlen(SD_KEY)));
	c1 = commits(self->kv);
	EXPECT_LT(c0, c1) TH_LOG("the DELETE of a sync-written key committed nothing");
	ASSERT_EQ(0, crash_reload(self));
	EXPECT_TRUE(holds(self->kv, SD_KEY, 71, 0, VLEN, "case 1"));
	EXPECT_TRUE(holds(self->kv, "base", 70, 1, VLEN, "case 1"));

	kv_note("case 2: the same with an older plain PUT held in flight");
	ASSERT_EQ(0, open_fresh(self));
	ASSERT_EQ(0, kv_dbg_get("write_bios", &w));
	ASSERT_EQ(0, kv_dbg_set("hold_write_at", w + 1));
	held.kv = self->kv;
	kv_val_make(held.val, 72, 1, VLEN);
	ASSERT_EQ(0, pthread_create(&th, NULL, held_put_thread, NULL));
	ASSERT_EQ(0, wait_dbg("held_bios", 1, 20))
		TH_LOG("the PUT's write bio was not parked");
	memset(&sd, 0, sizeof(sd));
	sd.kv = self->kv;
	kv_val_make(sd.val, 73, 1, VLEN);
	ASSERT_EQ(0, pthread_create(&th2, NULL, sd_thread, NULL));
	EXPECT_TRUE(wait_flag(&sd.done, 20))
		TH_LOG("a sync PUT and the DELETE of its key did not return within 20 s of an older PUT held in flight");
	/* the power fails before the held PUT's write is let go */
	ASSERT_EQ(0, cut_power());
	ASSERT_EQ(0, kv_dbg_set("hold_release", 1));
	ASSERT_EQ(0, pthread_join(th2, NULL));
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_EQ(0, sd.put_rc);
	EXPECT_EQ(0, sd.del_rc);
	EXPECT_LT(sd.c0, sd.c1) TH_LOG("the DELETE of a sync-written key committed nothing");
	rawkv_close(self->kv);
	self->kv = NULL;
	ASSERT_EQ(0, kv_unload());
	ASSERT_EQ(0, load_existing());
	ASSERT_EQ(0, rawkv_open(NULL, &self->kv));
	EXPECT_TRUE(holds(self->kv, SD_KEY, 73, 0, VLEN, "case 2"));
	/* its write never landed, and no commit after it did */
	EXPECT_TRUE(holds(self->kv, "held-put", 72, 0, VLEN, "case 2"));

	kv_note("case 3: sync PUT, plain overwrite, DELETE, power cut");
	ASSERT_EQ(0, open_fresh(self));
	kv_val_make(buf, 74, 1, VLEN);
	ASSERT_EQ(0, rawkv_put_sync(self->kv, SD_KEY, strlen(SD_KEY), buf,
				    VLEN));
	kv_val_make(buf, 74, 2, VLEN);
	ASSERT_EQ(0, rawkv_put(self->kv, SD_KEY, strlen(SD_KEY), buf, VLEN));
	c0 = commits(self->kv);
	ASSERT_EQ(0, rawkv_delete(self->kv, SD_KEY, strlen(SD_KEY)));
	c1 = commits(self->kv);
	kv_note("case 3: the DELETE of the plain value %s",
		c1 == c0 ? "did not commit" : "committed");
	ASSERT_EQ(0, crash_reload(self));
	/* the newest commit: the sync PUT's, unless the DELETE committed */
	EXPECT_TRUE(holds(self->kv, SD_KEY, 74, c1 == c0 ? 1 : 0, VLEN,
			  "case 3"));

	kv_note("case 4: sync PUT, clean reload, DELETE, power cut");
	ASSERT_EQ(0, open_fresh(self));
	kv_val_make(buf, 75, 1, VLEN);
	ASSERT_EQ(0, rawkv_put_sync(self->kv, SD_KEY, strlen(SD_KEY), buf,
				    VLEN));
	ASSERT_EQ(0, clean_reload(self));
	c0 = commits(self->kv);
	ASSERT_EQ(0, rawkv_delete(self->kv, SD_KEY, strlen(SD_KEY)));
	c1 = commits(self->kv);
	EXPECT_LT(c0, c1) TH_LOG("after a reload, the DELETE of a sync-written key committed nothing: the sync flag was lost");
	ASSERT_EQ(0, crash_reload(self));
	EXPECT_TRUE(holds(self->kv, SD_KEY, 75, 0, VLEN, "case 4"));

	kv_note("case 5: sync PUT, evicted, plain PUT, DELETE, FLUSH, power cut");
	ASSERT_EQ(0, open_fresh(self));
	ASSERT_EQ(0, rawkv_stat(self->kv, &st));
	slots = st.slots_total;
	big = malloc(st.value_max);
	want = malloc(st.value_max);
	keys = calloc(3 * slots, sizeof(*keys));
	ASSERT_TRUE(big && want && keys);
	kv_val_make(buf, 76, 1, VLEN);
	ASSERT_EQ(0, rawkv_put_sync(self->kv, SD_KEY, strlen(SD_KEY), buf,
				    VLEN));
	for (nkeys = 0;; nkeys++) {
		ASSERT_EQ(0, rawkv_stat(self->kv, &st));
		if (st.evictions)
			break;
		ASSERT_GT(3 * slots, (uint64_t)nkeys) TH_LOG("nothing was evicted");
		tkey_set(&keys[nkeys], "fill", nkeys, 100 + nkeys, VLEN);
		ASSERT_EQ(0, tkey_put(self->kv, &keys[nkeys], buf));
	}
	ASSERT_EQ(-ENOENT, rawkv_get(self->kv, SD_KEY, strlen(SD_KEY), buf,
				     VLEN))
		TH_LOG("the sync key was not the value evicted");
	kv_val_make(buf, 76, 2, VLEN);
	ASSERT_EQ(0, rawkv_put(self->kv, SD_KEY, strlen(SD_KEY), buf, VLEN));
	ASSERT_EQ(0, rawkv_delete(self->kv, SD_KEY, strlen(SD_KEY)));
	ASSERT_EQ(0, rawkv_flush(self->kv));
	ASSERT_EQ(0, crash_reload(self));
	EXPECT_TRUE(holds(self->kv, SD_KEY, 76, 0, VLEN, "case 5"));
	/* the fillers were flushed: present unless evicted, and exact */
	EXPECT_EQ(0, verify_keys(self->kv, keys, nkeys, big, want,
				 st.value_max, "case 5"));
	free(keys);
	free(big);
	free(want);
}

/* ---- 2. concurrent sync PUTs share commits ---- */

#define GC_THREADS	8
#define GC_PUTS		16	/* versions 1..GC_PUTS of each thread's key */

static struct gc {
	pthread_t th;
	struct rawkv *kv;
	int id;
	int from, to;		/* versions this run PUTs */
	int rc;
	int done;
	unsigned char val[VLEN];
} gc[GC_THREADS];

static void gc_name(char *name, size_t n, int id)
{
	snprintf(name, n, "gc-%d", id);
}

static void *gc_thread(void *arg)
{
	struct gc *g = arg;
	char name[16];
	int v;

	gc_name(name, sizeof(name), g->id);
	for (v = g->from; v <= g->to && !g->rc; v++) {
		kv_val_make(g->val, 200 + g->id, v, VLEN);
		g->rc = rawkv_put_sync(g->kv, name, strlen(name), g->val,
				       VLEN);
	}
	__atomic_store_n(&g->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void gc_start(struct __test_metadata *_metadata, struct rawkv *kv,
		     int i, int from, int to)
{
	gc[i].kv = kv;
	gc[i].id = i;
	gc[i].from = from;
	gc[i].to = to;
	gc[i].rc = 0;
	gc[i].done = 0;
	ASSERT_EQ(0, pthread_create(&gc[i].th, NULL, gc_thread, &gc[i]));
}

/* Whether the events file shows write bios [@a, @b] all completed. */
static bool completed(uint64_t a, uint64_t b)
{
	FILE *f = fopen(KV_DBG_DIR "/events", "re");
	char line[64];
	uint64_t n, done = 0;
	char c;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%c %" SCNu64, &c, &n) == 2 && c == 'c' &&
		    n >= a && n <= b)
			done++;
	fclose(f);
	return done == b - a + 1;
}

TEST_F_TIMEOUT(regress, group_commit_of_concurrent_sync_puts, 300)
{
	struct kv_wlog *wl = NULL;
	const struct kv_wlog *e;
	uint64_t w, c0, c1, c2;
	double end;
	char name[16];
	int i, cnt;

	if (!selected(_metadata->name))
		SKIP(return, "not in RAWKV_REGRESS_TESTS");
	ASSERT_EQ(0, load_fresh());
	ASSERT_EQ(0, rawkv_open(NULL, &self->kv));
	c0 = commits(self->kv);

	/*
	 * Thread 0's first sync PUT: its value (bio w + 1), its slot header
	 * (w + 2), then its commit (w + 3), held in flight with the commit
	 * mutex.
	 */
	ASSERT_EQ(0, kv_dbg_get("write_bios", &w));
	ASSERT_EQ(0, kv_dbg_set("hold_write_at", w + 3));
	gc_start(_metadata, self->kv, 0, 1, 1);
	ASSERT_EQ(0, wait_dbg("held_bios", 1, 20))
		TH_LOG("the first sync PUT's commit was not parked");
	cnt = kv_dbg_write_log(&wl);
	e = cnt > 0 ? kv_wlog_find(wl, cnt, w + 3) : NULL;
	ASSERT_TRUE(e && !strcmp(e->kind, "log"))
		TH_LOG("write bio %" PRIu64 " held is a %s write, not the commit's log write",
		       w + 3, e ? e->kind : "missing");
	free(wl);

	/* seven more sync PUTs write their values and wait for that commit */
	for (i = 1; i < GC_THREADS; i++)
		gc_start(_metadata, self->kv, i, 1, 1);
	end = kv_now() + 30;
	/* two write bios each: value and slot header */
	while (!completed(w + 4, w + 1 + 2 * GC_THREADS) && kv_now() < end)
		usleep(10 * 1000);
	ASSERT_TRUE(completed(w + 4, w + 1 + 2 * GC_THREADS))
		TH_LOG("the seven values were not written within 30 s");
	usleep(300 * 1000);	/* each publishes its entry, then waits */
	for (i = 0; i < GC_THREADS; i++)
		EXPECT_EQ(0, __atomic_load_n(&gc[i].done, __ATOMIC_ACQUIRE))
			TH_LOG("sync PUT %d returned while the commit was held", i);

	ASSERT_EQ(0, kv_dbg_set("hold_release", 1));
	for (i = 0; i < GC_THREADS; i++) {
		ASSERT_EQ(0, pthread_join(gc[i].th, NULL));
		EXPECT_EQ(0, gc[i].rc);
	}
	c1 = commits(self->kv);
	kv_note("%d sync PUTs behind a held commit: %" PRIu64 " commits",
		GC_THREADS, c1 - c0);
	/* thread 0's own commit, then one for the seven */
	EXPECT_EQ(2, c1 - c0)
		TH_LOG("the sync PUTs that waited for a commit did not share one");

	/* free running: every thread's key, versions 2..GC_PUTS */
	for (i = 0; i < GC_THREADS; i++)
		gc_start(_metadata, self->kv, i, 2, GC_PUTS);
	for (i = 0; i < GC_THREADS; i++) {
		ASSERT_EQ(0, pthread_join(gc[i].th, NULL));
		EXPECT_EQ(0, gc[i].rc);
	}
	c2 = commits(self->kv);
	kv_note("%d threads, %d sync PUTs: %" PRIu64 " commits",
		GC_THREADS, GC_THREADS * GC_PUTS, c2 - c0);
	EXPECT_GT((uint64_t)GC_THREADS * GC_PUTS, c2 - c0)
		TH_LOG("no two concurrent sync PUTs shared a commit");

	/* the power fails right after the last sync PUT returned */
	ASSERT_EQ(0, crash_reload(self));
	for (i = 0; i < GC_THREADS; i++) {
		gc_name(name, sizeof(name), i);
		EXPECT_TRUE(holds(self->kv, name, 200 + i, GC_PUTS, VLEN,
				  "after the power cut"));
	}
	{
		struct rawkv_stat st;

		ASSERT_EQ(0, rawkv_stat(self->kv, &st));
		EXPECT_EQ(GC_THREADS, st.slots_used);
		EXPECT_EQ(0, st.load_dropped);
	}
}

/* ---- 3. the metadata log wraps many times across reloads ---- */

#define LW_SLOT		(8UL << 10)	/* about 7,900 slots, a log of 123 */
#define LW_KEYS		600
#define LW_SESSIONS	8
#define LW_COMMITS	120		/* per session */
#define LW_VMAX		3000

struct lw_state {
	uint32_t ver[LW_KEYS];		/* 0: absent */
	uint32_t len[LW_KEYS];
};

static void lw_name(char *name, size_t n, int k)
{
	snprintf(name, n, "lw-%03d", k);
}

/* Every key as @s says, and slots_used to match; the number of problems. */
static int lw_verify(struct rawkv *kv, const struct lw_state *s,
		     unsigned char *buf, unsigned char *want, const char *when)
{
	struct rawkv_stat st;
	int k, bad = 0, present = 0;
	char name[16];

	for (k = 0; k < LW_KEYS; k++) {
		ssize_t r;

		lw_name(name, sizeof(name), k);
		r = rawkv_get(kv, name, strlen(name), buf, LW_VMAX);
		present += s->ver[k] != 0;
		if (!s->ver[k] && r == -ENOENT)
			continue;
		if (s->ver[k] && r == (ssize_t)s->len[k]) {
			kv_val_make(want, 300 + k, s->ver[k], s->len[k]);
			if (!memcmp(buf, want, r))
				continue;
		}
		if (bad++ < 10) {
			uint32_t cid = 0, cver = 0;
			bool crc_ok = false;

			if (r >= 0)
				kv_val_claims(buf, r, &cid, &cver, &crc_ok);
			kv_note("%s: %s: GET returned %zd (v%u), expected %s v%u",
				when, name, r, cver,
				s->ver[k] ? "" : "absent, not", s->ver[k]);
		}
	}
	if (rawkv_stat(kv, &st))
		return bad + 1;
	if (st.slots_used != (uint64_t)present || st.load_dropped ||
	    st.stale_dropped) {
		kv_note("%s: slots_used %" PRIu64 " (%d keys), load_dropped %" PRIu64 ", stale_dropped %" PRIu64,
			when, (uint64_t)st.slots_used, present,
			(uint64_t)st.load_dropped, (uint64_t)st.stale_dropped);
		bad++;
	}
	return bad;
}

/* One random PUT or DELETE on @live. */
static int lw_change(struct rawkv *kv, struct lw_state *live, uint64_t *rng,
		     unsigned char *buf, bool sync)
{
	uint64_t r = kv_rand(rng);
	int k = r % LW_KEYS, ret;
	char name[16];

	lw_name(name, sizeof(name), k);
	if (live->ver[k] && (r >> 16) % 5 == 0 && !sync) {
		ret = rawkv_delete(kv, name, strlen(name));
		live->ver[k] = 0;
		return ret;
	}
	live->ver[k]++;
	if (!live->ver[k])
		live->ver[k] = 1;
	live->len[k] = (r >> 24) % LW_VMAX;
	kv_val_make(buf, 300 + k, live->ver[k], live->len[k]);
	return sync ? rawkv_put_sync(kv, name, strlen(name), buf, live->len[k]) :
		      rawkv_put(kv, name, strlen(name), buf, live->len[k]);
}

TEST_F_TIMEOUT(regress, log_wraps_across_reloads, 900)
{
	static struct lw_state live, committed;
	unsigned char *buf, *want;
	struct rawkv_stat st;
	struct rawkv_sb sb;
	uint64_t rng = 0x109, big = 0, changes = 0;
	int session, c, i, n;
	double t0 = kv_now();

	if (!selected(_metadata->name))
		SKIP(return, "not in RAWKV_REGRESS_TESTS");
	buf = malloc(LW_VMAX);
	want = malloc(LW_VMAX);
	ASSERT_TRUE(buf && want);
	memset(&live, 0, sizeof(live));
	memset(&committed, 0, sizeof(committed));
	ASSERT_EQ(0, kv_reload("dev=%s format=1 slot_size=%lu %s", DEV,
			       LW_SLOT, PARAMS));
	ASSERT_EQ(0, rawkv_open(NULL, &self->kv));

	for (session = 0; session < LW_SESSIONS; session++) {
		char when[48];

		for (c = 0; c < LW_COMMITS; c++) {
			uint64_t r = kv_rand(&rng);
			bool sync = r % 10 == 0;

			/* mostly one log block; one in 25 of two or three */
			n = r % 25 == 1 ? 130 + (r >> 8) % 220 :
					  1 + (r >> 8) % 4;
			big += n > 126;
			for (i = 0; i < n; i++)
				ASSERT_EQ(0, lw_change(self->kv, &live, &rng,
						       buf, sync && i == n - 1));
			changes += n;
			if (!sync)
				ASSERT_EQ(0, rawkv_flush(self->kv));
			committed = live;
		}
		/* changes nothing commits, unless rmmod does */
		ASSERT_EQ(0, rawkv_stat(self->kv, &st));
		for (i = 0; i < 5; i++)
			ASSERT_EQ(0, lw_change(self->kv, &live, &rng, buf,
					       false));
		ASSERT_EQ(st.checkpoints, commits(self->kv))
			TH_LOG("a plain PUT committed: the test's model is wrong");
		if (session % 2) {
			ASSERT_EQ(0, crash_reload(self));
			live = committed;
		} else {
			ASSERT_EQ(0, clean_reload(self));
			committed = live;
		}
		snprintf(when, sizeof(when), "after session %d (%s)", session,
			 session % 2 ? "power cut" : "rmmod");
		ASSERT_EQ(0, lw_verify(self->kv, &committed, buf, want, when));
	}
	ASSERT_EQ(0, rawkv_stat(self->kv, &st));
	rawkv_close(self->kv);
	self->kv = NULL;
	ASSERT_EQ(0, kv_unload());
	ASSERT_EQ(0, kv_read_sb(DEV, &sb));
	kv_note("%d sessions, %" PRIu64 " changes in %d commits (%" PRIu64 " of several log blocks): commit %" PRIu64 " on a log of %" PRIu64 " blocks, in %.1f s",
		LW_SESSIONS, changes, LW_SESSIONS * LW_COMMITS, big,
		(uint64_t)st.checkpoint_seq, (uint64_t)le64toh(sb.log_blocks),
		kv_now() - t0);
	/* every commit takes at least one block: this many laps at least */
	EXPECT_LE(5 * le64toh(sb.log_blocks), st.checkpoint_seq)
		TH_LOG("the log did not wrap five times");
	free(buf);
	free(want);
}

/* ---- 4. 65536 GETs in flight on one entry ---- */

/*
 * 256 batches of 256 GETs of one key, every read parked: 65536 pins on
 * one entry, one more than a u16 holds. Each parked GET holds a 4 KiB
 * header page and a bio, about 300 MiB in all: the guest has 1 GiB.
 */
#define HOT_THREADS	256
#define HOT_OPS		RAWKV_BATCH_MAX
#define HOT_KEY		"hot-key"

static struct hot {
	pthread_t th;
	struct rawkv *kv;
	int rc;
	struct rawkv_op ops[HOT_OPS];
	unsigned char bufs[HOT_OPS];
} hot[HOT_THREADS];

static void *hot_thread(void *arg)
{
	struct hot *h = arg;

	h->rc = rawkv_get_batch(h->kv, h->ops, HOT_OPS);
	return NULL;
}

TEST_F_TIMEOUT(regress, pins_of_65536_gets_do_not_wrap, 600)
{
	const uint64_t want_held = (uint64_t)HOT_THREADS * HOT_OPS;
	struct tkey *keys;
	struct rawkv_stat st;
	unsigned char *buf, *want;
	pthread_attr_t attr;
	int i, j, nkeys = 0, nevict, nchurn, bad_rc = 0, bad_op = 0;
	ssize_t first_bad = 0;
	long hung = 0, hung_long = 300;
	double t0;
	uint64_t slots;

	if (!selected(_metadata->name))
		SKIP(return, "not in RAWKV_REGRESS_TESTS");
	ASSERT_EQ(0, load_fresh());
	ASSERT_EQ(0, rawkv_open(NULL, &self->kv));
	ASSERT_EQ(0, rawkv_stat(self->kv, &st));
	slots = st.slots_total;
	nevict = 2 * slots + 8;
	nchurn = 3 * slots;
	keys = calloc(1 + nevict + nchurn, sizeof(*keys));
	buf = malloc(st.value_max);
	want = malloc(st.value_max);
	ASSERT_TRUE(keys && buf && want);

	/* The hot key: a 0-byte value; a GET with buflen 1 still reads. */
	tkey_set(&keys[nkeys], "hot", 0, 1, 0);
	snprintf(keys[nkeys].name, sizeof(keys[0].name), "%s", HOT_KEY);
	ASSERT_EQ(0, tkey_put(self->kv, &keys[nkeys], buf));
	nkeys++;

	/*
	 * The GETs wait for their parked reads on purpose, in D state, for
	 * longer than the guest's 30 s hung-task timeout on a slow (KASAN)
	 * kernel: lift it until they are done.
	 */
	if (proc_num(HUNG_TASK, &hung, false) || hung >= hung_long)
		hung = 0;
	if (hung) {
		ASSERT_EQ(0, proc_num(HUNG_TASK, &hung_long, true));
		self->hung_saved = hung;
	}

	ASSERT_EQ(0, kv_dbg_set("hold_reads", 1));
	ASSERT_EQ(0, pthread_attr_init(&attr));
	ASSERT_EQ(0, pthread_attr_setstacksize(&attr, 256 * 1024));
	t0 = kv_now();
	for (i = 0; i < HOT_THREADS; i++) {
		hot[i].kv = self->kv;
		for (j = 0; j < HOT_OPS; j++) {
			hot[i].ops[j] = (struct rawkv_op) {
				.key = HOT_KEY, .klen = strlen(HOT_KEY),
				.val = &hot[i].bufs[j], .vlen = 1,
				.result = 1,
			};
		}
		ASSERT_EQ(0, pthread_create(&hot[i].th, &attr, hot_thread,
					    &hot[i]));
	}
	pthread_attr_destroy(&attr);
	EXPECT_EQ(0, wait_dbg("held_bios", want_held, 300))
		TH_LOG("only %" PRIu64 " of %" PRIu64 " reads were parked",
		       kv_dbg_val("held_bios"), want_held);
	kv_note("%" PRIu64 " GETs of one key in flight after %.1f s",
		kv_dbg_val("held_bios"), kv_now() - t0);

	/*
	 * Reads still parked: PUT new keys until every other entry has been
	 * evicted twice over. A PUT of a new key reads nothing.
	 */
	for (i = 0; i < nevict; i++) {
		tkey_set(&keys[nkeys], "evict", i, 1000 + i, VLEN);
		EXPECT_EQ(0, tkey_put(self->kv, &keys[nkeys], buf));
		nkeys++;
	}
	EXPECT_EQ(0, rawkv_stat(self->kv, &st));
	EXPECT_LT(0, st.evictions);

	ASSERT_EQ(0, kv_dbg_set("hold_release", 1));
	for (i = 0; i < HOT_THREADS; i++) {
		ASSERT_EQ(0, pthread_join(hot[i].th, NULL));
		if (hot[i].rc) {
			bad_rc++;
			continue;
		}
		for (j = 0; j < HOT_OPS; j++) {
			if (hot[i].ops[j].result && !bad_op++)
				first_bad = hot[i].ops[j].result;
		}
	}
	kv_note("all GETs done %.1f s after the first was issued",
		kv_now() - t0);
	if (hung) {
		EXPECT_EQ(0, proc_num(HUNG_TASK, &hung, true));
		self->hung_saved = 0;
	}
	EXPECT_EQ(0, bad_rc);
	EXPECT_EQ(0, bad_op)
		TH_LOG("%d GETs of the hot key failed, the first with %zd (%s): its slot was freed under them",
		       bad_op, first_bad, rawkv_strerror(first_bad));
	EXPECT_EQ(0, rawkv_get(self->kv, HOT_KEY, strlen(HOT_KEY), buf, 1));

	/* Churn: slots cycle through limbo; each value must read back. */
	for (i = 0; i < nchurn; i++) {
		struct tkey *k = &keys[nkeys++];
		ssize_t r;

		tkey_set(k, "churn", i, 5000 + i, 1 + (i * 7919) % 20000);
		ASSERT_EQ(0, tkey_put(self->kv, k, buf));
		r = rawkv_get(self->kv, k->name, strlen(k->name), buf,
			      st.value_max);
		kv_val_make(want, k->id, k->ver, k->len);
		EXPECT_TRUE(r == k->len && !memcmp(buf, want, k->len))
			TH_LOG("%s: GET right after its PUT returned %zd", k->name,
			       r);
		if (i % 4 == 3)
			ASSERT_EQ(0, rawkv_flush(self->kv));
	}
	keys[nkeys - 1].must_exist = true;
	EXPECT_EQ(0, verify_keys(self->kv, keys, nkeys, buf, want,
				 st.value_max, "after the churn"));
	ASSERT_EQ(0, rawkv_flush(self->kv));
	rawkv_close(self->kv);
	self->kv = NULL;
	ASSERT_EQ(0, kv_unload());
	ASSERT_EQ(0, load_existing());
	ASSERT_EQ(0, rawkv_open(NULL, &self->kv));
	EXPECT_EQ(0, verify_keys(self->kv, keys, nkeys, buf, want,
				 st.value_max, "after the reload"));
	free(keys);
	free(buf);
	free(want);
}

/* ---- 5. a page fault in a PUT_BATCH does not stall a sync DELETE ---- */

#define K3		"sync-del"
#define BATCH_LEN	(64 * 1024)

static struct {
	struct rawkv *kv;
	struct rawkv_op ops[2];
	int rc;
	int done;
} batch;

static void *batch_thread(void *arg)
{
	(void)arg;
	batch.rc = rawkv_put_batch(batch.kv, batch.ops, 2);
	__atomic_store_n(&batch.done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static struct {
	struct rawkv *kv;
	unsigned char val[VLEN];
	int put_rc;
	int del_rc;
	int done;
} sdel;

static void *sync_delete_thread(void *arg)
{
	(void)arg;
	sdel.put_rc = rawkv_put_sync(sdel.kv, K3, strlen(K3), sdel.val, VLEN);
	if (!sdel.put_rc)
		sdel.del_rc = rawkv_delete(sdel.kv, K3, strlen(K3));
	__atomic_store_n(&sdel.done, 1, __ATOMIC_RELEASE);
	return NULL;
}

TEST_F_TIMEOUT(regress, batch_put_fault_does_not_stall_sync_delete, 120)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { 0 };
	struct uffdio_copy copy = { 0 };
	unsigned char *v0, *v1, *src, *buf;
	struct uffd_msg msg;
	struct pollfd pfd;
	pthread_t b_th, d_th;
	bool in_time;
	int uffd;

	if (!selected(_metadata->name))
		SKIP(return, "not in RAWKV_REGRESS_TESTS");
	ASSERT_EQ(0, load_fresh());
	ASSERT_EQ(0, rawkv_open(NULL, &self->kv));
	v0 = kv_alloc_aligned(BATCH_LEN);
	src = kv_alloc_aligned(BATCH_LEN);
	buf = kv_alloc_aligned(BATCH_LEN);
	ASSERT_TRUE(v0 && src && buf);
	kv_val_make(v0, 30, 1, BATCH_LEN);
	kv_val_make(src, 31, 1, BATCH_LEN);

	/* op 1's buffer: not there until the fault is resolved */
	v1 = mmap(NULL, BATCH_LEN, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, v1);
	uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	ASSERT_LE(0, uffd) TH_LOG("userfaultfd: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_API, &api));
	reg.range.start = (uintptr_t)v1;
	reg.range.len = BATCH_LEN;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_REGISTER, &reg));

	batch.kv = self->kv;
	batch.ops[0] = (struct rawkv_op) {
		.key = "batch-0", .klen = 7, .val = v0, .vlen = BATCH_LEN,
	};
	batch.ops[1] = (struct rawkv_op) {
		.key = "batch-1", .klen = 7, .val = v1, .vlen = BATCH_LEN,
	};
	ASSERT_EQ(0, pthread_create(&b_th, NULL, batch_thread, NULL));
	pfd.fd = uffd;
	pfd.events = POLLIN;
	ASSERT_EQ(1, poll(&pfd, 1, 20000)) TH_LOG("the batch did not fault");
	ASSERT_EQ((ssize_t)sizeof(msg), read(uffd, &msg, sizeof(msg)));
	ASSERT_EQ(UFFD_EVENT_PAGEFAULT, msg.event);

	/* The fault stays unresolved: a sync PUT and its DELETE must finish. */
	sdel.kv = self->kv;
	kv_val_make(sdel.val, 32, 1, VLEN);
	ASSERT_EQ(0, pthread_create(&d_th, NULL, sync_delete_thread, NULL));
	in_time = wait_flag(&sdel.done, 20);

	copy.dst = (uintptr_t)v1;
	copy.src = (uintptr_t)src;
	copy.len = BATCH_LEN;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_COPY, &copy));
	ASSERT_EQ(0, pthread_join(d_th, NULL));
	ASSERT_EQ(0, pthread_join(b_th, NULL));
	EXPECT_TRUE(in_time)
		TH_LOG("the DELETE of a sync key did not return within 20 s of a page fault in an unrelated PUT_BATCH");
	EXPECT_EQ(0, sdel.put_rc);
	EXPECT_EQ(0, sdel.del_rc);
	EXPECT_EQ(0, batch.rc);
	EXPECT_EQ(0, batch.ops[0].result);
	EXPECT_EQ(0, batch.ops[1].result);

	EXPECT_EQ(BATCH_LEN, rawkv_get(self->kv, "batch-0", 7, buf, BATCH_LEN));
	EXPECT_EQ(0, memcmp(buf, v0, BATCH_LEN));
	EXPECT_EQ(BATCH_LEN, rawkv_get(self->kv, "batch-1", 7, buf, BATCH_LEN));
	EXPECT_EQ(0, memcmp(buf, src, BATCH_LEN));
	EXPECT_EQ(-ENOENT, rawkv_get(self->kv, K3, strlen(K3), buf, VLEN));
	close(uffd);
	munmap(v1, BATCH_LEN);
	free(v0);
	free(src);
	free(buf);
}

/* ---- 6. kick_checkpoint writes while insmod runs ---- */

#define KICK_ROUNDS	20

static struct {
	int stop;
	unsigned long writes;
} kick;

static void *kick_thread(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&kick.stop, __ATOMIC_ACQUIRE)) {
		int fd = open(KV_DBG_DIR "/kick_checkpoint",
			      O_WRONLY | O_CLOEXEC);

		/* errors expected: the file goes away under us */
		if (fd < 0)
			continue;
		if (write(fd, "1\n", 2) == 2)
			__atomic_add_fetch(&kick.writes, 1, __ATOMIC_RELAXED);
		close(fd);
	}
	return NULL;
}

TEST_F_TIMEOUT(regress, kick_checkpoint_during_insmod, 300)
{
	unsigned char val[VLEN], buf[VLEN];
	unsigned long writes = 0;
	pthread_t th;
	int round, ret, i;

	if (!selected(_metadata->name))
		SKIP(return, "not in RAWKV_REGRESS_TESTS");
	kv_val_make(val, 40, 1, VLEN);
	for (round = 0; round < KICK_ROUNDS; round++) {
		if (kv_loaded())
			ASSERT_EQ(0, kv_unload());
		/* kicking from before insmod: the files must not come first */
		kick.stop = 0;
		kick.writes = 0;
		ASSERT_EQ(0, pthread_create(&th, NULL, kick_thread, NULL));
		/* a short period: the kicked and the periodic work overlap */
		ASSERT_EQ(0, kv_load("dev=%s format=%d slot_size=%lu checkpoint_ms=10 fault_inject=1",
				     DEV, !round, SLOT));
		ASSERT_EQ(0, rawkv_open(NULL, &self->kv));
		ASSERT_EQ(0, rawkv_put(self->kv, "kick", 4, val, VLEN));
		rawkv_close(self->kv);
		self->kv = NULL;
		for (i = 0; i < 10000 &&
			    !__atomic_load_n(&kick.writes, __ATOMIC_RELAXED); i++)
			usleep(1000);
		/*
		 * Stop before rmmod: an open racing rmmod's module reference
		 * drop trips debugfs' own "owner did not clean up" WARN in
		 * 6.1, whatever the module does.
		 */
		__atomic_store_n(&kick.stop, 1, __ATOMIC_RELEASE);
		ASSERT_EQ(0, pthread_join(th, NULL));
		ret = kv_unload();
		ASSERT_EQ(0, ret) TH_LOG("rmmod: %s", strerror(-ret));
		writes += kick.writes;
	}
	kv_note("%d rounds, %lu kick_checkpoint writes", KICK_ROUNDS, writes);
	/* anything queued after the cancel has run by now */
	usleep(500 * 1000);

	ASSERT_EQ(0, kv_load("dev=%s format=0 %s", DEV, KV_NO_PERIODIC));
	ASSERT_EQ(0, rawkv_open(NULL, &self->kv));
	EXPECT_EQ(VLEN, rawkv_get(self->kv, "kick", 4, buf, VLEN));
	EXPECT_EQ(0, memcmp(buf, val, VLEN));
	kv_val_make(val, 40, 2, VLEN);
	EXPECT_EQ(0, rawkv_put(self->kv, "kick", 4, val, VLEN));
	EXPECT_EQ(0, rawkv_flush(self->kv));
	EXPECT_EQ(VLEN, rawkv_get(self->kv, "kick", 4, buf, VLEN));
	EXPECT_EQ(0, memcmp(buf, val, VLEN));
}

/* ---- 7. a zero-copy GET whose buffer is written during the call ---- */

#define ZC_LEN		(1U << 20)
#define ZC_GETS		200

static struct {
	unsigned char *buf;
	int stop;
	unsigned long passes;
} scribble;

static void *scribble_thread(void *arg)
{
	int c = 0;

	(void)arg;
	while (!__atomic_load_n(&scribble.stop, __ATOMIC_ACQUIRE)) {
		memset(scribble.buf, ++c, ZC_LEN);
		scribble.passes++;
	}
	return NULL;
}

TEST_F_TIMEOUT(regress, zero_copy_get_survives_writes_to_its_buffer, 180)
{
	struct rawkv_stat st0, st1;
	unsigned char *val, *buf;
	pthread_t th;
	int i, failed = 0;
	ssize_t r, first = 0;

	if (!selected(_metadata->name))
		SKIP(return, "not in RAWKV_REGRESS_TESTS");
	ASSERT_EQ(0, load_fresh());
	ASSERT_EQ(0, rawkv_open(NULL, &self->kv));
	val = malloc(ZC_LEN);
	buf = malloc(ZC_LEN);
	scribble.buf = kv_alloc_aligned(ZC_LEN);	/* page aligned */
	ASSERT_TRUE(val && buf && scribble.buf);
	kv_val_make(val, 50, 1, ZC_LEN);
	ASSERT_EQ(0, rawkv_put(self->kv, "zc", 2, val, ZC_LEN));

	/* the aligned buffer takes the zero-copy path */
	ASSERT_EQ(0, rawkv_stat(self->kv, &st0));
	ASSERT_EQ(ZC_LEN, rawkv_get(self->kv, "zc", 2, scribble.buf, ZC_LEN));
	ASSERT_EQ(0, memcmp(scribble.buf, val, ZC_LEN));
	ASSERT_EQ(0, rawkv_stat(self->kv, &st1));
	ASSERT_EQ(st0.bytes_zero_copy + ZC_LEN, st1.bytes_zero_copy);

	ASSERT_EQ(0, pthread_create(&th, NULL, scribble_thread, NULL));
	for (i = 0; i < ZC_GETS; i++) {
		r = rawkv_get(self->kv, "zc", 2, scribble.buf, ZC_LEN);
		if (r != ZC_LEN) {
			failed = 1;
			first = r;
			break;
		}
	}
	__atomic_store_n(&scribble.stop, 1, __ATOMIC_RELEASE);
	ASSERT_EQ(0, pthread_join(th, NULL));
	kv_note("%d GETs, the buffer written over %lu times meanwhile",
		i + failed, scribble.passes);
	EXPECT_EQ(0, failed)
		TH_LOG("GET %d of %d returned %zd (%s)", i + 1, ZC_GETS, first,
		       rawkv_strerror(first));

	/* the value is intact and still there */
	memset(buf, 0, ZC_LEN);
	EXPECT_EQ(ZC_LEN, rawkv_get(self->kv, "zc", 2, buf, ZC_LEN));
	EXPECT_EQ(0, memcmp(buf, val, ZC_LEN));
	ASSERT_EQ(0, rawkv_stat(self->kv, &st1));
	EXPECT_EQ(0, st1.stale_dropped);
	free(val);
	free(buf);
	free(scribble.buf);
}

/* ---- 8. a descriptor opened O_RDONLY cannot change the store ---- */

static int kv_ioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

static struct rawkv_kv kv_arg(const char *key, const void *val, size_t vlen)
{
	struct rawkv_kv kv = {
		.key_ptr = (uintptr_t)key,
		.val_ptr = (uintptr_t)val,
		.key_len = strlen(key),
		.val_len = vlen,
	};

	return kv;
}

TEST_F_TIMEOUT(regress, read_only_descriptor_cannot_change_the_store, 60)
{
	unsigned char a[VLEN], b[VLEN], x[VLEN], buf[VLEN], buf2[VLEN];
	struct rawkv_batch_op bops[2];
	struct rawkv_batch batch_arg = { .ops_ptr = (uintptr_t)bops };
	struct rawkv_flush fl = { 0 };
	struct rawkv_ioc_stat ist = { 0 };
	struct rawkv_stat st0, st1;
	struct rawkv_kv arg;
	int fd;

	if (!selected(_metadata->name))
		SKIP(return, "not in RAWKV_REGRESS_TESTS");
	ASSERT_EQ(0, load_fresh());
	ASSERT_EQ(0, rawkv_open(NULL, &self->kv));
	kv_val_make(a, 60, 1, VLEN);
	kv_val_make(b, 61, 1, VLEN);
	kv_val_make(x, 62, 1, VLEN);
	ASSERT_EQ(0, rawkv_put(self->kv, "ro-a", 4, a, VLEN));
	ASSERT_EQ(0, rawkv_flush(self->kv));
	/* an unflushed change, so a FLUSH would have to write */
	ASSERT_EQ(0, rawkv_put(self->kv, "ro-b", 4, b, VLEN));
	ASSERT_EQ(0, rawkv_stat(self->kv, &st0));

	fd = open("/dev/rawkv", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);

	arg = kv_arg("ro-a", x, VLEN);
	EXPECT_EQ(-EBADF, kv_ioctl(fd, RAWKV_IOC_PUT, &arg));
	arg = kv_arg("ro-new", x, VLEN);
	EXPECT_EQ(-EBADF, kv_ioctl(fd, RAWKV_IOC_PUT, &arg));
	arg = kv_arg("ro-sync", x, VLEN);
	arg.flags = RAWKV_PUT_SYNC;
	EXPECT_EQ(-EBADF, kv_ioctl(fd, RAWKV_IOC_PUT, &arg));
	memset(bops, 0, sizeof(bops));
	bops[0].key_ptr = (uintptr_t)"ro-a";
	bops[0].key_len = 4;
	bops[0].val_ptr = (uintptr_t)x;
	bops[0].val_len = VLEN;
	bops[1] = bops[0];
	bops[1].key_ptr = (uintptr_t)"ro-batch";
	bops[1].key_len = 8;
	batch_arg.count = 2;
	EXPECT_EQ(-EBADF, kv_ioctl(fd, RAWKV_IOC_PUT_BATCH, &batch_arg));
	arg = kv_arg("ro-a", NULL, 0);
	EXPECT_EQ(-EBADF, kv_ioctl(fd, RAWKV_IOC_DELETE, &arg));
	arg = kv_arg("ro-b", NULL, 0);
	EXPECT_EQ(-EBADF, kv_ioctl(fd, RAWKV_IOC_DELETE, &arg));
	EXPECT_EQ(-EBADF, kv_ioctl(fd, RAWKV_IOC_FLUSH, &fl));

	/* nothing changed, seen through a read-write handle */
	EXPECT_EQ(VLEN, rawkv_get(self->kv, "ro-a", 4, buf, VLEN));
	EXPECT_EQ(0, memcmp(buf, a, VLEN));
	EXPECT_EQ(VLEN, rawkv_get(self->kv, "ro-b", 4, buf, VLEN));
	EXPECT_EQ(0, memcmp(buf, b, VLEN));
	EXPECT_EQ(-ENOENT, rawkv_get(self->kv, "ro-new", 6, buf, VLEN));
	EXPECT_EQ(-ENOENT, rawkv_get(self->kv, "ro-sync", 7, buf, VLEN));
	EXPECT_EQ(-ENOENT, rawkv_get(self->kv, "ro-batch", 8, buf, VLEN));
	ASSERT_EQ(0, rawkv_stat(self->kv, &st1));
	EXPECT_EQ(st0.puts, st1.puts);
	EXPECT_EQ(st0.deletes, st1.deletes);
	EXPECT_EQ(st0.checkpoints, st1.checkpoints);
	EXPECT_EQ(st0.checkpoint_seq, st1.checkpoint_seq);
	EXPECT_EQ(st0.bytes_written, st1.bytes_written);
	EXPECT_EQ(2, st1.slots_used);

	/* reading works on the read-only descriptor */
	arg = kv_arg("ro-a", buf, VLEN);
	memset(buf, 0, VLEN);
	EXPECT_EQ(0, kv_ioctl(fd, RAWKV_IOC_GET, &arg));
	EXPECT_EQ(VLEN, arg.val_len);
	EXPECT_EQ(0, memcmp(buf, a, VLEN));
	memset(bops, 0, sizeof(bops));
	memset(buf, 0, VLEN);
	memset(buf2, 0, VLEN);
	bops[0].key_ptr = (uintptr_t)"ro-a";
	bops[0].key_len = 4;
	bops[0].val_ptr = (uintptr_t)buf;
	bops[0].val_len = VLEN;
	bops[1].key_ptr = (uintptr_t)"ro-b";
	bops[1].key_len = 4;
	bops[1].val_ptr = (uintptr_t)buf2;
	bops[1].val_len = VLEN;
	EXPECT_EQ(0, kv_ioctl(fd, RAWKV_IOC_GET_BATCH, &batch_arg));
	EXPECT_EQ(VLEN, bops[0].result);
	EXPECT_EQ(VLEN, bops[1].result);
	EXPECT_EQ(0, memcmp(buf, a, VLEN));
	EXPECT_EQ(0, memcmp(buf2, b, VLEN));
	EXPECT_EQ(0, kv_ioctl(fd, RAWKV_IOC_STAT, &ist));
	EXPECT_EQ(2, ist.slots_used);
	close(fd);

	/* and the read-write handle still writes */
	EXPECT_EQ(0, rawkv_delete(self->kv, "ro-b", 4));
	EXPECT_EQ(0, rawkv_flush(self->kv));
}

TEST_HARNESS_MAIN
