// SPDX-License-Identifier: GPL-2.0
/*
 * Listing keys: RAWKV_IOC_LIST and librawkv's iterator return every key
 * exactly once with its value length, through buffers of any size down
 * to RAWKV_LIST_BUF_MIN, on a read-only descriptor too, after deletes
 * and a reload; random arguments get exactly their documented errno;
 * `rawkv ls` prints the keys escaped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <rawkv.h>	/* uapi/rawkv.h: RAWKV_IOC_LIST, raw */
#include "rawkv_test_util.h"
#include "kselftest_harness.h"

#define NKEYS		600
#define SLOT		(16 * 1024UL)

struct model {
	unsigned char key[NKEYS][RAWKV_KEY_MAX];
	size_t klen[NKEYS];
	size_t vlen[NKEYS];
	bool present[NKEYS];
	unsigned int seen[NKEYS];
};

FIXTURE(list) {
	struct rawkv *kv;
	struct model *m;
};

/* Key i: text for most, binary and of every length for some. */
static void make_key(struct model *m, int i)
{
	uint64_t s = i + 1;

	if (i % 7) {
		m->klen[i] = sprintf((char *)m->key[i], "list-%d", i);
	} else {
		m->klen[i] = kv_rand(&s) % RAWKV_KEY_MAX + 1;
		kv_fill(m->key[i], m->klen[i], i);
		m->key[i][0] = i & 0xff;	/* keys differ in byte 0 */
		m->key[i][m->klen[i] - 1] = 0xfe;
	}
	m->vlen[i] = kv_rand(&s) % 3000;
}

static int find_key(struct model *m, const void *key, size_t klen)
{
	int i;

	for (i = 0; i < NKEYS; i++)
		if (m->klen[i] == klen && !memcmp(m->key[i], key, klen))
			return i;
	return -1;
}

FIXTURE_SETUP(list)
{
	unsigned char val[3000];
	int i;

	ASSERT_EQ(0, geteuid()) TH_LOG("run as root in the rawkv test VM");
	ASSERT_EQ(0, kv_reload("dev=%s format=1 slot_size=%lu %s", KV_DEV_512,
			       SLOT, KV_NO_PERIODIC));
	ASSERT_EQ(0, rawkv_open(NULL, &self->kv));
	self->m = calloc(1, sizeof(*self->m));
	ASSERT_NE(NULL, self->m);
	for (i = 0; i < NKEYS; i++) {
		make_key(self->m, i);
		kv_fill(val, self->m->vlen[i], i);
		ASSERT_EQ(0, rawkv_put(self->kv, self->m->key[i],
				       self->m->klen[i], val, self->m->vlen[i]));
		self->m->present[i] = true;
	}
	/* Deleted and replaced keys. */
	for (i = 0; i < NKEYS; i += 5) {
		ASSERT_EQ(0, rawkv_delete(self->kv, self->m->key[i],
					  self->m->klen[i]));
		self->m->present[i] = false;
	}
	for (i = 1; i < NKEYS; i += 9) {
		self->m->vlen[i] = 77;
		self->m->present[i] = true;	/* again, if deleted above */
		ASSERT_EQ(0, rawkv_put(self->kv, self->m->key[i],
				       self->m->klen[i], val, 77));
	}
}

FIXTURE_TEARDOWN(list)
{
	rawkv_close(self->kv);
	free(self->m);
	EXPECT_EQ(0, kv_unload());
}

/* Every present key seen exactly once, with its length, nothing else. */
static void check_seen(struct __test_metadata *_metadata, struct model *m)
{
	int i, bad = 0;

	for (i = 0; i < NKEYS; i++) {
		if (m->seen[i] != (m->present[i] ? 1U : 0U) && !bad++)
			TH_LOG("key %d (present %d) seen %u times", i,
			       m->present[i], m->seen[i]);
		m->seen[i] = 0;
	}
	EXPECT_EQ(0, bad);
}

static void iterate(struct __test_metadata *_metadata, struct rawkv *kv,
		    struct model *m)
{
	struct rawkv_iter *it;
	const void *key;
	uint64_t vlen;
	size_t klen;
	int ret, i;

	ASSERT_EQ(0, rawkv_iter_open(kv, &it));
	while ((ret = rawkv_iter_next(it, &key, &klen, &vlen)) == 1) {
		i = find_key(m, key, klen);
		ASSERT_LE(0, i) TH_LOG("unknown key of %zu bytes", klen);
		EXPECT_EQ(m->vlen[i], vlen);
		m->seen[i]++;
	}
	EXPECT_EQ(0, ret);
	/* The end stays the end. */
	EXPECT_EQ(0, rawkv_iter_next(it, &key, &klen, &vlen));
	rawkv_iter_close(it);
}

TEST_F_TIMEOUT(list, iterator_returns_every_key_once, 600)
{
	iterate(_metadata, self->kv, self->m);
	check_seen(_metadata, self->m);

	/* After a reload, from the device. */
	rawkv_close(self->kv);
	self->kv = NULL;
	ASSERT_EQ(0, kv_reload("dev=%s %s", KV_DEV_512, KV_NO_PERIODIC));
	ASSERT_EQ(0, rawkv_open(NULL, &self->kv));
	iterate(_metadata, self->kv, self->m);
	check_seen(_metadata, self->m);
}

/* The raw ioctl with buffers from the minimum up, on a read-only fd. */
TEST_F_TIMEOUT(list, small_buffers_and_cursors, 600)
{
	static const uint32_t sizes[] = {
		RAWKV_LIST_BUF_MIN, RAWKV_LIST_BUF_MIN + 8, 1000, 4096, 100000,
	};
	unsigned char *buf = malloc(100000);
	unsigned int s, calls;
	int fd, i;

	ASSERT_NE(NULL, buf);
	fd = open("/dev/rawkv", O_RDONLY);
	ASSERT_LE(0, fd);
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		struct rawkv_list l = { 0 };
		uint64_t last = 0;

		calls = 0;
		do {
			uint32_t off = 0, n;

			l.buf_ptr = (uintptr_t)buf;
			l.buf_len = sizes[s];
			memset(buf, 0xa5, sizes[s]);
			ASSERT_EQ(0, ioctl(fd, RAWKV_IOC_LIST, &l)) TH_LOG("errno %d", errno);
			/* Progress: entries, or the end. */
			ASSERT_TRUE(l.count || l.cursor == RAWKV_LIST_END);
			ASSERT_TRUE(l.cursor == RAWKV_LIST_END || l.cursor > last);
			last = l.cursor;
			for (n = 0; n < l.count; n++) {
				struct rawkv_list_ent *e = (void *)(buf + off);
				size_t sz = RAWKV_LIST_ENT_SIZE(e->key_len);

				ASSERT_LE(off + sz, sizes[s]);
				ASSERT_EQ(0, e->reserved);
				i = find_key(self->m, e + 1, e->key_len);
				ASSERT_LE(0, i);
				EXPECT_EQ(self->m->vlen[i], e->value_len);
				self->m->seen[i]++;
				/* zero padding */
				while (sizeof(*e) + e->key_len < sz)
					ASSERT_EQ(0, ((unsigned char *)e)[--sz]);
				off += RAWKV_LIST_ENT_SIZE(e->key_len);
			}
			l.count = 0;
			calls++;
		} while (last != RAWKV_LIST_END);
		TH_LOG("buffer %u: %u calls", sizes[s], calls);
		check_seen(_metadata, self->m);
	}
	close(fd);
	free(buf);
}

/* Random arguments: exactly the documented errno, or entries we know. */
TEST_F_TIMEOUT(list, random_arguments, 600)
{
	unsigned char *buf = malloc(8192), *none;
	uint64_t st = 42;
	unsigned int i, ok = 0;
	int fd = open("/dev/rawkv", O_RDWR);

	ASSERT_LE(0, fd);
	ASSERT_NE(NULL, buf);
	none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, none);
	for (i = 0; i < 3000; i++) {
		struct rawkv_list l = { 0 };
		unsigned int k = kv_rand(&st) % 8;
		void *arg = &l;
		int want = 0, ret;

		l.cursor = k == 0 ? kv_rand(&st) : kv_rand(&st) % 1000;
		l.buf_len = k == 1 ? kv_rand(&st) % RAWKV_LIST_BUF_MIN :
			    RAWKV_LIST_BUF_MIN + kv_rand(&st) % (8192 - RAWKV_LIST_BUF_MIN);
		l.buf_ptr = k == 2 ? (uintptr_t)none :
			    k == 3 ? 0xffff888000000000ULL : (uintptr_t)buf;
		if (k == 4)
			l.flags = kv_rand(&st) | 1;
		if (k == 5)
			l.reserved[kv_rand(&st) % 2] = 1;
		if (k == 6)
			l.reserved0 = 1;
		if (k == 7 && kv_rand(&st) % 2)
			arg = kv_rand(&st) % 2 ? NULL : (void *)none;

		if (arg != &l)
			want = EFAULT;
		else if (l.flags || l.reserved0 || l.reserved[0] ||
			 l.reserved[1] || l.buf_len < RAWKV_LIST_BUF_MIN)
			want = EINVAL;
		ret = ioctl(fd, RAWKV_IOC_LIST, arg);
		if (want) {
			ASSERT_EQ(-1, ret);
			ASSERT_EQ(want, errno) TH_LOG("call %u kind %u", i, k);
			continue;
		}
		/* Bad buffers fail only when there is a key to copy. */
		if (ret) {
			ASSERT_EQ(EFAULT, errno) TH_LOG("call %u kind %u", i, k);
			ASSERT_TRUE(k == 2 || k == 3);
			continue;
		}
		ASSERT_TRUE((k != 2 && k != 3) || !l.count);
		ok++;
	}
	TH_LOG("%u successful calls", ok);
	/* The store is unchanged. */
	iterate(_metadata, self->kv, self->m);
	check_seen(_metadata, self->m);
	munmap(none, 4096);
	close(fd);
	free(buf);
}

TEST_F(list, cli_ls_escapes_keys)
{
	char line[2048];	/* a 255-byte key escaped: up to 1020 */
	FILE *p;
	bool found = false;
	int i, n = 0;

	ASSERT_EQ(0, rawkv_put(self->kv, "a\\b\n\x01z", 6, "v", 1));
	/* The test VM has the CLI in /rawkv. */
	p = popen("/rawkv/rawkv ls -l", "r");
	ASSERT_NE(NULL, p);
	while (fgets(line, sizeof(line), p)) {
		n++;
		if (strstr(line, "a\\\\b\\x0a\\x01z"))
			found = strtoul(line, NULL, 10) == 1;
	}
	EXPECT_EQ(0, pclose(p));
	EXPECT_TRUE(found);
	/* One line per present key, and the new one. */
	for (i = 0; i < NKEYS; i++)
		n -= self->m->present[i];
	EXPECT_EQ(1, n);
}

/* rawkv stat --json: one object with STAT's numbers under their names. */
TEST_F(list, cli_stat_json)
{
	char out[4096] = "", want[64];
	struct rawkv_stat st;
	size_t n;
	FILE *p;

	ASSERT_EQ(0, rawkv_stat(self->kv, &st));
	p = popen("/rawkv/rawkv stat --json", "r");
	ASSERT_NE(NULL, p);
	n = fread(out, 1, sizeof(out) - 1, p);
	EXPECT_EQ(0, pclose(p));
	ASSERT_LT(0, n);
	EXPECT_EQ('{', out[0]);
	EXPECT_EQ(0, strcmp(out + n - 2, "}\n")) TH_LOG("%s", out);
	snprintf(want, sizeof(want), "\"puts\": %llu,",
		 (unsigned long long)st.puts);
	EXPECT_NE(NULL, strstr(out, want)) TH_LOG("no '%s' in %s", want, out);
	snprintf(want, sizeof(want), "\"slots_used\": %llu,",
		 (unsigned long long)st.slots_used);
	EXPECT_NE(NULL, strstr(out, want)) TH_LOG("no '%s' in %s", want, out);
	snprintf(want, sizeof(want), "\"crc32c_driver\": \"%s\"}",
		 st.crc32c_driver);
	EXPECT_NE(NULL, strstr(out, want)) TH_LOG("no '%s' in %s", want, out);
}

TEST(list_empty_store)
{
	struct rawkv_list l = { 0 };
	unsigned char buf[RAWKV_LIST_BUF_MIN];
	int fd;

	ASSERT_EQ(0, kv_reload("dev=%s format=1 slot_size=%lu %s", KV_DEV_4K,
			       SLOT, KV_NO_PERIODIC));
	fd = open("/dev/rawkv", O_RDONLY);
	ASSERT_LE(0, fd);
	l.buf_ptr = (uintptr_t)buf;
	l.buf_len = sizeof(buf);
	ASSERT_EQ(0, ioctl(fd, RAWKV_IOC_LIST, &l));
	EXPECT_EQ(0, l.count);
	EXPECT_EQ(RAWKV_LIST_END, l.cursor);
	/* A cursor past the end is the end too. */
	l.cursor = 1ULL << 40;
	ASSERT_EQ(0, ioctl(fd, RAWKV_IOC_LIST, &l));
	EXPECT_EQ(RAWKV_LIST_END, l.cursor);
	close(fd);
	EXPECT_EQ(0, kv_unload());
}

TEST_HARNESS_MAIN
