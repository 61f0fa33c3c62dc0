// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv persistence across rmmod and insmod (format=0): everything
 * acknowledged before rmmod is there after the reload (rmmod checkpoints),
 * deleted keys stay deleted, the geometry comes from the superblock, and
 * the free slots are rebuilt exactly.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rawkv_test_util.h"
#include "kselftest_harness.h"

#define NKEYS		40
#define VAL_MAX		(40 * 1024)

/* What the store should hold for key i of the model. */
struct model {
	unsigned char key[NKEYS][RAWKV_KEY_MAX];
	size_t klen[NKEYS];
	size_t vlen[NKEYS];
	uint64_t seed[NKEYS];
	bool present[NKEYS];
};

FIXTURE(persist) {
	struct rawkv *kv;
	struct model m;
	unsigned char *buf;
};

FIXTURE_SETUP(persist)
{
	int i;

	ASSERT_EQ(0, geteuid()) TH_LOG("run as root in the rawkv test VM");
	ASSERT_EQ(0, kv_reload("dev=%s format=1 slot_size=%lu %s", KV_DEV_4K,
			       KV_MiB, KV_NO_PERIODIC));
	ASSERT_EQ(0, rawkv_open(NULL, &self->kv));
	self->buf = malloc(VAL_MAX + 1);
	ASSERT_NE(NULL, self->buf);

	/* Text keys, one empty-valued key, one 255-byte binary key. */
	for (i = 0; i < NKEYS; i++)
		self->m.klen[i] = snprintf((char *)self->m.key[i],
					   RAWKV_KEY_MAX, "persist-%d", i);
	kv_fill(self->m.key[1], RAWKV_KEY_MAX, 5);
	memset(self->m.key[1] + 10, 0, 10);
	self->m.klen[1] = RAWKV_KEY_MAX;
}

FIXTURE_TEARDOWN(persist)
{
	rawkv_close(self->kv);
	free(self->buf);
	EXPECT_EQ(0, kv_unload());
}

static void put_key(struct __test_metadata *_metadata,
		    FIXTURE_DATA(persist) *self, int i, uint64_t seed)
{
	struct model *m = &self->m;

	m->seed[i] = seed;
	m->vlen[i] = i == 0 ? 0 : kv_rand(&seed) % VAL_MAX;
	kv_fill(self->buf, m->vlen[i], m->seed[i]);
	ASSERT_EQ(0, rawkv_put(self->kv, m->key[i], m->klen[i], self->buf,
			       m->vlen[i]));
	m->present[i] = true;
}

static void delete_key(struct __test_metadata *_metadata,
		       FIXTURE_DATA(persist) *self, int i)
{
	ASSERT_EQ(0, rawkv_delete(self->kv, self->m.key[i], self->m.klen[i]));
	self->m.present[i] = false;
}

/* Every key of the model reads as the model says; return how many exist. */
static int check_model(struct __test_metadata *_metadata,
		       FIXTURE_DATA(persist) *self)
{
	unsigned char *want = malloc(VAL_MAX);
	struct model *m = &self->m;
	int i, n = 0;
	ssize_t got;

	ASSERT_NE(NULL, want);
	for (i = 0; i < NKEYS; i++) {
		got = rawkv_get(self->kv, m->key[i], m->klen[i], self->buf,
				VAL_MAX + 1);
		if (!m->present[i]) {
			ASSERT_EQ(-ENOENT, got) TH_LOG("deleted key %d", i);
			continue;
		}
		ASSERT_EQ((ssize_t)m->vlen[i], got) TH_LOG("key %d", i);
		kv_fill(want, m->vlen[i], m->seed[i]);
		ASSERT_EQ(0, memcmp(want, self->buf, m->vlen[i]))
			TH_LOG("key %d has the wrong value", i);
		n++;
	}
	free(want);
	return n;
}

/* rmmod, then insmod without format=0 and reopen. */
static void reload(struct __test_metadata *_metadata,
		   FIXTURE_DATA(persist) *self, const char *extra)
{
	rawkv_close(self->kv);
	self->kv = NULL;
	ASSERT_EQ(0, kv_unload());
	ASSERT_EQ(0, kv_load("dev=%s format=0 %s %s", KV_DEV_4K,
			     KV_NO_PERIODIC, extra));
	ASSERT_EQ(0, rawkv_open(NULL, &self->kv));
}

static void check_slots_used(struct __test_metadata *_metadata,
			     struct rawkv *kv, int n)
{
	struct rawkv_stat st;

	ASSERT_EQ(0, rawkv_stat(kv, &st));
	ASSERT_EQ((uint64_t)n, st.slots_used);
	ASSERT_EQ(0U, st.load_dropped);
}

TEST_F(persist, flushed_and_unflushed_changes_survive_rmmod)
{
	int i, n;

	for (i = 0; i < 20; i++)
		put_key(_metadata, self, i, 100 + i);
	ASSERT_EQ(0, rawkv_flush(self->kv));
	/* after the FLUSH: new keys, overwrites and deletes */
	for (i = 20; i < 30; i++)
		put_key(_metadata, self, i, 100 + i);
	put_key(_metadata, self, 3, 1003);
	put_key(_metadata, self, 25, 1025);
	delete_key(_metadata, self, 5);
	delete_key(_metadata, self, 22);
	n = check_model(_metadata, self);

	reload(_metadata, self, "");
	ASSERT_EQ(n, check_model(_metadata, self));
	check_slots_used(_metadata, self->kv, n);
}

TEST_F(persist, values_survive_repeated_reloads)
{
	int i, n, round;

	for (i = 0; i < NKEYS; i++)
		put_key(_metadata, self, i, 200 + i);
	for (round = 0; round < 3; round++) {
		/* change a few keys each round, flushed or not */
		put_key(_metadata, self, round, 300 + round);
		delete_key(_metadata, self, 10 + round);
		if (round == 1) {
			ASSERT_EQ(0, rawkv_flush(self->kv));
		}
		n = check_model(_metadata, self);
		reload(_metadata, self, "");
		ASSERT_EQ(n, check_model(_metadata, self));
		check_slots_used(_metadata, self->kv, n);
	}
}

TEST_F(persist, deleting_everything_survives_rmmod)
{
	int i;

	for (i = 0; i < 10; i++)
		put_key(_metadata, self, i, 400 + i);
	ASSERT_EQ(0, rawkv_flush(self->kv));
	for (i = 0; i < 10; i++)
		delete_key(_metadata, self, i);
	reload(_metadata, self, "");
	ASSERT_EQ(0, check_model(_metadata, self));
	check_slots_used(_metadata, self->kv, 0);
}

TEST_F(persist, geometry_comes_from_the_superblock)
{
	struct rawkv_stat before, after;

	rawkv_close(self->kv);
	self->kv = NULL;
	ASSERT_EQ(0, kv_reload("dev=%s format=1 slot_size=65536", KV_DEV_4K));
	ASSERT_EQ(0, rawkv_open(NULL, &self->kv));
	put_key(_metadata, self, 7, 7);
	ASSERT_EQ(0, rawkv_stat(self->kv, &before));
	ASSERT_EQ(65536U, before.slot_size);

	/* format=0 ignores slot_size: the device keeps its layout */
	reload(_metadata, self, "slot_size=1048576");
	ASSERT_EQ(0, rawkv_stat(self->kv, &after));
	ASSERT_EQ(before.slot_size, after.slot_size);
	ASSERT_EQ(before.slots_total, after.slots_total);
	ASSERT_EQ(before.value_max, after.value_max);
	ASSERT_EQ(1, check_model(_metadata, self));
}

TEST_F(persist, free_slots_are_rebuilt_exactly_at_load)
{
	struct rawkv_stat st;
	uint64_t i, free_slots;
	char key[32];

	for (i = 0; i < 20; i++)
		put_key(_metadata, self, i, 500 + i);
	put_key(_metadata, self, 4, 504);	/* a replaced slot ... */
	delete_key(_metadata, self, 6);		/* ... and a deleted one */
	reload(_metadata, self, "evict=0");
	ASSERT_EQ(0, rawkv_stat(self->kv, &st));
	ASSERT_EQ(19U, st.slots_used);

	/* every free slot takes a PUT, and not one more */
	free_slots = st.slots_total - st.slots_used;
	for (i = 0; i < free_slots; i++) {
		snprintf(key, sizeof(key), "filler-%llu", (unsigned long long)i);
		ASSERT_EQ(0, rawkv_put(self->kv, key, strlen(key), key, 8))
			TH_LOG("PUT %llu of %llu free slots",
			       (unsigned long long)i,
			       (unsigned long long)free_slots);
	}
	ASSERT_EQ(-ENOSPC, rawkv_put(self->kv, "one-more", 8, "x", 1));
	/* and none of them landed on a slot that was in use */
	ASSERT_EQ(19, check_model(_metadata, self));
	for (i = 0; i < free_slots; i++) {
		snprintf(key, sizeof(key), "filler-%llu", (unsigned long long)i);
		ASSERT_EQ(8, rawkv_get(self->kv, key, strlen(key), self->buf,
				       VAL_MAX));
		ASSERT_EQ(0, memcmp(self->buf, key, 8));
	}
}

TEST_HARNESS_MAIN
