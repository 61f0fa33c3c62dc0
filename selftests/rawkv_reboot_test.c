// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv across a real reboot of the test VM, in two programs built from
 * this file:
 *
 *   rawkv_reboot_prepare_test (-DREBOOT_PREPARE), last thing of boot 1:
 *	format vda, PUT a known set of keys, overwrite one, delete one,
 *	FLUSH, and leave the module loaded; the VM then powers off without
 *	rmmod, like a power cut right after the FLUSH.
 *   rawkv_reboot_verify_test (-DREBOOT_VERIFY), boot 2:
 *	load vda with format=0 and check every key, byte for byte.
 *
 * The contents are a function of the key index, so neither side needs to
 * tell the other anything.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rawkv_test_util.h"
#include "kselftest_harness.h"

#if defined(REBOOT_PREPARE) == defined(REBOOT_VERIFY)
#error "build with exactly one of -DREBOOT_PREPARE and -DREBOOT_VERIFY"
#endif

#define DEV		KV_DEV_512
#define NKEYS		24
#define DELETED		3	/* PUT, then deleted before the FLUSH */
#define OVERWRITTEN	5	/* PUT twice before the FLUSH */
#define VALUE_MAX	(KV_MiB - RAWKV_BLOCK_SIZE)	/* 1 MiB slots */

/* Key i: text, except one 1-byte and one 255-byte binary key. */
static size_t reboot_key(int i, unsigned char *key)
{
	if (i == 7) {
		key[0] = 0;
		return 1;
	}
	if (i == 8) {
		kv_fill(key, RAWKV_KEY_MAX, 0x8888);
		memset(key + 50, 0, 20);
		return RAWKV_KEY_MAX;
	}
	return sprintf((char *)key, "reboot/key-%02d", i);
}

/* Length and fill seed of the value of key i in @version (1 or 2). */
static size_t reboot_value(int i, int version, uint64_t *seed)
{
	static const size_t sizes[] = {
		0, 1, 511, 4096, 4097, VALUE_MAX, KV_MiB / 2 + 1,
	};

	*seed = 0x5eed0000ULL + i * 16 + version;
	if (i < (int)ARRAY_SIZE(sizes))
		return sizes[i];
	return (i * 7919 + version * 104729) % 200000;
}

FIXTURE(reboot) {
	struct rawkv *kv;
	unsigned char *buf, *want;
};

FIXTURE_TEARDOWN(reboot)
{
	rawkv_close(self->kv);
	free(self->buf);
	free(self->want);
#ifdef REBOOT_VERIFY
	EXPECT_EQ(0, kv_unload());
#endif
	/* prepare: the module stays loaded until the VM powers off */
}

#ifdef REBOOT_PREPARE

FIXTURE_SETUP(reboot)
{
	ASSERT_EQ(0, geteuid()) TH_LOG("run as root in the rawkv test VM");
	self->buf = malloc(VALUE_MAX);
	ASSERT_NE(NULL, self->buf);
	ASSERT_EQ(0, kv_reload("dev=%s format=1 slot_size=%lu", DEV, KV_MiB));
	ASSERT_EQ(0, rawkv_open(NULL, &self->kv));
}

static void put_value(struct __test_metadata *_metadata,
		      FIXTURE_DATA(reboot) *self, int i, int version)
{
	unsigned char key[RAWKV_KEY_MAX];
	size_t klen = reboot_key(i, key), vlen;
	uint64_t seed;

	vlen = reboot_value(i, version, &seed);
	kv_fill(self->buf, vlen, seed);
	ASSERT_EQ(0, rawkv_put(self->kv, key, klen, self->buf, vlen))
		TH_LOG("key %d", i);
}

TEST_F_TIMEOUT(reboot, prepare_keys_flush_and_stay_loaded, 300)
{
	unsigned char key[RAWKV_KEY_MAX];
	struct rawkv_stat st;
	int i;

	for (i = 0; i < NKEYS; i++)
		put_value(_metadata, self, i, 1);
	put_value(_metadata, self, OVERWRITTEN, 2);
	ASSERT_EQ(0, rawkv_delete(self->kv, key, reboot_key(DELETED, key)));
	ASSERT_EQ(0, rawkv_flush(self->kv));
	ASSERT_EQ(0, rawkv_stat(self->kv, &st));
	ASSERT_EQ(NKEYS - 1, st.slots_used);
	ASSERT_LT(0U, st.checkpoint_seq);
	TH_LOG("committed checkpoint %llu; power off without rmmod now",
	       (unsigned long long)st.checkpoint_seq);
}

#else /* REBOOT_VERIFY */

FIXTURE_SETUP(reboot)
{
	ASSERT_EQ(0, geteuid()) TH_LOG("run as root in the rawkv test VM");
	self->buf = malloc(VALUE_MAX + 1);
	self->want = malloc(VALUE_MAX);
	ASSERT_NE(NULL, self->buf);
	ASSERT_NE(NULL, self->want);
	/* never format here: the device holds what boot 1 left */
	if (kv_loaded()) {
		ASSERT_EQ(0, kv_unload());
	}
	ASSERT_EQ(0, kv_load("dev=%s format=0", DEV))
		TH_LOG("no store on %s: did boot 1 run the prepare step?", DEV);
	ASSERT_EQ(0, rawkv_open(NULL, &self->kv));
}

TEST_F_TIMEOUT(reboot, verify_flushed_keys_after_power_off, 300)
{
	unsigned char key[RAWKV_KEY_MAX];
	struct rawkv_stat st;
	size_t klen, vlen;
	uint64_t seed;
	ssize_t got;
	int i;

	ASSERT_EQ(0, rawkv_stat(self->kv, &st));
	ASSERT_EQ(NKEYS - 1, st.slots_used);
	ASSERT_EQ(0U, st.load_dropped);
	ASSERT_LT(0U, st.checkpoint_seq);

	for (i = 0; i < NKEYS; i++) {
		klen = reboot_key(i, key);
		got = rawkv_get(self->kv, key, klen, self->buf, VALUE_MAX + 1);
		if (i == DELETED) {
			ASSERT_EQ(-ENOENT, got) TH_LOG("deleted key came back");
			continue;
		}
		vlen = reboot_value(i, i == OVERWRITTEN ? 2 : 1, &seed);
		ASSERT_EQ((ssize_t)vlen, got) TH_LOG("key %d", i);
		kv_fill(self->want, vlen, seed);
		ASSERT_EQ(0, memcmp(self->want, self->buf, vlen))
			TH_LOG("key %d has the wrong value", i);
	}
	ASSERT_EQ(0, rawkv_stat(self->kv, &st));
	ASSERT_EQ(0U, st.stale_dropped);
	ASSERT_EQ(0U, st.io_errors);
}

#endif

TEST_HARNESS_MAIN
