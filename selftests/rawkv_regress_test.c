// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv regression tests: one test per bug of one issue, each failing on the
 * module before its fix and passing after it. They run on /dev/vdb (64 MiB,
 * 4 KiB blocks) with 2 MiB slots (about 30), no periodic checkpoint unless
 * a test says otherwise, evict=1 and fault_inject=1 (the controls in
 * /sys/kernel/debug/rawkv/, see kmod/fault.c: hold_write_at, hold_reads,
 * held_bios and hold_release park bios and let them go).
 *
 *   flush_after_delete_covers_an_evicted_sync_value
 *	A FLUSH (and a DELETE) returned 0 while a PUT older than the
 *	rawkv_put_sync() of a key was in flight: with the key evicted, PUT
 *	again without sync and deleted, the checkpoint kept a scan_gen below
 *	the sync value's generation, and after a power cut recovery adopted
 *	the evicted sync value: the deleted key came back.
 *   pins_of_65536_gets_do_not_wrap
 *	The pin count of an entry was 16 bits: 256 batches of 256 GETs of one
 *	key in flight wrapped it to 0, so eviction freed the slot under them.
 *   batch_put_fault_does_not_stall_sync_delete
 *	A PUT_BATCH took op 0's generation before it pinned op 1's buffer, so
 *	a page fault there (userfaultfd) held back scan_gen, and a DELETE of a
 *	rawkv_put_sync() key (which waits for older PUTs) hung on it.
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
 * A seventh bug of the issue (PAGE_SIZE > 4 KiB) cannot be shown on x86.
 *
 * RAWKV_REGRESS_TESTS="name ..." runs only the tests named (the others are
 * skipped).
 */
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

/* ---- 1. FLUSH after DELETE covers an evicted sync value ---- */

#define K1		"sync-victim"

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

/* A DELETE (maybe then a FLUSH) or a FLUSH in a thread: they may wait. */
struct call {
	pthread_t th;
	struct rawkv *kv;
	bool then_flush;
	int rc;
	int flush_rc;
	int done;
};

static struct call del_call, flush_call;

static void *delete_thread(void *arg)
{
	struct call *c = arg;

	c->rc = rawkv_delete(c->kv, K1, strlen(K1));
	if (c->then_flush)
		c->flush_rc = rawkv_flush(c->kv);
	__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void *flush_thread(void *arg)
{
	struct call *c = arg;

	c->rc = rawkv_flush(c->kv);
	__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void on_sigusr1(int sig)
{
	(void)sig;
}

/*
 * One round on a fresh store: a plain PUT held in flight (its write bio
 * parked), K1 written with rawkv_put_sync() (a newer generation), evicted,
 * PUT again without sync (its entry no longer says K1 was ever written
 * with sync), deleted; FLUSH; power cut; reload: K1 must stay deleted.
 *
 * With @interrupt, a DELETE still waiting after a second is interrupted by
 * a signal (-EINTR: the key is deleted, not durably) and the periodic
 * checkpoint runs before the FLUSH (kick_checkpoint), committing the
 * table without K1 but with the held PUT's scan_gen. The FLUSH alone then
 * has to make the deletion durable: it must wait for the held PUT and
 * commit although the table did not change since the last checkpoint.
 */
static void evicted_sync_round(struct __test_metadata *_metadata,
			       FIXTURE_DATA(regress) *self, bool interrupt)
{
	struct tkey *keys;
	struct rawkv_stat st;
	unsigned char *buf, *want;
	pthread_t put_th;
	uint64_t w, slots;
	int nkeys, i;
	bool waited;
	ssize_t r;

	ASSERT_EQ(0, load_fresh());
	ASSERT_EQ(0, rawkv_open(NULL, &self->kv));
	ASSERT_EQ(0, rawkv_stat(self->kv, &st));
	slots = st.slots_total;
	buf = malloc(st.value_max);
	want = malloc(st.value_max);
	keys = calloc(1 + 3 * slots, sizeof(*keys));
	ASSERT_TRUE(buf && want && keys);
	/* keys[0] is the held PUT's key, the fillers follow */
	tkey_set(&keys[0], "held", 0, 1, VLEN);
	snprintf(keys[0].name, sizeof(keys[0].name), "held-put");
	nkeys = 1;

	/* A plain PUT held in flight: its one write bio is parked. */
	ASSERT_EQ(0, kv_dbg_get("write_bios", &w));
	ASSERT_EQ(0, kv_dbg_set("hold_write_at", w + 1));
	held.kv = self->kv;
	kv_val_make(held.val, keys[0].id, keys[0].ver, VLEN);
	ASSERT_EQ(0, pthread_create(&put_th, NULL, held_put_thread, NULL));
	ASSERT_EQ(0, wait_dbg("held_bios", 1, 20))
		TH_LOG("the PUT's write bio was not parked");

	/* K1 with rawkv_put_sync(): a newer generation than the held PUT. */
	kv_val_make(buf, 2, 1, VLEN);
	ASSERT_EQ(0, rawkv_put_sync(self->kv, K1, strlen(K1), buf, VLEN));

	/* Fill the store until K1, the least recently used, is evicted. */
	for (;;) {
		ASSERT_EQ(0, rawkv_stat(self->kv, &st));
		if (st.evictions)
			break;
		ASSERT_GE(3 * slots, nkeys) TH_LOG("nothing was evicted");
		tkey_set(&keys[nkeys], "fill", nkeys, 100 + nkeys, VLEN);
		ASSERT_EQ(0, tkey_put(self->kv, &keys[nkeys], buf));
		nkeys++;
	}
	ASSERT_EQ(-ENOENT, rawkv_get(self->kv, K1, strlen(K1), buf, VLEN))
		TH_LOG("the sync key was not the value evicted");

	/* K1 again without sync, then DELETE (and FLUSH). */
	kv_val_make(buf, 2, 2, VLEN);
	ASSERT_EQ(0, rawkv_put(self->kv, K1, strlen(K1), buf, VLEN));
	memset(&del_call, 0, sizeof(del_call));
	del_call.kv = self->kv;
	del_call.then_flush = !interrupt;
	ASSERT_EQ(0, pthread_create(&del_call.th, NULL, delete_thread,
				    &del_call));
	waited = !wait_flag(&del_call.done, 1);
	if (!interrupt)
		kv_note("DELETE and FLUSH %s for the older PUT",
			waited ? "waited" : "did not wait");
	if (interrupt && waited) {
		/* again and again, in case it was not in the ioctl yet */
		for (i = 0; i < 200 && !wait_flag(&del_call.done, 0.1); i++)
			ASSERT_EQ(0, pthread_kill(del_call.th, SIGUSR1));
		ASSERT_TRUE(wait_flag(&del_call.done, 0))
			TH_LOG("SIGUSR1 did not interrupt the DELETE");
	}
	if (interrupt) {
		ASSERT_EQ(0, pthread_join(del_call.th, NULL));
		kv_note("DELETE %s, returned %d", waited ?
			"waited for the older PUT and was interrupted" :
			"did not wait for the older PUT", del_call.rc);
		ASSERT_TRUE(del_call.rc == 0 || del_call.rc == -EINTR);
		ASSERT_EQ(-ENOENT, rawkv_get(self->kv, K1, strlen(K1), buf,
					     VLEN))
			TH_LOG("the DELETE did not delete");
		/* the periodic checkpoint, while the older PUT is held */
		ASSERT_EQ(0, kv_dbg_kick_checkpoint());

		/* FLUSH */
		memset(&flush_call, 0, sizeof(flush_call));
		flush_call.kv = self->kv;
		ASSERT_EQ(0, pthread_create(&flush_call.th, NULL,
					    flush_thread, &flush_call));
		waited = !wait_flag(&flush_call.done, 1);
		kv_note("FLUSH %s for the older PUT",
			waited ? "waited" : "did not wait");
	}

	/* Let the held PUT go. */
	ASSERT_EQ(0, kv_dbg_set("hold_release", 1));
	if (interrupt) {
		ASSERT_EQ(0, pthread_join(flush_call.th, NULL));
		ASSERT_EQ(0, flush_call.rc);
	} else {
		ASSERT_EQ(0, pthread_join(del_call.th, NULL));
		ASSERT_EQ(0, del_call.rc);
		ASSERT_EQ(0, del_call.flush_rc);
	}
	ASSERT_EQ(0, pthread_join(put_th, NULL));
	EXPECT_EQ(0, held.rc);

	/* Power cut now: nothing later reaches the device, not even rmmod's. */
	ASSERT_EQ(0, kv_dbg_get("write_bios", &w));
	ASSERT_EQ(0, kv_dbg_set("powercut_at", w + 1));
	rawkv_close(self->kv);
	self->kv = NULL;
	ASSERT_EQ(0, kv_unload());
	ASSERT_EQ(0, load_existing());
	ASSERT_EQ(0, rawkv_open(NULL, &self->kv));

	r = rawkv_get(self->kv, K1, strlen(K1), buf, st.value_max);
	if (r >= 0) {
		uint32_t id = 0, ver = 0;
		bool crc_ok = false;

		kv_val_claims(buf, r, &id, &ver, &crc_ok);
		TH_LOG("GET returned %zd bytes of v%u (v1: the evicted rawkv_put_sync() value)",
		       r, ver);
	}
	EXPECT_EQ(-ENOENT, r)
		TH_LOG("a deletion made before a successful FLUSH was undone by a power cut");
	/*
	 * The fillers were PUT before the FLUSH: present unless evicted;
	 * the held PUT present or not; slots_used must match.
	 */
	EXPECT_EQ(0, verify_keys(self->kv, keys, nkeys, buf, want,
				 st.value_max, "after the power cut"));
	rawkv_close(self->kv);
	self->kv = NULL;
	free(keys);
	free(buf);
	free(want);
}

TEST_F_TIMEOUT(regress, flush_after_delete_covers_an_evicted_sync_value, 240)
{
	struct sigaction sa = { .sa_handler = on_sigusr1 };

	if (!selected(_metadata->name))
		SKIP(return, "not in RAWKV_REGRESS_TESTS");
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	kv_note("round 1: DELETE, FLUSH");
	evicted_sync_round(_metadata, self, false);
	kv_note("round 2: DELETE interrupted, periodic checkpoint, FLUSH");
	evicted_sync_round(_metadata, self, true);
}

/* ---- 2. 65536 GETs in flight on one entry ---- */

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

/* ---- 3. a page fault in a PUT_BATCH does not stall a sync DELETE ---- */

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

/* ---- 4. kick_checkpoint writes while insmod runs ---- */

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

/* ---- 5. a zero-copy GET whose buffer is written during the call ---- */

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

/* ---- 6. a descriptor opened O_RDONLY cannot change the store ---- */

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
