// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv against damaged devices. With the module unloaded, the tests edit
 * vdb through O_DIRECT, guided by kmod/rawkv_format.h, then load it again:
 * a damaged newest checkpoint falls back to the older one, two damaged
 * checkpoints give an empty but working store, a damaged slot makes its GET
 * fail with -EIO and drops the key, and a superblock that is not valid
 * version-1 rawkv for this device is refused.
 */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rawkv_test_util.h"
#include "kselftest_harness.h"

#define DEV	KV_DEV_4K

TEST(crc32c_matches_the_standard_check_value)
{
	/* CRC-32C("123456789") is 0xe3069283 after the final inversion */
	ASSERT_EQ(~0xe3069283U, kv_crc32c(~0U, "123456789", 9));
}

FIXTURE(corrupt) {
	struct rawkv *kv;
};

FIXTURE_SETUP(corrupt)
{
	ASSERT_EQ(0, geteuid()) TH_LOG("run as root in the rawkv test VM");
	ASSERT_EQ(0, kv_reload("dev=%s format=1 slot_size=%lu %s", DEV, KV_MiB,
			       KV_NO_PERIODIC));
	ASSERT_EQ(0, rawkv_open(NULL, &self->kv));
}

FIXTURE_TEARDOWN(corrupt)
{
	int ret;

	rawkv_close(self->kv);
	ret = kv_unload();
	EXPECT_TRUE(ret == 0 || ret == -ENOENT);
}

static void put_str(struct __test_metadata *_metadata, struct rawkv *kv,
		    const char *key, const char *val)
{
	ASSERT_EQ(0, rawkv_put(kv, key, strlen(key), val, strlen(val)));
}

/* @key holds @val, or is absent if @val is NULL. */
static void check_str(struct __test_metadata *_metadata, struct rawkv *kv,
		      const char *key, const char *val)
{
	char buf[64] = "";
	ssize_t got = rawkv_get(kv, key, strlen(key), buf, sizeof(buf) - 1);

	if (!val) {
		ASSERT_EQ(-ENOENT, got) TH_LOG("%s should be absent", key);
		return;
	}
	ASSERT_EQ((ssize_t)strlen(val), got) TH_LOG("%s", key);
	ASSERT_STREQ(val, buf);
}

static struct rawkv_stat get_stat(struct __test_metadata *_metadata,
				  struct rawkv *kv)
{
	struct rawkv_stat st;

	ASSERT_EQ(0, rawkv_stat(kv, &st));
	return st;
}

/* FLUSH and return the sequence number of the checkpoint it committed. */
static uint64_t flush(struct __test_metadata *_metadata, struct rawkv *kv)
{
	ASSERT_EQ(0, rawkv_flush(kv));
	return get_stat(_metadata, kv).checkpoint_seq;
}

static void unload(struct __test_metadata *_metadata,
		   FIXTURE_DATA(corrupt) *self)
{
	rawkv_close(self->kv);
	self->kv = NULL;
	ASSERT_EQ(0, kv_unload());
}

static void load(struct __test_metadata *_metadata,
		 FIXTURE_DATA(corrupt) *self)
{
	ASSERT_EQ(0, kv_load("dev=%s format=0 %s", DEV, KV_NO_PERIODIC));
	ASSERT_EQ(0, rawkv_open(NULL, &self->kv));
}

/* The valid checkpoint headers of both areas, newest first in *newest. */
static void read_ckpts(struct __test_metadata *_metadata,
		       struct rawkv_sb *sb, struct rawkv_ckpt_hdr hdr[2],
		       int *newest)
{
	ASSERT_EQ(0, kv_read_sb(DEV, sb));
	ASSERT_EQ(0, kv_read_ckpt_hdr(DEV, sb, 0, &hdr[0]))
		TH_LOG("area A holds no valid checkpoint header");
	ASSERT_EQ(0, kv_read_ckpt_hdr(DEV, sb, 1, &hdr[1]))
		TH_LOG("area B holds no valid checkpoint header");
	ASSERT_EQ(0, le64toh(hdr[0].seq) & 1) TH_LOG("area A holds an odd seq");
	ASSERT_EQ(1, le64toh(hdr[1].seq) & 1) TH_LOG("area B holds an even seq");
	*newest = le64toh(hdr[1].seq) > le64toh(hdr[0].seq);
}

TEST_F(corrupt, consecutive_checkpoints_alternate_areas)
{
	struct rawkv_ckpt_hdr hdr[2];
	struct rawkv_sb sb;
	uint64_t s1, s2;
	int newest;

	put_str(_metadata, self->kv, "a", "1");
	s1 = flush(_metadata, self->kv);
	put_str(_metadata, self->kv, "a", "2");
	s2 = flush(_metadata, self->kv);
	ASSERT_LT(s1, s2);
	ASSERT_NE(s1 & 1, s2 & 1)
		TH_LOG("checkpoints %llu and %llu share an area",
		       (unsigned long long)s1, (unsigned long long)s2);
	unload(_metadata, self);

	/* nothing changed since s2: rmmod may add a checkpoint, s2 stays */
	read_ckpts(_metadata, &sb, hdr, &newest);
	ASSERT_EQ(s2, le64toh(hdr[s2 & 1].seq));
	ASSERT_TRUE(le64toh(hdr[!(s2 & 1)].seq) == s1 ||
		    le64toh(hdr[!(s2 & 1)].seq) == s2 + 1);
}

/*
 * Commit two checkpoints, s1 and s2, then change the table so that rmmod
 * commits a third, s3, over s1. Returns s2. The changes after s2 never
 * reuse a slot that s2 references.
 */
static uint64_t three_checkpoints(struct __test_metadata *_metadata,
				  FIXTURE_DATA(corrupt) *self)
{
	struct rawkv_ckpt_hdr hdr[2];
	struct rawkv_sb sb;
	uint64_t s2;
	int newest;

	put_str(_metadata, self->kv, "a", "a-1");
	flush(_metadata, self->kv);
	put_str(_metadata, self->kv, "a", "a-2");
	put_str(_metadata, self->kv, "b", "b-1");
	s2 = flush(_metadata, self->kv);

	put_str(_metadata, self->kv, "c", "c-1");
	put_str(_metadata, self->kv, "a", "a-3");
	ASSERT_EQ(0, rawkv_delete(self->kv, "b", 1));
	unload(_metadata, self);

	read_ckpts(_metadata, &sb, hdr, &newest);
	ASSERT_EQ(s2, le64toh(hdr[!newest].seq))
		TH_LOG("the older checkpoint is not the last FLUSH's");
	return s2;
}

/* The state committed by three_checkpoints()' s3 and s2. */
static void check_s3(struct __test_metadata *_metadata, struct rawkv *kv)
{
	check_str(_metadata, kv, "a", "a-3");
	check_str(_metadata, kv, "b", NULL);
	check_str(_metadata, kv, "c", "c-1");
}

static void check_s2(struct __test_metadata *_metadata, struct rawkv *kv)
{
	check_str(_metadata, kv, "a", "a-2");
	check_str(_metadata, kv, "b", "b-1");
	check_str(_metadata, kv, "c", NULL);
}

TEST_F(corrupt, intact_checkpoints_load_the_newest)
{
	three_checkpoints(_metadata, self);
	load(_metadata, self);
	check_s3(_metadata, self->kv);
	ASSERT_EQ(2U, get_stat(_metadata, self->kv).slots_used);
}

TEST_F(corrupt, damaged_newest_checkpoint_header_loads_the_older)
{
	struct rawkv_ckpt_hdr hdr[2];
	struct rawkv_sb sb;
	uint64_t s2 = three_checkpoints(_metadata, self);
	struct rawkv_stat st;
	int newest;

	read_ckpts(_metadata, &sb, hdr, &newest);
	ASSERT_EQ(0, kv_dev_flip_byte(DEV, le64toh(sb.ckpt_off[newest]) +
				      offsetof(struct rawkv_ckpt_hdr, seq)));
	ASSERT_EQ(-EBADMSG, kv_read_ckpt_hdr(DEV, &sb, newest, &hdr[newest]));

	load(_metadata, self);
	st = get_stat(_metadata, self->kv);
	ASSERT_EQ(s2, st.checkpoint_seq);
	ASSERT_EQ(2U, st.slots_used);
	check_s2(_metadata, self->kv);
	ASSERT_EQ(0U, get_stat(_metadata, self->kv).stale_dropped);
}

TEST_F(corrupt, damaged_newest_checkpoint_payload_loads_the_older)
{
	struct rawkv_ckpt_hdr hdr[2];
	struct rawkv_sb sb;
	uint64_t s2 = three_checkpoints(_metadata, self);
	int newest;

	read_ckpts(_metadata, &sb, hdr, &newest);
	ASSERT_LT(0U, le64toh(hdr[newest].payload_len));
	/* a fingerprint byte of the first entry */
	ASSERT_EQ(0, kv_dev_flip_byte(DEV, le64toh(sb.ckpt_off[newest]) +
				      RAWKV_BLOCK_SIZE +
				      offsetof(struct rawkv_ckpt_entry, fp)));

	load(_metadata, self);
	ASSERT_EQ(s2, get_stat(_metadata, self->kv).checkpoint_seq);
	check_s2(_metadata, self->kv);
}

TEST_F(corrupt, both_checkpoints_damaged_loads_empty_and_works)
{
	struct rawkv_ckpt_hdr hdr[2];
	struct rawkv_stat st;
	struct rawkv_sb sb;
	int newest, area;

	three_checkpoints(_metadata, self);
	read_ckpts(_metadata, &sb, hdr, &newest);
	for (area = 0; area < 2; area++) {
		ASSERT_EQ(0, kv_dev_flip_byte(DEV, le64toh(sb.ckpt_off[area]) +
					      offsetof(struct rawkv_ckpt_hdr,
						       magic)));
	}

	load(_metadata, self);
	st = get_stat(_metadata, self->kv);
	ASSERT_EQ(0U, st.slots_used);
	check_str(_metadata, self->kv, "a", NULL);
	check_str(_metadata, self->kv, "c", NULL);

	/* the store works, and its new checkpoints replace the damaged ones */
	put_str(_metadata, self->kv, "new", "value");
	check_str(_metadata, self->kv, "new", "value");
	flush(_metadata, self->kv);
	put_str(_metadata, self->kv, "newer", "value2");
	flush(_metadata, self->kv);
	unload(_metadata, self);
	read_ckpts(_metadata, &sb, hdr, &newest);
	load(_metadata, self);
	check_str(_metadata, self->kv, "new", "value");
	check_str(_metadata, self->kv, "newer", "value2");
	ASSERT_EQ(2U, get_stat(_metadata, self->kv).slots_used);
}

/*
 * Store a 10000-byte value, flip the byte @where bytes into its slot (the
 * slot header is the first RAWKV_BLOCK_SIZE bytes), and reload: GET must
 * fail with -EIO once, then the key is gone, also after a reload.
 */
static void check_damaged_slot(struct __test_metadata *_metadata,
			       FIXTURE_DATA(corrupt) *self, uint64_t where)
{
	unsigned char val[10000], buf[10000];
	struct rawkv_slot_hdr sh;
	struct rawkv_stat st;
	struct rawkv_sb sb;
	uint64_t vlen;
	uint32_t slot;

	kv_fill(val, sizeof(val), 9);
	ASSERT_EQ(0, rawkv_put(self->kv, "victim", 6, val, sizeof(val)));
	put_str(_metadata, self->kv, "bystander", "fine");
	unload(_metadata, self);

	ASSERT_EQ(0, kv_find_slot(DEV, "victim", 6, &slot, &vlen));
	ASSERT_EQ(sizeof(val), vlen);
	ASSERT_EQ(0, kv_read_sb(DEV, &sb));
	ASSERT_EQ(0, kv_read_slot_hdr(DEV, &sb, slot, &sh));
	ASSERT_EQ(6, le16toh(sh.key_len));
	ASSERT_EQ(0, memcmp(sh.key, "victim", 6));
	ASSERT_EQ(slot, le32toh(sh.slot));
	ASSERT_EQ(kv_crc32c(~0U, val, sizeof(val)), le32toh(sh.value_crc));
	ASSERT_EQ(0, kv_dev_flip_byte(DEV, kv_slot_off(&sb, slot) + where));

	load(_metadata, self);
	ASSERT_EQ(-EIO, rawkv_get(self->kv, "victim", 6, buf, sizeof(buf)));
	ASSERT_EQ(-ENOENT, rawkv_get(self->kv, "victim", 6, buf, sizeof(buf)));
	st = get_stat(_metadata, self->kv);
	ASSERT_EQ(1U, st.stale_dropped);
	ASSERT_EQ(1U, st.slots_used);
	ASSERT_EQ(0U, st.load_dropped);
	check_str(_metadata, self->kv, "bystander", "fine");

	/* the drop is committed like a DELETE */
	unload(_metadata, self);
	load(_metadata, self);
	ASSERT_EQ(-ENOENT, rawkv_get(self->kv, "victim", 6, buf, sizeof(buf)));
	check_str(_metadata, self->kv, "bystander", "fine");
}

TEST_F(corrupt, damaged_slot_value_is_eio_then_gone)
{
	check_damaged_slot(_metadata, self, RAWKV_BLOCK_SIZE + 5000);
}

TEST_F(corrupt, damaged_last_value_byte_is_eio_then_gone)
{
	check_damaged_slot(_metadata, self, RAWKV_BLOCK_SIZE + 10000 - 1);
}

TEST_F(corrupt, damaged_slot_header_key_is_eio_then_gone)
{
	check_damaged_slot(_metadata, self,
			   offsetof(struct rawkv_slot_hdr, key) + 2);
}

/* Superblocks that are not valid version-1 rawkv for this device. */
enum sb_damage {
	SB_VERSION_2,
	SB_BLOCK_SIZE,
	SB_MAGIC,
	SB_FLAGS,
	SB_SLOT_SIZE_NOT_POW2,
	SB_SLOT_SIZE_TOO_BIG,
	SB_SLOT_COUNT_PAST_END,
	SB_SLOT_COUNT_ZERO,
	SB_DATA_OFF_PAST_END,
	SB_CKPT_OVERLAP,
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
};

FIXTURE_VARIANT_ADD(superblock, next_version) { .damage = SB_VERSION_2 };
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
FIXTURE_VARIANT_ADD(superblock, checkpoint_areas_overlap) {
	.damage = SB_CKPT_OVERLAP
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
	put_str(_metadata, kv, "key", "value");
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

/* Write block 0 as the damage says. */
static void damage_sb(struct __test_metadata *_metadata,
		      FIXTURE_DATA(superblock) *self, enum sb_damage damage)
{
	struct rawkv_sb sb = self->sb;
	uint64_t slot_size = le64toh(sb.slot_size);
	void *block;

	switch (damage) {
	case SB_VERSION_2:
		sb.version = htole32(RAWKV_FORMAT_VERSION + 1);
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
	case SB_CKPT_OVERLAP:
		sb.ckpt_off[1] = sb.ckpt_off[0];
		break;
	case SB_BAD_CRC:
		sb.uuid[0] ^= 1;
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

TEST_F(superblock, damaged_superblock_is_refused_and_restored_one_loads)
{
	struct rawkv *kv;
	char buf[16] = "";

	damage_sb(_metadata, self, variant->damage);
	ASSERT_EQ(-EINVAL, kv_load("dev=%s format=0", DEV));
	ASSERT_FALSE(kv_loaded());

	/* only the damage was wrong: the original superblock loads */
	ASSERT_EQ(0, kv_write_sb(DEV, &self->sb));
	ASSERT_EQ(0, kv_load("dev=%s format=0", DEV));
	ASSERT_EQ(0, rawkv_open(NULL, &kv));
	ASSERT_EQ(5, rawkv_get(kv, "key", 3, buf, sizeof(buf)));
	rawkv_close(kv);
	ASSERT_STREQ("value", buf);
}

TEST_HARNESS_MAIN
