// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers shared by the rawkv selftests; see rawkv_test_util.h.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rawkv_test_util.h"

static int vload(const char *fmt, va_list ap)
{
	const char *ko = getenv("RAWKV_KO");
	char params[512];
	int fd, ret = 0;

	if (!ko || !*ko)
		ko = KV_KO_DEFAULT;
	vsnprintf(params, sizeof(params), fmt, ap);
	fd = open(ko, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		/*
		 * Not the module's -ENOENT: a test expecting a refusal must
		 * not pass because the module is missing.
		 */
		fprintf(stderr, "# cannot open %s: %s\n", ko, strerror(errno));
		return -ENOPKG;
	}
	if (syscall(SYS_finit_module, fd, params, 0) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int kv_load(const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vload(fmt, ap);
	va_end(ap);
	return ret;
}

int kv_unload(void)
{
	int i;

	/*
	 * A handle closed just before (or a killed test child) may hold a
	 * module reference for a moment; retry for up to ~10 s.
	 */
	for (i = 0; i < 200; i++) {
		if (syscall(SYS_delete_module, "rawkv", O_NONBLOCK) == 0)
			return 0;
		if (errno != EAGAIN && errno != EBUSY)
			return -errno;
		usleep(50 * 1000);
	}
	return -errno;
}

int kv_reload(const char *fmt, ...)
{
	va_list ap;
	int ret;

	ret = kv_unload();
	if (ret && ret != -ENOENT)
		return ret;
	va_start(ap, fmt);
	ret = vload(fmt, ap);
	va_end(ap);
	return ret;
}

bool kv_loaded(void)
{
	return access("/sys/module/rawkv", F_OK) == 0;
}

uint64_t kv_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void kv_fill(void *buf, size_t len, uint64_t seed)
{
	unsigned char *p = buf;
	uint64_t state = seed, r = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		if (i % 8 == 0)
			r = kv_rand(&state);
		p[i] = r >> (8 * (i % 8));
	}
}

static uint32_t crc32c_table[256];

static void __attribute__((constructor)) crc32c_init(void)
{
	uint32_t i, j, c;

	for (i = 0; i < 256; i++) {
		c = i;
		for (j = 0; j < 8; j++)
			c = (c >> 1) ^ (c & 1 ? 0x82f63b78 : 0);
		crc32c_table[i] = c;
	}
}

uint32_t kv_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len--)
		crc = crc32c_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

int64_t kv_dev_bytes(const char *dev)
{
	uint64_t bytes;
	int fd, ret = 0;

	fd = open(dev, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, BLKGETSIZE64, &bytes) < 0)
		ret = -errno;
	close(fd);
	return ret ? ret : (int64_t)bytes;
}

void *kv_alloc_aligned(size_t len)
{
	void *p;

	if (posix_memalign(&p, RAWKV_BLOCK_SIZE, len ? len : 1))
		return NULL;
	memset(p, 0, len);
	return p;
}

static int dev_io(const char *dev, uint64_t off, void *buf, size_t len,
		  bool write)
{
	size_t done = 0;
	ssize_t n;
	int fd, ret = 0;

	fd = open(dev, (write ? O_RDWR : O_RDONLY) | O_DIRECT | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (done < len) {
		if (write)
			n = pwrite(fd, (char *)buf + done, len - done,
				   off + done);
		else
			n = pread(fd, (char *)buf + done, len - done,
				  off + done);
		if (n < 0) {
			ret = -errno;
			break;
		}
		if (n == 0) {
			ret = -EIO;
			break;
		}
		done += n;
	}
	if (!ret && write && fsync(fd) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int kv_dev_read(const char *dev, uint64_t off, void *buf, size_t len)
{
	return dev_io(dev, off, buf, len, false);
}

int kv_dev_write(const char *dev, uint64_t off, const void *buf, size_t len)
{
	return dev_io(dev, off, (void *)buf, len, true);
}

int kv_dev_flip_byte(const char *dev, uint64_t off)
{
	uint64_t block = off & ~(uint64_t)(RAWKV_BLOCK_SIZE - 1);
	unsigned char *buf = kv_alloc_aligned(RAWKV_BLOCK_SIZE);
	int ret;

	if (!buf)
		return -ENOMEM;
	ret = kv_dev_read(dev, block, buf, RAWKV_BLOCK_SIZE);
	if (!ret) {
		buf[off - block] ^= 0xff;
		ret = kv_dev_write(dev, block, buf, RAWKV_BLOCK_SIZE);
	}
	free(buf);
	return ret;
}

/* crc32c of a struct whose last field is its __le32 crc, with crc zero */
#define STRUCT_CRC(s) ({						\
	__typeof__(*(s)) _c = *(s);					\
	_c.crc = 0;							\
	kv_crc32c(~0U, &_c, sizeof(_c));				\
})

/* Read the first @len bytes of the block at @off into @out. */
static int read_struct(const char *dev, uint64_t off, void *out, size_t len)
{
	void *buf = kv_alloc_aligned(RAWKV_BLOCK_SIZE);
	int ret;

	if (!buf)
		return -ENOMEM;
	ret = kv_dev_read(dev, off, buf, RAWKV_BLOCK_SIZE);
	if (!ret)
		memcpy(out, buf, len);
	free(buf);
	return ret;
}

int kv_read_sb(const char *dev, struct rawkv_sb *sb)
{
	int ret = read_struct(dev, 0, sb, sizeof(*sb));

	if (ret)
		return ret;
	if (le64toh(sb->magic) != RAWKV_SB_MAGIC ||
	    le32toh(sb->crc) != STRUCT_CRC(sb))
		return -EBADMSG;
	return 0;
}

int kv_write_sb(const char *dev, struct rawkv_sb *sb)
{
	void *buf = kv_alloc_aligned(RAWKV_BLOCK_SIZE);
	int ret;

	if (!buf)
		return -ENOMEM;
	sb->crc = htole32(STRUCT_CRC(sb));
	ret = kv_dev_read(dev, 0, buf, RAWKV_BLOCK_SIZE);
	if (!ret) {
		memcpy(buf, sb, sizeof(*sb));
		ret = kv_dev_write(dev, 0, buf, RAWKV_BLOCK_SIZE);
	}
	free(buf);
	return ret;
}

int kv_read_anchor(const char *dev, const struct rawkv_sb *sb, int area,
		   struct rawkv_anchor *a)
{
	int ret = read_struct(dev, le64toh(sb->anchor_off[area]), a,
			      sizeof(*a));

	if (ret)
		return ret;
	if (le64toh(a->magic) != RAWKV_ANCHOR_MAGIC ||
	    le32toh(a->crc) != STRUCT_CRC(a) ||
	    memcmp(a->uuid, sb->uuid, sizeof(a->uuid)))
		return -EBADMSG;
	return 0;
}

int kv_write_anchor(const char *dev, const struct rawkv_sb *sb, int area,
		    struct rawkv_anchor *a)
{
	uint64_t off = le64toh(sb->anchor_off[area]);
	void *buf = kv_alloc_aligned(RAWKV_BLOCK_SIZE);
	int ret;

	if (!buf)
		return -ENOMEM;
	a->crc = htole32(STRUCT_CRC(a));
	ret = kv_dev_read(dev, off, buf, RAWKV_BLOCK_SIZE);
	if (!ret) {
		memcpy(buf, a, sizeof(*a));
		ret = kv_dev_write(dev, off, buf, RAWKV_BLOCK_SIZE);
	}
	free(buf);
	return ret;
}

uint32_t kv_log_block_crc(const void *blk)
{
	static const uint8_t zero[4];
	size_t off = offsetof(struct rawkv_log_hdr, crc);
	uint32_t crc;

	crc = kv_crc32c(~0U, blk, off);
	crc = kv_crc32c(crc, zero, sizeof(zero));
	return kv_crc32c(crc, (const uint8_t *)blk + off + 4,
			 RAWKV_BLOCK_SIZE - off - 4);
}

uint64_t kv_meta_ent_off(const struct rawkv_sb *sb, uint32_t slot)
{
	return le64toh(sb->meta_off) +
	       (uint64_t)(slot / RAWKV_META_PER_BLOCK) * RAWKV_BLOCK_SIZE +
	       slot % RAWKV_META_PER_BLOCK * sizeof(struct rawkv_meta_ent);
}

uint32_t kv_meta_ent_crc(const struct rawkv_sb *sb,
			 const struct rawkv_meta_ent *me, uint32_t slot)
{
	struct rawkv_meta_ent e = *me;
	uint32_t s = htole32(slot), crc;

	e.crc = 0;
	crc = kv_crc32c(~0U, sb->uuid, sizeof(sb->uuid));
	crc = kv_crc32c(crc, &s, sizeof(s));
	return kv_crc32c(crc, &e, sizeof(e));
}

int kv_read_meta_ent(const char *dev, const struct rawkv_sb *sb, uint32_t slot,
		     struct rawkv_meta_ent *me)
{
	uint64_t off = kv_meta_ent_off(sb, slot);
	uint64_t block = off & ~(uint64_t)(RAWKV_BLOCK_SIZE - 1);
	unsigned char *buf = kv_alloc_aligned(RAWKV_BLOCK_SIZE);
	int ret;

	if (!buf)
		return -ENOMEM;
	ret = kv_dev_read(dev, block, buf, RAWKV_BLOCK_SIZE);
	if (!ret)
		memcpy(me, buf + (off - block), sizeof(*me));
	free(buf);
	return ret;
}

int kv_write_meta_ent(const char *dev, const struct rawkv_sb *sb,
		      uint32_t slot, const struct rawkv_meta_ent *me)
{
	uint64_t off = kv_meta_ent_off(sb, slot);
	uint64_t block = off & ~(uint64_t)(RAWKV_BLOCK_SIZE - 1);
	unsigned char *buf = kv_alloc_aligned(RAWKV_BLOCK_SIZE);
	int ret;

	if (!buf)
		return -ENOMEM;
	ret = kv_dev_read(dev, block, buf, RAWKV_BLOCK_SIZE);
	if (!ret) {
		memcpy(buf + (off - block), me, sizeof(*me));
		ret = kv_dev_write(dev, block, buf, RAWKV_BLOCK_SIZE);
	}
	free(buf);
	return ret;
}

uint64_t kv_slot_off(const struct rawkv_sb *sb, uint32_t slot)
{
	return le64toh(sb->data_off) + slot * le64toh(sb->slot_size);
}

int kv_read_slot_hdr(const char *dev, const struct rawkv_sb *sb, uint32_t slot,
		     struct rawkv_slot_hdr *hdr)
{
	int ret = read_struct(dev, kv_slot_off(sb, slot), hdr, sizeof(*hdr));

	if (ret)
		return ret;
	if (le64toh(hdr->magic) != RAWKV_SLOT_MAGIC ||
	    le32toh(hdr->crc) != STRUCT_CRC(hdr))
		return -EBADMSG;
	return 0;
}

/* Whether slot header @h holds @key. */
static bool hdr_holds(const struct rawkv_slot_hdr *h, const void *key,
		      size_t klen)
{
	return le16toh(h->key_len) == klen && !memcmp(h->key, key, klen);
}

int kv_find_slot(const char *dev, const void *key, size_t klen,
		 uint32_t *slot, uint64_t *value_len)
{
	const struct rawkv_meta_ent *me;
	struct rawkv_slot_hdr sh;
	struct rawkv_sb sb;
	unsigned char *meta;
	uint64_t count;
	uint32_t i;
	int ret;

	ret = kv_read_sb(dev, &sb);
	if (ret)
		return ret;
	count = le64toh(sb.slot_count);
	meta = kv_alloc_aligned(le64toh(sb.meta_size));
	if (!meta)
		return -ENOMEM;
	ret = kv_dev_read(dev, le64toh(sb.meta_off), meta,
			  le64toh(sb.meta_size));
	if (ret)
		goto out;
	ret = -ENOENT;
	for (i = 0; i < count; i++) {
		me = (const void *)(meta + kv_meta_ent_off(&sb, i) -
				    le64toh(sb.meta_off));
		if (!me->gen || le32toh(me->crc) != kv_meta_ent_crc(&sb, me, i))
			continue;
		/* Entries hold only a fingerprint: the key is in the header. */
		if (kv_read_slot_hdr(dev, &sb, i, &sh) ||
		    le64toh(sh.gen) != (le64toh(me->gen) & ~RAWKV_META_SYNC) ||
		    !hdr_holds(&sh, key, klen))
			continue;
		*slot = i;
		*value_len = le32toh(me->value_len);
		ret = 0;
		break;
	}
out:
	free(meta);
	return ret;
}

int kv_find_slot_hdr(const char *dev, const void *key, size_t klen,
		     uint32_t *slot, uint64_t *gen)
{
	struct rawkv_slot_hdr sh;
	struct rawkv_sb sb;
	uint64_t count, best = 0;
	uint32_t i;
	int ret;

	ret = kv_read_sb(dev, &sb);
	if (ret)
		return ret;
	count = le64toh(sb.slot_count);
	ret = -ENOENT;
	for (i = 0; i < count; i++) {
		if (kv_read_slot_hdr(dev, &sb, i, &sh) ||
		    !hdr_holds(&sh, key, klen) || le64toh(sh.gen) <= best)
			continue;
		best = le64toh(sh.gen);
		*slot = i;
		*gen = best;
		ret = 0;
	}
	return ret;
}
