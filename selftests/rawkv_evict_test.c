// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv on a full device: with evict=1 a PUT evicts the least recently used
 * key (a GET makes a key recently used), with evict=0 it fails with -ENOSPC
 * and loses nothing. vdb with 1 MiB slots has about 60 slots.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rawkv_test_util.h"
#include "kselftest_harness.h"

#define VLEN	300

static int key_of(char *key, uint64_t i)
{
	return sprintf(key, "fill-%04llu", (unsigned long long)i);
}

static void put_nth(struct __test_metadata *_metadata, struct rawkv *kv,
		    uint64_t i)
{
	unsigned char val[VLEN];
	char key[32];
	int klen = key_of(key, i);

	kv_fill(val, VLEN, i);
	ASSERT_EQ(0, rawkv_put(kv, key, klen, val, VLEN)) TH_LOG("key %s", key);
}

/* Key i is there with its value (@present), or is gone. */
static void check_nth(struct __test_metadata *_metadata, struct rawkv *kv,
		      uint64_t i, bool present)
{
	unsigned char val[VLEN], buf[VLEN];
	char key[32];
	int klen = key_of(key, i);

	if (!present) {
		ASSERT_EQ(-ENOENT, rawkv_get(kv, key, klen, NULL, 0))
			TH_LOG("%s should have been evicted", key);
		return;
	}
	kv_fill(val, VLEN, i);
	ASSERT_EQ(VLEN, rawkv_get(kv, key, klen, buf, sizeof(buf)))
		TH_LOG("%s should be there", key);
	ASSERT_EQ(0, memcmp(val, buf, VLEN));
}

static void check_stat(struct __test_metadata *_metadata, struct rawkv *kv,
		       uint64_t used, uint64_t evictions)
{
	struct rawkv_stat st;

	ASSERT_EQ(0, rawkv_stat(kv, &st));
	ASSERT_EQ(used, st.slots_used);
	ASSERT_EQ(evictions, st.evictions);
}

/*
 * Format vdb with @evict and put a key in every slot: key 0 is the least
 * recently used. Returns the number of slots.
 */
static uint64_t fill_device(struct __test_metadata *_metadata,
			    struct rawkv **kv, int evict)
{
	struct rawkv_stat st;
	uint64_t i;

	ASSERT_EQ(0, geteuid()) TH_LOG("run as root in the rawkv test VM");
	ASSERT_EQ(0, kv_reload("dev=%s format=1 slot_size=%lu evict=%d %s",
			       KV_DEV_4K, KV_MiB, evict, KV_NO_PERIODIC));
	ASSERT_EQ(0, rawkv_open(NULL, kv));
	ASSERT_EQ(0, rawkv_stat(*kv, &st));
	ASSERT_LE(32U, st.slots_total);
	ASSERT_GE(64U, st.slots_total);
	for (i = 0; i < st.slots_total; i++)
		put_nth(_metadata, *kv, i);
	check_stat(_metadata, *kv, st.slots_total, 0);
	return st.slots_total;
}

FIXTURE(lru) {
	struct rawkv *kv;
	uint64_t slots;
};

FIXTURE_SETUP(lru)
{
	self->slots = fill_device(_metadata, &self->kv, 1);
}

FIXTURE_TEARDOWN(lru)
{
	rawkv_close(self->kv);
	EXPECT_EQ(0, kv_unload());
}

TEST_F(lru, put_on_full_device_evicts_least_recently_used)
{
	uint64_t i, n = self->slots;

	/* GETs make keys 0 then 2 the most recently used */
	check_nth(_metadata, self->kv, 0, true);
	check_nth(_metadata, self->kv, 2, true);

	put_nth(_metadata, self->kv, n);
	check_stat(_metadata, self->kv, n, 1);
	check_nth(_metadata, self->kv, 1, false);

	put_nth(_metadata, self->kv, n + 1);
	check_stat(_metadata, self->kv, n, 2);
	check_nth(_metadata, self->kv, 3, false);

	/* everything else is there, the refreshed keys too */
	check_nth(_metadata, self->kv, 0, true);
	check_nth(_metadata, self->kv, 2, true);
	for (i = 4; i < n + 2; i++)
		check_nth(_metadata, self->kv, i, true);
	check_stat(_metadata, self->kv, n, 2);
}

TEST_F(lru, lru_order_survives_reload)
{
	uint64_t n = self->slots;

	check_nth(_metadata, self->kv, 0, true);	/* 1 is now the LRU */
	rawkv_close(self->kv);
	self->kv = NULL;
	ASSERT_EQ(0, kv_unload());
	ASSERT_EQ(0, kv_load("dev=%s evict=1 %s", KV_DEV_4K, KV_NO_PERIODIC));
	ASSERT_EQ(0, rawkv_open(NULL, &self->kv));

	put_nth(_metadata, self->kv, n);
	check_stat(_metadata, self->kv, n, 1);
	check_nth(_metadata, self->kv, 1, false);
	check_nth(_metadata, self->kv, 0, true);
	check_nth(_metadata, self->kv, 2, true);
}

FIXTURE(no_evict) {
	struct rawkv *kv;
	uint64_t slots;
};

FIXTURE_SETUP(no_evict)
{
	self->slots = fill_device(_metadata, &self->kv, 0);
}

FIXTURE_TEARDOWN(no_evict)
{
	rawkv_close(self->kv);
	EXPECT_EQ(0, kv_unload());
}

TEST_F(no_evict, put_on_full_device_is_enospc_and_loses_nothing)
{
	uint64_t i, n = self->slots;

	ASSERT_EQ(-ENOSPC, rawkv_put(self->kv, "one-more", 8, "x", 1));
	ASSERT_EQ(-ENOSPC, rawkv_put(self->kv, "one-more", 8, "", 0));
	check_stat(_metadata, self->kv, n, 0);
	for (i = 0; i < n; i++)
		check_nth(_metadata, self->kv, i, true);
	ASSERT_EQ(-ENOENT, rawkv_get(self->kv, "one-more", 8, NULL, 0));

	/* a DELETE makes room for exactly one PUT */
	ASSERT_EQ(0, rawkv_delete(self->kv, "fill-0000", 9));
	put_nth(_metadata, self->kv, n);
	ASSERT_EQ(-ENOSPC, rawkv_put(self->kv, "one-more", 8, "x", 1));
	check_stat(_metadata, self->kv, n, 0);
	check_nth(_metadata, self->kv, n, true);
	check_nth(_metadata, self->kv, 0, false);
}

TEST_HARNESS_MAIN
