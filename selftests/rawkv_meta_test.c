// SPDX-License-Identifier: GPL-2.0
/*
 * User metadata stored with a value: up to RAWKV_META_MAX bytes through
 * rawkv_put_meta(), back from rawkv_get_meta(), rawkv_exists_meta() and
 * the io_uring GET, on devices with 512-byte and 4 KiB logical blocks,
 * across a reload; every bad argument gets its documented errno and
 * changes nothing; damaged metadata on the device is -EIO and drops the
 * key, never wrong bytes.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rawkv.h>	/* uapi/rawkv.h: struct rawkv_kv, raw */
#include "rawkv_test_util.h"
#include "kselftest_harness.h"

#define SLOT		(64 * 1024UL)
#define VAL_MAX		(SLOT - 4096)
#define NKEYS		12

/* Key i's metadata length: none, 1, ..., a full RAWKV_META_MAX. */
static size_t meta_len_of(int i)
{
	static const size_t lens[NKEYS] = {
		0, 1, 2, 37, 64, 100, 128, 200, 255, 256, 256, 3,
	};

	return lens[i];
}

static size_t val_len_of(int i)
{
	static const size_t lens[NKEYS] = {
		100, 0, 4096, VAL_MAX, 1, 5000, 512, 511, 513, 60000, 0, 7,
	};

	return lens[i];
}

static size_t key_of(char *buf, int i)
{
	return sprintf(buf, "meta-%d", i);
}

FIXTURE(meta) {
	struct rawkv *kv;
	const char *dev;
	unsigned char *val, *buf;
	unsigned char meta[RAWKV_META_MAX + 64];
};

FIXTURE_VARIANT(meta) {
	const char *dev;
};

FIXTURE_VARIANT_ADD(meta, lbs512) {
	.dev = KV_DEV_512,
};

FIXTURE_VARIANT_ADD(meta, lbs4k) {
	.dev = KV_DEV_4K,
};

static void load(struct __test_metadata *_metadata, FIXTURE_DATA(meta) *self,
		 int format)
{
	rawkv_close(self->kv);
	self->kv = NULL;
	ASSERT_EQ(0, kv_reload("dev=%s format=%d slot_size=%lu %s", self->dev,
			       format, SLOT, KV_NO_PERIODIC));
	ASSERT_EQ(0, rawkv_open(NULL, &self->kv));
}

FIXTURE_SETUP(meta)
{
	ASSERT_EQ(0, geteuid()) TH_LOG("run as root in the rawkv test VM");
	self->dev = variant->dev;
	self->val = kv_alloc_aligned(VAL_MAX);
	self->buf = kv_alloc_aligned(VAL_MAX);
	ASSERT_NE(NULL, self->val);
	ASSERT_NE(NULL, self->buf);
	load(_metadata, self, 1);
}

FIXTURE_TEARDOWN(meta)
{
	rawkv_close(self->kv);
	kv_unload();
	free(self->val);
	free(self->buf);
}

/* Put key @i with version @v of its value and metadata. */
static void put_key(struct __test_metadata *_metadata,
		    FIXTURE_DATA(meta) *self, int i, int v)
{
	unsigned char meta[RAWKV_META_MAX];
	char key[32];
	size_t klen = key_of(key, i);

	kv_fill(self->val, val_len_of(i), i * 100 + v);
	kv_fill(meta, meta_len_of(i), i * 100 + v + 50);
	ASSERT_EQ(0, rawkv_put_meta(self->kv, key, klen, self->val,
				    val_len_of(i), meta, meta_len_of(i),
				    i & 1 ? RAWKV_PUT_SYNC : 0))
		TH_LOG("key %d", i);
}

/* Key @i must hold version @v, by GET, EXISTS and io_uring. */
static void check_key(struct __test_metadata *_metadata,
		      FIXTURE_DATA(meta) *self, int i, int v)
{
	size_t vlen = val_len_of(i), mlen0 = meta_len_of(i), mlen;
	unsigned char want[RAWKV_META_MAX];
	struct rawkv_completion c;
	struct rawkv_ring *ring;
	char key[32];
	size_t klen = key_of(key, i);

	kv_fill(self->val, vlen, i * 100 + v);
	kv_fill(want, mlen0, i * 100 + v + 50);

	memset(self->meta, 0xaa, sizeof(self->meta));
	mlen = RAWKV_META_MAX;
	ASSERT_EQ((ssize_t)vlen, rawkv_get_meta(self->kv, key, klen, self->buf,
						VAL_MAX, self->meta, &mlen))
		TH_LOG("key %d", i);
	ASSERT_EQ(mlen0, mlen);
	ASSERT_EQ(0, memcmp(self->buf, self->val, vlen));
	ASSERT_EQ(0, memcmp(self->meta, want, mlen0));
	/* not a byte past the metadata */
	ASSERT_EQ(0xaa, self->meta[mlen0]);

	memset(self->meta, 0xaa, sizeof(self->meta));
	mlen = sizeof(self->meta);
	ASSERT_EQ((int)vlen, rawkv_exists_meta(self->kv, key, klen, self->meta,
					       &mlen));
	ASSERT_EQ(mlen0, mlen);
	ASSERT_EQ(0, memcmp(self->meta, want, mlen0));
	ASSERT_EQ(0xaa, self->meta[mlen0]);

	/* the calls without metadata are unchanged */
	ASSERT_EQ((int)vlen, rawkv_exists(self->kv, key, klen));
	ASSERT_EQ((ssize_t)vlen, rawkv_get(self->kv, key, klen, self->buf,
					   VAL_MAX));
	ASSERT_EQ(0, memcmp(self->buf, self->val, vlen));

	/* io_uring: a GET and a length query, both with metadata */
	ASSERT_EQ(0, rawkv_ring_open(self->kv, 4, &ring));
	memset(self->meta, 0xaa, sizeof(self->meta));
	mlen = RAWKV_META_MAX;
	ASSERT_EQ(0, rawkv_ring_get_meta(ring, key, klen, self->buf, VAL_MAX,
					 self->meta, &mlen, 7));
	ASSERT_EQ(1, rawkv_ring_submit(ring));
	ASSERT_EQ(1, rawkv_ring_reap(ring, &c, 1, 1));
	ASSERT_EQ(7U, c.user_data);
	ASSERT_EQ((int64_t)vlen, c.result);
	ASSERT_EQ(mlen0, mlen);
	ASSERT_EQ(0, memcmp(self->meta, want, mlen0));
	ASSERT_EQ(0, memcmp(self->buf, self->val, vlen));
	mlen = RAWKV_META_MAX;
	ASSERT_EQ(0, rawkv_ring_get_meta(ring, key, klen, NULL, 0, self->meta,
					 &mlen, 8));
	ASSERT_EQ(1, rawkv_ring_submit(ring));
	ASSERT_EQ(1, rawkv_ring_reap(ring, &c, 1, 1));
	ASSERT_EQ((int64_t)vlen, c.result);
	ASSERT_EQ(mlen0, mlen);
	rawkv_ring_close(ring);
}

TEST_F(meta, round_trip_and_reload)
{
	int i;

	for (i = 0; i < NKEYS; i++)
		put_key(_metadata, self, i, 1);
	for (i = 0; i < NKEYS; i++)
		check_key(_metadata, self, i, 1);
	/* new values: new metadata, or none where there was some */
	for (i = 0; i < NKEYS; i += 2)
		put_key(_metadata, self, i, 2);
	ASSERT_EQ(0, rawkv_flush(self->kv));
	load(_metadata, self, 0);
	for (i = 0; i < NKEYS; i++)
		check_key(_metadata, self, i, i % 2 ? 1 : 2);
}

TEST_F(meta, put_without_metadata_clears_it)
{
	unsigned char m[RAWKV_META_MAX];
	size_t mlen = sizeof(m);

	put_key(_metadata, self, 9, 1);		/* 256 bytes of metadata */
	ASSERT_EQ(0, rawkv_put(self->kv, "meta-9", 6, "plain", 5));
	ASSERT_EQ(5, rawkv_get_meta(self->kv, "meta-9", 6, self->buf, VAL_MAX,
				    m, &mlen));
	ASSERT_EQ(0U, mlen);
	ASSERT_EQ(0, memcmp(self->buf, "plain", 5));
	mlen = sizeof(m);
	ASSERT_EQ(5, rawkv_exists_meta(self->kv, "meta-9", 6, m, &mlen));
	ASSERT_EQ(0U, mlen);
}

TEST_F(meta, small_buffers_are_erange)
{
	unsigned char m[RAWKV_META_MAX];
	size_t mlen;

	put_key(_metadata, self, 3, 1);		/* 37 bytes */
	mlen = 36;
	ASSERT_EQ(-ERANGE, rawkv_get_meta(self->kv, "meta-3", 6, self->buf,
					  VAL_MAX, m, &mlen));
	ASSERT_EQ(37U, mlen);
	mlen = 1;
	ASSERT_EQ(-ERANGE, rawkv_exists_meta(self->kv, "meta-3", 6, m, &mlen));
	ASSERT_EQ(37U, mlen);
	/* a value buffer too small: -ERANGE before the metadata is looked at */
	mlen = sizeof(m);
	ASSERT_EQ(-ERANGE, rawkv_get_meta(self->kv, "meta-3", 6, self->buf,
					  val_len_of(3) - 1, m, &mlen));
	ASSERT_EQ(sizeof(m), mlen);
	mlen = 0;
	ASSERT_EQ(-EINVAL, rawkv_get_meta(self->kv, "meta-3", 6, self->buf,
					  VAL_MAX, m, &mlen));
	/* exactly the length fits; the key is intact */
	check_key(_metadata, self, 3, 1);
	mlen = 37;
	ASSERT_EQ((ssize_t)val_len_of(3),
		  rawkv_get_meta(self->kv, "meta-3", 6, self->buf, VAL_MAX, m,
				 &mlen));
	ASSERT_EQ(37U, mlen);
}

TEST_F(meta, bad_arguments_change_nothing)
{
	unsigned char m[RAWKV_META_MAX + 1];
	struct rawkv_kv kv;
	struct rawkv_stat st;
	uint64_t puts;
	void *ro, *none;
	int fd = -1;

	put_key(_metadata, self, 9, 1);
	ASSERT_EQ(0, rawkv_stat(self->kv, &st));
	puts = st.puts;
	ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	ASSERT_NE(MAP_FAILED, none);

	/* the library, and the ioctl itself */
	ASSERT_EQ(-EMSGSIZE, rawkv_put_meta(self->kv, "meta-9", 6, "x", 1, m,
					    RAWKV_META_MAX + 1, 0));
	ASSERT_EQ(-EINVAL, rawkv_put_meta(self->kv, "meta-9", 6, "x", 1, m, 1,
					  0x80));
	ASSERT_EQ(-EFAULT, rawkv_put_meta(self->kv, "meta-9", 6, "x", 1, none,
					  10, 0));
	ASSERT_EQ(-EFAULT, rawkv_put_meta(self->kv, "meta-9", 6, "x", 1, NULL,
					  10, 0));
	fd = open("/dev/rawkv", O_RDWR);
	ASSERT_LE(0, fd);
	memset(&kv, 0, sizeof(kv));
	kv.key_ptr = (uintptr_t)"meta-9";
	kv.key_len = 6;
	kv.val_ptr = (uintptr_t)"x";
	kv.val_len = 1;
	kv.meta_ptr = (uintptr_t)m;
	kv.meta_len = RAWKV_META_MAX + 1;
	ASSERT_EQ(-1, ioctl(fd, RAWKV_IOC_PUT, &kv));
	ASSERT_EQ(EMSGSIZE, errno);
	kv.meta_len = UINT32_MAX;
	ASSERT_EQ(-1, ioctl(fd, RAWKV_IOC_PUT, &kv));
	ASSERT_EQ(EMSGSIZE, errno);
	kv.meta_len = 0;			/* meta_ptr without a length */
	ASSERT_EQ(-1, ioctl(fd, RAWKV_IOC_PUT, &kv));
	ASSERT_EQ(EINVAL, errno);
	kv.meta_len = 4;
	kv.reserved = 1;
	ASSERT_EQ(-1, ioctl(fd, RAWKV_IOC_PUT, &kv));
	ASSERT_EQ(EINVAL, errno);
	kv.reserved = 0;
	/* DELETE takes no metadata */
	kv.val_ptr = 0;
	kv.val_len = 0;
	ASSERT_EQ(-1, ioctl(fd, RAWKV_IOC_DELETE, &kv));
	ASSERT_EQ(EINVAL, errno);
	kv.meta_ptr = 0;
	ASSERT_EQ(-1, ioctl(fd, RAWKV_IOC_DELETE, &kv));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(0, rawkv_stat(self->kv, &st));
	ASSERT_EQ(puts, st.puts);
	check_key(_metadata, self, 9, 1);

	/* buffers the kernel cannot write: -EFAULT, the key stays */
	memset(&kv, 0, sizeof(kv));
	kv.key_ptr = (uintptr_t)"meta-9";
	kv.key_len = 6;
	kv.meta_ptr = (uintptr_t)ro;
	kv.meta_len = RAWKV_META_MAX;
	ASSERT_EQ(-1, ioctl(fd, RAWKV_IOC_EXISTS, &kv));
	ASSERT_EQ(EFAULT, errno);
	kv.val_ptr = (uintptr_t)self->buf;
	kv.val_len = VAL_MAX;
	ASSERT_EQ(-1, ioctl(fd, RAWKV_IOC_GET, &kv));
	ASSERT_EQ(EFAULT, errno);
	/* an old caller: zero metadata fields, as its reserved ones were */
	kv.meta_ptr = 0;
	kv.meta_len = 0;
	ASSERT_EQ(0, ioctl(fd, RAWKV_IOC_GET, &kv));
	ASSERT_EQ(val_len_of(9), kv.val_len);
	ASSERT_EQ(0U, kv.meta_len);
	close(fd);
	check_key(_metadata, self, 9, 1);
	munmap(ro, 4096);
	munmap(none, 4096);
}

/*
 * Damage key 5's metadata on the device: a byte of its data, its length
 * (with every checksum made right again, so that only the range check
 * can tell), or a byte after its length, which no checksum covers. The
 * first two are -EIO and drop the key; the third changes nothing.
 */
static void damage_meta(struct __test_metadata *_metadata,
			FIXTURE_DATA(meta) *self, int how)
{
	/* kv_dev_read() and kv_dev_write() take aligned buffers */
	unsigned char *blk = self->buf;
	struct rawkv_slot_hdr *h = (void *)blk;
	struct rawkv_slot_meta *m = (void *)(blk + RAWKV_SLOT_META_OFF);
	unsigned char mb[RAWKV_META_MAX];
	struct rawkv_stat st;
	struct rawkv_sb sb;
	uint64_t vlen, off;
	uint32_t slot, crc;
	size_t mlen;
	int i;

	for (i = 0; i < NKEYS; i++)
		put_key(_metadata, self, i, 1);
	rawkv_close(self->kv);
	self->kv = NULL;
	ASSERT_EQ(0, kv_unload());
	ASSERT_EQ(0, kv_find_slot(self->dev, "meta-5", 6, &slot, &vlen));
	ASSERT_EQ(0, kv_read_sb(self->dev, &sb));
	off = kv_slot_off(&sb, slot);
	ASSERT_EQ(0, kv_dev_read(self->dev, off, blk, RAWKV_BLOCK_SIZE));
	ASSERT_EQ(RAWKV_SLOT_HAS_META, le16toh(h->flags));
	ASSERT_EQ(meta_len_of(5), le16toh(m->len));
	if (how == 0) {
		m->data[17] ^= 0x20;
	} else if (how == 1) {
		m->len = htole16(RAWKV_META_MAX + 1);
		crc = kv_crc32c(le32toh(h->crc), m,
				offsetof(struct rawkv_slot_meta, crc));
		crc = kv_crc32c(crc, m->data, RAWKV_META_MAX);
		m->crc = htole32(crc);
	} else {
		m->data[RAWKV_META_MAX - 1] = 0x5a;
	}
	ASSERT_EQ(0, kv_dev_write(self->dev, off, blk, RAWKV_BLOCK_SIZE));
	ASSERT_EQ(0, kv_load("dev=%s slot_size=%lu %s", self->dev, SLOT,
			     KV_NO_PERIODIC));
	ASSERT_EQ(0, rawkv_open(NULL, &self->kv));

	if (how == 2) {
		for (i = 0; i < NKEYS; i++)
			check_key(_metadata, self, i, 1);
		return;
	}
	/* EXISTS reports the damage, GET drops the key */
	mlen = sizeof(mb);
	ASSERT_EQ(-EIO, rawkv_exists_meta(self->kv, "meta-5", 6, mb, &mlen));
	ASSERT_EQ((int)val_len_of(5), rawkv_exists(self->kv, "meta-5", 6));
	ASSERT_EQ(-EIO, rawkv_get(self->kv, "meta-5", 6, self->buf, VAL_MAX));
	ASSERT_EQ(-ENOENT, rawkv_exists(self->kv, "meta-5", 6));
	ASSERT_EQ(0, rawkv_stat(self->kv, &st));
	ASSERT_EQ(1U, st.stale_dropped);
	for (i = 0; i < NKEYS; i++)
		if (i != 5)
			check_key(_metadata, self, i, 1);
}

TEST_F(meta, damaged_metadata_is_eio_then_gone)
{
	damage_meta(_metadata, self, 0);
}

TEST_F(meta, metadata_length_out_of_range_is_eio_then_gone)
{
	damage_meta(_metadata, self, 1);
}

TEST_F(meta, bytes_after_the_metadata_are_not_checked)
{
	damage_meta(_metadata, self, 2);
}

/* Run @cmd under sh; its stdout into @out (up to @size bytes): its length. */
static ssize_t run(const char *cmd, char *out, size_t size, int *status)
{
	size_t n = 0;
	FILE *p = popen(cmd, "r");

	if (!p)
		return -1;
	n = fread(out, 1, size, p);
	*status = pclose(p);
	return n;
}

TEST_F(meta, cli_put_meta_and_meta)
{
	char out[512], want[RAWKV_META_MAX + 1];
	int status;
	FILE *f;

	ASSERT_EQ(3, run("printf abc | /rawkv/rawkv put --meta 'shape=[2,8] dtype=bf16' cli-1 && /rawkv/rawkv get cli-1",
			 out, sizeof(out), &status));
	ASSERT_EQ(0, status);
	ASSERT_EQ(0, memcmp(out, "abc", 3));
	ASSERT_EQ(22, run("/rawkv/rawkv meta cli-1", out, sizeof(out), &status));
	ASSERT_EQ(0, status);
	ASSERT_EQ(0, memcmp(out, "shape=[2,8] dtype=bf16", 22));

	/* any bytes from a file, exactly 256 of them */
	kv_fill(want, sizeof(want), 77);
	f = fopen("/tmp/meta.bin", "w");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(RAWKV_META_MAX, fwrite(want, 1, RAWKV_META_MAX, f));
	ASSERT_EQ(0, fclose(f));
	ASSERT_EQ(0, run("echo v | /rawkv/rawkv put-sync --meta-file /tmp/meta.bin cli-2",
			 out, sizeof(out), &status));
	ASSERT_EQ(0, status);
	ASSERT_EQ(RAWKV_META_MAX, run("/rawkv/rawkv meta cli-2", out,
				      sizeof(out), &status));
	ASSERT_EQ(0, memcmp(out, want, RAWKV_META_MAX));

	/* 257 bytes: refused, the old value and metadata stay */
	f = fopen("/tmp/meta.bin", "w");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(RAWKV_META_MAX + 1, fwrite(want, 1, RAWKV_META_MAX + 1, f));
	ASSERT_EQ(0, fclose(f));
	ASSERT_EQ(0, run("echo w | /rawkv/rawkv put --meta-file /tmp/meta.bin cli-2 2>&1 >/dev/null | grep -c 'longer than 256 bytes'",
			 out, sizeof(out), &status) <= 0);
	ASSERT_EQ(0, strncmp(out, "1\n", 2));
	ASSERT_EQ(RAWKV_META_MAX, run("/rawkv/rawkv meta cli-2", out,
				      sizeof(out), &status));
	ASSERT_EQ(0, memcmp(out, want, RAWKV_META_MAX));
	ASSERT_EQ(2, run("/rawkv/rawkv get cli-2", out, sizeof(out), &status));
	ASSERT_EQ(0, memcmp(out, "v\n", 2));

	/* a put without metadata clears it; a missing key is exit status 1 */
	ASSERT_EQ(0, run("echo x | /rawkv/rawkv put cli-2 && /rawkv/rawkv meta cli-2",
			 out, sizeof(out), &status));
	ASSERT_EQ(0, status);
	run("/rawkv/rawkv meta no-such-key 2>/dev/null", out, sizeof(out),
	    &status);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(1, WEXITSTATUS(status));
	run("/rawkv/rawkv put --meta a --meta-file /tmp/meta.bin k 2>/dev/null",
	    out, sizeof(out), &status);
	ASSERT_EQ(2, WEXITSTATUS(status));
}

TEST_HARNESS_MAIN
