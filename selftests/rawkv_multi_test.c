// SPDX-License-Identifier: GPL-2.0
/*
 * Several stores in one module: attach three stores on three disks
 * through /dev/rawkv-control, use them from several processes at once,
 * detach one while another is busy (the busy one refuses with -EBUSY),
 * reload the module and find every flushed value; the attributes in sysfs
 * agree with RAWKV_IOC_STAT; bad control requests fail with their errno
 * and change nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rawkv.h>	/* uapi/rawkv.h: the control ioctls, raw */
#include "rawkv_test_util.h"
#include "kselftest_harness.h"

#define NSTORES		3
#define NPROCS		3
#define NKEYS		24		/* per process and store */
#define VAL_MAX		(96 * 1024)

/* 1 GiB with 1 MiB slots; 64 MiB with 128 KiB slots (4 KiB blocks), the same (512 B). */
static const char *const disks[NSTORES] = {
	KV_DEV_512, KV_DEV_4K, KV_DEV_LW_DATA,
};

static size_t val_len(int store, int proc, int k)
{
	uint64_t s = (uint64_t)store << 32 | proc << 16 | k;

	return kv_rand(&s) % VAL_MAX + 1;
}

static uint64_t val_seed(int store, int proc, int k, int round)
{
	return (uint64_t)round << 48 | (uint64_t)store << 32 | proc << 16 | k;
}

static int key_of(char *key, int proc, int k)
{
	return sprintf(key, "multi-p%d-k%d", proc, k);
}

static bool node_exists(const char *path)
{
	struct stat st;

	return !stat(path, &st);
}

/* Read a sysfs attribute of store @name as a number; -1 if none. */
static long long sysfs_num(const char *name, const char *attr)
{
	char path[128], buf[64];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/misc/%s/%s", name, attr);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		v = strtoll(buf, NULL, 10);
	fclose(f);
	return v;
}

static int sysfs_str(const char *name, const char *attr, char *buf, size_t len)
{
	char path[128];
	FILE *f;
	int ret = -1;

	snprintf(path, sizeof(path), "/sys/class/misc/%s/%s", name, attr);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(buf, len, f)) {
		buf[strcspn(buf, "\n")] = '\0';
		ret = 0;
	}
	fclose(f);
	return ret;
}

static int attach(const char *dev, bool format, unsigned long long slot,
		  unsigned int *id)
{
	struct rawkv_attach_opts o = {
		.flags = format ? RAWKV_ATTACH_FORMAT : 0,
		.slot_size = slot,
		.checkpoint_ms = 3600000,
	};

	return rawkv_attach(dev, &o, id);
}

/*
 * One process's share: PUT its keys of round @round into every store,
 * then flush each store. Exit status 0 when everything succeeded.
 */
static int writer(int proc, int round)
{
	unsigned char *buf = malloc(VAL_MAX);
	char node[32], key[64];
	struct rawkv *kv;
	int s, k, n;

	if (!buf)
		return 1;
	for (s = 0; s < NSTORES; s++) {
		rawkv_store_path(s, node, sizeof(node));
		if (rawkv_open(node, &kv))
			return 2;
		for (k = 0; k < NKEYS; k++) {
			n = key_of(key, proc, k);
			kv_fill(buf, val_len(s, proc, k), val_seed(s, proc, k, round));
			if (rawkv_put(kv, key, n, buf, val_len(s, proc, k)))
				return 3;
		}
		if (rawkv_flush(kv))
			return 4;
		rawkv_close(kv);
	}
	free(buf);
	return 0;
}

/* Every key of every process in store @s holds round @round's value. */
static int check_store(struct __test_metadata *_metadata, int s, int round)
{
	unsigned char *buf = malloc(VAL_MAX), *want = malloc(VAL_MAX);
	char node[32], key[64];
	struct rawkv *kv;
	int p, k, n, bad = 0;
	ssize_t got;

	rawkv_store_path(s, node, sizeof(node));
	if (rawkv_open(node, &kv)) {
		TH_LOG("cannot open %s", node);
		return -1;
	}
	for (p = 0; p < NPROCS; p++)
		for (k = 0; k < NKEYS; k++) {
			size_t len = val_len(s, p, k);

			n = key_of(key, p, k);
			got = rawkv_get(kv, key, n, buf, VAL_MAX);
			kv_fill(want, len, val_seed(s, p, k, round));
			if (got != (ssize_t)len || memcmp(buf, want, len)) {
				if (!bad++)
					TH_LOG("%s: %s: got %zd, want %zu bytes%s", node,
					       key, got, len, got == (ssize_t)len ?
					       " (different bytes)" : "");
			}
		}
	rawkv_close(kv);
	free(buf);
	free(want);
	return bad;
}

FIXTURE(multi) {
	unsigned int id[NSTORES];
};

FIXTURE_SETUP(multi)
{
	int s;

	ASSERT_EQ(0, geteuid()) TH_LOG("run as root in the rawkv test VM");
	/* No dev=: only the control device. */
	ASSERT_EQ(0, kv_reload("%s", ""));
	ASSERT_TRUE(node_exists(RAWKV_CONTROL_DEVICE));
	ASSERT_FALSE(node_exists("/dev/rawkv"));
	for (s = 0; s < NSTORES; s++) {
		ASSERT_EQ(0, attach(disks[s], true, s ? 131072 : 0,
				    &self->id[s])) TH_LOG("attach %s", disks[s]);
		/* The lowest free number: 0, 1, 2. */
		ASSERT_EQ(s, self->id[s]);
	}
	ASSERT_TRUE(node_exists("/dev/rawkv"));
	ASSERT_TRUE(node_exists("/dev/rawkv1"));
	ASSERT_TRUE(node_exists("/dev/rawkv2"));
}

FIXTURE_TEARDOWN(multi)
{
	EXPECT_EQ(0, kv_unload());
}

/*
 * The scenario: three stores used by three processes at once,
 * one detached while another is busy, the module reloaded, every flushed
 * value found.
 */
TEST_F_TIMEOUT(multi, three_stores_processes_detach_busy_reload, 600)
{
	unsigned char *buf = malloc(VAL_MAX);
	pid_t pid[NPROCS], busy;
	int p, s, status, pipefd[2];
	struct rawkv *kv;
	unsigned int id;
	char c;

	ASSERT_NE(NULL, buf);
	/* Round 1 from three processes at once. */
	for (p = 0; p < NPROCS; p++) {
		pid[p] = fork();
		ASSERT_LE(0, pid[p]);
		if (!pid[p])
			_exit(writer(p, 1));
	}
	for (p = 0; p < NPROCS; p++) {
		ASSERT_EQ(pid[p], waitpid(pid[p], &status, 0));
		ASSERT_TRUE(WIFEXITED(status));
		EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("writer %d", p);
	}
	for (s = 0; s < NSTORES; s++)
		EXPECT_EQ(0, check_store(_metadata, s, 1));

	/* A process keeps store 1 busy: PUTs until the pipe closes. */
	ASSERT_EQ(0, pipe(pipefd));
	busy = fork();
	ASSERT_LE(0, busy);
	if (!busy) {
		int n = 0;

		close(pipefd[1]);
		if (rawkv_open("/dev/rawkv1", &kv))
			_exit(1);
		fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
		while (read(pipefd[0], &c, 1) < 0 && errno == EAGAIN) {
			kv_fill(buf, 8192, n);
			if (rawkv_put(kv, "busy", 4, buf, 8192))
				_exit(2);
			n++;
		}
		_exit(rawkv_flush(kv) ? 3 : 0);
	}
	close(pipefd[0]);
	/* Until the child has it open: detach fails with -EBUSY then. */
	for (p = 0; p < 500 && sysfs_num("rawkv1", "stat/puts") <=
	     NPROCS * NKEYS; p++)
		usleep(10000);
	EXPECT_EQ(-EBUSY, rawkv_detach(1));
	EXPECT_TRUE(node_exists("/dev/rawkv1"));

	/* Store 2 is idle: it detaches while store 1 is busy. An unflushed
	 * PUT first: the detach's final commit must keep it.
	 */
	ASSERT_EQ(0, rawkv_open("/dev/rawkv2", &kv));
	kv_fill(buf, 1000, 77);
	ASSERT_EQ(0, rawkv_put(kv, "unflushed", 9, buf, 1000));
	/* Open: refused, nothing changes. */
	EXPECT_EQ(-EBUSY, rawkv_detach(2));
	rawkv_close(kv);
	EXPECT_EQ(0, rawkv_detach(2));
	EXPECT_FALSE(node_exists("/dev/rawkv2"));
	EXPECT_EQ(-1, sysfs_num("rawkv2", "slots_total"));
	EXPECT_EQ(-ENODEV, rawkv_detach(2));

	/* Store 1 is still busy and well. */
	EXPECT_EQ(-EBUSY, rawkv_detach(1));
	close(pipefd[1]);
	ASSERT_EQ(busy, waitpid(busy, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));

	/* Attached again without formatting: the lowest free number, 2. */
	ASSERT_EQ(0, attach(disks[2], false, 0, &id));
	EXPECT_EQ(2, id);
	EXPECT_EQ(0, check_store(_metadata, 2, 1));
	ASSERT_EQ(0, rawkv_open("/dev/rawkv2", &kv));
	EXPECT_EQ(1000, rawkv_get(kv, "unflushed", 9, buf, VAL_MAX));
	rawkv_close(kv);

	/* Round 2 overwrites everything, again from three processes. */
	for (p = 0; p < NPROCS; p++) {
		pid[p] = fork();
		ASSERT_LE(0, pid[p]);
		if (!pid[p])
			_exit(writer(p, 2));
	}
	for (p = 0; p < NPROCS; p++) {
		ASSERT_EQ(pid[p], waitpid(pid[p], &status, 0));
		EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("writer %d", p);
	}

	/* rmmod commits every store; store 0 comes back from dev=. */
	ASSERT_EQ(0, kv_reload("dev=%s", disks[0]));
	for (s = 1; s < NSTORES; s++) {
		ASSERT_EQ(0, attach(disks[s], false, 0, &id));
		EXPECT_EQ(s, id);
	}
	for (s = 0; s < NSTORES; s++)
		EXPECT_EQ(0, check_store(_metadata, s, 2)) TH_LOG("store %d", s);
	free(buf);
}

/* Every attribute in sysfs is what RAWKV_IOC_STAT says, per store. */
TEST_F(multi, sysfs_matches_stat)
{
	static const struct {
		const char *attr;
		size_t off;
	} f[] = {
#define F(a, path) { path, offsetof(struct rawkv_stat, a) }
		F(slot_size, "slot_size"), F(value_max, "value_max"),
		F(key_max, "key_max"), F(slots_total, "slots_total"),
		F(slots_used, "slots_used"), F(device_bytes, "device_bytes"),
		F(logical_block_size, "logical_block_size"),
		F(checkpoint_seq, "checkpoint_seq"),
		F(entry_mem_bytes, "entry_mem_bytes"),
		F(table_mem_bytes, "table_mem_bytes"),
		F(crc32c_mbps, "crc32c_mbps"),
		F(puts, "stat/puts"), F(gets, "stat/gets"), F(hits, "stat/hits"),
		F(misses, "stat/misses"), F(deletes, "stat/deletes"),
		F(evictions, "stat/evictions"),
		F(checkpoints, "stat/checkpoints"),
		F(bytes_written, "stat/bytes_written"),
		F(bytes_read, "stat/bytes_read"),
		F(io_errors, "stat/io_errors"),
		F(load_dropped, "stat/load_dropped"),
		F(stale_dropped, "stat/stale_dropped"),
		F(bytes_zero_copy, "stat/bytes_zero_copy"),
		F(bytes_bounced, "stat/bytes_bounced"),
#undef F
	};
	unsigned char buf[5000];
	char node[32], name[32], str[RAWKV_PATH_MAX];
	struct rawkv_stat st;
	struct rawkv *kv;
	unsigned int s, i, n;
	uint64_t v;

	for (s = 0; s < NSTORES; s++) {
		rawkv_store_path(s, node, sizeof(node));
		snprintf(name, sizeof(name), "%s", node + 5);
		ASSERT_EQ(0, rawkv_open(node, &kv));
		/* Different work per store, so that the counters differ. */
		for (n = 0; n <= s * 3; n++) {
			kv_fill(buf, sizeof(buf), n);
			ASSERT_EQ(0, rawkv_put(kv, "k", 1, buf, 100 + n));
			ASSERT_EQ(100 + n, rawkv_get(kv, "k", 1, buf, sizeof(buf)));
		}
		EXPECT_EQ(-ENOENT, rawkv_get(kv, "none", 4, buf, sizeof(buf)));
		ASSERT_EQ(0, rawkv_flush(kv));
		ASSERT_EQ(0, rawkv_stat(kv, &st));
		for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
			memcpy(&v, (char *)&st + f[i].off, sizeof(v));
			EXPECT_EQ((long long)v, sysfs_num(name, f[i].attr))
				TH_LOG("%s/%s", name, f[i].attr);
		}
		EXPECT_EQ(s * 3 + 1, st.puts);
		ASSERT_EQ(0, sysfs_str(name, "backing_dev", str, sizeof(str)));
		EXPECT_STREQ(disks[s], str);
		ASSERT_EQ(0, sysfs_str(name, "crc32c_driver", str, sizeof(str)));
		EXPECT_STREQ(st.crc32c_driver, str);
		EXPECT_EQ(3600000, sysfs_num(name, "checkpoint_ms"));
		EXPECT_EQ(1, sysfs_num(name, "evict"));
		rawkv_close(kv);
	}
}

/* A control request that fails changes nothing. */
TEST_F(multi, bad_control_requests)
{
	struct rawkv_attach_opts bad_slot = {
		.flags = RAWKV_ATTACH_FORMAT, .slot_size = 12345,
		.checkpoint_ms = -1,
	};
	struct rawkv_attach_opts no_fmt = { .slot_size = 65536,
					    .checkpoint_ms = -1 };
	struct rawkv_attach_opts bad_flag = { .flags = 1U << 7,
					      .checkpoint_ms = -1 };
	struct rawkv_ctl_attach ca;
	struct rawkv_ctl_detach cd;
	char longpath[RAWKV_PATH_MAX + 10];
	unsigned char buf[64];
	struct rawkv *kv;
	unsigned int id = 99;
	pid_t pid;
	int fd, status;

	/* A value in store 1, to see that it stays. */
	ASSERT_EQ(0, rawkv_open("/dev/rawkv1", &kv));
	ASSERT_EQ(0, rawkv_put(kv, "stay", 4, "here", 4));

	EXPECT_EQ(-EINVAL, rawkv_attach(KV_DEV_IMAGE, &bad_slot, &id));
	EXPECT_EQ(-EINVAL, rawkv_attach(KV_DEV_IMAGE, &no_fmt, &id));
	EXPECT_EQ(-EINVAL, rawkv_attach(KV_DEV_IMAGE, &bad_flag, &id));
	EXPECT_EQ(-EINVAL, rawkv_attach("", NULL, &id));
	EXPECT_EQ(-ENOENT, rawkv_attach("/dev/no-such-disk", NULL, &id));
	EXPECT_EQ(-ENOTBLK, rawkv_attach("/dev/null", NULL, &id));
	/* Already a store, or too small for one slot. */
	EXPECT_EQ(-EBUSY, rawkv_attach(KV_DEV_4K, NULL, &id));
	EXPECT_EQ(-ENOSPC, attach(KV_DEV_TINY, true, 0, &id));
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	EXPECT_EQ(-ENAMETOOLONG, rawkv_attach(longpath, NULL, &id));
	EXPECT_EQ(99, id);

	EXPECT_EQ(-ENODEV, rawkv_detach(7));
	EXPECT_EQ(-ENODEV, rawkv_detach(RAWKV_STORES_MAX));
	EXPECT_EQ(-ENODEV, rawkv_detach(~0U));

	/* The raw ABI: reserved fields, unknown commands. */
	fd = open(RAWKV_CONTROL_DEVICE, O_RDWR);
	ASSERT_LE(0, fd);
	memset(&ca, 0, sizeof(ca));
	ca.path_ptr = (uintptr_t)KV_DEV_IMAGE;
	ca.reserved[3] = 1;
	EXPECT_EQ(-1, ioctl(fd, RAWKV_CTL_ATTACH, &ca));
	EXPECT_EQ(EINVAL, errno);
	ca.reserved[3] = 0;
	ca.checkpoint_ms = 10;		/* without RAWKV_ATTACH_CHECKPOINT */
	EXPECT_EQ(-1, ioctl(fd, RAWKV_CTL_ATTACH, &ca));
	EXPECT_EQ(EINVAL, errno);
	ca.checkpoint_ms = 0;
	ca.id = 3;			/* an output */
	EXPECT_EQ(-1, ioctl(fd, RAWKV_CTL_ATTACH, &ca));
	EXPECT_EQ(EINVAL, errno);
	ca.id = 0;
	ca.path_ptr = 8;		/* unreadable */
	EXPECT_EQ(-1, ioctl(fd, RAWKV_CTL_ATTACH, &ca));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(fd, RAWKV_CTL_ATTACH, NULL));
	EXPECT_EQ(EFAULT, errno);
	memset(&cd, 0, sizeof(cd));
	cd.id = 1;
	cd.flags = 1;
	EXPECT_EQ(-1, ioctl(fd, RAWKV_CTL_DETACH, &cd));
	EXPECT_EQ(EINVAL, errno);
	cd.flags = 0;
	cd.reserved[1] = 1;
	EXPECT_EQ(-1, ioctl(fd, RAWKV_CTL_DETACH, &cd));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(fd, RAWKV_IOC_STAT, buf));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(fd, _IO(RAWKV_IOC_MAGIC, 0x42)));
	EXPECT_EQ(ENOTTY, errno);
	close(fd);

	/* Not root: the control node is root's only. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		if (setgid(65534) || setuid(65534))
			_exit(10);
		_exit(-rawkv_attach(KV_DEV_IMAGE, NULL, &id));
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(EACCES, WEXITSTATUS(status));

	/* Nothing changed: three stores, the value still there. */
	EXPECT_FALSE(node_exists("/dev/rawkv3"));
	EXPECT_EQ(4, rawkv_get(kv, "stay", 4, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "here", 4));
	EXPECT_EQ(-EBUSY, rawkv_detach(1));
	rawkv_close(kv);
	EXPECT_EQ(0, rawkv_detach(1));
}

/* The library's names of stores. */
TEST(store_names)
{
	char p[32];

	ASSERT_EQ(0, rawkv_store_path(0, p, sizeof(p)));
	EXPECT_STREQ("/dev/rawkv", p);
	ASSERT_EQ(0, rawkv_store_path(12, p, sizeof(p)));
	EXPECT_STREQ("/dev/rawkv12", p);
	EXPECT_EQ(-EINVAL, rawkv_store_path(RAWKV_STORES_MAX, p, sizeof(p)));
	EXPECT_EQ(-ENAMETOOLONG, rawkv_store_path(12, p, 8));
	EXPECT_EQ(0, rawkv_store_id("/dev/rawkv"));
	EXPECT_EQ(0, rawkv_store_id("rawkv"));
	EXPECT_EQ(0, rawkv_store_id("0"));
	EXPECT_EQ(7, rawkv_store_id("/dev/rawkv7"));
	EXPECT_EQ(7, rawkv_store_id("rawkv7"));
	EXPECT_EQ(255, rawkv_store_id("255"));
	EXPECT_EQ(-EINVAL, rawkv_store_id("256"));
	EXPECT_EQ(-EINVAL, rawkv_store_id("/dev/rawkv0"));
	EXPECT_EQ(-EINVAL, rawkv_store_id("/dev/rawkv-control"));
	EXPECT_EQ(-EINVAL, rawkv_store_id("/dev/sda"));
	EXPECT_EQ(-EINVAL, rawkv_store_id("-1"));
	EXPECT_EQ(-EINVAL, rawkv_store_id("07"));
	EXPECT_EQ(-EINVAL, rawkv_store_id(""));
	EXPECT_EQ(-EINVAL, rawkv_store_id(NULL));
}

TEST_HARNESS_MAIN
