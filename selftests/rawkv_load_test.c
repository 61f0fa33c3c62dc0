// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv module parameters: every refused load (missing device, not a block
 * device, device claimed by someone else, device too small, bad slot_size,
 * no superblock with format=0) fails with its errno and leaves nothing
 * loaded; the limits of slot_size are accepted.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rawkv_test_util.h"
#include "kselftest_harness.h"

#define REGULAR_FILE	"/tmp/rawkv-regular-file"

FIXTURE(load) {
	int fd;
};

FIXTURE_SETUP(load)
{
	self->fd = -1;
	ASSERT_EQ(0, geteuid()) TH_LOG("run as root in the rawkv test VM");
	if (kv_loaded()) {
		ASSERT_EQ(0, kv_unload());
	}
}

FIXTURE_TEARDOWN(load)
{
	int ret;

	if (self->fd >= 0)
		close(self->fd);
	ret = kv_unload();
	EXPECT_TRUE(ret == 0 || ret == -ENOENT);
	unlink(REGULAR_FILE);
}

/* A refused load leaves neither the module nor its device node behind. */
static void check_not_loaded(struct __test_metadata *_metadata)
{
	ASSERT_FALSE(kv_loaded());
	ASSERT_NE(0, access("/dev/rawkv", F_OK));
}

TEST_F(load, valid_parameters_load_and_format_0_reloads)
{
	struct rawkv *kv;

	ASSERT_EQ(0, kv_load("dev=%s format=1", KV_DEV_4K));
	ASSERT_TRUE(kv_loaded());
	ASSERT_EQ(0, rawkv_open(NULL, &kv));
	rawkv_close(kv);
	ASSERT_EQ(0, kv_unload());
	check_not_loaded(_metadata);
	ASSERT_EQ(0, kv_load("dev=%s", KV_DEV_4K));
	ASSERT_EQ(0, kv_unload());
}

/*
 * Without dev= the module loads with only the control device: stores are
 * attached later (rawkv_multi_test). A bad parameter still fails the load.
 */
TEST_F(load, no_dev_parameter_loads_only_the_control_device)
{
	const char *params[] = { "", "dev=", "format=1 slot_size=65536" };
	unsigned int i;

	for (i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		ASSERT_EQ(0, kv_load("%s", params[i])) TH_LOG("'%s'", params[i]);
		EXPECT_EQ(0, access("/dev/rawkv-control", F_OK));
		EXPECT_NE(0, access("/dev/rawkv", F_OK));
		ASSERT_EQ(0, kv_unload());
	}
	ASSERT_EQ(-EINVAL, kv_load("slot_size=1000"));
	check_not_loaded(_metadata);
}

TEST_F(load, missing_device_path_is_enoent)
{
	ASSERT_EQ(-ENOENT, kv_load("dev=/dev/rawkv-no-such-disk format=1"));
	check_not_loaded(_metadata);
	ASSERT_EQ(-ENOENT, kv_load("dev=/no/such/dir/vda format=1"));
	check_not_loaded(_metadata);
}

TEST_F(load, character_device_is_enotblk)
{
	ASSERT_EQ(-ENOTBLK, kv_load("dev=/dev/null format=1"));
	check_not_loaded(_metadata);
}

TEST_F(load, regular_file_is_enotblk)
{
	int fd = open(REGULAR_FILE, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
		      0600);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, 64 * KV_MiB));
	close(fd);
	ASSERT_EQ(-ENOTBLK, kv_load("dev=%s format=1", REGULAR_FILE));
	check_not_loaded(_metadata);
}

TEST_F(load, directory_is_enotblk)
{
	ASSERT_EQ(-ENOTBLK, kv_load("dev=/tmp format=1"));
	check_not_loaded(_metadata);
}

TEST_F(load, device_claimed_exclusively_is_ebusy)
{
	self->fd = open(KV_DEV_4K, O_RDONLY | O_EXCL | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(-EBUSY, kv_load("dev=%s format=1", KV_DEV_4K));
	check_not_loaded(_metadata);
	close(self->fd);
	self->fd = -1;
	ASSERT_EQ(0, kv_load("dev=%s format=1", KV_DEV_4K));
	ASSERT_EQ(0, kv_unload());
}

TEST_F(load, loaded_module_claims_its_device)
{
	ASSERT_EQ(0, kv_load("dev=%s format=1", KV_DEV_4K));
	ASSERT_GT(0, open(KV_DEV_4K, O_RDONLY | O_EXCL | O_CLOEXEC));
	ASSERT_EQ(EBUSY, errno);
	ASSERT_EQ(0, kv_unload());
	self->fd = open(KV_DEV_4K, O_RDONLY | O_EXCL | O_CLOEXEC);
	ASSERT_LE(0, self->fd) TH_LOG("rmmod did not release %s", KV_DEV_4K);
}

TEST_F(load, device_too_small_is_refused)
{
	int ret = kv_load("dev=%s format=1 slot_size=8192", KV_DEV_TINY);

	ASSERT_TRUE(ret == -ENOSPC || ret == -EINVAL) TH_LOG("load: %d", ret);
	check_not_loaded(_metadata);
	ret = kv_load("dev=%s format=0", KV_DEV_TINY);
	ASSERT_TRUE(ret == -ENOSPC || ret == -EINVAL) TH_LOG("load: %d", ret);
	check_not_loaded(_metadata);
}

TEST_F(load, bad_slot_size_is_einval)
{
	static const unsigned long bad[] = {
		0, 1, 4096, 8191, 12288, 3 * KV_MiB, 256 * KV_MiB,
		0x80000000UL,
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		ASSERT_EQ(-EINVAL, kv_load("dev=%s format=1 slot_size=%lu",
					   KV_DEV_4K, bad[i]))
			TH_LOG("slot_size=%lu", bad[i]);
		check_not_loaded(_metadata);
	}
}

/* Format @dev with @slot_size and check the geometry the module reports. */
static void check_slot_size(struct __test_metadata *_metadata,
			    const char *dev, unsigned long slot_size)
{
	struct rawkv_stat st;
	struct rawkv *kv;

	ASSERT_EQ(0, kv_load("dev=%s format=1 slot_size=%lu", dev, slot_size));
	ASSERT_EQ(0, rawkv_open(NULL, &kv));
	ASSERT_EQ(0, rawkv_stat(kv, &st));
	rawkv_close(kv);
	ASSERT_EQ(slot_size, st.slot_size);
	ASSERT_EQ(slot_size - RAWKV_BLOCK_SIZE, st.value_max);
	ASSERT_LT(0U, st.slots_total);
	ASSERT_GE(st.device_bytes, st.slots_total * st.slot_size);
	ASSERT_EQ(0, kv_unload());
}

TEST_F(load, smallest_and_largest_slot_size_are_accepted)
{
	check_slot_size(_metadata, KV_DEV_4K, RAWKV_SLOT_SIZE_MIN);
	check_slot_size(_metadata, KV_DEV_512, RAWKV_SLOT_SIZE_MAX);
}

TEST_F(load, no_superblock_with_format_0_is_einval)
{
	void *zero = kv_alloc_aligned(RAWKV_BLOCK_SIZE);

	ASSERT_NE(NULL, zero);
	ASSERT_EQ(0, kv_dev_write(KV_DEV_4K, 0, zero, RAWKV_BLOCK_SIZE));
	free(zero);
	ASSERT_EQ(-EINVAL, kv_load("dev=%s format=0", KV_DEV_4K));
	check_not_loaded(_metadata);
	ASSERT_EQ(-EINVAL, kv_load("dev=%s", KV_DEV_4K));
	check_not_loaded(_metadata);
}

TEST_HARNESS_MAIN
