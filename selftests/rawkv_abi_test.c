// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv ioctl ABI, exercised with raw ioctls on /dev/rawkv: bad pointers
 * (-EFAULT), nonzero flags and reserved fields (-EINVAL), key and value
 * limits, the GET length protocol and unknown commands (-ENOTTY). A failed
 * command must leave the store as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rawkv_test_util.h"
#include "../uapi/rawkv.h"
#include "kselftest_harness.h"

#define PAGE		4096
#define VAL_LEN		100
#define KEY		"abi-key"

FIXTURE(abi) {
	int fd;
	void *unmapped;		/* an address with nothing mapped */
	unsigned char val[VAL_LEN];	/* the value of KEY */
	uint64_t value_max;
};

/* The ioctl's result as 0 or -errno. */
static int kv_ioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

static struct rawkv_kv kv_arg(const void *key, size_t klen, const void *val,
			      size_t vlen)
{
	struct rawkv_kv kv = {
		.key_ptr = (uintptr_t)key,
		.val_ptr = (uintptr_t)val,
		.key_len = klen,
		.val_len = vlen,
	};

	return kv;
}

/* KEY must still hold self->val: a failed command changed nothing. */
static void check_key_intact(struct __test_metadata *_metadata,
			     FIXTURE_DATA(abi) *self)
{
	unsigned char buf[VAL_LEN * 2];
	struct rawkv_kv kv = kv_arg(KEY, strlen(KEY), buf, sizeof(buf));

	ASSERT_EQ(0, kv_ioctl(self->fd, RAWKV_IOC_GET, &kv));
	ASSERT_EQ(VAL_LEN, kv.val_len);
	ASSERT_EQ(0, memcmp(buf, self->val, VAL_LEN));
}

FIXTURE_SETUP(abi)
{
	struct rawkv_ioc_stat st = { 0 };
	struct rawkv_kv kv;

	self->fd = -1;
	ASSERT_EQ(0, geteuid()) TH_LOG("run as root in the rawkv test VM");
	ASSERT_EQ(0, kv_reload("dev=%s format=1 slot_size=%lu", KV_DEV_4K,
			       KV_MiB));
	self->fd = open("/dev/rawkv", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);

	self->unmapped = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->unmapped);
	ASSERT_EQ(0, munmap(self->unmapped, PAGE));

	kv_fill(self->val, VAL_LEN, 77);
	kv = kv_arg(KEY, strlen(KEY), self->val, VAL_LEN);
	ASSERT_EQ(0, kv_ioctl(self->fd, RAWKV_IOC_PUT, &kv));
	ASSERT_EQ(0, kv_ioctl(self->fd, RAWKV_IOC_STAT, &st));
	self->value_max = st.value_max;
	ASSERT_EQ(KV_MiB - RAWKV_BLOCK_SIZE, self->value_max);
}

FIXTURE_TEARDOWN(abi)
{
	if (self->fd >= 0)
		close(self->fd);
	EXPECT_EQ(0, kv_unload());
}

TEST_F(abi, put_with_null_or_unmapped_key_is_efault)
{
	struct rawkv_kv kv = kv_arg(NULL, 5, "value", 5);

	ASSERT_EQ(-EFAULT, kv_ioctl(self->fd, RAWKV_IOC_PUT, &kv));
	kv.key_ptr = (uintptr_t)self->unmapped;
	ASSERT_EQ(-EFAULT, kv_ioctl(self->fd, RAWKV_IOC_PUT, &kv));
	check_key_intact(_metadata, self);
}

TEST_F(abi, put_with_null_or_unmapped_value_is_efault)
{
	struct rawkv_kv kv = kv_arg(KEY, strlen(KEY), NULL, 10);

	ASSERT_EQ(-EFAULT, kv_ioctl(self->fd, RAWKV_IOC_PUT, &kv));
	kv.val_ptr = (uintptr_t)self->unmapped;
	ASSERT_EQ(-EFAULT, kv_ioctl(self->fd, RAWKV_IOC_PUT, &kv));
	check_key_intact(_metadata, self);
}

TEST_F(abi, put_with_value_running_into_unmapped_page_is_efault)
{
	char *map = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct rawkv_kv kv;

	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, munmap(map + PAGE, PAGE));
	memset(map, 'x', PAGE);
	/* 3 pages from 100 bytes before the hole */
	kv = kv_arg(KEY, strlen(KEY), map + PAGE - 100, 3 * PAGE);
	ASSERT_EQ(-EFAULT, kv_ioctl(self->fd, RAWKV_IOC_PUT, &kv));
	check_key_intact(_metadata, self);
	munmap(map, PAGE);
}

TEST_F(abi, get_with_null_or_unmapped_key_is_efault)
{
	unsigned char buf[VAL_LEN];
	struct rawkv_kv kv = kv_arg(NULL, strlen(KEY), buf, sizeof(buf));

	ASSERT_EQ(-EFAULT, kv_ioctl(self->fd, RAWKV_IOC_GET, &kv));
	kv.key_ptr = (uintptr_t)self->unmapped;
	ASSERT_EQ(-EFAULT, kv_ioctl(self->fd, RAWKV_IOC_GET, &kv));
}

TEST_F(abi, get_into_null_unmapped_or_read_only_buffer_is_efault)
{
	void *ro = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
			-1, 0);
	struct rawkv_kv kv = kv_arg(KEY, strlen(KEY), NULL, VAL_LEN);

	ASSERT_NE(MAP_FAILED, ro);
	ASSERT_EQ(-EFAULT, kv_ioctl(self->fd, RAWKV_IOC_GET, &kv));
	kv = kv_arg(KEY, strlen(KEY), self->unmapped, VAL_LEN);
	ASSERT_EQ(-EFAULT, kv_ioctl(self->fd, RAWKV_IOC_GET, &kv));
	kv = kv_arg(KEY, strlen(KEY), ro, VAL_LEN);
	ASSERT_EQ(-EFAULT, kv_ioctl(self->fd, RAWKV_IOC_GET, &kv));
	munmap(ro, PAGE);
	/* a buffer fault is not a bad value: the key is not dropped */
	check_key_intact(_metadata, self);
}

TEST_F(abi, delete_with_unmapped_key_is_efault)
{
	struct rawkv_kv kv = kv_arg(self->unmapped, strlen(KEY), NULL, 0);

	ASSERT_EQ(-EFAULT, kv_ioctl(self->fd, RAWKV_IOC_DELETE, &kv));
	check_key_intact(_metadata, self);
}

TEST_F(abi, unmapped_argument_struct_is_efault)
{
	ASSERT_EQ(-EFAULT, kv_ioctl(self->fd, RAWKV_IOC_PUT, self->unmapped));
	ASSERT_EQ(-EFAULT, kv_ioctl(self->fd, RAWKV_IOC_GET, self->unmapped));
	ASSERT_EQ(-EFAULT, kv_ioctl(self->fd, RAWKV_IOC_DELETE,
				    self->unmapped));
	ASSERT_EQ(-EFAULT, kv_ioctl(self->fd, RAWKV_IOC_FLUSH, self->unmapped));
	ASSERT_EQ(-EFAULT, kv_ioctl(self->fd, RAWKV_IOC_STAT, self->unmapped));
	ASSERT_EQ(-EFAULT, kv_ioctl(self->fd, RAWKV_IOC_STAT, NULL));
	check_key_intact(_metadata, self);
}

TEST_F(abi, nonzero_flags_are_einval)
{
	/* RAWKV_PUT_SYNC is the only flag, and only for PUT. */
	static const uint32_t bad[] = { RAWKV_PUT_SYNC, 0x80000000u };
	static const uint32_t bad_put[] = { 2, RAWKV_PUT_SYNC | 4, 0x80000000u };
	unsigned char buf[VAL_LEN];
	struct rawkv_ioc_stat st;
	struct rawkv_flush fl;
	struct rawkv_kv kv;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad_put); i++) {
		kv = kv_arg(KEY, strlen(KEY), "new", 3);
		kv.flags = bad_put[i];
		ASSERT_EQ(-EINVAL, kv_ioctl(self->fd, RAWKV_IOC_PUT, &kv));
	}
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		kv = kv_arg(KEY, strlen(KEY), buf, sizeof(buf));
		kv.flags = bad[i];
		ASSERT_EQ(-EINVAL, kv_ioctl(self->fd, RAWKV_IOC_GET, &kv));
		kv = kv_arg(KEY, strlen(KEY), NULL, 0);
		kv.flags = bad[i];
		ASSERT_EQ(-EINVAL, kv_ioctl(self->fd, RAWKV_IOC_DELETE, &kv));
		memset(&fl, 0, sizeof(fl));
		fl.flags = bad[i];
		ASSERT_EQ(-EINVAL, kv_ioctl(self->fd, RAWKV_IOC_FLUSH, &fl));
		memset(&st, 0, sizeof(st));
		st.flags = bad[i];
		ASSERT_EQ(-EINVAL, kv_ioctl(self->fd, RAWKV_IOC_STAT, &st));
	}
	check_key_intact(_metadata, self);
}

TEST_F(abi, nonzero_reserved_fields_are_einval)
{
	static const unsigned long cmds[] = {
		RAWKV_IOC_PUT, RAWKV_IOC_GET, RAWKV_IOC_DELETE,
	};
	unsigned char buf[VAL_LEN];
	struct rawkv_flush fl;
	struct rawkv_kv kv;
	size_t c, r;

	for (c = 0; c < 3; c++) {
		/* reserved; then meta_ptr without meta_len */
		for (r = 0; r < 2; r++) {
			if (cmds[c] == RAWKV_IOC_DELETE)
				kv = kv_arg(KEY, strlen(KEY), NULL, 0);
			else if (cmds[c] == RAWKV_IOC_GET)
				kv = kv_arg(KEY, strlen(KEY), buf, sizeof(buf));
			else
				kv = kv_arg(KEY, strlen(KEY), "new", 3);
			if (r)
				kv.meta_ptr = (uintptr_t)buf;
			else
				kv.reserved = 1U << 31;
			ASSERT_EQ(-EINVAL, kv_ioctl(self->fd, cmds[c], &kv))
				TH_LOG("command %zu, case %zu", c, r);
		}
	}
	memset(&fl, 0, sizeof(fl));
	fl.reserved0 = 1;
	ASSERT_EQ(-EINVAL, kv_ioctl(self->fd, RAWKV_IOC_FLUSH, &fl));
	for (r = 0; r < 2; r++) {
		memset(&fl, 0, sizeof(fl));
		fl.reserved[r] = 1ULL << 63;
		ASSERT_EQ(-EINVAL, kv_ioctl(self->fd, RAWKV_IOC_FLUSH, &fl));
	}
	check_key_intact(_metadata, self);
}

TEST_F(abi, delete_with_value_pointer_or_length_is_einval)
{
	struct rawkv_kv kv = kv_arg(KEY, strlen(KEY), self->val, 0);

	ASSERT_EQ(-EINVAL, kv_ioctl(self->fd, RAWKV_IOC_DELETE, &kv));
	kv = kv_arg(KEY, strlen(KEY), NULL, VAL_LEN);
	ASSERT_EQ(-EINVAL, kv_ioctl(self->fd, RAWKV_IOC_DELETE, &kv));
	check_key_intact(_metadata, self);
}

TEST_F(abi, key_length_0_256_and_huge_are_einval)
{
	static const uint32_t lens[] = { 0, RAWKV_KEY_MAX + 1, 0xffffffffu };
	unsigned char key[512] = KEY, buf[VAL_LEN];
	struct rawkv_kv kv;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		kv = kv_arg(key, lens[i], "v", 1);
		ASSERT_EQ(-EINVAL, kv_ioctl(self->fd, RAWKV_IOC_PUT, &kv));
		kv = kv_arg(key, lens[i], buf, sizeof(buf));
		ASSERT_EQ(-EINVAL, kv_ioctl(self->fd, RAWKV_IOC_GET, &kv));
		kv = kv_arg(key, lens[i], NULL, 0);
		ASSERT_EQ(-EINVAL, kv_ioctl(self->fd, RAWKV_IOC_DELETE, &kv));
	}
	check_key_intact(_metadata, self);
}

TEST_F(abi, value_longer_than_value_max_is_e2big)
{
	static const uint64_t huge[] = { 1ULL << 32, 1ULL << 63, ~0ULL };
	size_t len = self->value_max + 1;
	char *big = calloc(1, len);
	struct rawkv_kv kv = kv_arg(KEY, strlen(KEY), big, len);
	size_t i;

	ASSERT_NE(NULL, big);
	ASSERT_EQ(-E2BIG, kv_ioctl(self->fd, RAWKV_IOC_PUT, &kv));
	for (i = 0; i < ARRAY_SIZE(huge); i++) {
		kv.val_len = huge[i];
		ASSERT_EQ(-E2BIG, kv_ioctl(self->fd, RAWKV_IOC_PUT, &kv))
			TH_LOG("val_len %#llx", (unsigned long long)huge[i]);
	}
	free(big);
	check_key_intact(_metadata, self);
}

TEST_F(abi, get_reports_value_length_on_query_and_on_erange)
{
	unsigned char buf[VAL_LEN];
	struct rawkv_kv kv = kv_arg(KEY, strlen(KEY), NULL, 0);

	ASSERT_EQ(0, kv_ioctl(self->fd, RAWKV_IOC_GET, &kv));
	ASSERT_EQ(VAL_LEN, kv.val_len);

	kv = kv_arg(KEY, strlen(KEY), buf, VAL_LEN - 1);
	ASSERT_EQ(-ERANGE, kv_ioctl(self->fd, RAWKV_IOC_GET, &kv));
	ASSERT_EQ(VAL_LEN, kv.val_len);

	kv = kv_arg(KEY, strlen(KEY), buf, 1ULL << 40);	/* big is fine */
	ASSERT_EQ(0, kv_ioctl(self->fd, RAWKV_IOC_GET, &kv));
	ASSERT_EQ(VAL_LEN, kv.val_len);
	ASSERT_EQ(0, memcmp(buf, self->val, VAL_LEN));
}

TEST_F(abi, flush_returns_the_committed_checkpoint_seq)
{
	struct rawkv_ioc_stat st = { 0 };
	struct rawkv_flush fl = { 0 };

	fl.checkpoint_seq = ~0ULL;	/* an output: its input is ignored */
	ASSERT_EQ(0, kv_ioctl(self->fd, RAWKV_IOC_FLUSH, &fl));
	ASSERT_EQ(0, kv_ioctl(self->fd, RAWKV_IOC_STAT, &st));
	ASSERT_NE(~0ULL, fl.checkpoint_seq);
	ASSERT_EQ(st.checkpoint_seq, fl.checkpoint_seq);
	ASSERT_EQ(0U, fl.flags);
	ASSERT_EQ(0U, fl.reserved0);
	ASSERT_EQ(0U, fl.reserved[0]);
	ASSERT_EQ(0U, fl.reserved[1]);
}

TEST_F(abi, stat_fills_size_key_max_and_zero_reserved)
{
	struct rawkv_ioc_stat st;
	size_t i;

	memset(&st, 0xff, sizeof(st));
	st.flags = 0;
	ASSERT_EQ(0, kv_ioctl(self->fd, RAWKV_IOC_STAT, &st));
	ASSERT_LE(offsetof(struct rawkv_ioc_stat, reserved), st.size);
	ASSERT_GE(sizeof(st), st.size);
	ASSERT_EQ(RAWKV_KEY_MAX, st.key_max);
	ASSERT_EQ(1U, st.slots_used);
	ASSERT_EQ(1U, st.puts);
	for (i = 0; i < ARRAY_SIZE(st.reserved); i++) {
		ASSERT_EQ(0U, st.reserved[i]);
	}
}

TEST_F(abi, unknown_commands_are_enotty)
{
	static const unsigned long cmds[] = {
		_IOWR(RAWKV_IOC_MAGIC, 99, struct rawkv_kv),
		_IOWR(RAWKV_IOC_MAGIC, 0, struct rawkv_kv),
		_IOWR(RAWKV_IOC_MAGIC, 6, struct rawkv_kv),
		_IO(RAWKV_IOC_MAGIC, 1),			/* no argument */
		_IOR(RAWKV_IOC_MAGIC, 1, struct rawkv_kv),	/* direction */
		_IOWR(RAWKV_IOC_MAGIC, 1, struct rawkv_flush),	/* size */
		_IOWR(RAWKV_IOC_MAGIC + 1, 1, struct rawkv_kv),	/* magic */
		TCGETS,						/* foreign */
		BLKGETSIZE64,
	};
	unsigned char arg[512] = { 0 };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		ASSERT_EQ(-ENOTTY, kv_ioctl(self->fd, cmds[i], arg))
			TH_LOG("command %#lx", cmds[i]);
	}
	check_key_intact(_metadata, self);
}

TEST_HARNESS_MAIN
