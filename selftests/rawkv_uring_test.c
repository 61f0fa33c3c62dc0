// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv io_uring commands: librawkv's asynchronous API (rawkv_ring_*) and
 * the raw IORING_OP_URING_CMD ABI of uapi/rawkv.h.
 *
 * - every asynchronous operation completes with what the synchronous call
 *   returns, for PUT, PUT_SYNC, GET, DELETE and EXISTS, hits and misses;
 * - errors: a missing key, a small buffer, bad keys and sizes at prepare
 *   time, a full ring, a nonzero reserved field, an unknown cmd_op, a bad
 *   kv_ptr, PUT and DELETE on a read-only descriptor;
 * - 64 operations in flight at depth 64, all correct;
 * - the ring's eventfd becomes readable;
 * - an SQE rewritten right after its submission does not change the
 *   command (the kernel reads it once);
 * - a ring torn down (io_uring_queue_exit()) with PUTs and GETs in flight
 *   loses no acknowledged PUT, and the module still unloads;
 * - a process killed with operations in flight: every PUT it saw complete
 *   is intact after a FLUSH and a reload, and the store goes on working.
 *
 * Runs on vda (512 B logical blocks), formatted with 256 KiB slots.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rawkv_test_util.h"
#include "../uapi/rawkv.h"
#include "kselftest_harness.h"

#define SLOT_SIZE	(256 * 1024UL)
#define DEPTH		64
#define VAL_MAX		(64 * 1024)

FIXTURE(uring) {
	struct rawkv *kv;
	struct rawkv_ring *ring;
	struct rawkv_stat st;
};

FIXTURE_SETUP(uring)
{
	ASSERT_EQ(0, geteuid()) TH_LOG("run as root in the rawkv test VM");
	ASSERT_EQ(0, kv_reload("dev=%s format=1 slot_size=%lu %s", KV_DEV_512,
			       SLOT_SIZE, KV_NO_PERIODIC));
	ASSERT_EQ(0, rawkv_open(NULL, &self->kv));
	ASSERT_EQ(0, rawkv_stat(self->kv, &self->st));
	ASSERT_EQ(0, rawkv_ring_open(self->kv, DEPTH, &self->ring));
}

FIXTURE_TEARDOWN(uring)
{
	rawkv_ring_close(self->ring);
	rawkv_close(self->kv);
	EXPECT_EQ(0, kv_unload());
}

/* Submit what is prepared (@n operations) and reap exactly @n. */
static int run_n(struct rawkv_ring *ring, struct rawkv_completion *c,
		 unsigned int n)
{
	unsigned int got = 0;
	int ret;

	ret = rawkv_ring_submit(ring);
	if (ret != (int)n)
		return ret < 0 ? ret : -EPROTO;
	while (got < n) {
		ret = rawkv_ring_reap(ring, c + got, n - got, n - got);
		if (ret < 0)
			return ret;
		got += ret;
	}
	return 0;
}

/* Submit the one prepared operation, reap it; its result. */
static int64_t run1(struct rawkv_ring *ring, uint64_t want_ud)
{
	struct rawkv_completion c;
	int ret = run_n(ring, &c, 1);

	if (ret)
		return ret;
	return c.user_data == want_ud ? c.result : -EPROTO;
}

/*
 * The same sequence on two keys, one through the ring and one through the
 * synchronous calls: every result matches, and the stored values too.
 */
TEST_F_TIMEOUT(uring, results_equal_sync_calls, 240)
{
	static const size_t lens[] = { 0, 1, 511, 4096, 5000, VAL_MAX };
	unsigned char *val = malloc(VAL_MAX), *a = malloc(VAL_MAX + 64),
		      *s = malloc(VAL_MAX + 64);
	char ka[32], ks[32];
	unsigned int i;

	ASSERT_NE(NULL, val);
	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, s);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t len = lens[i];
		bool sync = i & 1;
		int64_t r;

		snprintf(ka, sizeof(ka), "async-%zu", len);
		snprintf(ks, sizeof(ks), "sync-%zu", len);
		kv_fill(val, len, len + 11);

		/* misses first */
		ASSERT_EQ(0, rawkv_ring_get(self->ring, ka, strlen(ka), a,
					    VAL_MAX, 1));
		r = run1(self->ring, 1);
		EXPECT_EQ(rawkv_get(self->kv, ks, strlen(ks), s, VAL_MAX), r);
		EXPECT_EQ(-ENOENT, r);
		ASSERT_EQ(0, rawkv_ring_exists(self->ring, ka, strlen(ka), 2));
		r = run1(self->ring, 2);
		EXPECT_EQ(rawkv_exists(self->kv, ks, strlen(ks)), r);
		EXPECT_EQ(-ENOENT, r);
		ASSERT_EQ(0, rawkv_ring_delete(self->ring, ka, strlen(ka), 3));
		r = run1(self->ring, 3);
		EXPECT_EQ(rawkv_delete(self->kv, ks, strlen(ks)), r);
		EXPECT_EQ(-ENOENT, r);

		/* PUT or PUT_SYNC */
		if (sync)
			r = rawkv_ring_put_sync(self->ring, ka, strlen(ka),
						val, len, 4);
		else
			r = rawkv_ring_put(self->ring, ka, strlen(ka), val,
					   len, 4);
		ASSERT_EQ(0, r);
		r = run1(self->ring, 4);
		EXPECT_EQ(sync ? rawkv_put_sync(self->kv, ks, strlen(ks), val,
						len) :
				 rawkv_put(self->kv, ks, strlen(ks), val, len),
			  r);
		EXPECT_EQ(0, r);

		/* GET: length query, exact buffer, larger buffer */
		ASSERT_EQ(0, rawkv_ring_get(self->ring, ka, strlen(ka), NULL, 0,
					    5));
		r = run1(self->ring, 5);
		EXPECT_EQ(rawkv_get(self->kv, ks, strlen(ks), NULL, 0), r);
		EXPECT_EQ((int64_t)len, r);
		memset(a, 0x5a, VAL_MAX + 64);
		memset(s, 0x5a, VAL_MAX + 64);
		ASSERT_EQ(0, rawkv_ring_get(self->ring, ka, strlen(ka), a,
					    len ? len : 1, 6));
		r = run1(self->ring, 6);
		EXPECT_EQ(rawkv_get(self->kv, ks, strlen(ks), s,
				    len ? len : 1), r);
		EXPECT_EQ((int64_t)len, r);
		EXPECT_EQ(0, memcmp(a, val, len));
		EXPECT_EQ(0, memcmp(a, s, VAL_MAX + 64));
		ASSERT_EQ(0, rawkv_ring_get(self->ring, ka, strlen(ka), a,
					    VAL_MAX + 64, 7));
		EXPECT_EQ((int64_t)len, run1(self->ring, 7));
		EXPECT_EQ(0, memcmp(a, val, len));
		/* what the ring stored reads the same synchronously */
		EXPECT_EQ((ssize_t)len, rawkv_get(self->kv, ka, strlen(ka), s,
						  VAL_MAX));
		EXPECT_EQ(0, memcmp(s, val, len));

		/* EXISTS */
		ASSERT_EQ(0, rawkv_ring_exists(self->ring, ka, strlen(ka), 8));
		r = run1(self->ring, 8);
		EXPECT_EQ(rawkv_exists(self->kv, ks, strlen(ks)), r);
		EXPECT_EQ((int64_t)len, r);

		/* DELETE, then the key is gone for both */
		ASSERT_EQ(0, rawkv_ring_delete(self->ring, ka, strlen(ka), 9));
		r = run1(self->ring, 9);
		EXPECT_EQ(rawkv_delete(self->kv, ks, strlen(ks)), r);
		EXPECT_EQ(0, r);
		EXPECT_EQ(-ENOENT, rawkv_exists(self->kv, ka, strlen(ka)));
		EXPECT_EQ(-ENOENT, rawkv_get(self->kv, ks, strlen(ks), NULL, 0));
	}
	free(val);
	free(a);
	free(s);
}

TEST_F_TIMEOUT(uring, errors, 240)
{
	struct rawkv_completion c[DEPTH + 1];
	char big[RAWKV_KEY_MAX + 1], buf[16];
	struct rawkv_ring *other;
	unsigned int i;
	int n;

	memset(big, 'k', sizeof(big));
	/* bad keys and sizes, at prepare time, as the sync calls */
	EXPECT_EQ(-EINVAL, rawkv_ring_put(self->ring, "k", 0, "v", 1, 0));
	EXPECT_EQ(-EINVAL, rawkv_ring_put(self->ring, big, sizeof(big), "v", 1,
					  0));
	EXPECT_EQ(-EINVAL, rawkv_ring_get(self->ring, big, sizeof(big), buf,
					  sizeof(buf), 0));
	EXPECT_EQ(-EINVAL, rawkv_ring_delete(self->ring, "k", 0, 0));
	EXPECT_EQ(-EINVAL, rawkv_ring_exists(self->ring, big, sizeof(big), 0));
	EXPECT_EQ(-EINVAL, rawkv_ring_put(NULL, "k", 1, "v", 1, 0));
	EXPECT_EQ(-E2BIG, rawkv_ring_put(self->ring, "k", 1, buf,
					 self->st.value_max + 1, 0));
	EXPECT_EQ(-E2BIG, rawkv_put(self->kv, "k", 1, buf,
				    self->st.value_max + 1));
	EXPECT_EQ(-EINVAL, rawkv_ring_reap(self->ring, c, 1, 1));
	EXPECT_EQ(0, rawkv_ring_reap(self->ring, c, 1, 0));
	EXPECT_EQ(0, rawkv_ring_submit(self->ring));
	other = self->ring;
	EXPECT_EQ(-EINVAL, rawkv_ring_open(self->kv, 0, &other));
	EXPECT_EQ(NULL, other);		/* set to NULL on failure */
	EXPECT_EQ(-EINVAL, rawkv_ring_open(self->kv, RAWKV_RING_DEPTH_MAX + 1,
					   &other));
	EXPECT_EQ(-EINVAL, rawkv_ring_open(NULL, 1, &other));
	EXPECT_EQ(-EINVAL, rawkv_ring_open(self->kv, 1, NULL));
	ASSERT_EQ(0, rawkv_ring_open(self->kv, RAWKV_RING_DEPTH_MAX, &other));
	rawkv_ring_close(other);

	/* missing key, small buffer */
	ASSERT_EQ(0, rawkv_put(self->kv, "ten", 3, "0123456789", 10));
	ASSERT_EQ(0, rawkv_ring_get(self->ring, "ten", 3, buf, 9, 1));
	EXPECT_EQ(-ERANGE, run1(self->ring, 1));
	ASSERT_EQ(0, rawkv_ring_get(self->ring, "none", 4, buf, 16, 2));
	EXPECT_EQ(-ENOENT, run1(self->ring, 2));
	ASSERT_EQ(0, rawkv_ring_get(self->ring, "ten", 3, buf, 10, 3));
	EXPECT_EQ(10, run1(self->ring, 3));
	EXPECT_EQ(0, memcmp(buf, "0123456789", 10));
	/* a bad buffer fails the command, not the ring */
	ASSERT_EQ(0, rawkv_ring_get(self->ring, "ten", 3, (void *)8, 10, 4));
	EXPECT_EQ(-EFAULT, run1(self->ring, 4));

	/* depth operations prepared: -EBUSY until some are reaped */
	for (i = 0; i < DEPTH; i++)
		ASSERT_EQ(0, rawkv_ring_exists(self->ring, "ten", 3, i));
	EXPECT_EQ(-EBUSY, rawkv_ring_exists(self->ring, "ten", 3, DEPTH));
	EXPECT_EQ(DEPTH, rawkv_ring_submit(self->ring));
	EXPECT_EQ(-EBUSY, rawkv_ring_put(self->ring, "x", 1, "v", 1, DEPTH));
	EXPECT_EQ(1, rawkv_ring_reap(self->ring, c, 1, 1));
	EXPECT_EQ(10, c[0].result);
	EXPECT_EQ(0, rawkv_ring_exists(self->ring, "ten", 3, DEPTH));
	EXPECT_EQ(1, rawkv_ring_submit(self->ring));
	for (i = 0; i < DEPTH; i += n) {
		n = rawkv_ring_reap(self->ring, c, DEPTH, 1);
		ASSERT_LT(0, n);
		for (int j = 0; j < n; j++)
			EXPECT_EQ(10, c[j].result);
	}
	EXPECT_EQ(-EINVAL, rawkv_ring_reap(self->ring, c, 1, 1));
}

/* A raw io_uring on a descriptor of /dev/rawkv. */
struct raw {
	struct io_uring ring;
	int fd;
};

static int raw_open(struct raw *r, int flags, unsigned int entries,
		    unsigned int setup)
{
	int ret;

	r->fd = open(RAWKV_DEFAULT_DEVICE, flags | O_CLOEXEC);
	if (r->fd < 0)
		return -errno;
	ret = io_uring_queue_init(entries, &r->ring, setup);
	if (ret)
		close(r->fd);
	return ret;
}

static void raw_close(struct raw *r)
{
	io_uring_queue_exit(&r->ring);
	close(r->fd);
}

static void raw_prep(struct raw *r, uint32_t cmd_op, uint64_t kv_ptr,
		     uint64_t reserved, uint64_t ud)
{
	struct rawkv_uring_cmd uc = { .kv_ptr = kv_ptr, .reserved = reserved };
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);

	if (!sqe)
		abort();	/* the tests never fill the SQ ring */
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = r->fd;
	sqe->cmd_op = cmd_op;
	sqe->user_data = ud;
	memcpy(sqe->cmd, &uc, sizeof(uc));
}

/* Submit one raw command with SQE flags @flags; its cqe->res. */
static int raw_run_flags(struct raw *r, uint32_t cmd_op, uint64_t kv_ptr,
			 uint64_t reserved, uint8_t flags)
{
	struct io_uring_cqe *cqe;
	int ret;

	raw_prep(r, cmd_op, kv_ptr, reserved, 77);
	r->ring.sq.sqes[(r->ring.sq.sqe_tail - 1) & *r->ring.sq.kring_mask]
		.flags = flags;
	ret = io_uring_submit(&r->ring);
	if (ret != 1)
		return ret < 0 ? ret : -EPROTO;
	ret = io_uring_wait_cqe(&r->ring, &cqe);
	if (ret)
		return ret;
	ret = cqe->user_data == 77 ? cqe->res : -EPROTO;
	io_uring_cqe_seen(&r->ring, cqe);
	return ret;
}

static int raw_run(struct raw *r, uint32_t cmd_op, uint64_t kv_ptr,
		   uint64_t reserved)
{
	return raw_run_flags(r, cmd_op, kv_ptr, reserved, 0);
}

TEST_F_TIMEOUT(uring, raw_abi_errors_and_val_len, 240)
{
	struct rawkv_kv kv = { .key_ptr = (uintptr_t)"ten", .key_len = 3 };
	char buf[16];
	struct raw r;

	ASSERT_EQ(0, rawkv_put(self->kv, "ten", 3, "0123456789", 10));
	ASSERT_EQ(0, raw_open(&r, O_RDWR, 8, 0));
	/* GET writes val_len back, on success and on -ERANGE */
	kv.val_ptr = (uintptr_t)buf;
	kv.val_len = sizeof(buf);
	EXPECT_EQ(10, raw_run(&r, RAWKV_IOC_GET, (uintptr_t)&kv, 0));
	EXPECT_EQ(10, kv.val_len);
	kv.val_len = 4;
	EXPECT_EQ(-ERANGE, raw_run(&r, RAWKV_IOC_GET, (uintptr_t)&kv, 0));
	EXPECT_EQ(10, kv.val_len);
	/* EXISTS: val_ptr and val_len must be 0; val_len out */
	EXPECT_EQ(-EINVAL, raw_run(&r, RAWKV_IOC_EXISTS, (uintptr_t)&kv, 0));
	kv.val_ptr = 0;
	EXPECT_EQ(-EINVAL, raw_run(&r, RAWKV_IOC_EXISTS, (uintptr_t)&kv, 0));
	kv.val_len = 0;
	EXPECT_EQ(10, raw_run(&r, RAWKV_IOC_EXISTS, (uintptr_t)&kv, 0));
	EXPECT_EQ(10, kv.val_len);
	/* and the same as an ioctl */
	kv.val_len = 0;
	EXPECT_EQ(0, ioctl(r.fd, RAWKV_IOC_EXISTS, &kv));
	EXPECT_EQ(10, kv.val_len);
	kv.val_len = 0;
	/* reserved must be 0 */
	EXPECT_EQ(-EINVAL, raw_run(&r, RAWKV_IOC_EXISTS, (uintptr_t)&kv, 1));
	EXPECT_EQ(-EINVAL, raw_run(&r, RAWKV_IOC_PUT, (uintptr_t)&kv,
				   1ULL << 63));
	/* unknown cmd_op, including the other ioctls */
	EXPECT_EQ(-ENOTTY, raw_run(&r, 0, (uintptr_t)&kv, 0));
	EXPECT_EQ(-ENOTTY, raw_run(&r, RAWKV_IOC_FLUSH, (uintptr_t)&kv, 0));
	EXPECT_EQ(-ENOTTY, raw_run(&r, RAWKV_IOC_STAT, (uintptr_t)&kv, 0));
	EXPECT_EQ(-ENOTTY, raw_run(&r, RAWKV_IOC_PUT_BATCH, (uintptr_t)&kv, 0));
	EXPECT_EQ(-ENOTTY, raw_run(&r, RAWKV_IOC_EXISTS + 1, (uintptr_t)&kv,
				   0));
	/* bad kv_ptr */
	EXPECT_EQ(-EFAULT, raw_run(&r, RAWKV_IOC_GET, 0, 0));
	EXPECT_EQ(-EFAULT, raw_run(&r, RAWKV_IOC_PUT, 0xffff800000000000ULL,
				   0));
	/* issued first in an io-wq worker (IOSQE_ASYNC): the same */
	EXPECT_EQ(10, raw_run_flags(&r, RAWKV_IOC_EXISTS, (uintptr_t)&kv, 0,
				    IOSQE_ASYNC));
	EXPECT_EQ(-EINVAL, raw_run_flags(&r, RAWKV_IOC_EXISTS, (uintptr_t)&kv,
					 1, IOSQE_ASYNC));
	EXPECT_EQ(-ENOTTY, raw_run_flags(&r, 0xffffffffU, (uintptr_t)&kv, 0,
					 IOSQE_ASYNC));
	EXPECT_EQ(-ENOTTY, raw_run(&r, 0xffffffffU, (uintptr_t)&kv, 0));
	/* DELETE with a value is refused like the ioctl */
	kv.val_len = 1;
	EXPECT_EQ(-EINVAL, raw_run(&r, RAWKV_IOC_DELETE, (uintptr_t)&kv, 0));
	kv.val_len = 0;
	EXPECT_EQ(0, raw_run(&r, RAWKV_IOC_DELETE, (uintptr_t)&kv, 0));
	EXPECT_EQ(-ENOENT, raw_run(&r, RAWKV_IOC_EXISTS, (uintptr_t)&kv, 0));
	raw_close(&r);

	/* a ring of 128-byte SQEs works the same */
	ASSERT_EQ(0, raw_open(&r, O_RDWR, 8, IORING_SETUP_SQE128));
	kv.val_ptr = (uintptr_t)"abc";
	kv.val_len = 3;
	EXPECT_EQ(0, raw_run(&r, RAWKV_IOC_PUT, (uintptr_t)&kv, 0));
	kv.val_ptr = 0;
	kv.val_len = 0;
	EXPECT_EQ(3, raw_run(&r, RAWKV_IOC_EXISTS, (uintptr_t)&kv, 0));
	raw_close(&r);
}

/* PUT and DELETE need a descriptor open for writing; GET does not. */
TEST_F_TIMEOUT(uring, readonly_descriptor, 240)
{
	struct rawkv_kv kv = { .key_ptr = (uintptr_t)"ro", .key_len = 2,
			       .val_ptr = (uintptr_t)"v", .val_len = 1 };
	struct raw r;

	ASSERT_EQ(0, rawkv_put(self->kv, "ro", 2, "v", 1));
	ASSERT_EQ(0, raw_open(&r, O_RDONLY, 4, 0));
	EXPECT_EQ(-EBADF, raw_run(&r, RAWKV_IOC_PUT, (uintptr_t)&kv, 0));
	kv.flags = RAWKV_PUT_SYNC;
	EXPECT_EQ(-EBADF, raw_run(&r, RAWKV_IOC_PUT, (uintptr_t)&kv, 0));
	kv.flags = 0;
	kv.val_ptr = 0;
	kv.val_len = 0;
	EXPECT_EQ(-EBADF, raw_run(&r, RAWKV_IOC_DELETE, (uintptr_t)&kv, 0));
	EXPECT_EQ(1, raw_run(&r, RAWKV_IOC_EXISTS, (uintptr_t)&kv, 0));
	raw_close(&r);
}

/*
 * The same through the library: a handle that rawkv_open() could only
 * open read-only (the node is 0400 and the child lacks CAP_DAC_OVERRIDE).
 */
TEST_F_TIMEOUT(uring, readonly_handle_through_library, 240)
{
	int status;
	pid_t pid;

	ASSERT_EQ(0, rawkv_put(self->kv, "ro", 2, "v", 1));
	ASSERT_EQ(0, chmod(RAWKV_DEFAULT_DEVICE, 0400));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct __user_cap_header_struct h = {
			.version = _LINUX_CAPABILITY_VERSION_3,
		};
		struct __user_cap_data_struct d[2] = { { 0 } };
		struct rawkv_completion c;
		struct rawkv_ring *ring;
		struct rawkv *kv;
		char b[4];

		if (syscall(SYS_capset, &h, d) || rawkv_open(NULL, &kv) ||
		    rawkv_put(kv, "ro", 2, "w", 1) != -EBADF ||
		    rawkv_ring_open(kv, 4, &ring))
			_exit(10);
		if (rawkv_ring_put(ring, "ro", 2, "w", 1, 1) ||
		    rawkv_ring_put_sync(ring, "ro", 2, "w", 1, 2) ||
		    rawkv_ring_delete(ring, "ro", 2, 3) ||
		    rawkv_ring_get(ring, "ro", 2, b, sizeof(b), 4) ||
		    rawkv_ring_submit(ring) != 4)
			_exit(11);
		for (int i = 0; i < 4; i++) {
			if (rawkv_ring_reap(ring, &c, 1, 1) != 1)
				_exit(12);
			if (c.result != (c.user_data == 4 ? 1 : -EBADF))
				_exit(20 + c.user_data);
		}
		rawkv_ring_close(ring);
		rawkv_close(kv);
		_exit(b[0] == 'v' ? 0 : 13);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, chmod(RAWKV_DEFAULT_DEVICE, 0600));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(1, rawkv_exists(self->kv, "ro", 2));
}

/* Values of various sizes, each a function of its key index. */
static size_t val_len_of(unsigned int i)
{
	return (i * 977 + 13) % VAL_MAX;
}

TEST_F_TIMEOUT(uring, depth_64_in_flight_distinct_keys, 240)
{
	static unsigned char vals[DEPTH][VAL_MAX], bufs[DEPTH][VAL_MAX];
	struct rawkv_completion c[DEPTH];
	static char keys[DEPTH][32];
	bool seen[DEPTH] = { false };
	unsigned int i;

	for (i = 0; i < DEPTH; i++) {
		snprintf(keys[i], sizeof(keys[i]), "inflight-%u", i);
		kv_fill(vals[i], val_len_of(i), i + 100);
		int ret;

		if (i % 4 == 3)
			ret = rawkv_ring_put_sync(self->ring, keys[i],
						  strlen(keys[i]), vals[i],
						  val_len_of(i), i);
		else
			ret = rawkv_ring_put(self->ring, keys[i],
					     strlen(keys[i]), vals[i],
					     val_len_of(i), i);
		ASSERT_EQ(0, ret);
	}
	ASSERT_EQ(0, run_n(self->ring, c, DEPTH));
	for (i = 0; i < DEPTH; i++) {
		ASSERT_GT(DEPTH, c[i].user_data);
		EXPECT_FALSE(seen[c[i].user_data]);
		seen[c[i].user_data] = true;
		EXPECT_EQ(0, c[i].result);
	}

	for (i = 0; i < DEPTH; i++)
		ASSERT_EQ(0, rawkv_ring_get(self->ring, keys[i],
					    strlen(keys[i]), bufs[i], VAL_MAX,
					    1000 + i));
	ASSERT_EQ(0, run_n(self->ring, c, DEPTH));
	for (i = 0; i < DEPTH; i++) {
		unsigned int k = c[i].user_data - 1000;

		ASSERT_GT(DEPTH, k);
		EXPECT_EQ((int64_t)val_len_of(k), c[i].result);
		EXPECT_EQ(0, memcmp(vals[k], bufs[k], val_len_of(k)))
			TH_LOG("key %u", k);
	}

	for (i = 0; i < DEPTH; i++)
		ASSERT_EQ(0, rawkv_ring_exists(self->ring, keys[i],
					       strlen(keys[i]), i));
	ASSERT_EQ(0, run_n(self->ring, c, DEPTH));
	for (i = 0; i < DEPTH; i++)
		EXPECT_EQ((int64_t)val_len_of(c[i].user_data), c[i].result);

	for (i = 0; i < DEPTH; i++)
		ASSERT_EQ(0, rawkv_ring_delete(self->ring, keys[i],
					       strlen(keys[i]), i));
	ASSERT_EQ(0, run_n(self->ring, c, DEPTH));
	for (i = 0; i < DEPTH; i++) {
		EXPECT_EQ(0, c[i].result);
		EXPECT_EQ(-ENOENT, rawkv_exists(self->kv, keys[i],
						strlen(keys[i])));
	}
}

TEST_F_TIMEOUT(uring, eventfd_becomes_readable, 240)
{
	struct rawkv_completion c;
	struct pollfd p;
	uint64_t count;
	int efd = rawkv_ring_eventfd(self->ring);
	char buf[8];

	ASSERT_LE(0, efd);
	EXPECT_EQ(-EINVAL, rawkv_ring_eventfd(NULL));
	p = (struct pollfd){ .fd = efd, .events = POLLIN };
	EXPECT_EQ(0, poll(&p, 1, 0));	/* nothing yet */
	ASSERT_EQ(0, rawkv_put(self->kv, "e", 1, "value", 5));
	ASSERT_EQ(0, rawkv_ring_get(self->ring, "e", 1, buf, sizeof(buf), 42));
	ASSERT_EQ(1, rawkv_ring_submit(self->ring));
	ASSERT_EQ(1, poll(&p, 1, 10000));
	EXPECT_TRUE(p.revents & POLLIN);
	ASSERT_EQ(sizeof(count), read(efd, &count, sizeof(count)));
	EXPECT_LE(1, count);
	/* readable means the completion is there: no wait needed */
	ASSERT_EQ(1, rawkv_ring_reap(self->ring, &c, 1, 0));
	EXPECT_EQ(42, c.user_data);
	EXPECT_EQ(5, c.result);
	EXPECT_EQ(0, memcmp(buf, "value", 5));
}

/*
 * The application may reuse an SQE as soon as io_uring_submit() returns.
 * Rewrite every SQE of the ring right after submitting GETs and EXISTS
 * (reserved set, kv_ptr garbage): the commands must run as submitted.
 */
TEST_F_TIMEOUT(uring, sqe_rewritten_after_submit_keeps_its_command, 240)
{
	static struct rawkv_kv kv[DEPTH];
	static char buf[DEPTH][16];
	struct io_uring_cqe *cqe;
	unsigned int i, round;
	struct raw r;

	ASSERT_EQ(0, rawkv_put(self->kv, "stable", 6, "0123456789", 10));
	ASSERT_EQ(0, raw_open(&r, O_RDWR, DEPTH, 0));
	for (round = 0; round < 8; round++) {
		for (i = 0; i < DEPTH; i++) {
			bool get = (i + round) & 1;

			kv[i] = (struct rawkv_kv){
				.key_ptr = (uintptr_t)"stable",
				.key_len = 6,
				.val_ptr = get ? (uintptr_t)buf[i] : 0,
				.val_len = get ? sizeof(buf[i]) : 0,
			};
			raw_prep(&r, get ? RAWKV_IOC_GET : RAWKV_IOC_EXISTS,
				 (uintptr_t)&kv[i], 0, i);
		}
		ASSERT_EQ(DEPTH, io_uring_submit(&r.ring));
		for (i = 0; i < r.ring.sq.ring_entries; i++) {
			struct io_uring_sqe *sqe = &r.ring.sq.sqes[i];
			struct rawkv_uring_cmd bad = { 8, 1 };

			sqe->cmd_op = RAWKV_IOC_DELETE;
			memcpy(sqe->cmd, &bad, sizeof(bad));
		}
		for (i = 0; i < DEPTH; i++) {
			ASSERT_EQ(0, io_uring_wait_cqe(&r.ring, &cqe));
			EXPECT_EQ(10, cqe->res) TH_LOG("round %u op %llu",
						       round,
						       cqe->user_data);
			io_uring_cqe_seen(&r.ring, cqe);
		}
	}
	raw_close(&r);
	EXPECT_EQ(10, rawkv_exists(self->kv, "stable", 6));
}

#define EXIT_OPS	48

/*
 * Tear a ring down with PUTs and GETs in flight: io_uring_queue_exit()
 * without waiting. Every PUT acknowledged before is intact after a FLUSH
 * and a reload; the others are whole or absent; rmmod works.
 */
TEST_F_TIMEOUT(uring, queue_exit_with_commands_in_flight, 240)
{
	/* static: the kernel may still use them after the exit */
	static unsigned char vals[EXIT_OPS][VAL_MAX], bufs[EXIT_OPS][VAL_MAX];
	static struct rawkv_kv kv[2 * EXIT_OPS];
	static char keys[EXIT_OPS][32];
	bool acked[EXIT_OPS] = { false };
	unsigned char *b = malloc(VAL_MAX);
	struct io_uring_cqe *cqe;
	unsigned int i, nacked = 0;
	struct raw r;

	ASSERT_NE(NULL, b);
	ASSERT_EQ(0, raw_open(&r, O_RDWR, 2 * EXIT_OPS, 0));
	for (i = 0; i < EXIT_OPS; i++) {
		snprintf(keys[i], sizeof(keys[i]), "exit-%u", i);
		kv_fill(vals[i], VAL_MAX, i + 500);
		kv[i] = (struct rawkv_kv){
			.key_ptr = (uintptr_t)keys[i],
			.key_len = strlen(keys[i]),
			.val_ptr = (uintptr_t)vals[i],
			.val_len = VAL_MAX,
		};
		raw_prep(&r, RAWKV_IOC_PUT, (uintptr_t)&kv[i], 0, i);
	}
	ASSERT_EQ(EXIT_OPS, io_uring_submit(&r.ring));
	/* take the first completions, then GETs of the keys acknowledged */
	for (i = 0; i < EXIT_OPS / 3; i++) {
		ASSERT_EQ(0, io_uring_wait_cqe(&r.ring, &cqe));
		ASSERT_GT(EXIT_OPS, cqe->user_data);
		EXPECT_EQ(0, cqe->res);
		if (!cqe->res) {
			acked[cqe->user_data] = true;
			nacked++;
		}
		io_uring_cqe_seen(&r.ring, cqe);
	}
	for (i = 0; i < EXIT_OPS; i++) {
		kv[EXIT_OPS + i] = (struct rawkv_kv){
			.key_ptr = (uintptr_t)keys[i],
			.key_len = strlen(keys[i]),
			.val_ptr = (uintptr_t)bufs[i],
			.val_len = VAL_MAX,
		};
		raw_prep(&r, RAWKV_IOC_GET, (uintptr_t)&kv[EXIT_OPS + i], 0,
			 EXIT_OPS + i);
	}
	ASSERT_EQ(EXIT_OPS, io_uring_submit(&r.ring));
	raw_close(&r);
	TH_LOG("%u of %u PUTs acknowledged before the exit", nacked,
	       EXIT_OPS);

	ASSERT_EQ(0, rawkv_flush(self->kv));
	for (i = 0; i < EXIT_OPS; i++) {
		ssize_t n = rawkv_get(self->kv, keys[i], strlen(keys[i]), b,
				      VAL_MAX);

		if (acked[i] || n >= 0) {
			EXPECT_EQ(VAL_MAX, n) TH_LOG("key %u", i);
			EXPECT_EQ(0, memcmp(b, vals[i], VAL_MAX));
		} else {
			EXPECT_EQ(-ENOENT, n);
		}
	}
	/* the store works, and the module unloads: nothing holds it */
	ASSERT_EQ(0, rawkv_put(self->kv, "after", 5, "x", 1));
	ASSERT_EQ(0, rawkv_flush(self->kv));
	rawkv_ring_close(self->ring);
	self->ring = NULL;
	rawkv_close(self->kv);
	self->kv = NULL;
	ASSERT_EQ(0, kv_unload());
	ASSERT_EQ(0, kv_load("dev=%s %s", KV_DEV_512, KV_NO_PERIODIC));
	ASSERT_EQ(0, rawkv_open(NULL, &self->kv));
	for (i = 0; i < EXIT_OPS; i++) {
		if (!acked[i])
			continue;
		EXPECT_EQ(VAL_MAX, rawkv_get(self->kv, keys[i],
					     strlen(keys[i]), b, VAL_MAX));
		EXPECT_EQ(0, memcmp(b, vals[i], VAL_MAX)) TH_LOG("key %u", i);
	}
	EXPECT_EQ(1, rawkv_exists(self->kv, "after", 5));
	ASSERT_EQ(0, rawkv_ring_open(self->kv, DEPTH, &self->ring));
	free(b);
}

#define KILL_DEPTH	16
#define KILL_ACKS	40	/* completions seen before the kill */

static void kill_key(char *key, size_t size, uint32_t n)
{
	snprintf(key, size, "killed-%u", n);
}

static size_t kill_len(uint32_t n)
{
	return 4096 + (n * 7919) % (VAL_MAX - 4096);
}

/* The child: PUTs through a ring forever, reporting each completion. */
static void kill_child(int wfd)
{
	static unsigned char vals[KILL_DEPTH][VAL_MAX];
	static char keys[KILL_DEPTH][32];
	struct rawkv_completion c[KILL_DEPTH];
	unsigned int places[KILL_DEPTH], nfree = KILL_DEPTH;
	struct rawkv_ring *ring;
	struct rawkv *kv;
	uint32_t n = 0;
	int i, got;

	for (i = 0; i < KILL_DEPTH; i++)
		places[i] = i;
	if (rawkv_open(NULL, &kv) || rawkv_ring_open(kv, KILL_DEPTH, &ring))
		_exit(10);
	for (;;) {
		/* a place per operation in flight; user_data: id, place */
		while (nfree) {
			unsigned int pl = places[--nfree];
			uint32_t id = n++;
			uint64_t ud = (uint64_t)id << 8 | pl;
			int ret;

			kill_key(keys[pl], sizeof(keys[pl]), id);
			kv_fill(vals[pl], kill_len(id), id);
			if (id % 8 == 7)
				ret = rawkv_ring_put_sync(ring, keys[pl],
							  strlen(keys[pl]),
							  vals[pl],
							  kill_len(id), ud);
			else
				ret = rawkv_ring_put(ring, keys[pl],
						     strlen(keys[pl]), vals[pl],
						     kill_len(id), ud);
			if (ret)
				_exit(11);
		}
		if (rawkv_ring_submit(ring) < 0)
			_exit(12);
		got = rawkv_ring_reap(ring, c, KILL_DEPTH, 1);
		if (got < 1)
			_exit(13);
		for (i = 0; i < got; i++) {
			uint32_t id = c[i].user_data >> 8;

			if (c[i].result)
				_exit(14);
			if (write(wfd, &id, sizeof(id)) != sizeof(id))
				_exit(15);
			places[nfree++] = c[i].user_data & 0xff;
		}
	}
}

TEST_F_TIMEOUT(uring, killed_process_keeps_acknowledged_puts, 240)
{
	unsigned char *b = malloc(VAL_MAX), *want = malloc(VAL_MAX);
	uint32_t ids[4096];
	unsigned int n = 0, i;
	int p[2], status;
	char key[32];
	pid_t pid;
	ssize_t got;

	ASSERT_NE(NULL, b);
	ASSERT_NE(NULL, want);
	ASSERT_EQ(0, pipe(p));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(p[0]);
		kill_child(p[1]);
	}
	close(p[1]);
	while (n < KILL_ACKS) {
		got = read(p[0], &ids[n], sizeof(ids[n]));
		ASSERT_EQ(sizeof(ids[n]), got) {
			waitpid(pid, &status, 0);
			TH_LOG("child ended: status %#x", status);
		}
		n++;
	}
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFSIGNALED(status));
	/* what the child reported before it died counts too */
	while (n < sizeof(ids) / sizeof(ids[0]) &&
	       read(p[0], &ids[n], sizeof(ids[n])) == sizeof(ids[n]))
		n++;
	close(p[0]);
	TH_LOG("%u PUTs acknowledged to the child before SIGKILL", n);

	ASSERT_EQ(0, rawkv_flush(self->kv));
	for (i = 0; i < n; i++) {
		kill_key(key, sizeof(key), ids[i]);
		kv_fill(want, kill_len(ids[i]), ids[i]);
		EXPECT_EQ((ssize_t)kill_len(ids[i]),
			  rawkv_get(self->kv, key, strlen(key), b, VAL_MAX))
			TH_LOG("%s", key);
		EXPECT_EQ(0, memcmp(b, want, kill_len(ids[i])))
			TH_LOG("%s", key);
	}
	/* the store goes on working, through a ring too */
	ASSERT_EQ(0, rawkv_ring_put(self->ring, "alive", 5, "yes", 3, 1));
	EXPECT_EQ(0, run1(self->ring, 1));
	EXPECT_EQ(3, rawkv_exists(self->kv, "alive", 5));

	/* and it unloads, and what was acknowledged survives the reload */
	rawkv_ring_close(self->ring);
	self->ring = NULL;
	rawkv_close(self->kv);
	self->kv = NULL;
	ASSERT_EQ(0, kv_unload());
	ASSERT_EQ(0, kv_load("dev=%s %s", KV_DEV_512, KV_NO_PERIODIC));
	ASSERT_EQ(0, rawkv_open(NULL, &self->kv));
	for (i = 0; i < n; i++) {
		kill_key(key, sizeof(key), ids[i]);
		kv_fill(want, kill_len(ids[i]), ids[i]);
		EXPECT_EQ((ssize_t)kill_len(ids[i]),
			  rawkv_get(self->kv, key, strlen(key), b, VAL_MAX));
		EXPECT_EQ(0, memcmp(b, want, kill_len(ids[i])));
	}
	ASSERT_EQ(0, rawkv_ring_open(self->kv, DEPTH, &self->ring));
	free(b);
	free(want);
}

TEST_HARNESS_MAIN
