/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the rawkv crash-consistency and device-error tests
 * (rawkv_crash_test, rawkv_error_test):
 *
 * - the module's fault-injection files in debugfs (/sys/kernel/debug/rawkv/:
 *   write_bios, read_bios, write_log, powercut_at, powercut_torn_sectors,
 *   powercut_fired, fail_read_at, fail_write_at, fail_sticky,
 *   kick_checkpoint);
 * - self-checking values: every value is determined by (key id, version,
 *   length) and, from 16 bytes on, starts with a header naming them and a
 *   crc32c of the rest, so any bytes a GET returns can be identified;
 * - a model of an operation history (PUT, sync PUT, DELETE, FLUSH, the
 *   background commit, rmmod) and the checkers of the durability contract
 *   (README, "Durability contract") after a crash. A commit makes the
 *   table durable as it is at that moment (its "snapshot"); after a crash
 *   the store holds the snapshot of the newest commit on the device.
 *   kv_check_store() checks, for crashes whose writes all landed up to the
 *   cut (the module's own power cut, a killed VM):
 *     (b) every GET returns -ENOENT or exactly the bytes of some PUT of that
 *         key that was issued;
 *     (c) everything acknowledged before the last acknowledged commit (a
 *         FLUSH, a sync PUT, a DELETE of a sync-written key, ...) is
 *         reflected (a key possibly evicted is exempt);
 *     (d) every acknowledged sync PUT, and every acknowledged DELETE of a
 *         key whose value was written with rawkv_put_sync(), is reflected;
 *     (e) STAT slots_used equals the keys present, stale_dropped and
 *         load_dropped are 0 after reading every key.
 *   "Reflected" means: the key reads as the op left it, or as some op on
 *   that key issued after it left it. kv_check_store_strict() checks a
 *   recorded run exactly: each key in the state of one snapshot.
 *
 * Every function returns 0 (or a count) or a negative errno.
 */
#ifndef RAWKV_CRASH_UTIL_H
#define RAWKV_CRASH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rawkv_test_util.h"

#define KV_DBG_DIR	"/sys/kernel/debug/rawkv"

/* Read or write one number in a debugfs file of rawkv. */
int kv_dbg_get(const char *name, uint64_t *val);
int kv_dbg_set(const char *name, uint64_t val);
/* Like kv_dbg_get, but 0 on any error (for polling powercut_fired). */
uint64_t kv_dbg_val(const char *name);

/* Run the periodic checkpoint now and wait for it. */
int kv_dbg_kick_checkpoint(void);

/* Disarm every power cut and fault. */
int kv_dbg_disarm(void);

/* One line of write_log: "<n> <kind> <sector> <sectors> <flags>". */
struct kv_wlog {
	uint64_t n;
	char kind[16];
	uint64_t sector;
	uint64_t sectors;
	char flags[8];
};

/* Read write_log into a malloc'ed array (free() it); the count or -errno. */
int kv_dbg_write_log(struct kv_wlog **log);

/* The entry of bio @n in @log, or NULL. */
const struct kv_wlog *kv_wlog_find(const struct kv_wlog *log, int count,
				   uint64_t n);

/* ---- self-checking values ---- */

#define KV_VAL_MAGIC	0x31564b52U	/* "RKV1" */
#define KV_VAL_HDR	16

/* Fill @buf with the value of version @ver of key @key, @len bytes. */
void kv_val_make(void *buf, uint32_t key, uint32_t ver, size_t len);

/*
 * The user metadata PUT with version @ver of key @key, into @buf
 * (RAWKV_META_MAX bytes): its length, 0 for some versions (none).
 */
size_t kv_meta_make(void *buf, uint32_t key, uint32_t ver);

/* PUT (@sync: PUT_SYNC) version @ver of key @key, @len bytes, with its metadata. */
int kv_put_ver(struct rawkv *kv, const void *name, size_t nlen, uint32_t key,
	       uint32_t ver, void *vbuf, size_t len, bool sync);

/* For a value of at least KV_VAL_HDR bytes: the key and version it claims
 * and whether its crc32c verifies. false when there is no header.
 */
bool kv_val_claims(const void *buf, size_t len, uint32_t *key, uint32_t *ver,
		   bool *crc_ok);

/* ---- operation history and the contract checker ---- */

enum kv_op_type {
	KV_OP_PUT,
	KV_OP_PUT_SYNC,
	KV_OP_DEL,
	KV_OP_FLUSH,
	KV_OP_KICK,	/* kick_checkpoint: the background commit, now */
	KV_OP_UNLOAD,	/* rmmod: the final commit, writeback and anchor */
};

struct kv_op {
	uint8_t type;
	int key;		/* -1 for FLUSH and KICK */
	uint32_t ver;		/* PUT: version, from 1 up for each key */
	uint32_t len;		/* PUT: value length */
	/* Set by whoever ran it: */
	bool issued;		/* the call was made */
	bool acked;		/* it returned before the power cut */
	/* acked, and durable by itself: a sync PUT, or a DELETE of a key
	 * whose value was written with rawkv_put_sync() (both commit)
	 */
	bool durable;
	int rc;
	/* Recorded runs (the write-cache model): */
	uint64_t ckpt_before;	/* STAT checkpoints (commits) before the op */
	uint64_t ckpt_after;	/* ... and after it */
	int64_t mark;		/* rawkv's event_count when it returned */
};

struct kv_key {
	unsigned char name[RAWKV_KEY_MAX];
	size_t len;
	char label[24];
	bool filler;		/* may be evicted by design */
	bool evicted;		/* possibly evicted: exempt from (c) and (d) */
	int evicted_op;		/* recorded runs: op that evicted it, or -1 */
	uint32_t ver_base;	/* versions already used (earlier models) */
};

struct kv_model {
	struct kv_key *keys;
	int nkeys;
	struct kv_op *ops;
	int nops;
	int cap_ops;
	int cap_keys;
};

/* Add a key; returns its id. */
int kv_model_key(struct kv_model *m, const char *label, size_t klen,
		 bool filler);
/* Append an op; returns its index. PUTs get the next version of @key. */
int kv_model_op(struct kv_model *m, enum kv_op_type type, int key,
		uint32_t len);
void kv_model_reset_run(struct kv_model *m);
void kv_model_free(struct kv_model *m);

const char *kv_op_name(uint8_t type);

/* Counters of one check. */
struct kv_check {
	int violations;
	int present;
	int exempt;		/* keys skipped for (c)/(d): possibly evicted */
	/* if set: per key, the version found (0: absent, or bytes no PUT
	 * wrote)
	 */
	uint32_t *state;
	/*
	 * Set by the caller: a write of the slot metadata may have been torn
	 * in the image (a crash in the middle of a writeback). An entry half
	 * old and half new does not verify and is counted in load_dropped,
	 * although the log replay restores it: (e) then allows load_dropped,
	 * and the keys must still be exact. Kept across the call, like
	 * @state.
	 */
	bool torn_meta;
	uint64_t load_dropped;	/* what STAT said, when allowed */
};

/*
 * Check the store behind @kv against the history @m, where every op
 * before @committed_before is covered by an acknowledged commit (-1 for
 * none; nops for "everything", e.g. after a clean rmmod): the last
 * acknowledged FLUSH, sync PUT, DELETE of a sync-written key, or op that
 * STAT showed committing. Each violation is printed to @out as
 * "<prefix><what>" (at most @max_lines lines; the rest are counted). @buf
 * must hold value_max bytes, @want as many. @res->state and
 * @res->torn_meta are kept (set them before the call).
 */
int kv_check_store(struct rawkv *kv, const struct kv_model *m,
		   int committed_before, void *buf, void *want, size_t buflen,
		   FILE *out, const char *prefix, int max_lines,
		   struct kv_check *res);

/*
 * The strict check of a recorded run (every op's result and commit counts
 * known) cut in the middle of op @cut_op (nops: after the last), which had
 * issued I/O when @cut_issued: each key must hold exactly its state in
 * the snapshot of the newest commit, the one the last acknowledged op
 * committed or one op @cut_op may have committed. Which ops commit, and
 * their snapshots (ops before index s are in snapshot s):
 *   - by the contract, whatever STAT says: an acknowledged FLUSH, sync PUT
 *     and DELETE of a key whose value was written with rawkv_put_sync(),
 *     the background commit (KICK) and rmmod (UNLOAD), all after the op
 *     (a sync PUT's commit includes it);
 *   - any op STAT showed committing: a PUT that frees slots commits
 *     before it (a sync PUT that did so as well as its own commit: both),
 *     any other op after it.
 * An op that commits twice: the later snapshot wins. No other state is
 * allowed: no sync value is adopted from outside a commit. Keys evicted
 * by op @cut_op or earlier are exempt. Same output as kv_check_store().
 */
int kv_check_store_strict(struct rawkv *kv, const struct kv_model *m,
			  int cut_op, bool cut_issued, void *buf, void *want,
			  size_t buflen, FILE *out, const char *prefix,
			  int max_lines, struct kv_check *res);

/* The "expected" description of key @k (e.g. "v2|v3|absent"). */
void kv_expected_str(const struct kv_model *m, int committed_before, int k,
		     char *s, size_t n);

/* Print a line to stdout as a TAP comment and flush it. */
void kv_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Seconds since an arbitrary start (CLOCK_MONOTONIC). */
double kv_now(void);

#endif /* RAWKV_CRASH_UTIL_H */
