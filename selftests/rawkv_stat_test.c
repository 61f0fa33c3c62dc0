// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv STAT: the geometry matches the device and the format, and every
 * counter moves as the commands say (puts, gets, hits, misses, deletes,
 * slots_used, checkpoints and checkpoint_seq, bytes written and read, the
 * memory of the entries).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rawkv_test_util.h"
#include "kselftest_harness.h"

#define round_up(x, n)	(((x) + (n) - 1) / (n) * (n))

FIXTURE(geometry) {
	struct rawkv *kv;
	struct rawkv_stat st;
};

FIXTURE_VARIANT(geometry) {
	const char *dev;
	unsigned int lbs;
	unsigned long slot_size;
};

FIXTURE_VARIANT_ADD(geometry, vda_512_1mib) {
	.dev = KV_DEV_512, .lbs = 512, .slot_size = KV_MiB,
};

FIXTURE_VARIANT_ADD(geometry, vdb_4096_64kib) {
	.dev = KV_DEV_4K, .lbs = 4096, .slot_size = 64 * 1024,
};

FIXTURE_SETUP(geometry)
{
	ASSERT_EQ(0, geteuid()) TH_LOG("run as root in the rawkv test VM");
	ASSERT_EQ(0, kv_reload("dev=%s format=1 slot_size=%lu", variant->dev,
			       variant->slot_size));
	ASSERT_EQ(0, rawkv_open(NULL, &self->kv));
	ASSERT_EQ(0, rawkv_stat(self->kv, &self->st));
}

FIXTURE_TEARDOWN(geometry)
{
	rawkv_close(self->kv);
	EXPECT_EQ(0, kv_unload());
}

TEST_F(geometry, geometry_matches_device_and_format)
{
	int64_t bytes = kv_dev_bytes(variant->dev);
	struct rawkv_stat *st = &self->st;
	uint64_t max_slots, meta, align, log_blocks;

	ASSERT_LT(0, bytes);
	ASSERT_EQ((uint64_t)bytes, st->device_bytes);
	ASSERT_EQ(variant->lbs, st->logical_block_size);
	ASSERT_EQ(variant->slot_size, st->slot_size);
	ASSERT_EQ(variant->slot_size - RAWKV_BLOCK_SIZE, st->value_max);
	ASSERT_EQ(RAWKV_KEY_MAX, st->key_max);
	/*
	 * The slots fit, and what is left over is at most the metadata (the
	 * superblock, two anchors, the log, 24 bytes of slot metadata and 4
	 * of LRU hint per slot), the alignment of the data region and less
	 * than one slot.
	 */
	ASSERT_GE(st->device_bytes, st->slots_total * st->slot_size);
	max_slots = st->device_bytes / st->slot_size;
	log_blocks = max_slots / RAWKV_LOG_SLOTS_PER_BLOCK;
	if (log_blocks < RAWKV_LOG_BLOCKS_MIN)
		log_blocks = RAWKV_LOG_BLOCKS_MIN;
	if (log_blocks > RAWKV_LOG_BLOCKS_MAX)
		log_blocks = RAWKV_LOG_BLOCKS_MAX;
	meta = (3 + log_blocks) * RAWKV_BLOCK_SIZE +
	       (max_slots + RAWKV_META_PER_BLOCK - 1) / RAWKV_META_PER_BLOCK *
	       RAWKV_BLOCK_SIZE + round_up(max_slots * 4, RAWKV_BLOCK_SIZE);
	align = st->slot_size < RAWKV_DATA_ALIGN ? st->slot_size :
						   RAWKV_DATA_ALIGN;
	ASSERT_GT(st->slots_total * st->slot_size + meta + align +
		  st->slot_size, st->device_bytes)
		TH_LOG("%llu slots leave room for more",
		       (unsigned long long)st->slots_total);
	ASSERT_LT(0U, st->table_mem_bytes);
}

TEST_F(geometry, fresh_store_counters_are_zero)
{
	struct rawkv_stat *st = &self->st;

	ASSERT_EQ(0U, st->slots_used);
	ASSERT_EQ(0U, st->puts);
	ASSERT_EQ(0U, st->gets);
	ASSERT_EQ(0U, st->hits);
	ASSERT_EQ(0U, st->misses);
	ASSERT_EQ(0U, st->deletes);
	ASSERT_EQ(0U, st->evictions);
	ASSERT_EQ(0U, st->io_errors);
	ASSERT_EQ(0U, st->load_dropped);
	ASSERT_EQ(0U, st->stale_dropped);
}

TEST_F(geometry, crc32c_driver_and_speed_are_reported)
{
	struct rawkv_stat *st = &self->st;
	size_t n = strnlen(st->crc32c_driver, sizeof(st->crc32c_driver));

	/* "crc32c-generic", "crc32c-intel", ...: a NUL-terminated name */
	ASSERT_GT(sizeof(st->crc32c_driver), n);
	ASSERT_EQ(0, strncmp(st->crc32c_driver, "crc32c", 6))
		TH_LOG("crc32c_driver \"%s\"", st->crc32c_driver);
	ASSERT_LT(0U, st->crc32c_mbps);
	for (n = 0; n < sizeof(st->reserved) / sizeof(st->reserved[0]); n++)
		ASSERT_EQ(0U, st->reserved[n]);
}

FIXTURE(counters) {
	struct rawkv *kv;
	unsigned char *buf;
};

FIXTURE_SETUP(counters)
{
	ASSERT_EQ(0, geteuid()) TH_LOG("run as root in the rawkv test VM");
	ASSERT_EQ(0, kv_reload("dev=%s format=1 slot_size=%lu %s", KV_DEV_4K,
			       KV_MiB, KV_NO_PERIODIC));
	ASSERT_EQ(0, rawkv_open(NULL, &self->kv));
	self->buf = calloc(1, KV_MiB);
	ASSERT_NE(NULL, self->buf);
}

FIXTURE_TEARDOWN(counters)
{
	rawkv_close(self->kv);
	free(self->buf);
	EXPECT_EQ(0, kv_unload());
}

static struct rawkv_stat get_stat(struct __test_metadata *_metadata,
				  struct rawkv *kv)
{
	struct rawkv_stat st;

	ASSERT_EQ(0, rawkv_stat(kv, &st));
	ASSERT_EQ(st.gets, st.hits + st.misses);
	return st;
}

TEST_F(counters, put_counts_puts_slots_and_bytes_written)
{
	struct rawkv_stat a, b;

	a = get_stat(_metadata, self->kv);
	ASSERT_EQ(0, rawkv_put(self->kv, "one", 3, self->buf, 1000));
	ASSERT_EQ(0, rawkv_put(self->kv, "two", 3, self->buf, 50000));
	ASSERT_EQ(0, rawkv_put(self->kv, "three", 5, self->buf, 0));
	b = get_stat(_metadata, self->kv);
	ASSERT_EQ(a.puts + 3, b.puts);
	ASSERT_EQ(3U, b.slots_used);
	/* each PUT writes at least its slot header block and its value */
	ASSERT_LE(a.bytes_written + 3 * RAWKV_BLOCK_SIZE + 51000,
		  b.bytes_written);

	/* an overwrite is a PUT but takes no more slots */
	ASSERT_EQ(0, rawkv_put(self->kv, "two", 3, self->buf, 10));
	a = get_stat(_metadata, self->kv);
	ASSERT_EQ(b.puts + 1, a.puts);
	ASSERT_EQ(3U, a.slots_used);

	/* a refused PUT counts nothing */
	ASSERT_EQ(-E2BIG, rawkv_put(self->kv, "big", 3, self->buf, KV_MiB));
	ASSERT_EQ(-EINVAL, rawkv_put(self->kv, "", 0, self->buf, 1));
	b = get_stat(_metadata, self->kv);
	ASSERT_EQ(a.puts, b.puts);
	ASSERT_EQ(3U, b.slots_used);
}

/* Counters are per CPU: what processes on every CPU did adds up. */
TEST_F(counters, counts_of_concurrent_processes_add_up)
{
	const int procs = 4, each = 10;
	struct rawkv_stat a, b;
	int i, status;

	a = get_stat(_metadata, self->kv);
	for (i = 0; i < procs; i++) {
		pid_t pid = fork();

		ASSERT_LE(0, pid);
		if (!pid) {
			char key[32];
			int j, bad = 0;

			for (j = 0; j < each; j++) {
				snprintf(key, sizeof(key), "p%d-%d", i, j);
				bad |= rawkv_put(self->kv, key, strlen(key),
						 self->buf, 4096) != 0;
				bad |= rawkv_get(self->kv, key, strlen(key),
						 self->buf, 4096) != 4096;
				bad |= rawkv_get(self->kv, "none", 4,
						 self->buf, 4096) != -ENOENT;
			}
			_exit(bad);
		}
	}
	for (i = 0; i < procs; i++) {
		ASSERT_LT(0, wait(&status));
		ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	}
	b = get_stat(_metadata, self->kv);
	ASSERT_EQ(a.puts + procs * each, b.puts);
	ASSERT_EQ(a.hits + procs * each, b.hits);
	ASSERT_EQ(a.misses + procs * each, b.misses);
	ASSERT_EQ(a.gets + 2 * procs * each, b.gets);
	ASSERT_EQ((uint64_t)procs * each, b.slots_used);
}

TEST_F(counters, get_counts_hits_misses_and_bytes_read)
{
	struct rawkv_stat a, b;

	ASSERT_EQ(0, rawkv_put(self->kv, "val", 3, self->buf, 70000));
	ASSERT_EQ(0, rawkv_put(self->kv, "empty", 5, self->buf, 0));
	a = get_stat(_metadata, self->kv);
	ASSERT_EQ(70000, rawkv_get(self->kv, "val", 3, self->buf, KV_MiB));
	ASSERT_EQ(0, rawkv_get(self->kv, "empty", 5, self->buf, KV_MiB));
	ASSERT_EQ(-ENOENT, rawkv_get(self->kv, "none", 4, self->buf, KV_MiB));
	b = get_stat(_metadata, self->kv);
	ASSERT_EQ(a.gets + 3, b.gets);
	ASSERT_EQ(a.hits + 2, b.hits);
	ASSERT_EQ(a.misses + 1, b.misses);
	ASSERT_LE(a.bytes_read + 70000, b.bytes_read);
	ASSERT_EQ(a.bytes_written, b.bytes_written);

	/* a length query and a short buffer find the key too */
	ASSERT_EQ(70000, rawkv_get(self->kv, "val", 3, NULL, 0));
	ASSERT_EQ(-ERANGE, rawkv_get(self->kv, "val", 3, self->buf, 10));
	a = get_stat(_metadata, self->kv);
	ASSERT_EQ(b.gets + 2, a.gets);
	ASSERT_EQ(b.hits + 2, a.hits);
	ASSERT_EQ(b.misses, a.misses);
}

TEST_F(counters, delete_counts_only_removed_keys)
{
	struct rawkv_stat a, b;

	ASSERT_EQ(0, rawkv_put(self->kv, "x", 1, "1", 1));
	ASSERT_EQ(0, rawkv_put(self->kv, "y", 1, "2", 1));
	a = get_stat(_metadata, self->kv);
	ASSERT_EQ(0, rawkv_delete(self->kv, "x", 1));
	ASSERT_EQ(-ENOENT, rawkv_delete(self->kv, "x", 1));
	ASSERT_EQ(-ENOENT, rawkv_delete(self->kv, "z", 1));
	b = get_stat(_metadata, self->kv);
	ASSERT_EQ(a.deletes + 1, b.deletes);
	ASSERT_EQ(1U, b.slots_used);
	ASSERT_EQ(a.puts, b.puts);
}

TEST_F(counters, flush_commits_one_checkpoint_only_when_changed)
{
	struct rawkv_stat a, b, c;

	ASSERT_EQ(0, rawkv_put(self->kv, "k", 1, "v", 1));
	a = get_stat(_metadata, self->kv);
	ASSERT_EQ(0, rawkv_flush(self->kv));
	b = get_stat(_metadata, self->kv);
	ASSERT_EQ(a.checkpoints + 1, b.checkpoints);
	ASSERT_LT(a.checkpoint_seq, b.checkpoint_seq);
	ASSERT_LE(a.bytes_written + RAWKV_BLOCK_SIZE, b.bytes_written);

	/* the last checkpoint holds the table: nothing to write */
	ASSERT_EQ(0, rawkv_flush(self->kv));
	c = get_stat(_metadata, self->kv);
	ASSERT_EQ(b.checkpoints, c.checkpoints);
	ASSERT_EQ(b.checkpoint_seq, c.checkpoint_seq);
	ASSERT_EQ(b.bytes_written, c.bytes_written);

	/* a DELETE is a change */
	ASSERT_EQ(0, rawkv_delete(self->kv, "k", 1));
	ASSERT_EQ(0, rawkv_flush(self->kv));
	a = get_stat(_metadata, self->kv);
	ASSERT_EQ(c.checkpoints + 1, a.checkpoints);
	ASSERT_LT(c.checkpoint_seq, a.checkpoint_seq);
}

TEST_F(counters, table_memory_is_at_most_40_bytes_per_slot_whatever_the_keys)
{
	unsigned char key[RAWKV_KEY_MAX];
	struct rawkv_stat a, b;
	char name[32];
	int i;

	/* vda with 8 KiB slots: some 126,000 of them */
	rawkv_close(self->kv);
	ASSERT_EQ(0, kv_reload("dev=%s format=1 slot_size=8192 %s", KV_DEV_512,
			       KV_NO_PERIODIC));
	ASSERT_EQ(0, rawkv_open(NULL, &self->kv));
	a = get_stat(_metadata, self->kv);
	ASSERT_LT(100000U, a.slots_total);
	ASSERT_LT(0U, a.entry_mem_bytes);
	ASSERT_LT(0U, a.table_mem_bytes);
	ASSERT_GE(40 * a.slots_total, a.entry_mem_bytes + a.table_mem_bytes)
		TH_LOG("%llu + %llu bytes for %llu slots",
		       (unsigned long long)a.entry_mem_bytes,
		       (unsigned long long)a.table_mem_bytes,
		       (unsigned long long)a.slots_total);

	/* long keys and many of them cost nothing more */
	memset(key, 'K', sizeof(key));
	ASSERT_EQ(0, rawkv_put(self->kv, key, sizeof(key), "v", 1));
	for (i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "entry-%d", i);
		ASSERT_EQ(0, rawkv_put(self->kv, name, strlen(name), "v", 1));
	}
	b = get_stat(_metadata, self->kv);
	ASSERT_EQ(41U, b.slots_used);
	ASSERT_EQ(a.entry_mem_bytes, b.entry_mem_bytes);
	ASSERT_EQ(a.table_mem_bytes, b.table_mem_bytes);
}

TEST_HARNESS_MAIN
