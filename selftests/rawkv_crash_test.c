// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv crash consistency: power cuts at every write bio of a scripted
 * workload, checked against the durability contract (README, "Durability
 * contract"; the checker is in rawkv_crash_util.c).
 *
 * Each variant runs a deterministic single-threaded workload on a freshly
 * formatted device (default /dev/vdb: 64 MiB, 4 KiB blocks; slot_size
 * 2 MiB, about 30 slots; checkpoint_ms long enough that the timer never
 * fires; evict=1):
 *
 *   flush  fillers, then PUTs of 0 B, 1 B, 4 KiB, 64 KiB, ~300 KiB and
 *          2 MiB - 4 KiB values, overwrites, DELETEs, FLUSHes, one periodic
 *          checkpoint (kick_checkpoint), new keys until the device is full
 *          and the oldest fillers are evicted, and unflushed changes last;
 *   sync   rawkv_put_sync mixed with plain PUTs and DELETEs after a FLUSH,
 *          with no FLUSH after them (one periodic checkpoint in between).
 *
 * A run with no cut counts W, the write bios of the workload. Then for each
 * chosen crash point: format, arm powercut_at = base + N (and for a torn
 * point powercut_torn_sectors = K), run the workload until powercut_fired
 * says the cut happened (that op and the rest count as unacknowledged),
 * rmmod, insmod format=0, check (a) load and serve, (b) every GET returns
 * -ENOENT or the bytes of a PUT of that key, (c) what the last acknowledged
 * FLUSH covered survives, (d) acknowledged sync PUTs and sync DELETEs
 * survive, (e) slots_used matches and stale_dropped/load_dropped stay 0.
 *
 * Variants: "flush" and "sync" cut the power at write bios on vdb (torn
 * points keep whole 4 KiB blocks: a shorter bio would be refused by the
 * device); "flush-torn512" and "sync-torn512" run only torn points, at
 * 512-byte sector boundaries, on vda (512 B sectors, 32 MiB slots).
 *
 * Modes (RAWKV_CRASH_MODE, or the first argument):
 *   bounded (default, for make check): every RAWKV_CRASH_STRIDE-th N (5)
 *          and every N that is a checkpoint bio; every boundary of every
 *          checkpoint header bio and two of every checkpoint payload bio;
 *   full   (make crashtest): every N; every boundary of checkpoint headers,
 *          up to 8 of every checkpoint payload bio, 3 of every slot or
 *          value bio.
 * RAWKV_CRASH_DEV and RAWKV_CRASH_SLOT_SIZE pick the device and slot size of
 * the power-cut variants (vdb, 2 MiB), RAWKV_CRASH_TORN_DEV and
 * RAWKV_CRASH_TORN_SLOT_SIZE those of the torn-sector ones (vda, 32 MiB).
 * RAWKV_CRASH_VARIANTS="flush sync-torn512" runs only the variants named.
 *
 * Two more tests:
 *   sync_delete_while_an_older_put_is_in_flight  a DELETE of a sync key
 *          while an older PUT is held in flight (userfaultfd), then a cut;
 *   rounds.random_cuts_across_reloads  random operations with a random
 *          cut per round on one store across 25 (full: 150) reloads.
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
#include "kselftest_harness.h"

#define DEF_DEV		KV_DEV_4K
#define DEF_SLOT	(2UL << 20)
#define DEF_TORN_DEV	KV_DEV_512
#define DEF_TORN_SLOT	(32UL << 20)
#define PARAMS		"checkpoint_ms=600000 evict=1 fault_inject=1"
#define MAX_DETAIL	8	/* violation lines printed per failed point */
#define MAX_FAILED	40	/* failed points printed in full */

enum workload { WL_FLUSH, WL_SYNC };

struct cfg {
	const char *dev;
	unsigned long slot_size;
	bool full;
	bool torn512;		/* only torn points, at 512-byte boundaries */
	int stride;
};

/*
 * The power-cut variants run on RAWKV_CRASH_DEV (vdb, 4 KiB blocks: a torn
 * bio keeps whole blocks), the torn-sector variants on RAWKV_CRASH_TORN_DEV
 * (vda, 512-byte sectors, with 32 MiB slots so it has about 30 too).
 */
static void get_cfg(struct cfg *c, bool torn512)
{
	const char *s;

	memset(c, 0, sizeof(*c));
	c->torn512 = torn512;
	c->dev = getenv(torn512 ? "RAWKV_CRASH_TORN_DEV" : "RAWKV_CRASH_DEV");
	if (!c->dev || !*c->dev)
		c->dev = torn512 ? DEF_TORN_DEV : DEF_DEV;
	s = getenv(torn512 ? "RAWKV_CRASH_TORN_SLOT_SIZE" :
			     "RAWKV_CRASH_SLOT_SIZE");
	c->slot_size = s && *s ? strtoul(s, NULL, 0) :
		       torn512 ? DEF_TORN_SLOT : DEF_SLOT;
	s = getenv("RAWKV_CRASH_MODE");
	c->full = s && !strcmp(s, "full");
	s = getenv("RAWKV_CRASH_STRIDE");
	c->stride = s && *s ? atoi(s) : 5;
	if (c->stride < 1)
		c->stride = 1;
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
	 * Long keys, so that the checkpoint payload spans several blocks;
	 * some fillers are sync PUTs, so evicted keys include durable ones.
	 */
	for (i = 0; i < nfill; i++) {
		snprintf(label, sizeof(label), "f%02d", i);
		kv_model_op(m, i % 4 == 1 ? KV_OP_PUT_SYNC : KV_OP_PUT,
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
	kick(m);			/* the periodic checkpoint */

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
	/* before the first checkpoint: recovery scans every slot */
	put_sync(m, s[8], 4096);
	put_sync(m, s[1], 100);
	del(m, s[1]);			/* commits the first checkpoint */
	put_sync(m, s[5], 65536);

	put(m, s[0], 65536);
	put(m, s[1], 4096);
	put(m, s[2], K300);
	put(m, s[3], 1);
	put(m, s[9], 4096);
	flush(m);

	put_sync(m, s[0], vmax);	/* sync overwrite of a flushed key */
	put_sync(m, s[4], 65536);	/* sync PUT of a new key */
	put(m, s[5], 4096);		/* plain: no guarantee */
	put_sync(m, s[1], 0);		/* zero-length sync PUT */
	del(m, s[4]);			/* DELETE after a sync PUT: durable */
	put_sync(m, s[6], K300);
	put(m, s[6], 4096);		/* plain overwrite of a sync PUT */
	del(m, s[2]);			/* plain DELETE of a flushed key */
	put_sync(m, s[2], 1);		/* ... then a sync PUT of it */
	put_sync(m, s[3], 65536);
	del(m, s[3]);			/* flushed, sync PUT, DELETE: gone */
	put_sync(m, s[6], 65537);
	put(m, s[6], 4097);
	del(m, s[6]);			/* sync PUT, plain PUT, DELETE: gone */
	kick(m);			/* the periodic checkpoint */

	put_sync(m, s[7], 4096);	/* 255-byte key */
	put_sync(m, s[4], 4097);	/* deleted key back, after a checkpoint */
	put_sync(m, s[8], vmax);
	del(m, s[9]);			/* plain DELETE: may come back */
	put_sync(m, s[7], 65536);	/* sync overwrite of a sync PUT */
	del(m, s[4]);			/* durable DELETE after the checkpoint */
	put(m, s[5], 1);		/* plain overwrite of a plain PUT */
	put_sync(m, s[0], 0);
	put(m, s[6], 100);		/* plain PUT of a deleted key */
}

/* ---- running a workload ---- */

struct run {
	struct kv_model *m;
	struct rawkv *kv;
	unsigned char *vbuf;
	bool armed;
	int last_flush;		/* last acknowledged successful FLUSH, or -1 */
	int last_issued;
	bool fired;
	int start;		/* first op to run; those before are done */
	uint64_t evictions;
	int *lru;		/* in-memory keys, least recently used first */
	int nlru;
	bool *mark;		/* sync PUT since the last checkpoint */
	uint64_t *mark_ckpt;
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
	r->last_flush = -1;
	r->last_issued = -1;
	r->lru = calloc(m->nkeys + 1, sizeof(int));
	r->mark = calloc(m->nkeys + 1, sizeof(bool));
	r->mark_ckpt = calloc(m->nkeys + 1, sizeof(uint64_t));
	if (!r->lru || !r->mark || !r->mark_ckpt)
		abort();
	kv_model_reset_run(m);
}

static void run_free(struct run *r)
{
	free(r->lru);
	free(r->mark);
	free(r->mark_ckpt);
}

/*
 * Whether a DELETE of key @k is durable by itself (README: a DELETE of a
 * key written with rawkv_put_sync since the last checkpoint): the key had
 * an acknowledged sync PUT during which no checkpoint committed, and no
 * checkpoint committed from then until the DELETE was issued (@ckpts is the
 * count read before it; the DELETE may commit one itself). A plain PUT in
 * between does not change that the key was written with a sync PUT.
 */
static bool sync_delete_durable(const struct run *r, int k, uint64_t ckpts)
{
	return r->mark[k] && r->mark_ckpt[k] == ckpts;
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
		bool expect_present = false;
		uint64_t ev, ckpts_before = ckpts;
		int rc = 0;

		switch (op->type) {
		case KV_OP_PUT:
		case KV_OP_PUT_SYNC:
			kv_val_make(r->vbuf, op->key, op->ver, op->len);
			rc = op->type == KV_OP_PUT ?
			     rawkv_put(r->kv, key->name, key->len, r->vbuf,
				       op->len) :
			     rawkv_put_sync(r->kv, key->name, key->len, r->vbuf,
					    op->len);
			break;
		case KV_OP_DEL:
			expect_present = lru_has(r, op->key);
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
			r->mark[r->lru[0]] = false;
			lru_remove(r, r->lru[0]);
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

		switch (op->type) {
		case KV_OP_PUT:
			break;
		case KV_OP_PUT_SYNC:
			if (!rc) {
				r->mark[op->key] = ckpts == ckpts_before;
				r->mark_ckpt[op->key] = ckpts;
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
			op->durable = sync_delete_durable(r, op->key,
							  ckpts_before);
			r->mark[op->key] = false;
			break;
		case KV_OP_FLUSH:
			if (!rc) {
				r->last_flush = i;
				memset(r->mark, 0, m->nkeys * sizeof(bool));
			}
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

/* ---- crash points ---- */

struct point {
	uint64_t n;
	uint64_t torn;
	char kind[16];
	const char *set;	/* which set it belongs to, for the summary */
};

struct ctx {
	struct __test_metadata *md;
	struct cfg cfg;
	enum workload wl;
	const char *wl_name;
	struct kv_model m;
	unsigned char *buf, *want;
	size_t buflen;
	uint64_t base;		/* write_bios after a fresh format */
	uint64_t w;		/* write bios of the workload */
	unsigned int step;	/* sectors per logical block: torn granularity */
	struct kv_wlog *log;	/* of the counting run */
	int nlog;
	int failed_printed;
};

static int load_fresh(struct ctx *c)
{
	return kv_reload("dev=%s format=1 slot_size=%lu %s", c->cfg.dev,
			 c->cfg.slot_size, PARAMS);
}

static int load_existing(struct ctx *c)
{
	return kv_load("dev=%s format=0 %s", c->cfg.dev, PARAMS);
}

/* (a): the reloaded store takes a PUT, a GET and a FLUSH. */
static int probe(struct rawkv *kv, unsigned char *buf, unsigned char *want,
		 char *why, size_t n)
{
	static const char key[] = "zz-probe-after-crash";
	ssize_t r;
	int ret;

	kv_val_make(want, 0xffff, 1, 5000);
	ret = rawkv_put(kv, key, sizeof(key) - 1, want, 5000);
	if (ret) {
		snprintf(why, n, "(a) PUT after reload: %s", rawkv_strerror(ret));
		return -1;
	}
	r = rawkv_get(kv, key, sizeof(key) - 1, buf, 5000);
	if (r != 5000 || memcmp(buf, want, 5000)) {
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

/* Print the header line of a failed point once, then its details. */
static void point_failed(struct ctx *c, const struct point *p, int last_issued,
			 const char *detail)
{
	const struct kv_op *op = last_issued >= 0 ? &c->m.ops[last_issued] :
				 NULL;

	if (c->failed_printed++ >= MAX_FAILED)
		return;
	kv_note("NOT HELD: %s N=%" PRIu64 " kind=%s K=%" PRIu64
		" (cut during op #%d %s %s): %s", c->wl_name, p->n, p->kind,
		p->torn, last_issued, op ? kv_op_name(op->type) : "-",
		op && op->key >= 0 ? c->m.keys[op->key].label : "", detail);
}

/* Run one crash point; true if every guarantee held. */
static bool crash_point(struct ctx *c, const struct point *p)
{
	struct __test_metadata *_metadata = c->md;
	const struct kv_wlog *e;
	struct kv_wlog *log = NULL;
	struct rawkv *kv = NULL;
	struct kv_check res = { 0 };
	struct run r;
	char prefix[160], why[256], *details = NULL;
	size_t dlen = 0;
	FILE *mem = NULL;
	uint64_t base;
	int nlog, ret;
	bool ok = true;

	ret = load_fresh(c);
	if (ret) {
		TH_LOG("insmod format=1: %s", strerror(-ret));
		return false;
	}
	if (kv_dbg_get("write_bios", &base) || base != c->base) {
		snprintf(why, sizeof(why), "write_bios after format is %" PRIu64
			 ", was %" PRIu64 " in the counting run", base, c->base);
		point_failed(c, p, -1, why);
		kv_unload();
		return false;
	}
	if (kv_dbg_set("powercut_torn_sectors", p->torn) ||
	    kv_dbg_set("powercut_at", base + p->n) ||
	    rawkv_open(NULL, &kv)) {
		point_failed(c, p, -1, "cannot arm the power cut or open /dev/rawkv");
		kv_unload();
		return false;
	}
	run_init(&r, &c->m, kv, c->want, true);
	ret = run_workload(&r);
	if (ret) {
		point_failed(c, p, r.last_issued, r.err);
		ok = false;
	}
	if (!r.fired) {
		point_failed(c, p, r.last_issued,
			     "the power cut did not fire during the workload (the write bios differ from the counting run)");
		ok = false;
	}
	/* The same bio as in the counting run? */
	nlog = kv_dbg_write_log(&log);
	e = nlog > 0 ? kv_wlog_find(log, nlog, base + p->n) : NULL;
	if (r.fired && (!e || strcmp(e->kind, p->kind))) {
		snprintf(why, sizeof(why), "bio %" PRIu64 " is %s, was %s in the counting run",
			 p->n, e ? e->kind : "missing", p->kind);
		point_failed(c, p, r.last_issued, why);
		ok = false;
	}
	free(log);
	rawkv_close(kv);
	kv = NULL;
	ret = kv_unload();
	if (ret) {
		snprintf(why, sizeof(why), "rmmod after the cut: %s", strerror(-ret));
		point_failed(c, p, r.last_issued, why);
		run_free(&r);
		return false;
	}

	ret = load_existing(c);
	if (ret) {
		snprintf(why, sizeof(why), "(a) insmod format=0 after the cut: %s",
			 strerror(-ret));
		point_failed(c, p, r.last_issued, why);
		run_free(&r);
		return false;
	}
	if (rawkv_open(NULL, &kv)) {
		point_failed(c, p, r.last_issued, "(a) cannot open /dev/rawkv after reload");
		kv_unload();
		run_free(&r);
		return false;
	}
	snprintf(prefix, sizeof(prefix), "#   %s N=%" PRIu64 " K=%" PRIu64 ": ",
		 c->wl_name, p->n, p->torn);
	mem = open_memstream(&details, &dlen);
	if (kv_check_store(kv, &c->m, r.last_flush, c->buf, c->want, c->buflen,
			   mem, prefix, MAX_DETAIL, &res)) {
		snprintf(why, sizeof(why), "%d violations (last acked FLUSH: op #%d)",
			 res.violations, r.last_flush);
		point_failed(c, p, r.last_issued, why);
		if (mem)
			fclose(mem);
		mem = NULL;
		if (details && c->failed_printed <= MAX_FAILED) {
			fputs(details, stdout);
			fflush(stdout);
		}
		ok = false;
	} else if (probe(kv, c->buf, c->want, why, sizeof(why))) {
		point_failed(c, p, r.last_issued, why);
		ok = false;
	}
	if (mem)
		fclose(mem);
	free(details);
	rawkv_close(kv);
	ret = kv_unload();
	if (ret) {
		snprintf(why, sizeof(why), "rmmod after the check: %s", strerror(-ret));
		point_failed(c, p, r.last_issued, why);
		ok = false;
	}
	run_free(&r);
	return ok;
}

/* The counting run: W, the write log, and the no-cut result. */
static void count_run(struct ctx *c)
{
	struct __test_metadata *_metadata = c->md;
	struct rawkv_stat st;
	struct rawkv *kv;
	struct kv_check res = { 0 };
	struct run r;
	uint64_t end;
	char evicted[512] = "";
	int k, ret;

	ASSERT_EQ(0, load_fresh(c)) TH_LOG("insmod %s format=1", c->cfg.dev);
	ASSERT_EQ(0, kv_dbg_get("write_bios", &c->base))
		TH_LOG("no %s/write_bios: this rawkv.ko has no fault injection",
		       KV_DBG_DIR);
	ASSERT_EQ(0, rawkv_open(NULL, &kv));
	ASSERT_EQ(0, rawkv_stat(kv, &st));
	c->buflen = st.value_max;
	c->step = st.logical_block_size / 512 ? st.logical_block_size / 512 : 1;
	c->buf = malloc(c->buflen);
	c->want = malloc(c->buflen);
	ASSERT_NE(NULL, c->buf);
	ASSERT_NE(NULL, c->want);

	if (c->wl == WL_FLUSH)
		build_flush_workload(&c->m, st.slots_total,
				     st.value_max < (2U << 20) - 4096 ?
				     st.value_max : (2U << 20) - 4096);
	else
		build_sync_workload(&c->m, st.value_max < (2U << 20) - 4096 ?
				    st.value_max : (2U << 20) - 4096);

	run_init(&r, &c->m, kv, c->want, false);
	ret = run_workload(&r);
	ASSERT_EQ(0, ret) TH_LOG("counting run: %s", r.err);
	ASSERT_EQ(0, kv_dbg_get("write_bios", &end));
	c->w = end - c->base;
	c->nlog = kv_dbg_write_log(&c->log);
	ASSERT_LT(0, c->nlog);
	ASSERT_NE(NULL, kv_wlog_find(c->log, c->nlog, c->base + c->w))
		TH_LOG("write_log does not reach bio %" PRIu64, c->base + c->w);

	for (k = 0; k < c->m.nkeys; k++)
		if (c->m.keys[k].evicted) {
			size_t l = strlen(evicted);

			snprintf(evicted + l, sizeof(evicted) - l, " %s",
				 c->m.keys[k].label);
			EXPECT_TRUE(c->m.keys[k].filler)
				TH_LOG("checked key %s was evicted: the workload needs more fillers",
				       c->m.keys[k].label);
		}
	ASSERT_EQ(0, rawkv_stat(kv, &st));
	kv_note("%s workload on %s: %d ops, W=%" PRIu64
		" write bios (base %" PRIu64 "), %llu slots, %llu checkpoints, %llu evictions:%s",
		c->wl_name, c->cfg.dev, c->m.nops, c->w, c->base,
		(unsigned long long)st.slots_total,
		(unsigned long long)st.checkpoints,
		(unsigned long long)st.evictions, evicted);
	if (c->wl == WL_FLUSH)
		EXPECT_LT(0U, st.evictions) TH_LOG("the workload evicted nothing");

	/* In memory, everything is exactly as the script left it. */
	EXPECT_EQ(0, check_evicted_absent(kv, &c->m, "no cut, in memory"));
	EXPECT_EQ(0, kv_check_store(kv, &c->m, c->m.nops, c->buf, c->want,
				    c->buflen, stdout, "#   no cut, in memory: ",
				    MAX_DETAIL, &res));
	rawkv_close(kv);
	ASSERT_EQ(0, kv_unload());
	/* After a clean rmmod (final checkpoint) too. */
	ASSERT_EQ(0, load_existing(c));
	ASSERT_EQ(0, rawkv_open(NULL, &kv));
	EXPECT_EQ(0, check_evicted_absent(kv, &c->m, "no cut, after rmmod"));
	EXPECT_EQ(0, kv_check_store(kv, &c->m, c->m.nops, c->buf, c->want,
				    c->buflen, stdout, "#   no cut, after rmmod: ",
				    MAX_DETAIL, &res));
	rawkv_close(kv);
	ASSERT_EQ(0, kv_unload());
	run_free(&r);
}

static void add_point(struct point **v, int *n, int *cap, uint64_t bio,
		      uint64_t torn, const char *kind, const char *set)
{
	struct point *p;

	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 256;
		*v = realloc(*v, *cap * sizeof(**v));
		if (!*v)
			abort();
	}
	p = &(*v)[(*n)++];
	p->n = bio;
	p->torn = torn;
	snprintf(p->kind, sizeof(p->kind), "%s", kind);
	p->set = set;
}

/*
 * Up to @count torn points in bio @e: boundaries K (multiples of @step
 * sectors, the device's logical block) spread over 1..sectors-1; all of
 * them if there are no more than @count.
 */
static void add_torn(struct point **v, int *n, int *cap, uint64_t bio,
		     const struct kv_wlog *e, int count, unsigned int step,
		     const char *set)
{
	uint64_t blocks = e->sectors / step, k, last = 0;
	int i;

	if (blocks < 2)
		return;
	if ((uint64_t)count >= blocks - 1) {
		for (k = 1; k < blocks; k++)
			add_point(v, n, cap, bio, k * step, e->kind, set);
		return;
	}
	for (i = 1; i <= count; i++) {
		k = i * blocks / (count + 1);
		if (k < 1 || k >= blocks || k == last)
			continue;
		add_point(v, n, cap, bio, k * step, e->kind, set);
		last = k;
	}
}

static bool is_ckpt(const char *kind)
{
	return !strncmp(kind, "ckpt", 4);
}

/*
 * Power cuts at every N (full) or a sample (bounded), unless this is a
 * torn-sector variant; then torn points: every boundary of checkpoint
 * headers, some of checkpoint payloads, and in full mode 3 of every slot
 * or value bio.
 */
static int choose_points(struct ctx *c, struct point **pts)
{
	int n = 0, cap = 0;
	uint64_t i;

	*pts = NULL;
	for (i = 1; i <= c->w && !c->cfg.torn512; i++) {
		const struct kv_wlog *e = kv_wlog_find(c->log, c->nlog,
						       c->base + i);
		const char *kind = e ? e->kind : "?";

		if (c->cfg.full || is_ckpt(kind) || i % c->cfg.stride == 1 ||
		    c->cfg.stride == 1 || i == c->w)
			add_point(pts, &n, &cap, i, 0, kind, "power cut");
	}
	for (i = 1; i <= c->w; i++) {
		const struct kv_wlog *e = kv_wlog_find(c->log, c->nlog,
						       c->base + i);

		if (!e)
			continue;
		if (!strcmp(e->kind, "ckpt-hdr"))
			add_torn(pts, &n, &cap, i, e, 63, c->step,
				 "torn ckpt-hdr");
		else if (!strcmp(e->kind, "ckpt-payload"))
			add_torn(pts, &n, &cap, i, e, c->cfg.full ? 8 : 2,
				 c->step, "torn ckpt-payload");
		else if (c->cfg.full)
			add_torn(pts, &n, &cap, i, e, 3, c->step,
				 "torn slot/value");
	}
	return n;
}

static void run_variant(struct __test_metadata *_metadata, enum workload wl,
			const char *name, bool torn512)
{
	struct ctx c;
	struct point *pts;
	int npts, i, held = 0;
	int set_tried[4] = { 0 }, set_held[4] = { 0 };
	static const char *const sets[4] = {
		"power cut", "torn ckpt-hdr", "torn ckpt-payload",
		"torn slot/value",
	};
	double t0 = kv_now(), t1;
	const char *only;

	ASSERT_EQ(0, geteuid()) TH_LOG("run as root in the rawkv test VM");
	only = getenv("RAWKV_CRASH_VARIANTS");
	if (only && *only && !strstr(only, name)) {
		kv_note("%s: not in RAWKV_CRASH_VARIANTS, not run", name);
		return;
	}
	memset(&c, 0, sizeof(c));
	c.md = _metadata;
	c.wl = wl;
	c.wl_name = name;
	get_cfg(&c.cfg, torn512);

	count_run(&c);
	if (_metadata->passed == 0 || _metadata->trigger)
		return;
	npts = choose_points(&c, &pts);
	t1 = kv_now();
	kv_note("%s mode: %d crash points (counting run %.1f s)",
		c.cfg.full ? "full" : "bounded", npts, t1 - t0);

	for (i = 0; i < npts; i++) {
		int s;

		for (s = 0; s < 4 && strcmp(sets[s], pts[i].set); s++)
			;
		if (s == 4)
			s = 0;
		set_tried[s]++;
		if (crash_point(&c, &pts[i])) {
			held++;
			set_held[s]++;
		}
	}
	for (i = 0; i < 4; i++)
		if (set_tried[i])
			kv_note("  %-18s tried %4d, held %4d", sets[i],
				set_tried[i], set_held[i]);
	kv_note("%s (%s): crash points tried %d, held %d, in %.1f s (%.2f s each)",
		name, c.cfg.full ? "full" : "bounded", npts, held,
		kv_now() - t1, npts ? (kv_now() - t1) / npts : 0.0);
	EXPECT_EQ(npts, held);
	free(pts);
	free(c.log);
	free(c.buf);
	free(c.want);
	kv_model_free(&c.m);
}

FIXTURE(crash) {
	int unused;
};

FIXTURE_VARIANT(crash) {
	enum workload wl;
	const char *name;
	bool torn512;
};

/* power cuts at write bios, on vdb (4 KiB blocks) */
FIXTURE_VARIANT_ADD(crash, flush) {
	.wl = WL_FLUSH, .name = "flush", .torn512 = false,
};

FIXTURE_VARIANT_ADD(crash, sync) {
	.wl = WL_SYNC, .name = "sync", .torn512 = false,
};

/* torn writes at 512-byte sector boundaries, on vda */
FIXTURE_VARIANT_ADD(crash, flush_torn512) {
	.wl = WL_FLUSH, .name = "flush-torn512", .torn512 = true,
};

FIXTURE_VARIANT_ADD(crash, sync_torn512) {
	.wl = WL_SYNC, .name = "sync-torn512", .torn512 = true,
};

FIXTURE_SETUP(crash)
{
}

FIXTURE_TEARDOWN(crash)
{
	if (kv_loaded())
		kv_unload();
}

/* The full mode takes much longer than the harness's 30 s default. */
TEST_F_TIMEOUT(crash, power_cut, 7200)
{
	run_variant(_metadata, variant->wl, variant->name, variant->torn512);
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
 * so later rounds recover stores that earlier recoveries produced
 * (values adopted from sync PUTs, generations after a recovery). 20 keys
 * on about 30 slots: nothing is evicted.
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
	uint64_t rng = 0x5eed, base;
	int round, rounds, held = 0, fired = 0, k, j;
	double t0 = kv_now();
	const char *only = getenv("RAWKV_CRASH_VARIANTS");
	char label[16];

	if (only && *only && !strstr(only, "rounds")) {
		kv_note("rounds: not in RAWKV_CRASH_VARIANTS, not run");
		return;
	}
	get_cfg(&cfg, false);
	rounds = cfg.full ? 150 : 25;
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

		n = 1 + kv_rand(&rng) % 60;
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
		rawkv_close(kv);
		ASSERT_EQ(0, kv_unload());
		ASSERT_EQ(0, kv_load("dev=%s format=0 %s", cfg.dev, PARAMS))
			TH_LOG("(a) round %d: insmod format=0 after the cut", round);
		ASSERT_EQ(0, rawkv_open(NULL, &kv));

		snprintf(prefix, sizeof(prefix), "#   round %d N=%" PRIu64 " K=%" PRIu64 ": ",
			 round, n, torn);
		res.state = state;
		mem = open_memstream(&details, &dlen);
		kv_check_store(kv, &m, r.last_flush >= 0 ? r.last_flush : b,
			       buf, want, st.value_max, mem, prefix, MAX_DETAIL,
			       &res);
		if (mem)
			fclose(mem);
		if (ret || res.violations) {
			kv_note("NOT HELD: round %d, cut at N=%" PRIu64 " K=%" PRIu64
				" during op #%d (%s), last acked FLUSH op #%d: %s",
				round, n, torn, r.last_issued,
				r.last_issued >= 0 ?
				kv_op_name(m.ops[r.last_issued].type) : "-",
				r.last_flush, ret ? r.err : "");
			if (details)
				fputs(details, stdout);
			fflush(stdout);
		} else {
			held++;
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
	rawkv_close(kv);
	free(buf);
	free(want);
	kv_note("rounds (%s): %d rounds on one store, cut fired in %d, held %d, in %.1f s",
		cfg.full ? "full" : "bounded", rounds, fired, held,
		kv_now() - t0);
	EXPECT_EQ(rounds, held);
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
	bool present[BB_KEYS] = { false }, mark[BB_KEYS] = { false };
	uint64_t mark_ckpt[BB_KEYS] = { 0 }, rng = seed, seq, vmax;
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
		uint64_t r = kv_rand(&rng), c0, c1;
		int k = r % BB_KEYS, what = (r >> 8) % 100;
		const struct kv_key *key = &m.keys[k];
		bool durable = false;
		int rc;

		rawkv_stat(kv, &st);
		c0 = st.checkpoints;
		if (what < 60) {
			bool sync = (r >> 16) & 1;
			unsigned int pick = (r >> 20) % 8;
			uint32_t len = pick < 6 ? sizes[pick] :
				       pick == 6 ? (uint32_t)((r >> 32) % vmax) :
						   (uint32_t)vmax;

			ver[k]++;
			bb_say("BB OP %" PRIu64 " %s %d %u %u\n", seq,
			       sync ? "PUT_SYNC" : "PUT", k, ver[k], len);
			kv_val_make(vbuf, k, ver[k], len);
			rc = sync ? rawkv_put_sync(kv, key->name, key->len,
						   vbuf, len) :
				    rawkv_put(kv, key->name, key->len, vbuf,
					      len);
			rawkv_stat(kv, &st);
			c1 = st.checkpoints;
			if (!rc) {
				present[k] = true;
				lens[k] = len;
			}
			if (!rc && sync) {
				/* see sync_delete_durable() */
				mark[k] = c0 == c1;
				mark_ckpt[k] = c1;
			}
		} else if (what < 85) {
			bb_say("BB OP %" PRIu64 " DELETE %d 0 0\n", seq, k);
			durable = mark[k] && mark_ckpt[k] == c0;
			rc = rawkv_delete(kv, key->name, key->len);
			if (rc != (present[k] ? 0 : -ENOENT))
				bb_say("BB FAIL DELETE %s returned %d\n",
				       key->label, rc);
			rc = 0;
			present[k] = false;
			mark[k] = false;
		} else if (what < 93) {
			bb_say("BB OP %" PRIu64 " FLUSH -1 0 0\n", seq);
			rc = rawkv_flush(kv);
			if (!rc)
				memset(mark, 0, sizeof(mark));
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
static int bb_read_log(const char *path, struct kv_model *m, int *last_flush,
		       int *acked)
{
	uint64_t *seqs = NULL;
	char line[512];
	FILE *f;
	int j;

	*last_flush = -1;
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
			if (m->ops[j].type == KV_OP_FLUSH && rc == 0)
				*last_flush = j;
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
	int last_flush, acked, ret;
	char why[256];

	bb_keys(&m);
	if (bb_read_log(path, &m, &last_flush, &acked))
		return 1;
	printf("BB VERIFY %d ops logged, %d acknowledged, last acknowledged FLUSH is op #%d\n",
	       m.nops, acked, last_flush);
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
	kv_check_store(kv, &m, last_flush, buf, want, st.value_max, stdout,
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
