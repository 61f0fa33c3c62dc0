// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv crash consistency, judged with a disk that has a volatile write
 * cache (rawkv_wcache.h), against the README's durability contract.
 *
 * replay.write_cache: each workload runs once on dm-log-writes over
 * KV_DEV_LW_DATA (64 MiB, 512 B sectors, zeroed first), with a mark in the
 * log after every operation and rawkv's own record of when each write bio
 * was submitted and completed. Cut points: right after the load, after
 * every operation returned, after every FLUSH or FUA write completed, and
 * just before every write bio was submitted. At each, the images a power
 * cut may leave are built on KV_DEV_IMAGE: (a) every write not yet durable
 * lost, (b) none lost, (c) 12 to 16 seeded random choices, each
 * write lost, kept, or torn at 512-byte sectors. rawkv is loaded from each
 * image and checked: it loads and serves (a PUT, GET and FLUSH), every
 * key holds exactly one state the contract allows for the operations
 * acknowledged before the cut (kv_check_store_strict()), slots_used
 * matches, and nothing was dropped as stale, nor at load unless a write
 * of the slot metadata was torn (entries half old, half new, which the
 * log replay restores).
 *
 *   flush  sync fillers, then PUTs of 0 B, 1 B, 4 KiB, 64 KiB, ~300 KiB and
 *          2 MiB - 4 KiB values, overwrites, DELETEs, FLUSHes, one
 *          background commit (kick_checkpoint), new keys until the device
 *          is full and the oldest fillers are evicted, unflushed changes,
 *          rmmod. Enough commits to fill half the metadata log, so a
 *          background writeback and its anchor happen in the middle, and
 *          rmmod's writeback at the end;
 *   sync   rawkv_put_sync() (a PUT and a commit) mixed with plain PUTs and
 *          DELETEs, DELETEs of sync-written keys (they commit), one
 *          background commit, no FLUSH at the end;
 *   many   3000 keys on 8 KiB slots, FLUSHes every 1000: log transactions
 *          of several blocks, 300 sync PUTs, writebacks, a log that wraps
 *          (full mode only, sampled cuts);
 *   random 160 seeded random operations on 12 keys.
 *
 * load_faults: on the image of the flush workload cut after its last
 * operation (flushed changes, no rmmod), recovery replays the log and
 * then writes back and writes an anchor: each of those writes is cut
 * (whole, torn after 1 and 3 sectors), and each read of the load fails.
 *
 * mutants.caught: the flush workload recorded again with each durability
 * measure left out (fault_strip); some image must fail the check, or the
 * test could not see what it claims to check.
 *
 * Modes (RAWKV_CRASH_MODE, or the first argument): bounded (make check)
 * samples the cut points, one random image each, and one mutant; full
 * (make crashtest) every cut point, 12 to 16 random images each, every
 * mutant. RAWKV_CRASH_VARIANTS="flush mutants" runs only those named.
 *
 * More tests:
 *   sync_delete_while_an_older_put_is_in_flight  a DELETE of a sync key
 *          (it commits) while an older PUT is held in flight
 *          (userfaultfd), then a cut;
 *   rounds.random_cuts_across_reloads  random operations with a random
 *          cut per round on one store across 25 (full: 60) reloads. These
 *          cut with the module's power cut (every write before the cut
 *          lands), to test recovery from stores earlier recoveries wrote
 *          back, and a log that wraps.
 *
 * The same binary is the guest half of scripts/crash-blackbox.sh:
 *   rawkv_crash_test --blackbox-run SEED     format /dev/vda, run a random
 *          workload forever, print "BB OP ..." before and "BB ACK ..." after
 *          each operation (drained to the serial port before going on);
 *   rawkv_crash_test --blackbox-verify LOG   load /dev/vda as it was left
 *          and check it against the operations in LOG.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "rawkv_crash_util.h"
#include "rawkv_logwrites.h"
#include "rawkv_wcache.h"
#include "kselftest_harness.h"

#define DEF_DEV		KV_DEV_4K
#define DEF_SLOT	(2UL << 20)
#define PARAMS		"checkpoint_ms=600000 evict=1 fault_inject=1"
#define MAX_DETAIL	8	/* violation lines printed per failed point */
#define MAX_FAILED	40	/* failed points printed in full */

enum workload { WL_FLUSH, WL_SYNC, WL_MANY, WL_RANDOM };

static bool full_mode(void);

/* The device and slot size of the rounds, and the mode. */
struct cfg {
	const char *dev;
	unsigned long slot_size;
	bool full;
};

/* RAWKV_CRASH_DEV and RAWKV_CRASH_SLOT_SIZE override vdb and 2 MiB. */
static void get_cfg(struct cfg *c)
{
	const char *s;

	memset(c, 0, sizeof(*c));
	c->dev = getenv("RAWKV_CRASH_DEV");
	if (!c->dev || !*c->dev)
		c->dev = DEF_DEV;
	s = getenv("RAWKV_CRASH_SLOT_SIZE");
	c->slot_size = s && *s ? strtoul(s, NULL, 0) : DEF_SLOT;
	c->full = full_mode();
}

/* ---- the workloads ---- */

static int put(struct kv_model *m, int k, uint32_t len)
{
	return kv_model_op(m, KV_OP_PUT, k, len);
}

static int put_sync(struct kv_model *m, int k, uint32_t len)
{
	return kv_model_op(m, KV_OP_PUT_SYNC, k, len);
}

static int del(struct kv_model *m, int k)
{
	return kv_model_op(m, KV_OP_DEL, k, 0);
}

static void flush(struct kv_model *m)
{
	kv_model_op(m, KV_OP_FLUSH, -1, 0);
}

static void kick(struct kv_model *m)
{
	kv_model_op(m, KV_OP_KICK, -1, 0);
}

/* Keys present at the end of the script if nothing is evicted. */
static int model_present(const struct kv_model *m)
{
	int k, j, n = 0;

	for (k = 0; k < m->nkeys; k++) {
		bool present = false;

		for (j = 0; j < m->nops; j++)
			if (m->ops[j].key == k)
				present = m->ops[j].type != KV_OP_DEL;
		n += present;
	}
	return n;
}

#define K300	(300 * 1024 + 123)

/*
 * Fillers first (the least recently used keys, so eviction takes them),
 * then the keys whose durability is checked.
 */
static void build_flush_workload(struct kv_model *m, uint64_t slots,
				 uint32_t vmax)
{
	int nfill = slots > 16 ? (int)slots - 12 : 4;
	int k[11], i, e, free_est;
	char label[16];

	/*
	 * Sync PUTs, each a commit: with the commits that follow, more than
	 * half the metadata log (64 blocks on this device, one per commit
	 * here) fills before rmmod, so a background writeback and its anchor
	 * happen between the operations below. Evicted keys are durable ones.
	 * Long keys: a slot header holds the whole key.
	 */
	for (i = 0; i < nfill; i++) {
		snprintf(label, sizeof(label), "f%02d", i);
		kv_model_op(m, KV_OP_PUT_SYNC,
			    kv_model_key(m, label, 100 + (i * 37) % 156, true),
			    i % 3 == 0 ? 0 : i % 3 == 1 ? 100 : 4096);
	}
	k[0] = kv_model_key(m, "k0-empty", 0, false);
	k[1] = kv_model_key(m, "k1-one", 0, false);
	k[2] = kv_model_key(m, "k2-4k", 0, false);
	k[3] = kv_model_key(m, "k3-64k", 0, false);
	k[4] = kv_model_key(m, "k4-300k", 0, false);
	k[5] = kv_model_key(m, "k5-2m", 0, false);
	k[6] = kv_model_key(m, "k6-long255", RAWKV_KEY_MAX, false);
	k[7] = kv_model_key(m, "k7-long200", 200, false);
	k[8] = kv_model_key(m, "k8", 0, false);
	k[9] = kv_model_key(m, "k9", 0, false);
	k[10] = kv_model_key(m, "k10", 120, false);

	put(m, k[0], 0);
	put(m, k[1], 1);
	put(m, k[2], 4096);
	put(m, k[3], 65536);
	put(m, k[4], K300);
	put(m, k[5], vmax);
	put(m, k[6], 65536 + 7);
	put(m, k[7], 4097);
	flush(m);

	put(m, k[3], K300);		/* overwrites of flushed keys */
	put(m, k[5], 65536);
	del(m, k[1]);			/* delete of a flushed key */
	put(m, k[8], 1);
	put(m, k[2], 4097);
	kick(m);			/* the background commit */

	del(m, k[0]);
	put(m, k[4], vmax);
	put(m, k[9], 65536);
	del(m, k[7]);
	put(m, k[7], 4096);		/* deleted and put again */
	flush(m);

	/* new keys until the oldest fillers are evicted */
	free_est = (int)slots - model_present(m);
	for (i = 0, e = 0; i < free_est + 3; i++) {
		snprintf(label, sizeof(label), "e%02d", e++);
		kv_model_op(m, i % 3 == 2 ? KV_OP_PUT_SYNC : KV_OP_PUT,
			    kv_model_key(m, label, 0, false), 4096);
		if (i == free_est / 2)
			put(m, k[9], 100);	/* replaced slot: limbo */
	}
	flush(m);

	/* not flushed: may be lost, never damaged */
	put(m, k[3], 4096);
	del(m, k[2]);
	put(m, k[10], K300);
	del(m, k[6]);
	put(m, k[1], 65536);
	put(m, k[5], 1);
}

static void build_sync_workload(struct kv_model *m, uint32_t vmax)
{
	int s[10], i;
	char label[16];

	for (i = 0; i < 10; i++) {
		snprintf(label, sizeof(label), "s%d", i);
		s[i] = kv_model_key(m, label, i == 7 ? RAWKV_KEY_MAX :
					      i == 8 ? 200 : 0, false);
	}
	/* before the first FLUSH */
	put_sync(m, s[8], 4096);	/* the first commit */
	put(m, s[1], 100);
	put_sync(m, s[5], 65536);	/* commits the plain PUT before it too */
	del(m, s[1]);			/* plain DELETE: no commit */

	put(m, s[0], 65536);
	put(m, s[1], 4096);
	put(m, s[2], K300);
	put(m, s[3], 1);
	put(m, s[9], 4096);
	flush(m);

	put_sync(m, s[0], vmax);	/* sync overwrite of a flushed key */
	put_sync(m, s[4], 65536);	/* sync PUT of a new key */
	put(m, s[5], 4096);		/* plain overwrite of a sync PUT */
	put_sync(m, s[1], 0);		/* zero-length sync PUT: commits s5 */
	del(m, s[4]);			/* DELETE of a sync-written key: commits */
	put_sync(m, s[6], K300);
	put(m, s[6], 4096);		/* plain overwrite of a sync PUT ... */
	del(m, s[6]);			/* ... so this DELETE does not commit */
	del(m, s[2]);			/* plain DELETE of a flushed key */
	put_sync(m, s[2], 1);		/* ... then a sync PUT of it */
	put_sync(m, s[3], 65536);
	del(m, s[3]);			/* flushed, sync PUT, DELETE: commits */
	put(m, s[9], 65536);		/* plain overwrite of a flushed key */
	kick(m);			/* the background commit commits it */

	put_sync(m, s[7], 4096);	/* 255-byte key */
	put(m, s[6], 4097);		/* deleted, committed since; PUT again */
	put_sync(m, s[4], 4097);	/* deleted key back */
	put_sync(m, s[8], vmax);
	del(m, s[9]);			/* plain DELETE: until the next commit */
	put_sync(m, s[7], 65536);	/* sync overwrite of a sync PUT */
	del(m, s[4]);			/* durable DELETE after the KICK */
	kick(m);			/* the background commit: nothing new */
	put(m, s[5], 1);		/* plain overwrite of a plain PUT */
	put_sync(m, s[0], 0);
	put(m, s[6], 100);		/* plain changes after the last commit */
	del(m, s[7]);			/* a sync-written key: commits */
	put(m, s[1], 65536);
	del(m, s[2]);			/* sync-written, not evicted: commits */
	put(m, s[9], 1);		/* the last op: not committed */
}

/* ---- running a workload ---- */

struct run {
	struct kv_model *m;
	struct rawkv *kv;
	unsigned char *vbuf;
	bool armed;
	/* ops before this one are committed (kv_check_store()), or -1 */
	int committed_before;
	int last_issued;
	bool fired;
	int start;		/* first op to run; those before are done */
	uint64_t evictions;
	int *lru;		/* in-memory keys, least recently used first */
	int nlru;
	bool *sync;		/* the key's value was written by a sync PUT */
	/* record: after each op, note its commits and rawkv's event
	 * count, and put a mark "op-<index>" in dm-log-writes' log
	 */
	const char *lw_name;
	char err[256];
};

static void lru_remove(struct run *r, int k)
{
	int i;

	for (i = 0; i < r->nlru; i++)
		if (r->lru[i] == k) {
			memmove(&r->lru[i], &r->lru[i + 1],
				(r->nlru - i - 1) * sizeof(int));
			r->nlru--;
			return;
		}
}

static bool lru_has(struct run *r, int k)
{
	int i;

	for (i = 0; i < r->nlru; i++)
		if (r->lru[i] == k)
			return true;
	return false;
}

static void run_init(struct run *r, struct kv_model *m, struct rawkv *kv,
		     unsigned char *vbuf, bool armed)
{
	memset(r, 0, sizeof(*r));
	r->m = m;
	r->kv = kv;
	r->vbuf = vbuf;
	r->armed = armed;
	r->committed_before = -1;
	r->last_issued = -1;
	r->lru = calloc(m->nkeys + 1, sizeof(int));
	r->sync = calloc(m->nkeys + 1, sizeof(bool));
	if (!r->lru || !r->sync)
		abort();
	kv_model_reset_run(m);
}

static void run_free(struct run *r)
{
	free(r->lru);
	free(r->sync);
}

/*
 * Run the script until its end or the power cut. Returns 0, or -1 with
 * r->err set when an acknowledged op returned what it should not.
 */
static int run_workload(struct run *r)
{
	struct kv_model *m = r->m;
	struct rawkv_stat st;
	uint64_t ckpts;
	int i, j;

	if (rawkv_stat(r->kv, &st)) {
		snprintf(r->err, sizeof(r->err), "STAT failed");
		return -1;
	}
	r->evictions = st.evictions;
	ckpts = st.checkpoints;
	/* the keys the ops before @start left in the store */
	for (i = 0; i < r->start; i++)
		if (m->ops[i].key >= 0) {
			lru_remove(r, m->ops[i].key);
			if (m->ops[i].type != KV_OP_DEL)
				r->lru[r->nlru++] = m->ops[i].key;
		}
	for (i = r->start; i < m->nops; i++) {
		struct kv_op *op = &m->ops[i];
		const struct kv_key *key = op->key >= 0 ? &m->keys[op->key] :
					   NULL;
		bool expect_present = false, sync_value = false;
		uint64_t ev, ckpts_before = ckpts;
		int rc = 0;

		if (op->type == KV_OP_UNLOAD)
			return 0;	/* the caller unloads */
		switch (op->type) {
		case KV_OP_PUT:
		case KV_OP_PUT_SYNC:
			rc = kv_put_ver(r->kv, key->name, key->len, op->key,
					op->ver, r->vbuf, op->len,
					op->type == KV_OP_PUT_SYNC);
			break;
		case KV_OP_DEL:
			expect_present = lru_has(r, op->key);
			sync_value = expect_present && r->sync[op->key];
			rc = rawkv_delete(r->kv, key->name, key->len);
			break;
		case KV_OP_FLUSH:
			rc = rawkv_flush(r->kv);
			break;
		case KV_OP_KICK:
			rc = kv_dbg_kick_checkpoint();
			break;
		}
		op->issued = true;
		op->rc = rc;
		r->last_issued = i;

		if (rawkv_stat(r->kv, &st)) {
			snprintf(r->err, sizeof(r->err), "STAT failed after op #%d", i);
			return -1;
		}
		ckpts = st.checkpoints;
		/* Evicted: the least recently used keys, before this PUT. */
		ev = st.evictions - r->evictions;
		r->evictions = st.evictions;
		for (j = 0; (uint64_t)j < ev && r->nlru; j++) {
			m->keys[r->lru[0]].evicted = true;
			m->keys[r->lru[0]].evicted_op = i;
			r->sync[r->lru[0]] = false;
			lru_remove(r, r->lru[0]);
		}
		if (r->lw_name) {
			uint64_t evc = 0;
			char text[32];

			op->ckpt_before = ckpts_before;
			op->ckpt_after = ckpts;
			snprintf(text, sizeof(text), "op-%d", i);
			if (kv_dbg_get("event_count", &evc) ||
			    lw_dm_mark(r->lw_name, text)) {
				snprintf(r->err, sizeof(r->err),
					 "cannot record op #%d (event_count, dm mark)", i);
				return -1;
			}
			op->mark = evc;
		}
		if (op->key >= 0) {
			lru_remove(r, op->key);
			if (op->type != KV_OP_DEL && !rc)
				r->lru[r->nlru++] = op->key;
		}

		if (r->armed && kv_dbg_val("powercut_fired")) {
			r->fired = true;
			return 0;
		}
		op->acked = true;

		/* ops before a commit are durable; see kv_check_store() */
		if (ckpts != ckpts_before)
			r->committed_before = i;
		switch (op->type) {
		case KV_OP_PUT:
			if (!rc)
				r->sync[op->key] = false;
			break;
		case KV_OP_PUT_SYNC:
			if (!rc) {
				r->sync[op->key] = true;
				r->committed_before = i;
				op->durable = true;
			}
			break;
		case KV_OP_DEL:
			if (rc != (expect_present ? 0 : -ENOENT)) {
				snprintf(r->err, sizeof(r->err),
					 "op #%d DELETE %s returned %d, expected %d",
					 i, key->label, rc,
					 expect_present ? 0 : -ENOENT);
				return -1;
			}
			if (sync_value) {
				r->committed_before = i;
				op->durable = true;
			}
			r->sync[op->key] = false;
			break;
		case KV_OP_FLUSH:
		case KV_OP_KICK:
			if (!rc)
				r->committed_before = i;
			break;
		}
		if (rc && op->type != KV_OP_DEL) {
			snprintf(r->err, sizeof(r->err),
				 "op #%d %s %s returned %d (%s)", i,
				 kv_op_name(op->type), key ? key->label : "",
				 rc, rawkv_strerror(rc));
			return -1;
		}
	}
	return 0;
}

/* Keys the model says were evicted must be gone from the live store. */
static int check_evicted_absent(struct rawkv *kv, const struct kv_model *m,
				const char *when)
{
	int k, bad = 0;

	for (k = 0; k < m->nkeys; k++) {
		ssize_t r;

		if (!m->keys[k].evicted)
			continue;
		r = rawkv_get(kv, m->keys[k].name, m->keys[k].len, NULL, 0);
		if (r != -ENOENT) {
			kv_note("  %s: %s should have been evicted, GET returned %zd",
				when, m->keys[k].label, r);
			bad++;
		}
	}
	return bad;
}

/* Whether write bio @n of the loaded rawkv was of @kind (write_log). */
static bool cut_kind_is(uint64_t n, const char *kind)
{
	struct kv_wlog *wl = NULL;
	const struct kv_wlog *e;
	int cnt = kv_dbg_write_log(&wl);
	bool ret;

	e = cnt > 0 ? kv_wlog_find(wl, cnt, n) : NULL;
	ret = e && !strcmp(e->kind, kind);
	free(wl);
	return ret;
}

/* ---- the write-cache model: record a workload once, judge crash images ---- */

/*
 * Every workload runs once on dm-log-writes (data on KV_DEV_LW_DATA, log on
 * KV_DEV_LW_LOG), with rawkv's event order recorded (rawkv_wcache.h). Then
 * each crash image is built on RP_TARGET (as large as the data device),
 * rawkv is loaded from it and the store is checked against the strict
 * oracle (kv_check_store_strict()).
 */
#define LW_NAME		"rawkv-lw"
#define RP_TARGET	KV_DEV_IMAGE
#define RP_EVENTS	"/tmp/rawkv-crash-events"
#define RANDOM_IMAGES	16	/* (c) images per cut point, full mode */

/* (a): the reloaded store takes a PUT, a GET and a FLUSH. */
static int probe(struct rawkv *kv, unsigned char *buf, unsigned char *want,
		 char *why, size_t n);

/* One recorded run of a workload. */
struct rec {
	struct lw_log log;
	struct wc_model wc;
	struct rawkv_sb sb;
	int64_t start;		/* event count after the load (format) */
	char why[512];
};

static void random_ops(struct kv_model *m, uint64_t *rng, int nops,
		       uint32_t vmax);

/* Seeded random PUTs, sync PUTs, DELETEs, FLUSHes and checkpoints. */
static void build_random_workload(struct kv_model *m, uint32_t vmax)
{
	uint64_t rng = 0x7a11;
	char label[16];
	int i;

	for (i = 0; i < 12; i++) {
		snprintf(label, sizeof(label), "x%02d", i);
		kv_model_key(m, label, i % 4 == 3 ? 180 : 0, false);
	}
	random_ops(m, &rng, 160, vmax);
}

/* Thousands of small keys on 8 KiB slots: checkpoints of many sectors. */
static void build_many_workload(struct kv_model *m, uint64_t slots)
{
	int n = slots > 4000 ? 3000 : (int)(slots * 3 / 4), i, k0;
	char label[16];

	k0 = m->nkeys;
	for (i = 0; i < n; i++) {
		snprintf(label, sizeof(label), "m%04d", i);
		kv_model_key(m, label, 16 + i % 48, false);
	}
	for (i = 0; i < n; i++) {
		kv_model_op(m, i % 10 == 3 ? KV_OP_PUT_SYNC : KV_OP_PUT, k0 + i,
			    i % 7 == 0 ? 0 : 8 + i % 200);
		if (i % 1000 == 999)
			kv_model_op(m, KV_OP_FLUSH, -1, 0);
	}
	flush(m);
	for (i = 0; i < n; i += 97)		/* overwrites and deletes */
		kv_model_op(m, i % 2 ? KV_OP_DEL : KV_OP_PUT, k0 + i, 100);
	kick(m);
	for (i = 1; i < n; i += 101)		/* not flushed */
		kv_model_op(m, i % 3 ? KV_OP_PUT : KV_OP_PUT_SYNC, k0 + i, 50);
	del(m, k0 + 2);
}

static int zero_dev(const char *dev)
{
	const size_t chunk = 1U << 20;
	int64_t bytes = kv_dev_bytes(dev);
	void *z = kv_alloc_aligned(chunk);
	uint64_t off;
	int ret = 0;

	if (bytes < 0 || !z) {
		free(z);
		return bytes < 0 ? (int)bytes : -ENOMEM;
	}
	for (off = 0; off < (uint64_t)bytes && !ret; off += chunk)
		ret = kv_dev_write(dev, off, z, chunk);
	free(z);
	return ret;
}

static int copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in, out, ret = 0;
	ssize_t n;

	in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0) {
		close(in);
		return -errno;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n) {
			ret = -EIO;
			break;
		}
	if (n < 0)
		ret = -errno;
	close(in);
	close(out);
	return ret;
}

/*
 * Wait until rawkv's writes settle: a background writeback the last
 * commits queued runs on its own, and its writes belong in the recording
 * before the events are read. Settled: event_count the same over 300 ms,
 * and as many completions as submissions. 0, or -ETIMEDOUT after 30 s.
 */
static int settle(void)
{
	double end = kv_now() + 30;
	uint64_t a = 0, b = 1;

	while (kv_now() < end) {
		if (kv_dbg_get("event_count", &a))
			return -EIO;
		usleep(300 * 1000);
		if (kv_dbg_get("event_count", &b))
			return -EIO;
		if (a == b && !kv_dbg_val("held_bios")) {
			FILE *f = fopen(KV_DBG_DIR "/events", "re");
			char line[64];
			int64_t open_bios = 0;

			if (!f)
				return -EIO;
			while (fgets(line, sizeof(line), f))
				open_bios += line[0] == 's' ? 1 : -1;
			fclose(f);
			if (!open_bios)
				return 0;
		}
	}
	return -ETIMEDOUT;
}

/*
 * Run @m's ops (building them first when @build, from the fresh store's
 * geometry) on dm-log-writes with rawkv's durability measures in @strip
 * left out, then rmmod and read the log. 0, or -1 with rec->why set.
 */
static int record(struct kv_model *m, enum workload wl, bool build,
		  unsigned long slot, unsigned int strip, struct rec *rc)
{
	struct kv_wlog *wl_log = NULL;
	struct kv_check res = { 0 };
	struct rawkv_stat st;
	struct rawkv *kv = NULL;
	unsigned char *vbuf = NULL, *vbuf2 = NULL;
	char dm[64];
	uint64_t ev = 0;
	struct run r;
	int nwl, ret, j;
	size_t e;

	memset(rc, 0, sizeof(*rc));
	lw_dm_remove(LW_NAME);	/* a leftover of an earlier run */
	ret = zero_dev(KV_DEV_LW_DATA);
	if (ret || lw_dm_create(LW_NAME, KV_DEV_LW_DATA, KV_DEV_LW_LOG, dm,
				sizeof(dm))) {
		snprintf(rc->why, sizeof(rc->why), "cannot set up dm-log-writes on %s and %s",
			 KV_DEV_LW_DATA, KV_DEV_LW_LOG);
		return -1;
	}
	ret = kv_reload("dev=%s format=1 slot_size=%lu %s fault_strip=%u", dm,
			slot, PARAMS, strip);
	if (ret || kv_dbg_get("event_count", &ev) || rawkv_open(NULL, &kv) ||
	    rawkv_stat(kv, &st)) {
		snprintf(rc->why, sizeof(rc->why), "cannot load rawkv on %s: %s",
			 dm, strerror(-ret));
		goto out_fail;
	}
	rc->start = ev;
	if (lw_dm_mark(LW_NAME, WC_LOADED_MARK)) {
		snprintf(rc->why, sizeof(rc->why), "cannot mark the log after the load");
		goto out_fail;
	}
	if (build) {
		uint32_t vmax = st.value_max < (2U << 20) - 4096 ?
				st.value_max : (2U << 20) - 4096;

		if (wl == WL_FLUSH)
			build_flush_workload(m, st.slots_total, vmax);
		else if (wl == WL_SYNC)
			build_sync_workload(m, vmax);
		else if (wl == WL_RANDOM)
			build_random_workload(m, vmax);
		else
			build_many_workload(m, st.slots_total);
		kv_model_op(m, KV_OP_UNLOAD, -1, 0);
	}
	vbuf = malloc(st.value_max + 1);
	vbuf2 = malloc(st.value_max + 1);
	if (!vbuf || !vbuf2)
		goto out_fail;
	run_init(&r, m, kv, vbuf, false);
	r.lw_name = LW_NAME;
	ret = run_workload(&r);
	run_free(&r);
	if (ret) {
		snprintf(rc->why, sizeof(rc->why), "recording run: %s", r.err);
		goto out_fail;
	}
	/* In memory, everything is exactly as the script left it. */
	if (check_evicted_absent(kv, m, "recording run") ||
	    kv_check_store(kv, m, m->nops, vbuf, vbuf2, st.value_max + 1,
			   stdout, "#   recording run, in memory: ", MAX_DETAIL,
			   &res)) {
		snprintf(rc->why, sizeof(rc->why), "the store differs from the script before any crash");
		goto out_fail;
	}
	if (settle()) {
		snprintf(rc->why, sizeof(rc->why), "rawkv's writes did not settle");
		goto out_fail;
	}
	/* rmmod commits, writes back and writes an anchor: the UNLOAD op */
	j = m->nops - 1;
	if (rawkv_stat(kv, &st))
		goto out_fail;
	m->ops[j].issued = m->ops[j].acked = true;
	m->ops[j].ckpt_before = st.checkpoints;
	m->ops[j].ckpt_after = st.checkpoints + 1;
	m->ops[j].mark = INT64_MAX;
	nwl = kv_dbg_write_log(&wl_log);
	ret = copy_file(KV_DBG_DIR "/events", RP_EVENTS);
	if (nwl <= 0 || ret || kv_dbg_val("events_lost")) {
		snprintf(rc->why, sizeof(rc->why), "cannot read rawkv's write log and events");
		goto out_fail;
	}
	rawkv_close(kv);
	kv = NULL;
	if (kv_unload() || lw_dm_remove(LW_NAME)) {
		snprintf(rc->why, sizeof(rc->why), "cannot unload rawkv or remove %s", LW_NAME);
		goto out_fail;
	}
	ret = lw_log_read(KV_DEV_LW_LOG, &rc->log);
	if (ret) {
		snprintf(rc->why, sizeof(rc->why), "cannot read the log on %s: %s",
			 KV_DEV_LW_LOG, strerror(-ret));
		goto out_fail;
	}
	ret = wc_model_build(&rc->wc, &rc->log, RP_EVENTS, wl_log, nwl,
			     rc->start, rc->why, sizeof(rc->why));
	if (ret)
		goto out_fail;
	/* the superblock: the format's write of sector 0 */
	for (e = 0; e < rc->log.n; e++)
		if (rc->log.e[e].data && !rc->log.e[e].sector)
			memcpy(&rc->sb, rc->log.e[e].data, sizeof(rc->sb));
	rc->wc.meta_lo = le64toh(rc->sb.meta_off) >> 9;
	rc->wc.meta_hi = rc->wc.meta_lo + (le64toh(rc->sb.meta_size) >> 9);
	free(wl_log);
	free(vbuf);
	free(vbuf2);
	return 0;

out_fail:
	free(wl_log);
	free(vbuf);
	free(vbuf2);
	rawkv_close(kv);
	if (kv_loaded())
		kv_unload();
	lw_dm_remove(LW_NAME);
	return -1;
}

static void rec_free(struct rec *rc)
{
	wc_model_free(&rc->wc);
	lw_log_free(&rc->log);
}

/* Cut points: the load, every op's return, every FLUSH/FUA completion,
 * and just before every write is submitted (today's enumeration).
 */
static int cut_points(const struct rec *rc, const struct kv_model *m,
		      int64_t **out)
{
	int64_t *t = malloc((3 * rc->wc.nw + m->nops + 2) * sizeof(*t));
	int i, n = 0, k = 0;

	if (!t)
		return -ENOMEM;
	t[n++] = rc->start;
	t[n++] = rc->wc.nev;
	for (i = 0; i < m->nops; i++)
		if (m->ops[i].mark != INT64_MAX)
			t[n++] = m->ops[i].mark;
	for (i = 0; i < rc->wc.nw; i++) {
		const struct wc_write *w = &rc->wc.w[i];

		t[n++] = w->submit;
		if ((w->preflush || w->fua) && w->complete >= 0)
			t[n++] = w->complete + 1;
	}
	for (i = 0; i < n; i++)	/* sort, keep >= start, unique */
		for (int j = i + 1; j < n; j++)
			if (t[j] < t[i]) {
				int64_t x = t[i];

				t[i] = t[j];
				t[j] = x;
			}
	for (i = 0; i < n; i++)
		if (t[i] >= rc->start && (!k || t[i] != t[k - 1]))
			t[k++] = t[i];
	*out = t;
	return k;
}

/* The op the cut at @t falls into, and whether it had done any I/O. */
static int cut_op(const struct rec *rc, const struct kv_model *m, int64_t t,
		  bool *issued)
{
	int u;

	for (u = 0; u < m->nops && m->ops[u].mark <= t; u++)
		;
	*issued = t > (u ? m->ops[u - 1].mark : rc->start);
	return u;
}

/* Images of one recorded run, judged. */
struct judge {
	struct __test_metadata *md;
	const char *name;
	struct kv_model *m;
	struct rec *rc;
	struct lw_image *img;
	unsigned char *buf, *want;
	size_t buflen;
	uint64_t *sigs;		/* images already judged */
	size_t nsigs, capsigs;
	int images, held, printed;
	int dropped;		/* held with load_dropped after a torn write */
	int in_flight;		/* kept a PREFLUSH write still in flight */
};

static bool seen_sig(struct judge *j, uint64_t sig)
{
	size_t i;

	for (i = 0; i < j->nsigs; i++)
		if (j->sigs[i] == sig)
			return true;
	if (j->nsigs == j->capsigs) {
		uint64_t *n;

		j->capsigs = j->capsigs ? 2 * j->capsigs : 1024;
		n = realloc(j->sigs, j->capsigs * sizeof(*n));
		if (!n)
			abort();
		j->sigs = n;
	}
	j->sigs[j->nsigs++] = sig;
	return false;
}

static const char *const variant_name[] = {
	"all-lost", "none-lost", "random",
};

/* Forget what the loaded rawkv wrote (write_log), then unload it. */
static int forget_and_unload(struct judge *j)
{
	struct kv_wlog *wl = NULL;
	int n, i;

	n = kv_dbg_write_log(&wl);
	for (i = 0; i < n; i++)
		lw_image_forget(j->img, wl[i].sector, wl[i].sectors);
	free(wl);
	/*
	 * rmmod writes after the debugfs files are gone: its commit, the
	 * writeback, the LRU hint and an anchor, all before the first slot
	 */
	lw_image_forget(j->img, 0, le64toh(j->rc->sb.data_off) >> 9);
	return kv_unload();
}

/*
 * A load of the image before the checked one, armed with @params (fault
 * injection of the load itself): with @must_fail it must fail with -EIO
 * (a read error); otherwise it must load (its writes may be cut).
 */
struct first_load {
	const char *params;
	bool must_fail;
	uint64_t cut_at;	/* the write fault_powercut_at cuts */
	unsigned int torn;	/* fault_torn_sectors */
};

static int judge_image_ex(struct judge *j, int64_t t, enum wc_variant v,
			  uint64_t seed, const struct first_load *fl);

/*
 * Build the image of cut @t (variant @v, @seed) and check it. Returns 1 if
 * it held, 0 if it did not, -1 when it was a duplicate, -2 on a setup
 * error.
 */
static int judge_image(struct judge *j, int64_t t, enum wc_variant v,
		       uint64_t seed)
{
	return judge_image_ex(j, t, v, seed, NULL);
}

static int judge_image_ex(struct judge *j, int64_t t, enum wc_variant v,
			  uint64_t seed, const struct first_load *fl)
{
	struct kv_check res = { 0 };
	struct lw_piece *p = NULL;
	struct rawkv *kv = NULL;
	char prefix[160], why[256] = "", *details = NULL;
	size_t dlen = 0;
	struct wc_image info;
	FILE *mem;
	bool issued;
	int n, u, ret, ok = 1;

	n = wc_image_pieces(&j->rc->wc, t, v, seed, &p, &info);
	if (n < 0)
		return -2;
	/* see struct kv_check: entries half old, half new do not verify */
	res.torn_meta = info.torn_meta;
	/*
	 * An image already judged is skipped only if it was judged against
	 * the same expectations: those of the same op, cut before or after
	 * its first I/O.
	 */
	u = cut_op(j->rc, j->m, t, &issued);
	if (!fl && seen_sig(j, info.sig ^ ((uint64_t)u << 1 | issued) *
			   0x9e3779b97f4a7c15ULL)) {
		free(p);
		return -1;
	}
	ret = lw_image_build(j->img, &j->rc->log, p, n);
	free(p);
	if (ret < 0) {
		kv_note("%s: cannot build the image of cut %" PRId64 ": %s",
			j->name, t, strerror(-ret));
		return -2;
	}
	j->images++;
	j->in_flight += info.preflush_in_flight;
	snprintf(prefix, sizeof(prefix), "#   %s t=%" PRId64 " %s%s%s: ", j->name,
		 t, variant_name[v], fl && fl->params ? " after " : "",
		 fl && fl->params ? fl->params : "");

	if (fl && fl->params) {
		ret = kv_load("dev=%s format=0 %s %s", RP_TARGET, PARAMS,
			      fl->params);
		if (!ret && fl->torn && cut_kind_is(fl->cut_at, "meta"))
			res.torn_meta = true;
		if (!ret && forget_and_unload(j))
			ret = -EBUSY;
		if (fl->must_fail ? ret != -EIO : ret != 0) {
			snprintf(why, sizeof(why), "(a) insmod %s: %s, expected %s",
				 fl->params, ret ? strerror(-ret) : "loaded",
				 fl->must_fail ? "-EIO" : "a load");
			ok = 0;
			goto out_report;
		}
	}
	ret = kv_load("dev=%s format=0 %s", RP_TARGET, PARAMS);
	if (ret) {
		snprintf(why, sizeof(why), "(a) insmod format=0: %s", strerror(-ret));
		ok = 0;
		goto out_report;
	}
	if (rawkv_open(NULL, &kv)) {
		snprintf(why, sizeof(why), "(a) cannot open /dev/rawkv");
		ok = 0;
		goto out_unload;
	}
	mem = open_memstream(&details, &dlen);
	if (kv_check_store_strict(kv, j->m, u, issued, j->buf, j->want,
				  j->buflen, mem, prefix, MAX_DETAIL, &res)) {
		snprintf(why, sizeof(why), "%d violations", res.violations);
		ok = 0;
	} else if (probe(kv, j->buf, j->want, why, sizeof(why))) {
		ok = 0;
	}
	if (mem)
		fclose(mem);
	rawkv_close(kv);
out_unload:
	/* what the check wrote is forgotten, so the next image rewrites it */
	if (forget_and_unload(j)) {
		snprintf(why, sizeof(why), "rmmod after the check failed");
		ok = 0;
	}
out_report:
	if (!ok && j->printed++ < MAX_FAILED) {
		const struct kv_op *op = u < j->m->nops ? &j->m->ops[u] : NULL;

		kv_note("NOT HELD: %s cut t=%" PRId64 " (%s image%s%s) during op #%d %s %s%s: %s",
			j->name, t, variant_name[v],
			fl && fl->params ? ", after insmod " : "",
			fl && fl->params ? fl->params : "", u,
			op ? kv_op_name(op->type) : "-",
			op && op->key >= 0 ? j->m->keys[op->key].label : "",
			issued ? "" : " (before its I/O)", why);
		if (details)
			fputs(details, stdout);
		wc_image_describe(&j->rc->wc, t, v, seed, stdout, "#     ");
		fflush(stdout);
	}
	free(details);
	if (ok)
		j->held++;
	if (ok && res.load_dropped)
		j->dropped++;
	return ok;
}

static int judge_init(struct judge *j, struct __test_metadata *md,
		      const char *name, struct kv_model *m, struct rec *rc)
{
	int64_t bytes = kv_dev_bytes(RP_TARGET);

	memset(j, 0, sizeof(*j));
	j->md = md;
	j->name = name;
	j->m = m;
	j->rc = rc;
	j->buflen = le64toh(rc->sb.slot_size);
	j->buf = malloc(j->buflen);
	j->want = malloc(j->buflen);
	if (!j->buf || !j->want || bytes < 0 ||
	    bytes < (int64_t)le64toh(rc->sb.device_bytes))
		return -1;
	return lw_image_new(&j->img, RP_TARGET, le64toh(rc->sb.device_bytes) >> 9);
}

static void judge_free(struct judge *j)
{
	lw_image_free(j->img);
	free(j->buf);
	free(j->want);
	free(j->sigs);
}

struct replay_cfg {
	const char *name;
	enum workload wl;
	unsigned long slot;
	int stride_bounded;	/* cut points sampled in make check */
	int stride_full;
	bool in_bounded;	/* run at all in make check */
	int randoms;		/* (c) images per cut point in full mode */
};

static bool full_mode(void)
{
	const char *s = getenv("RAWKV_CRASH_MODE");

	return s && !strcmp(s, "full");
}

static bool variant_wanted(const char *name)
{
	const char *only = getenv("RAWKV_CRASH_VARIANTS");

	return !only || !*only || strstr(only, name);
}

/* Build the image of cut @t on RP_TARGET, nothing more: 0 or -errno. */
static int build_image(struct judge *j, int64_t t, enum wc_variant v,
		       uint64_t seed)
{
	struct lw_piece *p;
	struct wc_image info;
	int n, ret;

	n = wc_image_pieces(&j->rc->wc, t, v, seed, &p, &info);
	if (n < 0)
		return n;
	ret = lw_image_build(j->img, &j->rc->log, p, n);
	free(p);
	return ret < 0 ? ret : 0;
}

/*
 * Faults in the load itself, on the (a) image of the cut after the last
 * operation before rmmod: committed changes the slot metadata does not
 * hold yet, so recovery replays the log, then writes the slot metadata
 * back and writes an anchor before it serves. Each of those writes cut
 * (whole, and torn after 1 and 3 sectors), and each read of the load
 * failing. A cut load is followed by a normal one and the usual check; a
 * load with a read error must fail with -EIO and lose nothing: the normal
 * load after it is checked too.
 */
static void load_faults(struct __test_metadata *_metadata, struct judge *j,
			const struct kv_model *m)
{
	static const unsigned int torn[] = { 0, 1, 3 };
	struct first_load fl = { 0 };
	uint64_t reads = 0, writes = 0, nn;
	char params[128];
	int64_t t = m->ops[m->nops - 2].mark;
	unsigned int k;
	int r, tried = 0, held = 0, cut = 0;

	/* what the load reads and writes: count it once */
	ASSERT_EQ(0, build_image(j, t, WC_ALL_LOST, 0));
	ASSERT_EQ(0, kv_load("dev=%s format=0 %s", RP_TARGET, PARAMS));
	ASSERT_EQ(0, kv_dbg_get("read_bios", &reads));
	ASSERT_EQ(0, kv_dbg_get("write_bios", &writes));
	ASSERT_EQ(0, forget_and_unload(j));
	kv_note("%s: the load of the last cut reads %" PRIu64 " bios, writes %" PRIu64,
		j->name, reads, writes);
	EXPECT_LT(0U, writes) TH_LOG("recovery replayed nothing: the cut is not the one intended");

	fl.params = params;
	for (nn = 1; nn <= writes; nn++)
		for (k = 0; k < sizeof(torn) / sizeof(torn[0]); k++) {
			snprintf(params, sizeof(params),
				 "fault_powercut_at=%" PRIu64 " fault_torn_sectors=%u",
				 nn, torn[k]);
			fl.cut_at = nn;
			fl.torn = torn[k];
			r = judge_image_ex(j, t, WC_ALL_LOST, 0, &fl);
			ASSERT_NE(-2, r);
			tried++;
			cut++;
			held += r == 1;
		}
	fl.must_fail = true;
	fl.torn = 0;
	for (nn = 1; nn <= reads; nn++) {
		snprintf(params, sizeof(params), "fault_fail_read_at=%" PRIu64, nn);
		r = judge_image_ex(j, t, WC_ALL_LOST, 0, &fl);
		ASSERT_NE(-2, r);
		tried++;
		held += r == 1;
	}
	kv_note("%s: faults in the load: %d tried (%d cut recovery writes, %d failing reads), %d held",
		j->name, tried, cut, tried - cut, held);
	EXPECT_EQ(tried, held);
}

/* Commits of a recorded run (STAT checkpoints), rmmod's included. */
static int rec_commits(const struct kv_model *m)
{
	return m->nops ? (int)m->ops[m->nops - 1].ckpt_after : 0;
}

/* Anchors written after the format: each ends a writeback. */
static int rec_anchors(const struct rec *rc)
{
	uint64_t a0 = le64toh(rc->sb.anchor_off[0]) >> 9;
	uint64_t a1 = le64toh(rc->sb.anchor_off[1]) >> 9;
	int i, n = 0;

	for (i = 0; i < rc->wc.nw; i++)
		if (rc->wc.w[i].entry >= 0 && rc->wc.w[i].submit >= rc->start &&
		    (rc->wc.w[i].sector == a0 || rc->wc.w[i].sector == a1))
			n++;
	return n;
}

static void replay_variant(struct __test_metadata *_metadata,
			   const struct replay_cfg *cfg)
{
	struct kv_model m = { 0 };
	struct judge j;
	struct rec rc;
	int64_t *pts;
	bool full = full_mode();
	int npts, i, r, stride = full ? cfg->stride_full : cfg->stride_bounded;
	int nrandom = full ? cfg->randoms : 1, tried = 0;
	double t0 = kv_now();

	ASSERT_EQ(0, geteuid());
	if (!variant_wanted(cfg->name) || (!full && !cfg->in_bounded)) {
		kv_note("%s: not run in this mode", cfg->name);
		return;
	}
	ASSERT_EQ(0, record(&m, cfg->wl, true, cfg->slot, 0, &rc))
		TH_LOG("%s: %s", cfg->name, rc.why);
	npts = cut_points(&rc, &m, &pts);
	ASSERT_LT(0, npts);
	ASSERT_EQ(0, judge_init(&j, _metadata, cfg->name, &m, &rc))
		TH_LOG("%s is missing or smaller than %s", RP_TARGET, KV_DEV_LW_DATA);
	kv_note("%s: %d ops, %d writes (%" PRId64 " events), %d commits, %d anchors (writebacks, rmmod's included), %d cut points, recorded in %.1f s",
		cfg->name, m.nops, rc.wc.nw, rc.wc.nev, rec_commits(&m),
		rec_anchors(&rc), npts, kv_now() - t0);

	for (i = 0; i < npts; i++) {
		int64_t t = pts[i];
		int v;

		if (stride > 1 && i % stride && i != npts - 1)
			continue;
		tried++;
		for (v = 0; v < 2 + nrandom; v++) {
			r = judge_image(&j, t, v < 2 ? v : WC_RANDOM,
					0x5eed + 977 * v);
			ASSERT_NE(-2, r);
		}
	}
	if (cfg->wl == WL_FLUSH)
		load_faults(_metadata, &j, &m);
	kv_note("%s (%s): %d cut points, crash images checked: %d, held %d (%d of them with load_dropped after a torn metadata write; %d keep a PREFLUSH write in flight), in %.1f s",
		cfg->name, full ? "full" : "bounded", tried, j.images, j.held,
		j.dropped, j.in_flight, kv_now() - t0);
	EXPECT_EQ(j.images, j.held);
	EXPECT_LT(0, j.images);
	judge_free(&j);
	free(pts);
	rec_free(&rc);
	kv_model_free(&m);
}

FIXTURE(replay) {
	int unused;
};

FIXTURE_VARIANT(replay) {
	struct replay_cfg cfg;
};

/* PUTs of 0 B to 2 MiB, overwrites, DELETEs, FLUSHes, evictions */
FIXTURE_VARIANT_ADD(replay, flush) {
	.cfg = { "flush", WL_FLUSH, 2UL << 20, 4, 1, true, RANDOM_IMAGES },
};

/* rawkv_put_sync mixed with PUTs and DELETEs, no FLUSH at the end */
FIXTURE_VARIANT_ADD(replay, sync) {
	.cfg = { "sync", WL_SYNC, 2UL << 20, 6, 1, true, RANDOM_IMAGES },
};

/* 160 seeded random operations on 12 keys */
FIXTURE_VARIANT_ADD(replay, random) {
	.cfg = { "random", WL_RANDOM, 2UL << 20, 20, 1, true, RANDOM_IMAGES - 2 },
};

/* 3000 keys on 8 KiB slots: checkpoints of many sectors */
FIXTURE_VARIANT_ADD(replay, many) {
	.cfg = { "many", WL_MANY, 8UL << 10, 0, 300, false, RANDOM_IMAGES - 4 },
};

FIXTURE_SETUP(replay)
{
}

FIXTURE_TEARDOWN(replay)
{
	if (kv_loaded())
		kv_unload();
	lw_dm_remove(LW_NAME);
}

TEST_F_TIMEOUT(replay, write_cache, 7200)
{
	replay_variant(_metadata, &variant->cfg);
}

/*
 * Mutants: each durability measure rawkv relies on, left out in turn
 * (fault_strip, RAWKV_STRIP_* in kmod/rawkv.h), must make some crash image
 * fail the check; a mutant no image catches means the test cannot see
 * what it claims to check.
 */
static const struct {
	unsigned int bit;
	const char *name;
	const char *what;
} mutants[] = {
	{ 1U << 0, "LOG_PREFLUSH", "log transaction written without REQ_PREFLUSH" },
	{ 1U << 1, "LOG_FUA", "log transaction written without REQ_FUA" },
	{ 1U << 2, "ANCHOR_PREFLUSH", "anchor written without REQ_PREFLUSH" },
	{ 1U << 3, "ANCHOR_WAIT", "anchor written before the writeback's blocks" },
	{ 1U << 4, "SYNC_COMMIT", "rawkv_put_sync() returns without committing" },
};

FIXTURE(mutants) {
	int unused;
};

FIXTURE_SETUP(mutants)
{
}

FIXTURE_TEARDOWN(mutants)
{
	if (kv_loaded())
		kv_unload();
	lw_dm_remove(LW_NAME);
}

/*
 * The images of one recorded mutant, in the order that finds a failing
 * one soonest whatever the mutant: first the (a) image of every cut point
 * (what a missing flush or FUA loses shows there), then, from the last
 * cut point back to the first, (b) and every random image of each (what
 * reaches the device in the wrong order shows only in images that keep
 * some writes and lose others). The same images the full run judges, in
 * another order. Returns 1 when every image held, 0 when one did not, -2
 * on a setup error.
 */
static int judge_mutant(struct judge *j, const int64_t *pts, int npts)
{
	int p, v, r;

	for (p = 0; p < npts; p++) {
		r = judge_image(j, pts[p], WC_ALL_LOST, 0x5eed);
		if (r == -2 || !r)
			return r;
	}
	for (p = npts - 1; p >= 0; p--)
		for (v = 1; v < 2 + RANDOM_IMAGES; v++) {
			r = judge_image(j, pts[p], v < 2 ? v : WC_RANDOM,
					0x5eed + 977 * v);
			if (r == -2 || !r)
				return r;
		}
	return 1;
}

TEST_F_TIMEOUT(mutants, caught, 7200)
{
	int n = sizeof(mutants) / sizeof(mutants[0]), i, caught = 0, tried = 0;
	bool full = full_mode();
	double t0 = kv_now();

	ASSERT_EQ(0, geteuid());
	if (!variant_wanted("mutants")) {
		kv_note("mutants: not in RAWKV_CRASH_VARIANTS, not run");
		return;
	}
	if (!full)
		n = 1;	/* make check: the first one */
	for (i = 0; i < n; i++) {
		struct kv_model m = { 0 };
		struct judge j;
		struct rec rc;
		int64_t *pts;
		double t1 = kv_now();
		int npts, r;

		tried++;
		ASSERT_EQ(0, record(&m, WL_FLUSH, true, 2UL << 20,
				    mutants[i].bit, &rc))
			TH_LOG("mutant %s: %s", mutants[i].name, rc.why);
		npts = cut_points(&rc, &m, &pts);
		ASSERT_LT(0, npts);
		ASSERT_EQ(0, judge_init(&j, _metadata, "mutant", &m, &rc));
		kv_note("mutant %s: %d commits, %d anchors, %d cut points",
			mutants[i].name, rec_commits(&m), rec_anchors(&rc),
			npts);
		r = judge_mutant(&j, pts, npts);
		ASSERT_NE(-2, r);
		kv_note("mutant %s (%#x, %s): %s after %d images, %.1f s",
			mutants[i].name, mutants[i].bit, mutants[i].what,
			r ? "SURVIVED" : "caught", j.images, kv_now() - t1);
		caught += !r;
		judge_free(&j);
		free(pts);
		rec_free(&rc);
		kv_model_free(&m);
	}
	kv_note("mutants caught: %d of %d (%s, %.1f s)", caught, tried,
		full ? "full" : "bounded", kv_now() - t0);
	EXPECT_EQ(tried, caught);
}

/* (a): the reloaded store takes a PUT, a GET and a FLUSH. */
static int probe(struct rawkv *kv, unsigned char *buf, unsigned char *want,
		 char *why, size_t n)
{
	static const char key[] = "zz-probe-after-crash";
	struct rawkv_stat st;
	size_t len = 5000;
	ssize_t r;
	int ret;

	ret = rawkv_stat(kv, &st);
	if (ret) {
		snprintf(why, n, "(a) STAT after reload: %s", rawkv_strerror(ret));
		return -1;
	}
	if (len > st.value_max)
		len = st.value_max;
	kv_val_make(want, 0xffff, 1, len);
	ret = rawkv_put(kv, key, sizeof(key) - 1, want, len);
	if (ret) {
		snprintf(why, n, "(a) PUT after reload: %s", rawkv_strerror(ret));
		return -1;
	}
	r = rawkv_get(kv, key, sizeof(key) - 1, buf, len);
	if (r != (ssize_t)len || memcmp(buf, want, len)) {
		snprintf(why, n, "(a) GET after reload returned %zd or wrong bytes", r);
		return -1;
	}
	ret = rawkv_flush(kv);
	if (ret) {
		snprintf(why, n, "(a) FLUSH after reload: %s", rawkv_strerror(ret));
		return -1;
	}
	return 0;
}

/*
 * A DELETE of a key written with rawkv_put_sync is durable when it returns
 * (it commits a checkpoint), also while another, older PUT is still in
 * flight. That PUT is held in the middle of copying its value with
 * userfaultfd, the power is cut right after the DELETE, and the key must
 * stay deleted after the reload.
 */
struct held_put {
	struct rawkv *kv;
	void *buf;
	size_t len;
	int rc;
};

static void *held_put_thread(void *arg)
{
	struct held_put *h = arg;

	h->rc = rawkv_put(h->kv, "held-put", 8, h->buf, h->len);
	return NULL;
}

TEST(sync_delete_while_an_older_put_is_in_flight)
{
	const size_t len = 1U << 20, half = len / 2;
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { 0 };
	struct uffdio_zeropage zero = { 0 };
	struct uffd_msg msg;
	struct pollfd pfd;
	struct rawkv_stat st0, st1;
	struct held_put h = { 0 };
	struct rawkv *kv;
	unsigned char *val;
	pthread_t thr;
	uint64_t w;
	ssize_t r;
	int uffd;

	ASSERT_EQ(0, geteuid());
	ASSERT_EQ(0, kv_reload("dev=%s format=1 slot_size=%lu %s", DEF_DEV,
			       DEF_SLOT, PARAMS));
	ASSERT_EQ(0, rawkv_open(NULL, &kv));
	val = malloc(65536);
	ASSERT_NE(NULL, val);
	kv_val_make(val, 1, 1, 4096);
	ASSERT_EQ(0, rawkv_put(kv, "base", 4, val, 4096));
	ASSERT_EQ(0, rawkv_flush(kv));

	/* the second half of the held PUT's value is not there yet */
	h.kv = kv;
	h.len = len;
	h.buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, h.buf);
	memset(h.buf, 0x5a, half);
	uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	ASSERT_LE(0, uffd) TH_LOG("userfaultfd: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_API, &api));
	reg.range.start = (uintptr_t)h.buf + half;
	reg.range.len = half;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_REGISTER, &reg));

	ASSERT_EQ(0, pthread_create(&thr, NULL, held_put_thread, &h));
	pfd.fd = uffd;
	pfd.events = POLLIN;
	ASSERT_EQ(1, poll(&pfd, 1, 20000)) TH_LOG("the PUT did not fault");
	ASSERT_EQ((ssize_t)sizeof(msg), read(uffd, &msg, sizeof(msg)));
	ASSERT_EQ(UFFD_EVENT_PAGEFAULT, msg.event);

	/* the PUT holds its slot and generation; now a newer sync PUT */
	ASSERT_EQ(0, rawkv_stat(kv, &st0));
	kv_val_make(val, 2, 1, 65536);
	ASSERT_EQ(0, rawkv_put_sync(kv, "victim", 6, val, 65536));
	ASSERT_EQ(0, rawkv_delete(kv, "victim", 6));
	ASSERT_EQ(0, rawkv_stat(kv, &st1));
	EXPECT_LT(st0.checkpoints, st1.checkpoints)
		TH_LOG("the DELETE of a sync key committed no checkpoint");

	/* power cut, then let the held PUT finish */
	ASSERT_EQ(0, kv_dbg_get("write_bios", &w));
	ASSERT_EQ(0, kv_dbg_set("powercut_at", w + 1));
	zero.range = reg.range;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_ZEROPAGE, &zero));
	ASSERT_EQ(0, pthread_join(thr, NULL));
	EXPECT_EQ(0, h.rc);
	close(uffd);
	munmap(h.buf, len);

	rawkv_close(kv);
	ASSERT_EQ(0, kv_unload());
	ASSERT_EQ(0, kv_load("dev=%s format=0 %s", DEF_DEV, PARAMS));
	ASSERT_EQ(0, rawkv_open(NULL, &kv));
	r = rawkv_get(kv, "victim", 6, val, 65536);
	EXPECT_EQ(-ENOENT, r)
		TH_LOG("(d) the acknowledged DELETE of a sync key was undone by the crash: GET returned %zd",
		       r);
	kv_val_make(val + 4096, 1, 1, 4096);
	EXPECT_EQ(4096, rawkv_get(kv, "base", 4, val, 65536));
	EXPECT_EQ(0, memcmp(val, val + 4096, 4096));
	rawkv_close(kv);
	free(val);
	EXPECT_EQ(0, kv_unload());
}

/*
 * Random workloads on one store across many reloads: each round runs
 * random operations with a power cut at a random write bio (torn at a
 * random block boundary in every other round), reloads and checks. What
 * the check finds becomes the next round's starting state, as if flushed,
 * so later rounds recover stores that earlier recoveries replayed and
 * wrote back (generations after a recovery, a metadata log that wraps
 * across reloads). 20 keys on about 30 slots: nothing is evicted. A cut
 * that tears a block of slot metadata being written back leaves entries
 * half old and half new, which the load counts in load_dropped before the
 * log replay restores them: allowed then, with every key still checked.
 */
#define RR_KEYS		20

static void random_ops(struct kv_model *m, uint64_t *rng, int nops,
		       uint32_t vmax)
{
	static const uint32_t sizes[] = { 0, 1, 100, 4096, 4097, 65536, K300 };
	int i;

	for (i = 0; i < nops; i++) {
		uint64_t r = kv_rand(rng);
		int k = r % m->nkeys, what = (r >> 8) % 100;
		unsigned int pick = (r >> 16) % 8;

		if (what < 55)
			kv_model_op(m, (r >> 24) & 1 ? KV_OP_PUT_SYNC : KV_OP_PUT,
				    k, pick == 7 ? vmax : sizes[pick]);
		else if (what < 80)
			kv_model_op(m, KV_OP_DEL, k, 0);
		else if (what < 93)
			kv_model_op(m, KV_OP_FLUSH, -1, 0);
		else
			kv_model_op(m, KV_OP_KICK, -1, 0);
	}
}

FIXTURE(rounds) {
	int unused;
};

FIXTURE_SETUP(rounds)
{
}

FIXTURE_TEARDOWN(rounds)
{
	if (kv_loaded())
		kv_unload();
}

TEST_F_TIMEOUT(rounds, random_cuts_across_reloads, 7200)
{
	uint32_t ver[RR_KEYS] = { 0 }, len[RR_KEYS] = { 0 }, maxver[RR_KEYS] = { 0 };
	uint32_t state[RR_KEYS];
	unsigned char *buf, *want;
	struct rawkv_stat st;
	struct rawkv *kv;
	struct cfg cfg;
	uint64_t rng = 0x5eed, base, dropped = 0;
	int round, rounds, held = 0, fired = 0, k, j;
	double t0 = kv_now();
	const char *only = getenv("RAWKV_CRASH_VARIANTS");
	char label[16];

	if (only && *only && !strstr(only, "rounds")) {
		kv_note("rounds: not in RAWKV_CRASH_VARIANTS, not run");
		return;
	}
	get_cfg(&cfg);
	rounds = cfg.full ? 60 : 25;
	ASSERT_EQ(0, geteuid());
	ASSERT_EQ(0, kv_reload("dev=%s format=1 slot_size=%lu %s", cfg.dev,
			       cfg.slot_size, PARAMS));
	ASSERT_EQ(0, rawkv_open(NULL, &kv));
	ASSERT_EQ(0, rawkv_stat(kv, &st));
	ASSERT_LT(RR_KEYS + 4, (int)st.slots_total);
	buf = malloc(st.value_max);
	want = malloc(st.value_max);
	ASSERT_NE(NULL, buf);
	ASSERT_NE(NULL, want);

	for (round = 0; round < rounds; round++) {
		struct kv_model m = { 0 };
		struct kv_check res = { 0 };
		struct run r;
		char prefix[64], *details = NULL;
		size_t dlen = 0;
		uint64_t n, torn;
		FILE *mem;
		int b, ret;

		/* the starting state, as if flushed */
		for (k = 0; k < RR_KEYS; k++) {
			snprintf(label, sizeof(label), "r%02d", k);
			kv_model_key(&m, label, k % 5 == 4 ? 200 : 0, false);
			m.keys[k].ver_base = maxver[k];
		}
		for (k = 0; k < RR_KEYS; k++) {
			if (!ver[k])
				continue;
			j = kv_model_op(&m, KV_OP_PUT, k, len[k]);
			m.ops[j].ver = ver[k];
		}
		b = kv_model_op(&m, KV_OP_FLUSH, -1, 0);
		random_ops(&m, &rng, 20 + kv_rand(&rng) % 20,
			   st.value_max < (2U << 20) - 4096 ? st.value_max :
			   (2U << 20) - 4096);
		for (j = 0; j <= b; j++) {
			m.ops[j].issued = m.ops[j].acked = true;
			m.ops[j].rc = 0;
		}

		/* early enough that every round's ops reach it */
		n = 1 + kv_rand(&rng) % 12;
		torn = round % 2 ? (1 + kv_rand(&rng) % 16) *
				   (st.logical_block_size / 512) : 0;
		ASSERT_EQ(0, kv_dbg_get("write_bios", &base));
		ASSERT_EQ(0, kv_dbg_set("powercut_torn_sectors", torn));
		ASSERT_EQ(0, kv_dbg_set("powercut_at", base + n));
		run_init(&r, &m, kv, want, true);
		for (j = 0; j <= b; j++) {	/* run_init reset them */
			m.ops[j].issued = m.ops[j].acked = true;
			m.ops[j].rc = 0;
		}
		r.start = b + 1;
		ret = run_workload(&r);
		fired += r.fired;
		/* a torn write of the slot metadata may count in load_dropped */
		res.torn_meta = torn && cut_kind_is(base + n, "meta");
		rawkv_close(kv);
		ASSERT_EQ(0, kv_unload());
		ASSERT_EQ(0, kv_load("dev=%s format=0 %s", cfg.dev, PARAMS))
			TH_LOG("(a) round %d: insmod format=0 after the cut", round);
		ASSERT_EQ(0, rawkv_open(NULL, &kv));

		snprintf(prefix, sizeof(prefix), "#   round %d N=%" PRIu64 " K=%" PRIu64 ": ",
			 round, n, torn);
		res.state = state;
		mem = open_memstream(&details, &dlen);
		kv_check_store(kv, &m, r.committed_before >= 0 ?
			       r.committed_before : b, buf, want, st.value_max,
			       mem, prefix, MAX_DETAIL, &res);
		if (mem)
			fclose(mem);
		if (ret || res.violations) {
			kv_note("NOT HELD: round %d, cut at N=%" PRIu64 " K=%" PRIu64
				" during op #%d (%s), ops before #%d committed: %s",
				round, n, torn, r.last_issued,
				r.last_issued >= 0 ?
				kv_op_name(m.ops[r.last_issued].type) : "-",
				r.committed_before, ret ? r.err : "");
			if (details)
				fputs(details, stdout);
			fflush(stdout);
		} else {
			held++;
			dropped += res.load_dropped;
		}
		free(details);

		/* what is there now is the next round's start */
		for (k = 0; k < RR_KEYS; k++) {
			for (j = 0; j < m.nops; j++)
				if (m.ops[j].key == k && m.ops[j].ver > maxver[k])
					maxver[k] = m.ops[j].ver;
			ver[k] = state[k];
			len[k] = 0;
			for (j = 0; j < m.nops && state[k]; j++)
				if (m.ops[j].key == k && m.ops[j].ver == state[k] &&
				    (m.ops[j].type == KV_OP_PUT ||
				     m.ops[j].type == KV_OP_PUT_SYNC))
					len[k] = m.ops[j].len;
		}
		run_free(&r);
		kv_model_free(&m);
	}
	EXPECT_EQ(0, rawkv_stat(kv, &st));
	rawkv_close(kv);
	free(buf);
	free(want);
	kv_note("rounds (%s): %d rounds on one store, cut fired in %d, held %d (load_dropped %" PRIu64 " after torn metadata writes), commit %" PRIu64 ", in %.1f s",
		cfg.full ? "full" : "bounded", rounds, fired, held, dropped,
		(uint64_t)st.checkpoint_seq, kv_now() - t0);
	EXPECT_EQ(rounds, held);
	EXPECT_EQ(rounds, fired) TH_LOG("a round's cut did not fire: nothing was cut");
}

/* ---- black-box guest half (scripts/crash-blackbox.sh) ---- */

#define BB_KEYS		48
#define BB_DEV		KV_DEV_512
#define BB_SLOT		(1UL << 20)

static void bb_keys(struct kv_model *m)
{
	char label[16];
	int i;

	for (i = 0; i < BB_KEYS; i++) {
		snprintf(label, sizeof(label), "bb%02d", i);
		kv_model_key(m, label, i % 8 == 7 ? RAWKV_KEY_MAX :
				       i % 8 == 3 ? 100 : 0, false);
	}
}

static const char *bb_dev(void)
{
	const char *d = getenv("RAWKV_BLACKBOX_DEV");

	return d && *d ? d : BB_DEV;
}

/* Print a line and wait until it left through the serial port. */
static void bb_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void bb_say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
	tcdrain(STDOUT_FILENO);
}

static int blackbox_run(uint64_t seed)
{
	static const uint32_t sizes[] = { 0, 1, 4096, 4097, 65536, K300 };
	struct kv_model m = { 0 };
	struct rawkv_stat st;
	struct rawkv *kv;
	unsigned char *vbuf, *gbuf;
	uint32_t ver[BB_KEYS] = { 0 }, lens[BB_KEYS] = { 0 };
	/* sync[k]: key k's value was written with rawkv_put_sync() */
	bool present[BB_KEYS] = { false }, sync_val[BB_KEYS] = { false };
	uint64_t rng = seed, seq, vmax;
	int ret;

	bb_keys(&m);
	ret = kv_reload("dev=%s format=1 slot_size=%lu checkpoint_ms=400 evict=1",
			bb_dev(), BB_SLOT);
	if (ret || rawkv_open(NULL, &kv) || rawkv_stat(kv, &st)) {
		bb_say("BB FAIL cannot load rawkv on %s: %d\n", bb_dev(), ret);
		return 1;
	}
	vmax = st.value_max;
	vbuf = malloc(vmax);
	gbuf = malloc(vmax);
	if (!vbuf || !gbuf)
		return 1;
	bb_say("BB START seed=%" PRIu64 " dev=%s slots=%llu value_max=%llu\n",
	       seed, bb_dev(), (unsigned long long)st.slots_total,
	       (unsigned long long)vmax);

	for (seq = 1; seq < 1000000; seq++) {
		uint64_t r = kv_rand(&rng);
		int k = r % BB_KEYS, what = (r >> 8) % 100;
		const struct kv_key *key = &m.keys[k];
		bool durable = false;
		int rc;

		if (what < 60) {
			bool sync = (r >> 16) & 1;
			unsigned int pick = (r >> 20) % 8;
			uint32_t len = pick < 6 ? sizes[pick] :
				       pick == 6 ? (uint32_t)((r >> 32) % vmax) :
						   (uint32_t)vmax;

			ver[k]++;
			bb_say("BB OP %" PRIu64 " %s %d %u %u\n", seq,
			       sync ? "PUT_SYNC" : "PUT", k, ver[k], len);
			rc = kv_put_ver(kv, key->name, key->len, k, ver[k],
					vbuf, len, sync);
			if (!rc) {
				present[k] = true;
				lens[k] = len;
				sync_val[k] = sync;
			}
		} else if (what < 85) {
			bb_say("BB OP %" PRIu64 " DELETE %d 0 0\n", seq, k);
			/* a DELETE of a sync-written key commits */
			durable = present[k] && sync_val[k];
			rc = rawkv_delete(kv, key->name, key->len);
			if (rc != (present[k] ? 0 : -ENOENT))
				bb_say("BB FAIL DELETE %s returned %d\n",
				       key->label, rc);
			rc = 0;
			present[k] = false;
			sync_val[k] = false;
		} else if (what < 93) {
			bb_say("BB OP %" PRIu64 " FLUSH -1 0 0\n", seq);
			rc = rawkv_flush(kv);
		} else {
			/* GET: the live value is the last one PUT */
			ssize_t g = rawkv_get(kv, key->name, key->len, gbuf,
					      vmax);

			if (!present[k] && g != -ENOENT)
				bb_say("BB FAIL GET %s returned %zd, expected -ENOENT\n",
				       key->label, g);
			if (present[k]) {
				kv_val_make(vbuf, k, ver[k], lens[k]);
				if (g != (ssize_t)lens[k] ||
				    memcmp(gbuf, vbuf, lens[k]))
					bb_say("BB FAIL GET %s returned %zd, not v%u (%u bytes)\n",
					       key->label, g, ver[k], lens[k]);
			}
			continue;
		}
		bb_say("BB ACK %" PRIu64 " %d %d\n", seq, rc, durable);
		if (rc)
			bb_say("BB FAIL op %" PRIu64 " returned %d (%s)\n", seq,
			       rc, rawkv_strerror(rc));
	}
	bb_say("BB END\n");
	return 0;
}

static int bb_type(const char *s)
{
	if (!strcmp(s, "PUT"))
		return KV_OP_PUT;
	if (!strcmp(s, "PUT_SYNC"))
		return KV_OP_PUT_SYNC;
	if (!strcmp(s, "DELETE"))
		return KV_OP_DEL;
	if (!strcmp(s, "FLUSH"))
		return KV_OP_FLUSH;
	return -1;
}

/* Read the operations of a black-box log into @m; -1 on a bad log. */
static int bb_read_log(const char *path, struct kv_model *m,
		       int *committed_before, int *acked)
{
	uint64_t *seqs = NULL;
	char line[512];
	FILE *f;
	int j;

	*committed_before = -1;
	*acked = 0;
	f = fopen(path, "re");
	if (!f) {
		printf("BB VERIFY FAIL cannot open %s\n", path);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char type[16];
		uint64_t seq;
		int k, dur, rc, t;
		unsigned int ver, len;

		if (sscanf(line, "BB OP %" SCNu64 " %15s %d %u %u", &seq,
			   type, &k, &ver, &len) == 5) {
			t = bb_type(type);
			if (t < 0 || (t != KV_OP_FLUSH &&
				      (k < 0 || k >= BB_KEYS)))
				continue;
			j = kv_model_op(m, t, k, len);
			seqs = realloc(seqs, m->cap_ops * sizeof(*seqs));
			if (!seqs)
				abort();
			seqs[j] = seq;
			m->ops[j].issued = true;
			if ((t == KV_OP_PUT || t == KV_OP_PUT_SYNC) &&
			    m->ops[j].ver != ver) {
				printf("BB VERIFY FAIL log: op %" PRIu64 " has version %u, expected %u\n",
				       seq, ver, m->ops[j].ver);
				fclose(f);
				free(seqs);
				return -1;
			}
		} else if (sscanf(line, "BB ACK %" SCNu64 " %d %d", &seq, &rc,
				  &dur) == 3) {
			j = m->nops - 1;
			if (j < 0 || seqs[j] != seq)
				continue;	/* an ACK is for the last OP */
			m->ops[j].acked = true;
			m->ops[j].rc = rc;
			m->ops[j].durable = m->ops[j].type == KV_OP_PUT_SYNC ?
					    rc == 0 :
					    m->ops[j].type == KV_OP_DEL && dur;
			(*acked)++;
			/* FLUSH, sync PUT, durable DELETE: all commit */
			if (rc == 0 && (m->ops[j].type == KV_OP_FLUSH ||
					m->ops[j].durable))
				*committed_before = j;
		}
	}
	fclose(f);
	free(seqs);
	return 0;
}

static int blackbox_verify(const char *path)
{
	struct kv_model m = { 0 };
	struct rawkv_stat st;
	struct kv_check res = { 0 };
	struct rawkv *kv;
	unsigned char *buf, *want;
	int committed_before, acked, ret;
	char why[256];

	bb_keys(&m);
	if (bb_read_log(path, &m, &committed_before, &acked))
		return 1;
	printf("BB VERIFY %d ops logged, %d acknowledged, last acknowledged commit (FLUSH, sync PUT or DELETE) is op #%d\n",
	       m.nops, acked, committed_before);
	ret = kv_load("dev=%s format=0 checkpoint_ms=0 evict=1", bb_dev());
	if (ret) {
		printf("BB VERIFY FAIL (a) insmod format=0: %s\n", strerror(-ret));
		return 1;
	}
	if (rawkv_open(NULL, &kv) || rawkv_stat(kv, &st)) {
		printf("BB VERIFY FAIL (a) cannot open /dev/rawkv\n");
		return 1;
	}
	buf = malloc(st.value_max);
	want = malloc(st.value_max);
	if (!buf || !want)
		return 1;
	kv_check_store(kv, &m, committed_before, buf, want, st.value_max, stdout,
		       "BB VIOLATION ", 50, &res);
	printf("BB VERIFY %d keys present, %d violations\n", res.present,
	       res.violations);
	ret = res.violations ? 1 : 0;
	if (!ret && probe(kv, buf, want, why, sizeof(why))) {
		printf("BB VIOLATION %s\n", why);
		ret = 1;
	}
	rawkv_close(kv);
	if (kv_unload()) {
		printf("BB VERIFY FAIL rmmod\n");
		ret = 1;
	}
	printf("BB VERIFY %s\n", ret ? "FAIL" : "OK");
	free(buf);
	free(want);
	kv_model_free(&m);
	return ret;
}

static void __attribute__((constructor)) __constructor_order_last(void)
{
	if (!__constructor_order)
		__constructor_order = _CONSTRUCTOR_ORDER_BACKWARD;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--blackbox-run"))
		return blackbox_run(strtoull(argv[2], NULL, 0));
	if (argc == 3 && !strcmp(argv[1], "--blackbox-verify"))
		return blackbox_verify(argv[2]);
	if (argc >= 2 && (!strcmp(argv[1], "full") ||
			  !strcmp(argv[1], "bounded")))
		setenv("RAWKV_CRASH_MODE", argv[1], 1);
	return test_harness_run(argc, argv);
}
