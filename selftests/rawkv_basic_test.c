// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv basic operations through librawkv: round trips of every interesting
 * value size, binary keys, overwrite, delete, misses, length queries and
 * the size limits. Every test runs on a 512 B logical block device (vda)
 * and on a 4 KiB one (vdb), freshly formatted with 2 MiB slots.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rawkv_test_util.h"
#include "kselftest_harness.h"

#define SLOT_SIZE	(2 * KV_MiB)
#define GUARD		64	/* bytes past the value that GET must not touch */

FIXTURE(basic) {
	struct rawkv *kv;
	struct rawkv_stat st;
};

FIXTURE_VARIANT(basic) {
	const char *dev;
	unsigned int lbs;
};

FIXTURE_VARIANT_ADD(basic, lbs512) {
	.dev = KV_DEV_512,
	.lbs = 512,
};

FIXTURE_VARIANT_ADD(basic, lbs4096) {
	.dev = KV_DEV_4K,
	.lbs = 4096,
};

FIXTURE_SETUP(basic)
{
	ASSERT_EQ(0, geteuid()) TH_LOG("run as root in the rawkv test VM");
	ASSERT_EQ(0, kv_reload("dev=%s format=1 slot_size=%lu", variant->dev,
			       SLOT_SIZE));
	ASSERT_EQ(0, rawkv_open(NULL, &self->kv));
	ASSERT_EQ(0, rawkv_stat(self->kv, &self->st));
	ASSERT_EQ(variant->lbs, self->st.logical_block_size);
	ASSERT_EQ(SLOT_SIZE, self->st.slot_size);
}

FIXTURE_TEARDOWN(basic)
{
	rawkv_close(self->kv);
	EXPECT_EQ(0, kv_unload());
}

/*
 * PUT @len random bytes under a key naming the length, then read them back
 * with a length query and into a buffer with a guard zone after the value.
 */
static void round_trip(struct __test_metadata *_metadata, struct rawkv *kv,
		       size_t len)
{
	unsigned char *val = malloc(len + 1), *buf = malloc(len + GUARD);
	char key[32];
	size_t i;

	ASSERT_NE(NULL, val);
	ASSERT_NE(NULL, buf);
	snprintf(key, sizeof(key), "round-trip-%zu", len);
	kv_fill(val, len, len * 7919 + 1);
	memset(buf, 0xa5, len + GUARD);

	ASSERT_EQ(0, rawkv_put(kv, key, strlen(key), val, len));
	ASSERT_EQ(len, rawkv_get(kv, key, strlen(key), NULL, 0));
	ASSERT_EQ(len, rawkv_get(kv, key, strlen(key), buf, len + GUARD));
	ASSERT_EQ(0, memcmp(val, buf, len)) {
		for (i = 0; i < len && val[i] == buf[i]; i++)
			;
		TH_LOG("%zu-byte value differs first at byte %zu", len, i);
	}
	for (i = len; i < len + GUARD; i++) {
		ASSERT_EQ(0xa5, buf[i]) TH_LOG("GET wrote past the value");
	}
	free(val);
	free(buf);
}

TEST_F(basic, round_trip_empty_value)
{
	round_trip(_metadata, self->kv, 0);
}

TEST_F(basic, round_trip_1_byte)
{
	round_trip(_metadata, self->kv, 1);
}

TEST_F(basic, round_trip_511_bytes)
{
	round_trip(_metadata, self->kv, 511);
}

TEST_F(basic, round_trip_4096_bytes)
{
	round_trip(_metadata, self->kv, 4096);
}

TEST_F(basic, round_trip_4097_bytes)
{
	round_trip(_metadata, self->kv, 4097);
}

TEST_F(basic, round_trip_1mib_plus_1)
{
	round_trip(_metadata, self->kv, KV_MiB + 1);
}

TEST_F(basic, round_trip_value_max)
{
	ASSERT_EQ(SLOT_SIZE - RAWKV_BLOCK_SIZE, self->st.value_max);
	round_trip(_metadata, self->kv, self->st.value_max);
}

TEST_F(basic, value_max_plus_1_is_e2big_and_keeps_old_value)
{
	size_t len = self->st.value_max + 1;
	char *val = calloc(1, len), old[8];

	ASSERT_NE(NULL, val);
	ASSERT_EQ(-E2BIG, rawkv_put(self->kv, "big", 3, val, len));
	ASSERT_EQ(-ENOENT, rawkv_get(self->kv, "big", 3, NULL, 0));

	ASSERT_EQ(0, rawkv_put(self->kv, "big", 3, "small", 5));
	ASSERT_EQ(-E2BIG, rawkv_put(self->kv, "big", 3, val, len));
	ASSERT_EQ(5, rawkv_get(self->kv, "big", 3, old, sizeof(old)));
	ASSERT_EQ(0, memcmp(old, "small", 5));
	free(val);
}

/* Store distinct values under @n keys, then check each reads its own. */
static void check_distinct_keys(struct __test_metadata *_metadata,
				struct rawkv *kv, unsigned char keys[][255],
				const size_t *klen, int n)
{
	unsigned char val[64], buf[64];
	int i;

	for (i = 0; i < n; i++) {
		kv_fill(val, sizeof(val), 1000 + i);
		ASSERT_EQ(0, rawkv_put(kv, keys[i], klen[i], val, sizeof(val)));
	}
	for (i = 0; i < n; i++) {
		kv_fill(val, sizeof(val), 1000 + i);
		ASSERT_EQ(sizeof(val), rawkv_get(kv, keys[i], klen[i], buf,
						 sizeof(buf)));
		ASSERT_EQ(0, memcmp(val, buf, sizeof(val)))
			TH_LOG("key %d (%zu bytes) read another key's value",
			       i, klen[i]);
	}
}

TEST_F(basic, one_byte_keys_including_zero_byte)
{
	unsigned char keys[3][255] = { { 0x00 }, { 0xff }, { 'a' } };
	size_t klen[3] = { 1, 1, 1 };

	check_distinct_keys(_metadata, self->kv, keys, klen, 3);
	ASSERT_EQ(0, rawkv_stat(self->kv, &self->st));
	ASSERT_EQ(3, self->st.slots_used);
}

TEST_F(basic, keys_of_255_bytes_with_zero_bytes)
{
	unsigned char keys[4][255];
	size_t klen[4] = { 255, 255, 255, 255 };
	int i;

	for (i = 0; i < 4; i++) {
		kv_fill(keys[i], 255, 42);	/* the same bytes ... */
		memset(keys[i] + 100, 0, 16);	/* ... with zeros inside */
		keys[i][254] = 1;
	}
	keys[1][254] = 2;	/* differs from key 0 only in the last byte */
	keys[2][0] ^= 1;	/* only in the first */
	keys[3][254] = 0;	/* ends with a zero byte */
	check_distinct_keys(_metadata, self->kv, keys, klen, 4);
}

TEST_F(basic, keys_differing_only_in_length_are_distinct)
{
	unsigned char keys[4][255] = { { 0 } };
	size_t klen[4] = { 1, 2, 254, 255 };	/* all zero bytes */

	check_distinct_keys(_metadata, self->kv, keys, klen, 4);
	ASSERT_EQ(0, rawkv_delete(self->kv, keys[3], 255));
	ASSERT_EQ(-ENOENT, rawkv_get(self->kv, keys[3], 255, NULL, 0));
	ASSERT_EQ(64, rawkv_get(self->kv, keys[2], 254, NULL, 0));
	ASSERT_EQ(64, rawkv_get(self->kv, keys[0], 1, NULL, 0));
}

/* Overwrite a 100000-byte value with @len bytes and read it back. */
static void overwrite(struct __test_metadata *_metadata, struct rawkv *kv,
		      size_t len)
{
	size_t first = 100000;
	unsigned char *val = malloc(first + len), *buf = malloc(first + len);
	struct rawkv_stat st;

	ASSERT_NE(NULL, val);
	ASSERT_NE(NULL, buf);
	kv_fill(val, first, 1);
	ASSERT_EQ(0, rawkv_put(kv, "ow", 2, val, first));
	kv_fill(val, len, 2);
	ASSERT_EQ(0, rawkv_put(kv, "ow", 2, val, len));
	ASSERT_EQ(len, rawkv_get(kv, "ow", 2, buf, first + len));
	ASSERT_EQ(0, memcmp(val, buf, len));
	ASSERT_EQ(0, rawkv_stat(kv, &st));
	ASSERT_EQ(1, st.slots_used);
	free(val);
	free(buf);
}

TEST_F(basic, overwrite_with_smaller_value)
{
	overwrite(_metadata, self->kv, 10);
}

TEST_F(basic, overwrite_with_larger_value)
{
	overwrite(_metadata, self->kv, 300001);
}

TEST_F(basic, get_after_delete_is_enoent)
{
	ASSERT_EQ(0, rawkv_put(self->kv, "gone", 4, "x", 1));
	ASSERT_EQ(0, rawkv_put(self->kv, "kept", 4, "y", 1));
	ASSERT_EQ(0, rawkv_delete(self->kv, "gone", 4));
	ASSERT_EQ(-ENOENT, rawkv_get(self->kv, "gone", 4, NULL, 0));
	ASSERT_EQ(-ENOENT, rawkv_delete(self->kv, "gone", 4));
	ASSERT_EQ(1, rawkv_get(self->kv, "kept", 4, NULL, 0));
	ASSERT_EQ(0, rawkv_stat(self->kv, &self->st));
	ASSERT_EQ(1, self->st.slots_used);
}

TEST_F(basic, get_of_missing_key_is_enoent)
{
	char buf[8];

	ASSERT_EQ(-ENOENT, rawkv_get(self->kv, "nothing", 7, buf, sizeof(buf)));
	ASSERT_EQ(0, rawkv_put(self->kv, "nothin", 6, "v", 1));
	ASSERT_EQ(-ENOENT, rawkv_get(self->kv, "nothing", 7, buf, sizeof(buf)));
	ASSERT_EQ(-ENOENT, rawkv_get(self->kv, "nothi", 5, NULL, 0));
}

TEST_F(basic, get_with_zero_buflen_returns_length_only)
{
	unsigned char val[5000], buf[16];

	kv_fill(val, sizeof(val), 3);
	memset(buf, 0x5a, sizeof(buf));
	ASSERT_EQ(0, rawkv_put(self->kv, "len", 3, val, sizeof(val)));
	ASSERT_EQ(sizeof(val), rawkv_get(self->kv, "len", 3, buf, 0));
	ASSERT_EQ(sizeof(val), rawkv_get(self->kv, "len", 3, NULL, 0));
	for (size_t i = 0; i < sizeof(buf); i++) {
		ASSERT_EQ(0x5a, buf[i]);
	}
}

TEST_F(basic, get_with_short_buffer_is_erange)
{
	unsigned char val[5000], buf[5000];

	kv_fill(val, sizeof(val), 4);
	ASSERT_EQ(0, rawkv_put(self->kv, "short", 5, val, sizeof(val)));
	ASSERT_EQ(-ERANGE, rawkv_get(self->kv, "short", 5, buf, 1));
	ASSERT_EQ(-ERANGE, rawkv_get(self->kv, "short", 5, buf,
				     sizeof(buf) - 1));
	ASSERT_EQ(sizeof(val), rawkv_get(self->kv, "short", 5, buf,
					 sizeof(buf)));
	ASSERT_EQ(0, memcmp(val, buf, sizeof(val)));
}

TEST_F(basic, key_length_0_and_256_are_einval)
{
	unsigned char key[256] = "k", buf[8];

	ASSERT_EQ(-EINVAL, rawkv_put(self->kv, key, 0, "v", 1));
	ASSERT_EQ(-EINVAL, rawkv_put(self->kv, key, 256, "v", 1));
	ASSERT_EQ(-EINVAL, rawkv_get(self->kv, key, 0, buf, sizeof(buf)));
	ASSERT_EQ(-EINVAL, rawkv_get(self->kv, key, 256, buf, sizeof(buf)));
	ASSERT_EQ(-EINVAL, rawkv_delete(self->kv, key, 0));
	ASSERT_EQ(-EINVAL, rawkv_delete(self->kv, key, 256));
	ASSERT_EQ(0, rawkv_stat(self->kv, &self->st));
	ASSERT_EQ(0, self->st.slots_used);
	ASSERT_EQ(0, self->st.puts);
}

TEST_HARNESS_MAIN
