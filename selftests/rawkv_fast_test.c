// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv's fast paths: values in buffers aligned to the logical block size
 * move between the caller's pages and the device without a copy, others
 * through bounce pages, and both store the same bytes; rawkv_put_batch()
 * and rawkv_get_batch() give each operation its own result.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rawkv_test_util.h"
#include "kselftest_harness.h"

#define SLOT	(2UL << 20)

FIXTURE(fast) {
	struct rawkv *kv;
	struct rawkv_stat st;
	unsigned char *a, *b;		/* 4 KiB aligned, SLOT bytes + 1 */
};

FIXTURE_VARIANT(fast) {
	const char *dev;
	unsigned int lbs;
};

FIXTURE_VARIANT_ADD(fast, lbs512) {
	.dev = KV_DEV_512,
	.lbs = 512,
};

FIXTURE_VARIANT_ADD(fast, lbs4096) {
	.dev = KV_DEV_4K,
	.lbs = 4096,
};

FIXTURE_SETUP(fast)
{
	ASSERT_EQ(0, geteuid()) TH_LOG("run as root in the rawkv test VM");
	ASSERT_EQ(0, kv_reload("dev=%s format=1 slot_size=%lu %s",
			       variant->dev, SLOT, KV_NO_PERIODIC));
	ASSERT_EQ(0, rawkv_open(NULL, &self->kv));
	ASSERT_EQ(0, rawkv_stat(self->kv, &self->st));
	ASSERT_EQ(variant->lbs, self->st.logical_block_size);
	self->a = kv_alloc_aligned(SLOT + 4096);
	self->b = kv_alloc_aligned(SLOT + 4096);
	ASSERT_NE(NULL, self->a);
	ASSERT_NE(NULL, self->b);
}

FIXTURE_TEARDOWN(fast)
{
	free(self->a);
	free(self->b);
	rawkv_close(self->kv);
	EXPECT_EQ(0, kv_unload());
}

/*
 * Store @len bytes from @src and read them into @dst, for every pairing of
 * aligned and unaligned buffers (shift 0 is aligned, 1 and 8 are not).
 */
static void round_trip(struct __test_metadata *_metadata,
		       FIXTURE_DATA(fast) *self, size_t len)
{
	static const size_t shifts[] = { 0, 1, 8 };
	size_t i, j;
	char key[32];

	snprintf(key, sizeof(key), "len-%zu", len);
	for (i = 0; i < 3; i++) {
		unsigned char *src = self->a + shifts[i];

		kv_fill(src, len, len * 31 + i);
		ASSERT_EQ(0, rawkv_put(self->kv, key, strlen(key), src, len))
			TH_LOG("put %zu bytes at shift %zu", len, shifts[i]);
		for (j = 0; j < 3; j++) {
			unsigned char *dst = self->b + shifts[j];

			memset(dst, 0x5a, len + 1);
			ASSERT_EQ((ssize_t)len,
				  rawkv_get(self->kv, key, strlen(key), dst,
					    len))
				TH_LOG("get %zu bytes at shift %zu", len,
				       shifts[j]);
			ASSERT_EQ(0, memcmp(src, dst, len))
				TH_LOG("%zu bytes put at shift %zu, read at %zu",
				       len, shifts[i], shifts[j]);
			ASSERT_EQ(0x5a, dst[len]) TH_LOG("byte past the value");
		}
	}
}

TEST_F(fast, aligned_and_unaligned_buffers_store_the_same_bytes)
{
	static const size_t lens[] = {
		1, 511, 512, 513, 4096, 4097, 65536, 65536 + 100,
		(1 << 20) + 1, SLOT - 4096,
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(lens); i++)
		round_trip(_metadata, self, lens[i]);
}

TEST_F(fast, aligned_buffers_move_without_a_copy_unaligned_ones_bounce)
{
	size_t len = (1 << 20) + 100;	/* the last partial block bounces */
	size_t tail = len % variant->lbs;
	struct rawkv_stat s0, s1, s2;

	kv_fill(self->a, len, 3);
	ASSERT_EQ(0, rawkv_stat(self->kv, &s0));
	ASSERT_EQ(0, rawkv_put(self->kv, "zc", 2, self->a, len));
	ASSERT_EQ((ssize_t)len, rawkv_get(self->kv, "zc", 2, self->b, len));
	ASSERT_EQ(0, memcmp(self->a, self->b, len));
	ASSERT_EQ(0, rawkv_stat(self->kv, &s1));
	ASSERT_EQ(2 * (len - tail), s1.bytes_zero_copy - s0.bytes_zero_copy);
	ASSERT_EQ(2 * tail, s1.bytes_bounced - s0.bytes_bounced);

	ASSERT_EQ(0, rawkv_put(self->kv, "bounce", 6, self->a + 1, len));
	ASSERT_EQ((ssize_t)len, rawkv_get(self->kv, "bounce", 6, self->b + 1,
					  len));
	ASSERT_EQ(0, memcmp(self->a + 1, self->b + 1, len));
	ASSERT_EQ(0, rawkv_stat(self->kv, &s2));
	ASSERT_EQ(0, s2.bytes_zero_copy - s1.bytes_zero_copy);
	ASSERT_EQ(2 * len, s2.bytes_bounced - s1.bytes_bounced);
}

/* Find the slot whose header holds @key, scanning the slot headers. */
static int64_t slot_of(const char *dev, const char *key)
{
	struct rawkv_slot_hdr h;
	struct rawkv_sb sb;
	uint32_t i;

	if (kv_read_sb(dev, &sb))
		return -1;
	for (i = 0; i < le64toh(sb.slot_count); i++)
		if (!kv_read_slot_hdr(dev, &sb, i, &h) &&
		    le16toh(h.key_len) == strlen(key) &&
		    !memcmp(h.key, key, strlen(key)))
			return i;
	return -1;
}

TEST_F(fast, failed_verification_leaves_no_value_bytes_in_an_aligned_buffer)
{
	size_t len = 3 * 65536, i;
	struct rawkv_sb sb;
	int64_t slot;

	kv_fill(self->a, len, 7);
	ASSERT_EQ(0, rawkv_put(self->kv, "victim", 6, self->a, len));
	slot = slot_of(variant->dev, "victim");
	ASSERT_LE(0, slot);
	ASSERT_EQ(0, kv_read_sb(variant->dev, &sb));
	/* The device is claimed, but a plain O_DIRECT open may write it. */
	ASSERT_EQ(0, kv_dev_flip_byte(variant->dev,
				      kv_slot_off(&sb, slot) + 4096 + len - 1));

	memset(self->b, 0xa5, len);
	ASSERT_EQ(-EIO, rawkv_get(self->kv, "victim", 6, self->b, len));
	for (i = 0; i < len; i++)
		ASSERT_EQ(0, self->b[i]) TH_LOG("byte %zu reached the caller", i);
	ASSERT_EQ(-ENOENT, rawkv_get(self->kv, "victim", 6, NULL, 0));
}

static void fill_ops(struct rawkv_op *ops, char (*keys)[32], size_t n,
		     unsigned char *vals, size_t vlen)
{
	size_t i;

	for (i = 0; i < n; i++) {
		ops[i] = (struct rawkv_op) {
			.key = keys[i],
			.klen = snprintf(keys[i], 32, "batch-%03zu", i),
			.val = vals + i * vlen,
			.vlen = vlen,
		};
	}
}

TEST_F(fast, batches_give_each_operation_its_result)
{
	enum { N = 300, VLEN = 4096 };	/* more than one ioctl's worth */
	static char keys[N][32];
	static struct rawkv_op ops[N];
	unsigned char *vals = malloc(N * VLEN), *bufs = malloc(N * VLEN);
	size_t i;

	ASSERT_NE(NULL, vals);
	ASSERT_NE(NULL, bufs);
	/* room for every value, even on vdb */
	rawkv_close(self->kv);
	ASSERT_EQ(0, kv_reload("dev=%s format=1 slot_size=65536 %s",
			       variant->dev, KV_NO_PERIODIC));
	ASSERT_EQ(0, rawkv_open(NULL, &self->kv));
	ASSERT_EQ(0, rawkv_stat(self->kv, &self->st));
	ASSERT_LE(N, self->st.slots_total);
	for (i = 0; i < N; i++)
		kv_fill(vals + i * VLEN, VLEN, 1000 + i);
	fill_ops(ops, keys, N, vals, VLEN);
	ops[3].klen = 0;				/* bad key */
	ops[4].vlen = self->st.value_max + 1;		/* too big */
	ops[5].key = NULL;				/* unreadable key */
	ASSERT_EQ(0, rawkv_put_batch(self->kv, ops, N));
	for (i = 0; i < N; i++) {
		long want = i == 3 ? -EINVAL : i == 4 ? -E2BIG :
			    i == 5 ? -EFAULT : 0;

		ASSERT_EQ(want, ops[i].result) TH_LOG("put op %zu", i);
	}

	fill_ops(ops, keys, N, bufs, VLEN);
	memset(bufs, 0, N * VLEN);
	ops[2].klen = 256;				/* bad key */
	ops[7].vlen = VLEN - 1;				/* short buffer */
	ops[8].vlen = 0;				/* length query */
	ops[9].klen = 5;				/* "batch": missing */
	ASSERT_EQ(0, rawkv_get_batch(self->kv, ops, N));
	for (i = 0; i < N; i++) {
		long want = i == 2 ? -EINVAL :
			    i == 3 || i == 4 || i == 5 || i == 9 ? -ENOENT :
			    i == 7 ? -ERANGE : VLEN;

		ASSERT_EQ(want, ops[i].result) TH_LOG("get op %zu", i);
		if (want == VLEN && i != 8)
			ASSERT_EQ(0, memcmp(vals + i * VLEN, bufs + i * VLEN,
					    VLEN)) TH_LOG("value of op %zu", i);
	}
	free(vals);
	free(bufs);
}

TEST_F(fast, later_operations_on_a_key_win_within_a_batch)
{
	static char keys[4][32];
	struct rawkv_op ops[4];
	unsigned char buf[16];
	size_t i;

	fill_ops(ops, keys, 4, self->a, 16);
	for (i = 0; i < 4; i++) {
		strcpy(keys[i], "same");
		ops[i].klen = 4;
		ops[i].val = self->a + i * 16;
		memset(self->a + i * 16, 'a' + i, 16);
	}
	ASSERT_EQ(0, rawkv_put_batch(self->kv, ops, 4));
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, ops[i].result);
	ASSERT_EQ(16, rawkv_get(self->kv, "same", 4, buf, sizeof(buf)));
	ASSERT_EQ(0, memcmp(buf, self->a + 3 * 16, 16));
}

/* A batch bigger than the device: its own PUTs in flight hold the slots. */
TEST_F(fast, batch_larger_than_the_device_evicts_without_deadlock)
{
	enum { VLEN = 8192 };
	size_t n = self->st.slots_total * 2, i;
	struct rawkv_op *ops = calloc(n, sizeof(*ops));
	char (*keys)[32] = calloc(n, 32);
	unsigned char *vals = malloc(n * VLEN);
	struct rawkv_stat st;

	ASSERT_NE(NULL, ops);
	ASSERT_NE(NULL, keys);
	ASSERT_NE(NULL, vals);
	for (i = 0; i < n; i++)
		kv_fill(vals + i * VLEN, VLEN, i);
	fill_ops(ops, keys, n, vals, VLEN);
	ASSERT_EQ(0, rawkv_put_batch(self->kv, ops, n));
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, ops[i].result) TH_LOG("op %zu", i);
	ASSERT_EQ(0, rawkv_stat(self->kv, &st));
	ASSERT_EQ(st.slots_total, st.slots_used);
	ASSERT_LE(n - st.slots_total, st.evictions);
	/* the last PUT is there */
	ASSERT_EQ(VLEN, rawkv_get(self->kv, keys[n - 1], ops[n - 1].klen,
				  self->b, VLEN));
	ASSERT_EQ(0, memcmp(self->b, vals + (n - 1) * VLEN, VLEN));
	free(ops);
	free(keys);
	free(vals);
}

static int set_fp_mask(const char *mask)
{
	FILE *f = fopen("/sys/kernel/debug/rawkv/fp_mask", "w");
	int ret;

	if (!f)
		return -errno;
	ret = fputs(mask, f) < 0 ? -EIO : 0;
	return fclose(f) ? -errno : ret;
}

/* Key i is there with version v (v < 0: absent). */
static void check_key(struct __test_metadata *_metadata, struct rawkv *kv,
		      int i, int v)
{
	unsigned char want[100], got[100];
	char key[16];

	snprintf(key, sizeof(key), "c%d", i);
	if (v < 0) {
		ASSERT_EQ(-ENOENT, rawkv_get(kv, key, strlen(key), got,
					     sizeof(got))) TH_LOG("%s", key);
		return;
	}
	kv_fill(want, sizeof(want), i * 100 + v);
	ASSERT_EQ((ssize_t)sizeof(got),
		  rawkv_get(kv, key, strlen(key), got, sizeof(got)))
		TH_LOG("%s", key);
	ASSERT_EQ(0, memcmp(want, got, sizeof(got))) TH_LOG("%s", key);
}

static void put_key(struct __test_metadata *_metadata, struct rawkv *kv,
		    int i, int v)
{
	unsigned char val[100];
	char key[16];

	snprintf(key, sizeof(key), "c%d", i);
	kv_fill(val, sizeof(val), i * 100 + v);
	ASSERT_EQ(0, rawkv_put(kv, key, strlen(key), val, sizeof(val)));
}

/*
 * With fingerprints cut to one bit, six keys share two fingerprints: each
 * key must still read its own value, be replaced and deleted on its own,
 * before and after a reload.
 */
TEST_F(fast, keys_sharing_a_fingerprint_stay_apart)
{
	int v[6] = { 0 }, i;
	struct rawkv_stat st;

	rawkv_close(self->kv);
	ASSERT_EQ(0, kv_reload("dev=%s format=1 slot_size=65536 fault_inject=1 %s",
			       variant->dev, KV_NO_PERIODIC));
	ASSERT_EQ(0, set_fp_mask("0x1"));
	ASSERT_EQ(0, rawkv_open(NULL, &self->kv));

	for (i = 0; i < 6; i++)
		put_key(_metadata, self->kv, i, 0);
	for (i = 0; i < 6; i += 2)
		put_key(_metadata, self->kv, i, v[i] = 1);
	ASSERT_EQ(0, rawkv_delete(self->kv, "c1", 2));
	ASSERT_EQ(0, rawkv_delete(self->kv, "c4", 2));
	v[1] = v[4] = -1;
	ASSERT_EQ(-ENOENT, rawkv_delete(self->kv, "c4", 2));
	ASSERT_EQ(-ENOENT, rawkv_delete(self->kv, "c9", 2));
	for (i = 0; i < 6; i++)
		check_key(_metadata, self->kv, i, v[i]);
	ASSERT_EQ(0, rawkv_stat(self->kv, &st));
	ASSERT_EQ(4U, st.slots_used);
	ASSERT_EQ(0U, st.stale_dropped);

	rawkv_close(self->kv);
	ASSERT_EQ(0, kv_reload("dev=%s fault_inject=1 %s", variant->dev,
			       KV_NO_PERIODIC));
	ASSERT_EQ(0, set_fp_mask("0x1"));
	ASSERT_EQ(0, rawkv_open(NULL, &self->kv));
	for (i = 0; i < 6; i++)
		check_key(_metadata, self->kv, i, v[i]);
	put_key(_metadata, self->kv, 3, v[3] = 2);
	for (i = 0; i < 6; i++)
		check_key(_metadata, self->kv, i, v[i]);
	ASSERT_EQ(0, rawkv_stat(self->kv, &st));
	ASSERT_EQ(4U, st.slots_used);
}

TEST_HARNESS_MAIN
