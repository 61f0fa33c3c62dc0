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

int kv_read_ckpt_hdr(const char *dev, const struct rawkv_sb *sb, int area,
		     struct rawkv_ckpt_hdr *hdr)
{
	int ret = read_struct(dev, le64toh(sb->ckpt_off[area]), hdr,
			      sizeof(*hdr));

	if (ret)
		return ret;
	if (le64toh(hdr->magic) != RAWKV_CKPT_MAGIC ||
	    le32toh(hdr->crc) != STRUCT_CRC(hdr) ||
	    memcmp(hdr->uuid, sb->uuid, sizeof(hdr->uuid)))
		return -EBADMSG;
	return 0;
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

int kv_find_slot(const char *dev, const void *key, size_t klen,
		 uint32_t *slot, uint64_t *value_len)
{
	struct rawkv_ckpt_hdr hdr[2], *cur = NULL;
	struct rawkv_sb sb;
	const struct rawkv_ckpt_entry *e;
	uint64_t len, pos, bytes;
	unsigned char *payload;
	int area, ret;

	ret = kv_read_sb(dev, &sb);
	if (ret)
		return ret;
	for (area = 0; area < 2; area++) {
		if (kv_read_ckpt_hdr(dev, &sb, area, &hdr[area]))
			continue;
		if (!cur || le64toh(hdr[area].seq) > le64toh(cur->seq))
			cur = &hdr[area];
	}
	if (!cur)
		return -EBADMSG;
	area = cur - hdr;
	len = le64toh(cur->payload_len);
	if (len > le64toh(sb.ckpt_size) - RAWKV_BLOCK_SIZE)
		return -EBADMSG;
	bytes = (len + RAWKV_BLOCK_SIZE - 1) & ~(uint64_t)(RAWKV_BLOCK_SIZE - 1);
	payload = kv_alloc_aligned(bytes);
	if (!payload)
		return -ENOMEM;
	ret = kv_dev_read(dev, le64toh(sb.ckpt_off[area]) + RAWKV_BLOCK_SIZE,
			  payload, bytes);
	if (ret)
		goto out;
	ret = -EBADMSG;
	if (kv_crc32c(~0U, payload, len) != le32toh(cur->payload_crc))
		goto out;
	/* Entries hold only a fingerprint: the key is in the slot header. */
	ret = -ENOENT;
	for (pos = 0; pos + sizeof(*e) <= len; pos += sizeof(*e)) {
		struct rawkv_slot_hdr sh;

		e = (const void *)(payload + pos);
		if (kv_read_slot_hdr(dev, &sb, le32toh(e->slot), &sh) ||
		    le64toh(sh.gen) != le64toh(e->gen) ||
		    le16toh(sh.key_len) != klen || memcmp(sh.key, key, klen))
			continue;
		*slot = le32toh(e->slot);
		*value_len = le32toh(e->value_len);
		ret = 0;
		break;
	}
out:
	free(payload);
	return ret;
}
