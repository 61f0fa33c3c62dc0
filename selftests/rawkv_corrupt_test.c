// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv against damaged devices (format v3, kmod/rawkv_format.h). With
 * the module unloaded, the tests edit vdb through O_DIRECT, then load it
 * again and check every key through librawkv against the values PUT:
 *
 *   - a damaged anchor falls back to the other one and loses nothing,
 *     though the slot metadata lacks the log's last commits (so does an
 *     anchor whose crc verifies but whose tail_seq is 0); with both
 *     damaged the slot metadata alone loads: keys untouched since then
 *     read back, no key reads a value not PUT for it;
 *   - slot metadata entries that do not verify (bit flips, the entry of
 *     another slot copied in) or do not fit the geometry (a value_len past
 *     value_max with its crc recomputed) are dropped and counted in
 *     load_dropped, every other key reads back; an entry lying with a
 *     valid crc never makes a GET return wrong bytes, nor hides the key
 *     whose fingerprint it claims;
 *   - a damaged log block ends the replay: its transaction and the later
 *     ones are not replayed, the earlier ones are, and a valid later
 *     transaction is never replayed afterwards either;
 *   - log records of a slot out of range or a generation with bit 63, in
 *     a block whose crc verifies, are skipped and counted;
 *   - a damaged slot makes its GET fail with -EIO once, then the key is
 *     gone;
 *   - a superblock that is not valid version-3 rawkv for this device is
 *     refused at insmod with -EINVAL; one of format version 1 or 2 (its
 *     shorter struct and crc) with a dmesg line saying it must be
 *     formatted again;
 *   - random byte flips over the metadata regions (seeded rounds) never
 *     make a load fail, never make a GET return a value not PUT for its
 *     key, and what the damaged load serves survives a clean reload.
 *
 * Values committed to the log but not yet written back into the slot
 * metadata are made with the module's power cut (fault_inject=1, debugfs
 * powercut_at): FLUSH, then cut every later write, so that rmmod's
 * writeback and anchor never reach the device.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <unistd.h>

#include "rawkv_test_util.h"
#include "kselftest_harness.h"

#define DEV		KV_DEV_4K
#define SLOT		(64 * 1024UL)	/* about 1000 slots on the 64 MiB vdb */
#define PARAMS		"fault_inject=1 " KV_NO_PERIODIC
#define DBG_DIR		"/sys/kernel/debug/rawkv"

#define NK		160	/* keys 0..NK-1 */
#define BULK		20	/* keys from here on have empty values */
#define VAL_MAX		6000	/* largest value of a key below BULK */
#define VER_MAX		64	/* versions of one key */

/* What GET returned, as get_ver() classifies it. */
#define GOT_EIO		(-1)
#define GOT_WRONG	(-2)

FIXTURE(corrupt) {
	struct rawkv *kv;
	uint32_t ver[NK];	/* version the key holds now, 0: absent */
	uint32_t nver[NK];	/* versions PUT so far: 1..nver */
	unsigned char *buf, *want;
};

static size_t val_len(unsigned int k, uint32_t v)
{
	return k >= BULK ? 0 : (k * 977 + v * 1031) % (VAL_MAX + 1);
}

static void val_make(void *buf, unsigned int k, uint32_t v)
{
	kv_fill(buf, val_len(k, v), (uint64_t)k << 32 | v);
}

static size_t key_name(char *name, unsigned int k)
{
	return snprintf(name, 16, "ck-%03u", k);
}

static int dbg_get(const char *name, uint64_t *val)
{
	char path[128], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), DBG_DIR "/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	return sscanf(buf, "%" SCNu64, val) == 1 ? 0 : -EINVAL;
}

static int dbg_set(const char *name, uint64_t val)
{
	char path[128], buf[32];
	int fd, len, ret;

	snprintf(path, sizeof(path), DBG_DIR "/%s", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	len = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", val);
	ret = write(fd, buf, len) == len ? 0 : -EIO;
	close(fd);
	return ret;
}

FIXTURE_SETUP(corrupt)
{
	ASSERT_EQ(0, geteuid()) TH_LOG("run as root in the rawkv test VM");
	ASSERT_EQ(0, kv_reload("dev=%s format=1 slot_size=%lu %s", DEV, SLOT,
			       PARAMS));
	ASSERT_EQ(0, access(DBG_DIR "/powercut_at", W_OK))
		TH_LOG("this rawkv.ko has no fault injection");
	ASSERT_EQ(0, rawkv_open(NULL, &self->kv));
	self->buf = malloc(VAL_MAX + 1);
	self->want = malloc(VAL_MAX + 1);
	ASSERT_NE(NULL, self->buf);
	ASSERT_NE(NULL, self->want);
}

FIXTURE_TEARDOWN(corrupt)
{
	int ret;

	rawkv_close(self->kv);
	free(self->buf);
	free(self->want);
	ret = kv_unload();
	EXPECT_TRUE(ret == 0 || ret == -ENOENT);
}

static void put(struct __test_metadata *_metadata, FIXTURE_DATA(corrupt) *self,
		unsigned int k)
{
	uint32_t v = ++self->nver[k];
	char name[16];
	size_t klen = key_name(name, k);

	ASSERT_GE(VER_MAX, v);
	val_make(self->want, k, v);
	ASSERT_EQ(0, rawkv_put(self->kv, name, klen, self->want,
			       val_len(k, v))) TH_LOG("PUT %s v%u", name, v);
	self->ver[k] = v;
}

static void del(struct __test_metadata *_metadata, FIXTURE_DATA(corrupt) *self,
		unsigned int k)
{
	char name[16];
	size_t klen = key_name(name, k);

	ASSERT_EQ(0, rawkv_delete(self->kv, name, klen)) TH_LOG("DELETE %s", name);
	self->ver[k] = 0;
}

/*
 * GET key @k: the version (1..nver) whose bytes it returned, 0 for
 * -ENOENT, GOT_EIO for -EIO, GOT_WRONG for anything else: bytes or a
 * length no PUT of the key wrote, or another error.
 */
static int get_ver(FIXTURE_DATA(corrupt) *self, unsigned int k)
{
	char name[16];
	size_t klen = key_name(name, k);
	ssize_t got = rawkv_get(self->kv, name, klen, self->buf, VAL_MAX + 1);
	uint32_t v;

	if (got == -ENOENT)
		return 0;
	if (got == -EIO)
		return GOT_EIO;
	if (got < 0)
		return GOT_WRONG;
	for (v = self->nver[k]; v >= 1; v--) {
		if (val_len(k, v) != (size_t)got)
			continue;
		val_make(self->want, k, v);
		if (!memcmp(self->want, self->buf, got))
			return v;
	}
	return GOT_WRONG;
}

/* Key @k reads exactly the version it holds in the model (or is absent). */
#define EXPECT_KEY(k) do {						\
	int _got = get_ver(self, k);					\
	EXPECT_EQ((int)self->ver[k], _got)				\
		TH_LOG("key %u: got %d (0 absent, -1 EIO, -2 wrong), want v%u", \
		       k, _got, self->ver[k]);				\
} while (0)

/* Key @k reads -ENOENT, -EIO or a value PUT for it; returns what it read. */
static int expect_allowed(struct __test_metadata *_metadata,
			  FIXTURE_DATA(corrupt) *self, unsigned int k)
{
	int got = get_ver(self, k);

	EXPECT_NE(GOT_WRONG, got)
		TH_LOG("key %u: GET returned what no PUT of it wrote", k);
	return got;
}

static struct rawkv_stat get_stat(struct __test_metadata *_metadata,
				  FIXTURE_DATA(corrupt) *self)
{
	struct rawkv_stat st;

	memset(&st, 0, sizeof(st));
	EXPECT_EQ(0, rawkv_stat(self->kv, &st));
	return st;
}

/* FLUSH and return the sequence number of the last commit. */
static uint64_t flush(struct __test_metadata *_metadata,
		      FIXTURE_DATA(corrupt) *self)
{
	EXPECT_EQ(0, rawkv_flush(self->kv));
	return get_stat(_metadata, self).checkpoint_seq;
}

static void unload(struct __test_metadata *_metadata,
		   FIXTURE_DATA(corrupt) *self)
{
	rawkv_close(self->kv);
	self->kv = NULL;
	ASSERT_EQ(0, kv_unload());
}

static void load(struct __test_metadata *_metadata, FIXTURE_DATA(corrupt) *self)
{
	ASSERT_EQ(0, kv_load("dev=%s format=0 %s", DEV, PARAMS));
	ASSERT_EQ(0, rawkv_open(NULL, &self->kv));
}

/* The highest sequence number of a valid anchor on the device, or 0. */
static uint64_t newest_anchor(void)
{
	struct rawkv_anchor a;
	struct rawkv_sb sb;
	uint64_t seq = 0;
	int area;

	if (kv_read_sb(DEV, &sb))
		return 0;
	for (area = 0; area < 2; area++)
		if (!kv_read_anchor(DEV, &sb, area, &a) &&
		    le64toh(a.seq) > seq)
			seq = le64toh(a.seq);
	return seq;
}

/*
 * A power cut now: no write after this reaches the device, so rmmod's
 * commit, writeback and anchor are lost. Then unload. (The device is
 * claimed, but a plain O_DIRECT open may read it.)
 */
static void cut_and_unload(struct __test_metadata *_metadata,
			   FIXTURE_DATA(corrupt) *self)
{
	uint64_t w = 0, anchor = newest_anchor();

	ASSERT_LT(0U, anchor);
	ASSERT_EQ(0, dbg_get("write_bios", &w));
	ASSERT_EQ(0, dbg_set("powercut_at", w + 1));
	rawkv_close(self->kv);
	self->kv = NULL;
	ASSERT_EQ(0, kv_unload());
	/* rmmod always writes an anchor: it must not have landed */
	ASSERT_EQ(anchor, newest_anchor());
}

static void read_sb(struct __test_metadata *_metadata, struct rawkv_sb *sb)
{
	ASSERT_EQ(0, kv_read_sb(DEV, sb));
	ASSERT_EQ(RAWKV_FORMAT_VERSION, le32toh(sb->version));
}

/* Both anchors, which must be valid; returns the area of the newest. */
static int read_anchors(struct __test_metadata *_metadata,
			const struct rawkv_sb *sb, struct rawkv_anchor a[2])
{
	int area;

	for (area = 0; area < 2; area++) {
		EXPECT_EQ(0, kv_read_anchor(DEV, sb, area, &a[area]))
			TH_LOG("anchor %c is not valid", "AB"[area]);
		EXPECT_EQ((uint64_t)area, le64toh(a[area].seq) & 1)
			TH_LOG("anchor %c holds seq %" PRIu64, "AB"[area],
			       (uint64_t)le64toh(a[area].seq));
	}
	return le64toh(a[1].seq) > le64toh(a[0].seq);
}

/* ---- the log, as the tests find it on the device ---- */

struct log_view {
	unsigned char *buf;	/* the whole log */
	uint32_t blocks;
};

static void read_log(struct __test_metadata *_metadata,
		     const struct rawkv_sb *sb, struct log_view *lv)
{
	lv->blocks = le64toh(sb->log_blocks);
	lv->buf = kv_alloc_aligned((size_t)lv->blocks * RAWKV_BLOCK_SIZE);
	ASSERT_NE(NULL, lv->buf);
	ASSERT_EQ(0, kv_dev_read(DEV, le64toh(sb->log_off), lv->buf,
				 (size_t)lv->blocks * RAWKV_BLOCK_SIZE));
}

static struct rawkv_log_hdr *log_hdr(struct log_view *lv, uint32_t pos)
{
	return (void *)(lv->buf + (size_t)pos * RAWKV_BLOCK_SIZE);
}

static bool log_block_valid(const struct rawkv_sb *sb, struct log_view *lv,
			    uint32_t pos)
{
	struct rawkv_log_hdr *h = log_hdr(lv, pos);

	return le64toh(h->magic) == RAWKV_LOG_MAGIC &&
	       le32toh(h->crc) == kv_log_block_crc(h) &&
	       !memcmp(h->uuid, sb->uuid, sizeof(h->uuid));
}

/* The position of block @blk of transaction @seq; fails if it is absent. */
static uint32_t log_find(struct __test_metadata *_metadata,
			 const struct rawkv_sb *sb, struct log_view *lv,
			 uint64_t seq, uint32_t blk)
{
	uint32_t pos;

	for (pos = 0; pos < lv->blocks; pos++) {
		struct rawkv_log_hdr *h = log_hdr(lv, pos);

		if (log_block_valid(sb, lv, pos) && le64toh(h->seq) == seq &&
		    le32toh(h->blk) == blk)
			return pos;
	}
	ASSERT_TRUE(false) TH_LOG("block %u of transaction %" PRIu64
				  " is not in the log", blk, seq);
	return 0;
}

static void log_write_block(struct __test_metadata *_metadata,
			    const struct rawkv_sb *sb, struct log_view *lv,
			    uint32_t pos)
{
	ASSERT_EQ(0, kv_dev_write(DEV, le64toh(sb->log_off) +
				  (uint64_t)pos * RAWKV_BLOCK_SIZE,
				  log_hdr(lv, pos), RAWKV_BLOCK_SIZE));
}

TEST(crc32c_matches_the_standard_check_value)
{
	/* CRC-32C("123456789") is 0xe3069283 after the final inversion */
	ASSERT_EQ(~0xe3069283U, kv_crc32c(~0U, "123456789", 9));
}

TEST_F(corrupt, anchors_alternate_areas)
{
	struct rawkv_anchor a[2];
	struct rawkv_sb sb;
	uint64_t s0, s1;
	int newest;

	put(_metadata, self, 0);
	flush(_metadata, self);
	unload(_metadata, self);
	read_sb(_metadata, &sb);
	newest = read_anchors(_metadata, &sb, a);
	s0 = le64toh(a[newest].seq);

	/* a clean load writes no anchor; the next rmmod the other area */
	load(_metadata, self);
	put(_metadata, self, 1);
	unload(_metadata, self);
	ASSERT_EQ(!newest, read_anchors(_metadata, &sb, a));
	s1 = le64toh(a[!newest].seq);
	ASSERT_EQ(s0 + 1, s1);
	ASSERT_EQ(s0, le64toh(a[newest].seq));
	load(_metadata, self);
	EXPECT_KEY(0);
	EXPECT_KEY(1);
}

/*
 * The history the anchor tests damage. Session 1 (from format): keys 0..9,
 * FLUSH, a clean rmmod: the slot metadata holds them and anchor A is the
 * newest, B the one format wrote. Session 2: overwrite 0..2, delete 3..4,
 * new keys 10..14, FLUSH; overwrite 5, FLUSH; then a power cut: those two
 * commits are only in the log. Returns the model of session 1.
 */
static void two_sessions(struct __test_metadata *_metadata,
			 FIXTURE_DATA(corrupt) *self, uint32_t s1_ver[NK])
{
	unsigned int k;

	for (k = 0; k < 10; k++)
		put(_metadata, self, k);
	flush(_metadata, self);
	unload(_metadata, self);
	memcpy(s1_ver, self->ver, sizeof(self->ver));

	load(_metadata, self);
	for (k = 0; k < 3; k++)
		put(_metadata, self, k);
	del(_metadata, self, 3);
	del(_metadata, self, 4);
	for (k = 10; k < 15; k++)
		put(_metadata, self, k);
	flush(_metadata, self);
	put(_metadata, self, 5);
	flush(_metadata, self);
	cut_and_unload(_metadata, self);
}

/*
 * Damage anchor @newest (1) or the older one (0) of two_sessions(): the
 * other one replays the log over the slot metadata, nothing is lost.
 */
static void check_one_anchor_damaged(struct __test_metadata *_metadata,
				     FIXTURE_DATA(corrupt) *self, bool newest)
{
	struct rawkv_anchor a[2];
	uint32_t s1_ver[NK];
	struct rawkv_stat st;
	struct rawkv_sb sb;
	unsigned int k;
	int victim;

	two_sessions(_metadata, self, s1_ver);
	read_sb(_metadata, &sb);
	victim = read_anchors(_metadata, &sb, a);
	if (!newest)
		victim = !victim;
	ASSERT_EQ(0, kv_dev_flip_byte(DEV, le64toh(sb.anchor_off[victim]) +
				      offsetof(struct rawkv_anchor, seq)));
	ASSERT_EQ(-EBADMSG, kv_read_anchor(DEV, &sb, victim, &a[victim]));

	load(_metadata, self);
	st = get_stat(_metadata, self);
	EXPECT_EQ(0U, st.load_dropped);
	EXPECT_EQ(13U, st.slots_used);
	for (k = 0; k < 15; k++)
		EXPECT_KEY(k);
	EXPECT_EQ(0U, get_stat(_metadata, self).stale_dropped);

	/* the load wrote back and anchored what it replayed */
	unload(_metadata, self);
	read_anchors(_metadata, &sb, a);
	load(_metadata, self);
	for (k = 0; k < 15; k++)
		EXPECT_KEY(k);
	st = get_stat(_metadata, self);
	EXPECT_EQ(0U, st.load_dropped);
	EXPECT_EQ(0U, st.stale_dropped);
}

TEST_F(corrupt, damaged_newest_anchor_falls_back_to_the_other)
{
	check_one_anchor_damaged(_metadata, self, true);
}

TEST_F(corrupt, damaged_older_anchor_loads_the_newest)
{
	check_one_anchor_damaged(_metadata, self, false);
}

/*
 * The newest anchor with a valid crc but tail_seq 0: no transaction has
 * that number, so it must be refused like a damaged one (taken, it would
 * replay nothing and number the next commits from 0, which no load
 * accepts).
 */
TEST_F(corrupt, anchor_with_tail_seq_0_is_refused)
{
	struct rawkv_anchor a[2];
	uint32_t s1_ver[NK];
	struct rawkv_sb sb;
	unsigned int k;
	int newest;

	two_sessions(_metadata, self, s1_ver);
	read_sb(_metadata, &sb);
	newest = read_anchors(_metadata, &sb, a);
	a[newest].tail_seq = 0;
	ASSERT_EQ(0, kv_write_anchor(DEV, &sb, newest, &a[newest]));
	ASSERT_EQ(0, kv_read_anchor(DEV, &sb, newest, &a[newest]));

	load(_metadata, self);
	EXPECT_EQ(13U, get_stat(_metadata, self).slots_used);
	for (k = 0; k < 15; k++)
		EXPECT_KEY(k);
	put(_metadata, self, 15);
	flush(_metadata, self);
	cut_and_unload(_metadata, self);
	load(_metadata, self);
	for (k = 0; k < 16; k++)
		EXPECT_KEY(k);
}

TEST_F(corrupt, both_anchors_damaged_load_the_slot_metadata_alone)
{
	struct rawkv_anchor a[2];
	uint32_t s1_ver[NK];
	int served[NK];
	struct rawkv_stat st;
	struct rawkv_sb sb;
	unsigned int k;
	int area;

	two_sessions(_metadata, self, s1_ver);
	read_sb(_metadata, &sb);
	read_anchors(_metadata, &sb, a);
	for (area = 0; area < 2; area++) {
		ASSERT_EQ(0, kv_dev_flip_byte(DEV, le64toh(sb.anchor_off[area]) +
					      offsetof(struct rawkv_anchor,
						       magic)));
		ASSERT_EQ(-EBADMSG, kv_read_anchor(DEV, &sb, area, &a[area]));
	}

	load(_metadata, self);
	st = get_stat(_metadata, self);
	EXPECT_EQ(0U, st.load_dropped);
	/* session 1's table: the slots of 0..9 */
	EXPECT_EQ(10U, st.slots_used);
	for (k = 0; k < 15; k++) {
		served[k] = expect_allowed(_metadata, self, k);
		/* untouched by session 2: their slots were never rewritten */
		if (k >= 6 && k < 10)
			EXPECT_EQ((int)s1_ver[k], served[k]) TH_LOG("key %u", k);
		/* session 2's new keys are in no commit the load read */
		if (k >= 10)
			EXPECT_EQ(0, served[k]) TH_LOG("key %u", k);
	}

	/* the store works, and keeps what it served */
	put(_metadata, self, 20);
	EXPECT_KEY(20);
	flush(_metadata, self);
	unload(_metadata, self);
	read_anchors(_metadata, &sb, a);
	load(_metadata, self);
	for (k = 0; k < 15; k++) {
		int got = expect_allowed(_metadata, self, k);

		EXPECT_EQ(served[k] > 0 ? served[k] : 0, got)
			TH_LOG("key %u served %d, after a reload %d", k,
			       served[k], got);
	}
	EXPECT_KEY(20);
	EXPECT_EQ(0U, get_stat(_metadata, self).load_dropped);
}

/*
 * Give the slot metadata entry of slot @liar the fingerprint of the entry
 * of slot @of, with a valid crc.
 */
static void claim_fp(struct __test_metadata *_metadata,
		     const struct rawkv_sb *sb, uint32_t liar, uint32_t of)
{
	struct rawkv_meta_ent me;
	uint64_t fp;

	ASSERT_EQ(0, kv_read_meta_ent(DEV, sb, of, &me));
	fp = me.fp;
	ASSERT_EQ(0, kv_read_meta_ent(DEV, sb, liar, &me));
	me.fp = fp;
	me.crc = htole32(kv_meta_ent_crc(sb, &me, liar));
	ASSERT_EQ(0, kv_write_meta_ent(DEV, sb, liar, &me));
}

/*
 * Keys 0..9 in slot metadata block 0 after a clean rmmod; then damage
 * their entries.
 */
TEST_F(corrupt, damaged_slot_metadata_entries_are_dropped_and_counted)
{
	uint32_t slot[10], vmax;
	struct rawkv_meta_ent me;
	struct rawkv_stat st;
	struct rawkv_sb sb;
	unsigned int k;
	uint64_t len;
	char name[16];

	for (k = 0; k < 10; k++)
		put(_metadata, self, k);
	vmax = get_stat(_metadata, self).value_max;
	unload(_metadata, self);
	read_sb(_metadata, &sb);
	for (k = 0; k < 10; k++) {
		ASSERT_EQ(0, kv_find_slot(DEV, name, key_name(name, k),
					  &slot[k], &len)) TH_LOG("key %u", k);
		ASSERT_EQ(val_len(k, 1), len);
	}

	/* 0: a bit of its fingerprint; 1: a bit of its crc */
	ASSERT_EQ(0, kv_read_meta_ent(DEV, &sb, slot[0], &me));
	me.fp ^= htole64(1ULL << 37);
	ASSERT_EQ(0, kv_write_meta_ent(DEV, &sb, slot[0], &me));
	ASSERT_EQ(0, kv_read_meta_ent(DEV, &sb, slot[1], &me));
	me.crc ^= htole32(0x100);
	ASSERT_EQ(0, kv_write_meta_ent(DEV, &sb, slot[1], &me));
	/* 2: the entry of key 9 copied over it (its crc names slot[9]) */
	ASSERT_EQ(0, kv_read_meta_ent(DEV, &sb, slot[9], &me));
	ASSERT_EQ(0, kv_write_meta_ent(DEV, &sb, slot[2], &me));
	/* 3: a value_len past value_max, the crc recomputed */
	ASSERT_EQ(0, kv_read_meta_ent(DEV, &sb, slot[3], &me));
	me.value_len = htole32(vmax + 1);
	me.crc = htole32(kv_meta_ent_crc(&sb, &me, slot[3]));
	ASSERT_EQ(0, kv_write_meta_ent(DEV, &sb, slot[3], &me));
	/* 4: generation 0 (only the sync bit), the crc recomputed */
	ASSERT_EQ(0, kv_read_meta_ent(DEV, &sb, slot[4], &me));
	me.gen = htole64(RAWKV_META_SYNC);
	me.crc = htole32(kv_meta_ent_crc(&sb, &me, slot[4]));
	ASSERT_EQ(0, kv_write_meta_ent(DEV, &sb, slot[4], &me));
	/*
	 * Lies with a valid crc, which only the slot headers expose: GET
	 * never returns bytes of another value. 5: another length. 6: key
	 * 7's fingerprint, in a slot below key 7's (the index tries the
	 * entries of a fingerprint from the highest slot down: key 7's own
	 * first).
	 */
	ASSERT_EQ(0, kv_read_meta_ent(DEV, &sb, slot[5], &me));
	me.value_len = htole32(le32toh(me.value_len) + 1);
	me.crc = htole32(kv_meta_ent_crc(&sb, &me, slot[5]));
	ASSERT_EQ(0, kv_write_meta_ent(DEV, &sb, slot[5], &me));
	claim_fp(_metadata, &sb, slot[6], slot[7]);

	load(_metadata, self);
	st = get_stat(_metadata, self);
	EXPECT_EQ(5U, st.load_dropped);
	EXPECT_EQ(5U, st.slots_used);	/* 5, 6 (as key 7's), 7, 8, 9 */
	for (k = 0; k < 5; k++) {
		self->ver[k] = 0;
		EXPECT_KEY(k);
	}
	/* 5 is dropped when read; key 6's entry is gone */
	self->ver[5] = 0;
	self->ver[6] = 0;
	for (k = 5; k < 10; k++)
		EXPECT_KEY(k);
	st = get_stat(_metadata, self);
	EXPECT_EQ(1U, st.stale_dropped);
	EXPECT_EQ(4U, st.slots_used);	/* 6 (as key 7's), 7, 8, 9 */

	/* the repairs and drops are written back: a clean load */
	unload(_metadata, self);
	load(_metadata, self);
	st = get_stat(_metadata, self);
	EXPECT_EQ(0U, st.load_dropped);
	EXPECT_EQ(4U, st.slots_used);
	for (k = 0; k < 10; k++)
		EXPECT_KEY(k);
	put(_metadata, self, 0);
	EXPECT_KEY(0);
}

/*
 * An entry claiming key 1's fingerprint (valid crc) in a slot above key
 * 1's own, so a GET of key 1 tries it first: its slot holds key 2's value,
 * so that entry is dropped, and the GET must go on to key 1's own entry
 * rather than report key 1 missing.
 */
TEST_F(corrupt, entry_claiming_a_key_does_not_hide_it)
{
	uint32_t slot[4];
	struct rawkv_stat st;
	struct rawkv_sb sb;
	unsigned int k;
	uint64_t len;
	char name[16];

	for (k = 0; k < 4; k++)
		put(_metadata, self, k);
	unload(_metadata, self);
	read_sb(_metadata, &sb);
	for (k = 0; k < 4; k++)
		ASSERT_EQ(0, kv_find_slot(DEV, name, key_name(name, k),
					  &slot[k], &len)) TH_LOG("key %u", k);
	ASSERT_LT(slot[1], slot[2]);
	claim_fp(_metadata, &sb, slot[2], slot[1]);

	load(_metadata, self);
	st = get_stat(_metadata, self);
	EXPECT_EQ(0U, st.load_dropped);
	EXPECT_EQ(4U, st.slots_used);
	EXPECT_KEY(1);
	EXPECT_EQ(1U, get_stat(_metadata, self).stale_dropped);
	EXPECT_KEY(1);
	self->ver[2] = 0;
	for (k = 0; k < 4; k++)
		EXPECT_KEY(k);
	EXPECT_EQ(3U, get_stat(_metadata, self).slots_used);
}

/*
 * Base: keys 0..9 written back by a clean rmmod. Then three commits only
 * in the log: T1 PUT key 10; T2 (two log blocks) PUT keys 20..149
 * (empty values) and overwrite key 0; T3 DELETE key 1. No PUT follows a
 * commit that frees a slot, so no slot of an older state is rewritten.
 */
struct log_history {
	uint64_t seq[4];	/* base (the last written back), T1, T2, T3 */
	uint32_t ver[4][NK];	/* the model after each */
};

static void log_history(struct __test_metadata *_metadata,
			FIXTURE_DATA(corrupt) *self, struct log_history *h)
{
	unsigned int k;

	for (k = 0; k < 10; k++)
		put(_metadata, self, k);
	h->seq[0] = flush(_metadata, self);
	memcpy(h->ver[0], self->ver, sizeof(self->ver));
	unload(_metadata, self);

	load(_metadata, self);
	put(_metadata, self, 10);
	h->seq[1] = flush(_metadata, self);
	memcpy(h->ver[1], self->ver, sizeof(self->ver));
	for (k = BULK; k < BULK + 130; k++)
		put(_metadata, self, k);
	put(_metadata, self, 0);
	h->seq[2] = flush(_metadata, self);
	memcpy(h->ver[2], self->ver, sizeof(self->ver));
	del(_metadata, self, 1);
	h->seq[3] = flush(_metadata, self);
	memcpy(h->ver[3], self->ver, sizeof(self->ver));
	ASSERT_LT(h->seq[0], h->seq[1]);
	ASSERT_LT(h->seq[1], h->seq[2]);
	ASSERT_LT(h->seq[2], h->seq[3]);
	cut_and_unload(_metadata, self);
}

/* Every key reads as @ver says (which becomes the model). */
static void expect_state(struct __test_metadata *_metadata,
			 FIXTURE_DATA(corrupt) *self, const uint32_t *ver)
{
	unsigned int k;

	memcpy(self->ver, ver, sizeof(self->ver));
	for (k = 0; k < NK; k++)
		EXPECT_KEY(k);
}

static void check_log_damage(struct __test_metadata *_metadata,
			     FIXTURE_DATA(corrupt) *self, int txn,
			     uint32_t blk)
{
	struct log_history h;
	struct log_view lv;
	struct rawkv_sb sb;
	unsigned int k, live = 0;
	uint32_t pos;

	log_history(_metadata, self, &h);
	read_sb(_metadata, &sb);
	read_log(_metadata, &sb, &lv);
	/* T2 is two blocks; every transaction is there */
	log_find(_metadata, &sb, &lv, h.seq[1], 0);
	log_find(_metadata, &sb, &lv, h.seq[2], 1);
	log_find(_metadata, &sb, &lv, h.seq[3], 0);
	ASSERT_EQ(2U, le32toh(log_hdr(&lv, log_find(_metadata, &sb, &lv,
						    h.seq[2], 0))->nblk));

	/* a byte of the first record of block @blk of transaction @txn */
	pos = log_find(_metadata, &sb, &lv, h.seq[txn], blk);
	((unsigned char *)(log_hdr(&lv, pos) + 1))[9] ^= 0x40;
	log_write_block(_metadata, &sb, &lv, pos);
	free(lv.buf);

	load(_metadata, self);
	EXPECT_EQ(h.seq[txn - 1], get_stat(_metadata, self).checkpoint_seq);
	for (k = 0; k < NK; k++)
		live += h.ver[txn - 1][k] != 0;
	EXPECT_EQ(live, get_stat(_metadata, self).slots_used);
	expect_state(_metadata, self, h.ver[txn - 1]);
	EXPECT_EQ(0U, get_stat(_metadata, self).stale_dropped);

	/*
	 * New commits go where the damaged transaction was; the valid ones
	 * after it must never be replayed: not at the next load, nor after
	 * one more commit.
	 */
	put(_metadata, self, 11);
	flush(_metadata, self);
	cut_and_unload(_metadata, self);
	load(_metadata, self);
	expect_state(_metadata, self, self->ver);
	put(_metadata, self, 12);
	unload(_metadata, self);
	load(_metadata, self);
	expect_state(_metadata, self, self->ver);
	EXPECT_EQ(0U, get_stat(_metadata, self).stale_dropped);
	EXPECT_EQ(0U, get_stat(_metadata, self).load_dropped);
}

TEST_F(corrupt, damaged_first_log_transaction_replays_nothing)
{
	check_log_damage(_metadata, self, 1, 0);
}

TEST_F(corrupt, damaged_first_block_of_a_transaction_ends_the_replay)
{
	check_log_damage(_metadata, self, 2, 0);
}

TEST_F(corrupt, damaged_second_block_of_a_transaction_ends_the_replay)
{
	check_log_damage(_metadata, self, 2, 1);
}

TEST_F(corrupt, damaged_last_log_transaction_replays_the_others)
{
	check_log_damage(_metadata, self, 3, 0);
}

/*
 * Records of a slot out of range, and one with bit 63 of its generation
 * set (the slot metadata's sync flag: no generation has it), in a log
 * block whose crc verifies (it is recomputed): skipped and counted, the
 * rest of the transaction and the later ones replay.
 */
TEST_F(corrupt, log_record_with_out_of_range_slot_is_skipped_and_counted)
{
	uint64_t seq1, gen;
	struct rawkv_log_rec *r;
	struct rawkv_log_hdr *lh;
	struct log_view lv;
	struct rawkv_sb sb;
	unsigned int k, i, hit = 0;
	uint32_t pos, slot[3];
	char name[16];

	for (k = 0; k < 5; k++)
		put(_metadata, self, k);
	flush(_metadata, self);
	unload(_metadata, self);

	load(_metadata, self);
	put(_metadata, self, 5);
	put(_metadata, self, 6);
	put(_metadata, self, 7);
	put(_metadata, self, 9);
	seq1 = flush(_metadata, self);
	put(_metadata, self, 8);
	flush(_metadata, self);
	cut_and_unload(_metadata, self);

	read_sb(_metadata, &sb);
	ASSERT_EQ(0, kv_find_slot_hdr(DEV, name, key_name(name, 6), &slot[0],
				      &gen));
	ASSERT_EQ(0, kv_find_slot_hdr(DEV, name, key_name(name, 7), &slot[1],
				      &gen));
	ASSERT_EQ(0, kv_find_slot_hdr(DEV, name, key_name(name, 9), &slot[2],
				      &gen));
	read_log(_metadata, &sb, &lv);
	pos = log_find(_metadata, &sb, &lv, seq1, 0);
	lh = log_hdr(&lv, pos);
	r = (void *)(lh + 1);
	for (i = 0; i < le32toh(lh->nrec); i++) {
		if (le32toh(r[i].slot) == slot[0]) {
			r[i].slot = htole32(le64toh(sb.slot_count));
			hit++;
		} else if (le32toh(r[i].slot) == slot[1]) {
			r[i].slot = htole32(UINT32_MAX);
			hit++;
		} else if (le32toh(r[i].slot) == slot[2]) {
			r[i].gen |= htole64(RAWKV_META_SYNC);
			hit++;
		}
	}
	ASSERT_EQ(3U, hit);
	lh->crc = htole32(kv_log_block_crc(lh));
	log_write_block(_metadata, &sb, &lv, pos);
	free(lv.buf);

	load(_metadata, self);
	EXPECT_EQ(3U, get_stat(_metadata, self).load_dropped);
	self->ver[6] = 0;
	self->ver[7] = 0;
	self->ver[9] = 0;
	for (k = 0; k < 10; k++)
		EXPECT_KEY(k);
	EXPECT_EQ(7U, get_stat(_metadata, self).slots_used);
	EXPECT_EQ(0U, get_stat(_metadata, self).stale_dropped);
	/* the slots of 6, 7 and 9 are free: the store fills them again */
	put(_metadata, self, 6);
	put(_metadata, self, 7);
	put(_metadata, self, 9);
	unload(_metadata, self);
	load(_metadata, self);
	for (k = 0; k < 10; k++)
		EXPECT_KEY(k);
	EXPECT_EQ(0U, get_stat(_metadata, self).load_dropped);
}

/*
 * Store a value of key 0, flip the byte @where bytes into its slot (the
 * slot header is the first RAWKV_BLOCK_SIZE bytes), and reload: GET must
 * fail with -EIO once, then the key is gone, also after a reload.
 */
static void check_damaged_slot(struct __test_metadata *_metadata,
			       FIXTURE_DATA(corrupt) *self, uint64_t where)
{
	struct rawkv_slot_hdr sh;
	struct rawkv_stat st;
	struct rawkv_sb sb;
	uint64_t vlen;
	uint32_t slot;
	char name[16];
	size_t klen = key_name(name, 0);

	self->nver[0] = 4;	/* val_len(0, 5) is 5155 bytes */
	put(_metadata, self, 0);
	put(_metadata, self, 1);
	unload(_metadata, self);

	ASSERT_EQ(0, kv_find_slot(DEV, name, klen, &slot, &vlen));
	ASSERT_EQ(val_len(0, 5), vlen);
	read_sb(_metadata, &sb);
	ASSERT_EQ(0, kv_read_slot_hdr(DEV, &sb, slot, &sh));
	ASSERT_EQ(klen, le16toh(sh.key_len));
	ASSERT_EQ(0, memcmp(sh.key, name, klen));
	ASSERT_EQ(slot, le32toh(sh.slot));
	val_make(self->want, 0, 5);
	ASSERT_EQ(kv_crc32c(~0U, self->want, vlen), le32toh(sh.value_crc));
	if (where == UINT64_MAX)
		where = RAWKV_BLOCK_SIZE + vlen - 1;
	ASSERT_EQ(0, kv_dev_flip_byte(DEV, kv_slot_off(&sb, slot) + where));

	load(_metadata, self);
	ASSERT_EQ(-EIO, rawkv_get(self->kv, name, klen, self->buf,
				  VAL_MAX + 1));
	ASSERT_EQ(-ENOENT, rawkv_get(self->kv, name, klen, self->buf,
				     VAL_MAX + 1));
	st = get_stat(_metadata, self);
	ASSERT_EQ(1U, st.stale_dropped);
	ASSERT_EQ(1U, st.slots_used);
	ASSERT_EQ(0U, st.load_dropped);
	EXPECT_KEY(1);

	/* the drop is committed like a DELETE */
	unload(_metadata, self);
	load(_metadata, self);
	self->ver[0] = 0;
	EXPECT_KEY(0);
	EXPECT_KEY(1);
}

TEST_F(corrupt, damaged_slot_value_is_eio_then_gone)
{
	check_damaged_slot(_metadata, self, RAWKV_BLOCK_SIZE + 3000);
}

TEST_F(corrupt, damaged_last_value_byte_is_eio_then_gone)
{
	check_damaged_slot(_metadata, self, UINT64_MAX);
}

TEST_F(corrupt, damaged_slot_header_key_is_eio_then_gone)
{
	check_damaged_slot(_metadata, self,
			   offsetof(struct rawkv_slot_hdr, key) + 2);
}

/*
 * Random byte flips over the metadata regions, in seeded rounds: each
 * round formats, commits a history (written back, then two commits only
 * in the log), XORs 1 to 12 random bytes with random values (most of them
 * in what is in use: the anchors, the log blocks holding transactions,
 * the first block of slot metadata, the LRU hint), and loads. The load
 * must succeed; every GET returns -ENOENT, -EIO or a value PUT for its
 * key; the store works; and after a clean reload every key reads as the
 * damaged load served it (present or absent).
 * RAWKV_CORRUPT_SEED and RAWKV_CORRUPT_ROUNDS override the seed and count.
 */
#define FLIP_ROUNDS	8

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *s = getenv(name);

	return s && *s ? strtoull(s, NULL, 0) : def;
}

static void flip_metadata(struct __test_metadata *_metadata,
			  const struct rawkv_sb *sb, uint64_t *rng,
			  unsigned int n)
{
	uint64_t lo = le64toh(sb->anchor_off[0]), hi = le64toh(sb->data_off);
	uint32_t used = 0, pos;
	struct log_view lv;
	unsigned int i;

	read_log(_metadata, sb, &lv);
	for (pos = 0; pos < lv.blocks; pos++)
		if (log_block_valid(sb, &lv, pos))
			used = pos + 1;
	free(lv.buf);

	for (i = 0; i < n; i++) {
		uint64_t r = kv_rand(rng), off;
		unsigned int pick = r % 100;
		unsigned char x = (r >> 8) % 255 + 1;
		unsigned char *blk;

		r >>= 16;
		if (pick < 25)		/* an anchor */
			off = le64toh(sb->anchor_off[r & 1]) +
			      (r >> 1) % sizeof(struct rawkv_anchor);
		else if (pick < 55 && used)	/* a log block in use */
			off = le64toh(sb->log_off) +
			      (r % used) * RAWKV_BLOCK_SIZE +
			      (r >> 16) % RAWKV_BLOCK_SIZE;
		else if (pick < 80)	/* the first slot metadata block */
			off = le64toh(sb->meta_off) + r % RAWKV_BLOCK_SIZE;
		else if (pick < 85)	/* the LRU hint */
			off = le64toh(sb->lru_off) + r % RAWKV_BLOCK_SIZE;
		else
			off = lo + r % (hi - lo);

		blk = kv_alloc_aligned(RAWKV_BLOCK_SIZE);
		ASSERT_NE(NULL, blk);
		ASSERT_EQ(0, kv_dev_read(DEV, off & ~(uint64_t)4095, blk,
					 RAWKV_BLOCK_SIZE));
		blk[off & 4095] ^= x;
		ASSERT_EQ(0, kv_dev_write(DEV, off & ~(uint64_t)4095, blk,
					  RAWKV_BLOCK_SIZE));
		free(blk);
		printf("#   flip byte %" PRIu64 " ^ 0x%02x\n", off, x);
	}
}

TEST_F_TIMEOUT(corrupt, random_metadata_flips_never_oops_or_lie, 900)
{
	uint64_t seed = env_u64("RAWKV_CORRUPT_SEED", 0x5eed0c0),
		 rounds = env_u64("RAWKV_CORRUPT_ROUNDS", FLIP_ROUNDS), round;
	int served[NK];
	struct rawkv_sb sb;
	unsigned int k, i;

	for (round = 0; round < rounds; round++) {
		uint64_t rng = seed + round;
		unsigned int nflip = kv_rand(&rng) % 12 + 1, same = 0, lost = 0;
		unsigned int eio = 0;
		uint64_t dropped, stale;

		printf("# round %" PRIu64 ": seed %" PRIu64 ", %u flips\n",
		       round, seed + round, nflip);
		if (round) {
			ASSERT_EQ(0, kv_reload("dev=%s format=1 slot_size=%lu %s",
					       DEV, SLOT, PARAMS));
			ASSERT_EQ(0, rawkv_open(NULL, &self->kv));
		}
		memset(self->ver, 0, sizeof(self->ver));
		memset(self->nver, 0, sizeof(self->nver));

		/* written back: 16 keys, some overwritten or deleted */
		for (k = 0; k < 16; k++)
			put(_metadata, self, k);
		for (i = 0; i < 8; i++) {
			k = kv_rand(&rng) % 16;
			if (kv_rand(&rng) % 4)
				put(_metadata, self, k);
			else if (self->ver[k])
				del(_metadata, self, k);
		}
		flush(_metadata, self);
		unload(_metadata, self);

		/* two commits in the log, then a power cut */
		load(_metadata, self);
		for (i = 0; i < 24; i++) {
			k = kv_rand(&rng) % 18;
			if (i == 12)
				flush(_metadata, self);
			if (kv_rand(&rng) % 4)
				put(_metadata, self, k);
			else if (self->ver[k])
				del(_metadata, self, k);
		}
		flush(_metadata, self);
		cut_and_unload(_metadata, self);

		read_sb(_metadata, &sb);
		flip_metadata(_metadata, &sb, &rng, nflip);

		load(_metadata, self);
		dropped = get_stat(_metadata, self).load_dropped;
		for (k = 0; k < 18; k++) {
			served[k] = expect_allowed(_metadata, self, k);
			same += served[k] == (int)self->ver[k];
			eio += served[k] == GOT_EIO;
		}
		stale = get_stat(_metadata, self).stale_dropped;
		put(_metadata, self, 19);
		EXPECT_KEY(19);
		flush(_metadata, self);
		unload(_metadata, self);

		load(_metadata, self);
		for (k = 0; k < 18; k++) {
			int got = expect_allowed(_metadata, self, k);

			EXPECT_EQ(served[k] > 0, got > 0)
				TH_LOG("round %" PRIu64 " key %u served %d, after a reload %d",
				       round, k, served[k], got);
			lost += served[k] > 0 && got != served[k];
		}
		EXPECT_KEY(19);
		printf("#   %u of 18 keys as committed, %u -EIO; %" PRIu64
		       " entries dropped at load, %" PRIu64
		       " by GET; %u keys read another version after a reload\n",
		       same, eio, dropped, stale, lost);
		unload(_metadata, self);
	}
	/* the teardown unloads it */
	ASSERT_EQ(0, kv_load("dev=%s format=0 %s", DEV, PARAMS));
	ASSERT_EQ(0, rawkv_open(NULL, &self->kv));
}

/* ---- superblocks ---- */

/* The superblock of format versions 1 and 2: the same first fields. */
struct old_sb {
	__le64 magic;
	__le32 version;
	__le32 block_size;
	__u8 uuid[16];
	__le64 slot_size;
	__le64 slot_count;
	__le64 ckpt_off[2];
	__le64 ckpt_size;
	__le64 data_off;
	__le64 device_bytes;
	__le32 flags;
	__le32 crc;
};

/* Superblocks that are not valid version-3 rawkv for this device. */
enum sb_damage {
	SB_VERSION_1,
	SB_VERSION_2,
	SB_VERSION_4,
	SB_VERSION_0,
	SB_BLOCK_SIZE,
	SB_MAGIC,
	SB_FLAGS,
	SB_SLOT_SIZE_NOT_POW2,
	SB_SLOT_SIZE_TOO_BIG,
	SB_SLOT_COUNT_PAST_END,
	SB_SLOT_COUNT_ZERO,
	SB_DATA_OFF_PAST_END,
	SB_ANCHORS_OVERLAP,
	SB_LOG_BLOCKS,
	SB_META_OFF,
	SB_LRU_SIZE,
	SB_BAD_CRC,
	SB_GARBAGE,
	SB_ZEROED,
};

FIXTURE(superblock) {
	struct rawkv_sb sb;	/* as formatted */
	int64_t bytes;
};

FIXTURE_VARIANT(superblock) {
	enum sb_damage damage;
	bool older;		/* dmesg must say it must be formatted again */
};

FIXTURE_VARIANT_ADD(superblock, format_version_1) {
	.damage = SB_VERSION_1, .older = true
};
FIXTURE_VARIANT_ADD(superblock, format_version_2) {
	.damage = SB_VERSION_2, .older = true
};
FIXTURE_VARIANT_ADD(superblock, next_version) { .damage = SB_VERSION_4 };
FIXTURE_VARIANT_ADD(superblock, version_0) { .damage = SB_VERSION_0 };
FIXTURE_VARIANT_ADD(superblock, block_size_8192) { .damage = SB_BLOCK_SIZE };
FIXTURE_VARIANT_ADD(superblock, wrong_magic) { .damage = SB_MAGIC };
FIXTURE_VARIANT_ADD(superblock, nonzero_flags) { .damage = SB_FLAGS };
FIXTURE_VARIANT_ADD(superblock, slot_size_not_power_of_2) {
	.damage = SB_SLOT_SIZE_NOT_POW2
};
FIXTURE_VARIANT_ADD(superblock, slot_size_256_mib) {
	.damage = SB_SLOT_SIZE_TOO_BIG
};
FIXTURE_VARIANT_ADD(superblock, slots_past_end_of_device) {
	.damage = SB_SLOT_COUNT_PAST_END
};
FIXTURE_VARIANT_ADD(superblock, zero_slots) { .damage = SB_SLOT_COUNT_ZERO };
FIXTURE_VARIANT_ADD(superblock, data_past_end_of_device) {
	.damage = SB_DATA_OFF_PAST_END
};
FIXTURE_VARIANT_ADD(superblock, anchors_overlap) {
	.damage = SB_ANCHORS_OVERLAP
};
FIXTURE_VARIANT_ADD(superblock, log_blocks_off_layout) {
	.damage = SB_LOG_BLOCKS
};
FIXTURE_VARIANT_ADD(superblock, meta_off_off_layout) {
	.damage = SB_META_OFF
};
FIXTURE_VARIANT_ADD(superblock, lru_size_off_layout) {
	.damage = SB_LRU_SIZE
};
FIXTURE_VARIANT_ADD(superblock, bad_crc) { .damage = SB_BAD_CRC };
FIXTURE_VARIANT_ADD(superblock, garbage) { .damage = SB_GARBAGE };
FIXTURE_VARIANT_ADD(superblock, zeroed) { .damage = SB_ZEROED };

FIXTURE_SETUP(superblock)
{
	struct rawkv *kv;

	ASSERT_EQ(0, geteuid()) TH_LOG("run as root in the rawkv test VM");
	ASSERT_EQ(0, kv_reload("dev=%s format=1 slot_size=%lu", DEV, KV_MiB));
	ASSERT_EQ(0, rawkv_open(NULL, &kv));
	ASSERT_EQ(0, rawkv_put(kv, "key", 3, "value", 5));
	rawkv_close(kv);
	ASSERT_EQ(0, kv_unload());
	ASSERT_EQ(0, kv_read_sb(DEV, &self->sb));
	self->bytes = kv_dev_bytes(DEV);
	ASSERT_LT(0, self->bytes);
}

FIXTURE_TEARDOWN(superblock)
{
	int ret = kv_unload();

	EXPECT_TRUE(ret == 0 || ret == -ENOENT);
}

/* Write a superblock of format @version (1 or 2) by hand over block 0. */
static void write_old_sb(struct __test_metadata *_metadata,
			 const struct rawkv_sb *sb, uint32_t version)
{
	unsigned char *block = kv_alloc_aligned(RAWKV_BLOCK_SIZE);
	uint64_t slot_count = le64toh(sb->slot_count);
	uint64_t ckpt = RAWKV_BLOCK_SIZE +
			(slot_count * 24 + RAWKV_BLOCK_SIZE - 1) /
			RAWKV_BLOCK_SIZE * RAWKV_BLOCK_SIZE;
	struct old_sb *o = (void *)block;

	ASSERT_NE(NULL, block);
	o->magic = sb->magic;
	o->version = htole32(version);
	o->block_size = sb->block_size;
	memcpy(o->uuid, sb->uuid, sizeof(o->uuid));
	o->slot_size = sb->slot_size;
	o->slot_count = sb->slot_count;
	o->ckpt_off[0] = htole64(RAWKV_BLOCK_SIZE);
	o->ckpt_off[1] = htole64(RAWKV_BLOCK_SIZE + ckpt);
	o->ckpt_size = htole64(ckpt);
	o->data_off = sb->data_off;
	o->device_bytes = sb->device_bytes;
	o->crc = htole32(kv_crc32c(~0U, o, sizeof(*o)));
	ASSERT_EQ(0, kv_dev_write(DEV, 0, block, RAWKV_BLOCK_SIZE));
	free(block);
}

/* Write block 0 as the damage says. */
static void damage_sb(struct __test_metadata *_metadata,
		      FIXTURE_DATA(superblock) *self, enum sb_damage damage)
{
	struct rawkv_sb sb = self->sb;
	uint64_t slot_size = le64toh(sb.slot_size);
	void *block;

	switch (damage) {
	case SB_VERSION_1:
	case SB_VERSION_2:
		write_old_sb(_metadata, &sb, damage == SB_VERSION_1 ? 1 : 2);
		return;
	case SB_VERSION_4:
		sb.version = htole32(RAWKV_FORMAT_VERSION + 1);
		break;
	case SB_VERSION_0:
		sb.version = 0;
		break;
	case SB_BLOCK_SIZE:
		sb.block_size = htole32(8192);
		break;
	case SB_MAGIC:
		sb.magic = htole64(RAWKV_SB_MAGIC ^ 1);
		break;
	case SB_FLAGS:
		sb.flags = htole32(1);
		break;
	case SB_SLOT_SIZE_NOT_POW2:
		sb.slot_size = htole64(slot_size + RAWKV_BLOCK_SIZE);
		break;
	case SB_SLOT_SIZE_TOO_BIG:
		sb.slot_size = htole64(256 * KV_MiB);
		break;
	case SB_SLOT_COUNT_PAST_END:
		sb.slot_count = htole64(self->bytes / slot_size * 2);
		break;
	case SB_SLOT_COUNT_ZERO:
		sb.slot_count = 0;
		break;
	case SB_DATA_OFF_PAST_END:
		sb.data_off = htole64(self->bytes);
		break;
	case SB_ANCHORS_OVERLAP:
		sb.anchor_off[1] = sb.anchor_off[0];
		break;
	case SB_LOG_BLOCKS:
		sb.log_blocks = htole64(le64toh(sb.log_blocks) + 1);
		break;
	case SB_META_OFF:
		sb.meta_off = htole64(le64toh(sb.meta_off) - RAWKV_BLOCK_SIZE);
		break;
	case SB_LRU_SIZE:
		sb.lru_size = htole64(le64toh(sb.lru_size) + RAWKV_BLOCK_SIZE);
		break;
	case SB_BAD_CRC:
		ASSERT_EQ(0, kv_dev_flip_byte(DEV, offsetof(struct rawkv_sb,
							    uuid)));
		return;
	case SB_GARBAGE:
	case SB_ZEROED:
		block = kv_alloc_aligned(RAWKV_BLOCK_SIZE);
		ASSERT_NE(NULL, block);
		if (damage == SB_GARBAGE)
			kv_fill(block, RAWKV_BLOCK_SIZE, 99);
		ASSERT_EQ(0, kv_dev_write(DEV, 0, block, RAWKV_BLOCK_SIZE));
		free(block);
		return;
	}
	ASSERT_EQ(0, kv_write_sb(DEV, &sb));	/* with a valid crc */
}

/* Mark the kernel log, so that kmsg_since() reads only what follows. */
static void kmsg_mark(struct __test_metadata *_metadata, const char *mark)
{
	int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);

	ASSERT_LE(0, fd);
	ASSERT_LT(0, write(fd, mark, strlen(mark)));
	close(fd);
}

/* Whether the kernel log after @mark has a line containing @what. */
static bool kmsg_since(const char *mark, const char *what)
{
	int len = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	char *buf, *p;
	bool found = false;

	if (len <= 0)
		return false;
	buf = calloc(1, len + 1);
	if (!buf)
		return false;
	len = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, len);
	if (len > 0) {
		buf[len] = 0;
		p = strstr(buf, mark);
		/* the last mark: earlier tests print the same */
		while (p && strstr(p + 1, mark))
			p = strstr(p + 1, mark);
		found = p && strstr(p, what);
	}
	free(buf);
	return found;
}

TEST_F(superblock, damaged_superblock_is_refused_and_restored_one_loads)
{
	static const char mark[] = "rawkv_corrupt_test: superblock load";
	struct rawkv *kv;
	char buf[16] = "";

	damage_sb(_metadata, self, variant->damage);
	kmsg_mark(_metadata, mark);
	ASSERT_EQ(-EINVAL, kv_load("dev=%s format=0", DEV));
	ASSERT_FALSE(kv_loaded());
	EXPECT_TRUE(kmsg_since(mark, "refusing the device"))
		TH_LOG("no dmesg line says why");
	EXPECT_EQ(variant->older, kmsg_since(mark, "formatted again"))
		TH_LOG("dmesg %s say the device must be formatted again",
		       variant->older ? "does not" : "does");

	/* only the damage was wrong: the original superblock loads */
	ASSERT_EQ(0, kv_write_sb(DEV, &self->sb));
	ASSERT_EQ(0, kv_load("dev=%s format=0", DEV));
	ASSERT_EQ(0, rawkv_open(NULL, &kv));
	ASSERT_EQ(5, rawkv_get(kv, "key", 3, buf, sizeof(buf)));
	rawkv_close(kv);
	ASSERT_STREQ("value", buf);
}

TEST_HARNESS_MAIN
