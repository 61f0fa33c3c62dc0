/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the rawkv selftests: loading and unloading the module,
 * deterministic test data, crc32c, and raw access to the on-device format
 * (kmod/rawkv_format.h, version 3; for the corruption tests).
 *
 * Every helper returns 0 (or a count) on success and a negative errno on
 * failure, so that the tests themselves do the asserting.
 *
 * The tests expect the rawkv test VM (scripts/vm.sh): root, rawkv.ko at
 * $RAWKV_KO (default /rawkv/rawkv.ko) and these disks.
 */
#ifndef RAWKV_TEST_UTIL_H
#define RAWKV_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Both the library and the ioctl ABI live in a file named rawkv.h (and so
 * does the module's private header): name them by path.
 */
#include "../userlib/rawkv.h"
#include "rawkv_format.h"

#define KV_DEV_512	"/dev/vda"	/* 1 GiB, 512 B logical blocks */
#define KV_DEV_4K	"/dev/vdb"	/* 64 MiB, 4 KiB logical blocks */
#define KV_DEV_TINY	"/dev/vdc"	/* 16 KiB: too small for rawkv */
#define KV_DEV_LW_DATA	"/dev/vdd"	/* 64 MiB, 512 B: dm-log-writes data */
#define KV_DEV_LW_LOG	"/dev/vde"	/* 1 GiB: dm-log-writes log */
#define KV_DEV_IMAGE	"/dev/vdf"	/* 64 MiB: crash images built here */

#define KV_KO_DEFAULT	"/rawkv/rawkv.ko"

/*
 * Long enough that no background commit runs during a test: tests that
 * count commits or look at the log and the anchors rely on FLUSH, sync
 * PUTs and DELETEs, full devices and rmmod being the only committers.
 */
#define KV_NO_PERIODIC	"checkpoint_ms=3600000"

#define KV_MiB		(1024 * 1024UL)

/* Load rawkv.ko with the printf-style parameter string; 0 or -errno. */
int kv_load(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Unload rawkv; 0 once it is gone, -ENOENT if it was not loaded. */
int kv_unload(void);

/* Unload rawkv if it is loaded, then load it: 0 or -errno. */
int kv_reload(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Whether rawkv is loaded. */
bool kv_loaded(void);

/* Deterministic pseudo-random numbers (splitmix64). */
uint64_t kv_rand(uint64_t *state);

/* Fill @buf with @len bytes determined by @seed. */
void kv_fill(void *buf, size_t len, uint64_t seed);

/* Standard crc32c step: kv_crc32c(~0U, buf, len) is the format's checksum. */
uint32_t kv_crc32c(uint32_t crc, const void *buf, size_t len);

/* Size of a block device in bytes, or -errno. */
int64_t kv_dev_bytes(const char *dev);

/* A zeroed buffer aligned for O_DIRECT; free() it. */
void *kv_alloc_aligned(size_t len);

/*
 * O_DIRECT I/O on a raw device (the module must be unloaded).
 * @off and @len must be multiples of RAWKV_BLOCK_SIZE and @buf aligned.
 */
int kv_dev_read(const char *dev, uint64_t off, void *buf, size_t len);
int kv_dev_write(const char *dev, uint64_t off, const void *buf, size_t len);

/* Flip every bit of the byte at @off of the device (read, modify, write). */
int kv_dev_flip_byte(const char *dev, uint64_t off);

/* Read the superblock; -EBADMSG if its magic or crc is wrong. */
int kv_read_sb(const char *dev, struct rawkv_sb *sb);

/* Set sb->crc for the current contents and write it to block 0. */
int kv_write_sb(const char *dev, struct rawkv_sb *sb);

/*
 * Read the anchor of area @area (0: A, 1: B); -EBADMSG if its magic, crc
 * or uuid is wrong (its other fields are not checked).
 */
int kv_read_anchor(const char *dev, const struct rawkv_sb *sb, int area,
		   struct rawkv_anchor *a);

/* Set a->crc for the current contents and write it to area @area. */
int kv_write_anchor(const char *dev, const struct rawkv_sb *sb, int area,
		    struct rawkv_anchor *a);

/* The crc of a log block (RAWKV_BLOCK_SIZE bytes), as rawkv_format.h says. */
uint32_t kv_log_block_crc(const void *blk);

/* Byte offset of the slot metadata entry of @slot. */
uint64_t kv_meta_ent_off(const struct rawkv_sb *sb, uint32_t slot);

/* The crc of the slot metadata entry @me of @slot, as rawkv_format.h says. */
uint32_t kv_meta_ent_crc(const struct rawkv_sb *sb,
			 const struct rawkv_meta_ent *me, uint32_t slot);

/* Read or write the slot metadata entry of @slot as it is (no checks). */
int kv_read_meta_ent(const char *dev, const struct rawkv_sb *sb, uint32_t slot,
		     struct rawkv_meta_ent *me);
int kv_write_meta_ent(const char *dev, const struct rawkv_sb *sb,
		      uint32_t slot, const struct rawkv_meta_ent *me);

/*
 * Find @key in the slot metadata (which holds every commit after a clean
 * rmmod, but not the log): the slot whose entry verifies and whose header
 * holds @key with the entry's generation and length. Returns its slot
 * index and value length; -ENOENT if it is not there.
 */
int kv_find_slot(const char *dev, const void *key, size_t klen,
		 uint32_t *slot, uint64_t *value_len);

/*
 * Find the newest slot header holding @key (the highest generation),
 * whatever the metadata says: for values written since the last
 * writeback. -ENOENT if no slot header holds it.
 */
int kv_find_slot_hdr(const char *dev, const void *key, size_t klen,
		     uint32_t *slot, uint64_t *gen);

/* Byte offset of slot @slot. */
uint64_t kv_slot_off(const struct rawkv_sb *sb, uint32_t slot);

/* Read the header of slot @slot; -EBADMSG if its magic or crc is wrong. */
int kv_read_slot_hdr(const char *dev, const struct rawkv_sb *sb, uint32_t slot,
		     struct rawkv_slot_hdr *hdr);

#endif /* RAWKV_TEST_UTIL_H */
