// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv: unit test of the in-memory index, kmod/index.c, built in user
 * space with index_user_compat.h and driven directly. A kselftest_harness
 * program run on the host by `make check` (scripts/check.sh); no VM.
 *
 * Every test keeps a reference model beside the index (struct tix): where
 * each slot is (free, limbo, committing, live, dead, or out: held by a PUT
 * in flight, or not placed yet at load), the fields, pins and committed
 * state of each entry, the LRU order, the order of each slot list and the
 * dirty and meta-dirty sets. After every operation check_all() compares
 * the index with the model and checks the invariants of index.h:
 *
 *  - every slot is in exactly one place: on one of the three slot lists
 *    (walked by their count, in the model's order, tail included), in the
 *    hash (live), dead (pinned, on nothing) or out; rawkv_index_busy()
 *    counts the last two, nr_used the live ones
 *  - the hash chains hold exactly the live entries, each in its bucket
 *  - the LRU list is a consistent doubly linked list (prev and next agree,
 *    head and tail match) of exactly the live entries, in the model's order
 *  - rawkv_index_find() returns, for every fingerprint, exactly its live
 *    entries
 *  - nr_dirty and nr_meta_dirty equal the bits set, no bit past the end is
 *    set, dirty_sum covers every dirty chunk (and only those after a walk);
 *    rawkv_index_next_dirty() and rawkv_index_next_meta_dirty() visit
 *    exactly the model's sets in order, and answer right from starts on and
 *    around every RAWKV_DIRTY_CHUNK boundary
 *  - no free or in-flight slot is marked committed, and no free or
 *    committing slot is dirty (a slot the committed table references is
 *    never given to a PUT), and a commit never marks committed a slot that
 *    was reused since it was collected
 *  - lockdep_assert_held() never fired, WARN_ON_ONCE() only where expected
 *
 * The long random runs check what each operation touched right after it,
 * and everything every few operations. INDEX_TEST_SEED=N sets the seed of
 * the random tests (each prints the one it used).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "index.h"
#include "kselftest_harness.h"

INDEX_COMPAT_DEFINE;

#define NIL		RAWKV_NIL
#define CHUNK		RAWKV_DIRTY_CHUNK
#define META_PER_BLOCK	170U	/* RAWKV_META_PER_BLOCK: 4096 / 24 */
#define EVICT_MAX	1024U	/* store.c's RAWKV_EVICT_MAX */

_Static_assert(sizeof(struct rawkv_entry) == 36, "36 bytes per slot");

/* ------------------------------------------------------------------ */
/* The model                                                          */

/* Where a slot is. W_OUT: on no list and not in the table. */
enum { W_OUT, W_FREE, W_LIMBO, W_COMMITTING, W_LIVE, W_DEAD };
static const char *const where_name[] = {
	"out", "free", "limbo", "committing", "live", "dead",
};

/* A model slot list: v[n - 1] is the head, v[0] the tail. */
struct mlist {
	u32 *v;
	u32 n;
};

/* One record of a commit, as rawkv_commit_collect() takes it. */
struct rec {
	u32 slot;
	bool live;
	u64 gen;
};

struct tix {
	struct rawkv_index ix;
	u32 n, mpb, blocks, chunks;
	/* the model */
	u8 *where;
	u64 *fp, *gen, *lseq;
	u32 *len;
	u32 *pins;
	bool *sync, *committed, *dirty, *mdirty, *named;
	u32 nr_live, nr_out, nr_dead, nr_dirty, nr_mdirty;
	struct mlist free, limbo, committing;
	u32 lru_head, lru_tail, *lprev, *lnext;
	u32 *named_order, nr_named;
	u64 changes, load_seq;
	unsigned int warns;
	/* checking */
	unsigned int full_every, ops, full_checks;
	bool every_start;
	u32 touched[16];
	unsigned int nr_touched;
	/* scratch */
	u8 *place;
	u32 *buf, *next, *chain, *seen, stamp;
};

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p) {
		perror("calloc");
		abort();
	}
	return p;
}

static void ml_push(struct mlist *l, u32 s)
{
	l->v[l->n++] = s;
}

static u32 ml_pop(struct mlist *l)
{
	return l->v[--l->n];
}

static u32 ml_head(const struct mlist *l)
{
	return l->v[l->n - 1];
}

/* @src goes in front of @dst. */
static void ml_splice(struct mlist *dst, struct mlist *src)
{
	memcpy(dst->v + dst->n, src->v, src->n * sizeof(u32));
	dst->n += src->n;
	src->n = 0;
}

static void m_lru_del(struct tix *t, u32 s)
{
	u32 p = t->lprev[s], x = t->lnext[s];

	if (p == NIL)
		t->lru_head = x;
	else
		t->lnext[p] = x;
	if (x == NIL)
		t->lru_tail = p;
	else
		t->lprev[x] = p;
}

static void m_lru_add_tail(struct tix *t, u32 s)
{
	t->lprev[s] = t->lru_tail;
	t->lnext[s] = NIL;
	if (t->lru_tail == NIL)
		t->lru_head = s;
	else
		t->lnext[t->lru_tail] = s;
	t->lru_tail = s;
}

static void m_set_dirty(struct tix *t, u32 s)
{
	if (!t->dirty[s]) {
		t->dirty[s] = true;
		t->nr_dirty++;
	}
}

static void m_clear_dirty(struct tix *t, u32 s)
{
	if (t->dirty[s]) {
		t->dirty[s] = false;
		t->nr_dirty--;
	}
}

static void m_set_mdirty(struct tix *t, u32 b)
{
	if (!t->mdirty[b]) {
		t->mdirty[b] = true;
		t->nr_mdirty++;
	}
}

static void m_clear_mdirty(struct tix *t, u32 b)
{
	if (t->mdirty[b]) {
		t->mdirty[b] = false;
		t->nr_mdirty--;
	}
}

static void ix_lock(struct tix *t)
{
	spin_lock(&t->ix.lock);
}

static void ix_unlock(struct tix *t)
{
	spin_unlock(&t->ix.lock);
}

static void touched(struct tix *t, u32 s)
{
	if (t->nr_touched < ARRAY_SIZE(t->touched))
		t->touched[t->nr_touched++] = s;
}

static u64 splitmix(u64 *s)
{
	u64 z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static u32 rndn(u64 *s, u32 n)
{
	return n ? (u32)(splitmix(s) % n) : 0;
}

static u64 test_seed(void)
{
	const char *e = getenv("INDEX_TEST_SEED");

	return e && *e ? strtoull(e, NULL, 0) : 0x5eed2024ULL;
}

/* CPU seconds of this process since @t0 (the machine may be busy). */
static double cpu_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
	return (t1.tv_sec - t0->tv_sec) + (t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* The child _exit()s: what it prints must not stay in a buffer. */
#define report(fmt, ...) do {				\
	ksft_print_msg(fmt, ##__VA_ARGS__);		\
	fflush(stdout);					\
} while (0)

/* ------------------------------------------------------------------ */
/* The checks                                                         */

static void check_all(struct __test_metadata *_metadata, struct tix *t);

static void check_entry(struct __test_metadata *_metadata, struct tix *t,
			u32 s)
{
	const struct rawkv_entry *e = &t->ix.ents[s];
	u8 w = t->where[s];
	int state = w == W_LIVE ? RAWKV_E_LIVE :
		    w == W_DEAD ? RAWKV_E_DEAD : RAWKV_E_IDLE;
	bool dirty = test_bit(s, t->ix.dirty);

	ASSERT_EQ(state, (u32)e->state)
		TH_LOG("slot %u: the model has it %s", s, where_name[w]);
	ASSERT_EQ(t->pins[s], e->pins) TH_LOG("slot %u pins", s);
	if (w == W_LIVE || w == W_DEAD || t->committed[s]) {
		int flags = (t->sync[s] ? RAWKV_EF_SYNC : 0) |
			    (t->committed[s] ? RAWKV_EF_COMMITTED : 0) |
			    (t->named[s] ? RAWKV_EF_MARK : 0);

		ASSERT_EQ(t->fp[s], e->fp) TH_LOG("slot %u fp", s);
		ASSERT_EQ(t->gen[s], e->gen) TH_LOG("slot %u gen", s);
		ASSERT_EQ(t->len[s], (u32)e->value_len) TH_LOG("slot %u len", s);
		ASSERT_EQ(flags, (u32)e->flags)
			TH_LOG("slot %u (%s) flags", s, where_name[w]);
	} else {
		ASSERT_EQ(0, e->flags & (RAWKV_EF_COMMITTED | RAWKV_EF_MARK))
			TH_LOG("slot %u (%s) flags %#x", s, where_name[w],
			       e->flags);
	}
	if (w == W_LIVE) {
		ASSERT_EQ(t->lprev[s], e->prev) TH_LOG("slot %u LRU prev", s);
		ASSERT_EQ(t->lnext[s], e->next) TH_LOG("slot %u LRU next", s);
	}
	ASSERT_EQ(t->dirty[s], dirty) TH_LOG("slot %u dirty bit", s);
	/* What keeps the slots of the committed table from being reused. */
	if (w == W_FREE || w == W_OUT)
		ASSERT_EQ(0, e->flags & RAWKV_EF_COMMITTED)
			TH_LOG("slot %u is %s but committed", s, where_name[w]);
	if (w == W_FREE || w == W_COMMITTING)
		ASSERT_FALSE(dirty)
			TH_LOG("slot %u is %s but dirty", s, where_name[w]);
}

static void check_list_ends(struct __test_metadata *_metadata,
			    const struct rawkv_slot_list *l,
			    const struct mlist *m, const char *what)
{
	ASSERT_EQ(m->n, l->count) TH_LOG("%s count", what);
	if (m->n) {
		ASSERT_EQ(ml_head(m), l->head) TH_LOG("%s head", what);
		ASSERT_EQ(m->v[0], l->tail) TH_LOG("%s tail", what);
	}
}

/* Some live entry of fingerprint @s's is found, and only such entries. */
static void check_find_has(struct __test_metadata *_metadata, struct tix *t,
			   u32 s)
{
	bool found = false;
	u32 k, i, j;

	ix_lock(t);
	k = rawkv_index_find(&t->ix, t->fp[s], t->buf, t->n + 1, NULL, 0);
	ix_unlock(t);
	ASSERT_LE(k, t->nr_live);
	for (i = 0; i < k; i++) {
		u32 x = t->buf[i];

		ASSERT_LT(x, t->n);
		ASSERT_EQ(W_LIVE, t->where[x]) TH_LOG("found slot %u", x);
		ASSERT_EQ(t->fp[s], t->fp[x]) TH_LOG("found slot %u", x);
		for (j = 0; j < i; j++)
			ASSERT_NE(x, t->buf[j]) TH_LOG("slot %u found twice", x);
		found |= x == s;
	}
	ASSERT_TRUE(found) TH_LOG("live slot %u not found by its fp", s);
}

/* The counters and list ends, and what the last operation touched. */
static void check_quick(struct __test_metadata *_metadata, struct tix *t)
{
	struct rawkv_index *ix = &t->ix;
	unsigned int i;
	u32 busy;

	ASSERT_EQ(0U, index_compat_lock_errors);
	ASSERT_EQ(t->warns, index_compat_warns);
	check_list_ends(_metadata, &ix->free, &t->free, "free");
	check_list_ends(_metadata, &ix->limbo, &t->limbo, "limbo");
	check_list_ends(_metadata, &ix->committing, &t->committing,
			"committing");
	ASSERT_EQ(t->nr_live, ix->nr_used);
	ASSERT_EQ(t->lru_head, ix->lru_head);
	ASSERT_EQ(t->lru_tail, ix->lru_tail);
	if (ix->lru_head != NIL) {
		ASSERT_EQ(NIL, ix->ents[ix->lru_head].prev);
		ASSERT_EQ(NIL, ix->ents[ix->lru_tail].next);
	}
	ASSERT_EQ(t->nr_dirty, ix->nr_dirty);
	ASSERT_EQ(t->nr_mdirty, ix->nr_meta_dirty);
	ASSERT_EQ(t->changes, ix->changes);
	ix_lock(t);
	busy = rawkv_index_busy(ix);
	ix_unlock(t);
	ASSERT_EQ(t->nr_out + t->nr_dead, busy);
	for (i = 0; i < t->nr_touched; i++) {
		u32 s = t->touched[i];

		check_entry(_metadata, t, s);
		if (t->where[s] == W_LIVE)
			check_find_has(_metadata, t, s);
	}
}

static void walk_list(struct __test_metadata *_metadata, struct tix *t,
		      const struct rawkv_slot_list *l, const struct mlist *m,
		      u8 code)
{
	u32 i, s = l->head, last = NIL;

	ASSERT_EQ(m->n, l->count) TH_LOG("%s list count", where_name[code]);
	for (i = 0; i < l->count; i++) {
		ASSERT_EQ(m->v[m->n - 1 - i], s)
			TH_LOG("%s list, position %u", where_name[code], i);
		ASSERT_EQ(W_OUT, t->place[s])
			TH_LOG("slot %u on the %s list and %s", s,
			       where_name[code], where_name[t->place[s]]);
		t->place[s] = code;
		last = s;
		s = t->ix.ents[s].next;
	}
	if (l->count)
		ASSERT_EQ(last, l->tail) TH_LOG("%s tail", where_name[code]);
}

typedef u32 (*next_fn)(struct rawkv_index *ix, u32 from);

/*
 * A bitmap of @nbits against the model's @want: the bits, what is past the
 * end, and the answers of @next from 0 on (the walk meta.c does) and from
 * starts on and around chunk boundaries, a few random ones, or all.
 */
static void check_set(struct __test_metadata *_metadata, struct tix *t,
		      const char *what, const unsigned long *bits, u32 nbits,
		      const bool *want, u32 nwant, next_fn next)
{
	u32 starts[64], ns = 0, i, s, e, cnt = 0, c;
	u64 r = t->ops;

	for (i = 0; i < nbits; i++) {
		ASSERT_EQ(want[i], test_bit(i, bits))
			TH_LOG("%s bit %u", what, i);
		cnt += want[i];
	}
	ASSERT_EQ(nwant, cnt) TH_LOG("%s count", what);
	for (i = nbits; i % BITS_PER_LONG; i++)
		ASSERT_FALSE(test_bit(i, bits))
			TH_LOG("%s bit %u past the end (%u)", what, i, nbits);

	t->next[nbits] = NIL;
	for (i = nbits; i-- > 0;)
		t->next[i] = want[i] ? i : t->next[i + 1];

	ix_lock(t);
	e = t->next[0];
	for (s = next(&t->ix, 0);; s = next(&t->ix, s + 1)) {
		ASSERT_EQ(e, s) TH_LOG("%s walk", what);
		if (s == NIL)
			break;
		e = t->next[s + 1];
	}
	if (t->every_start) {
		for (i = 0; i < nbits + 2; i++)
			ASSERT_EQ(i < nbits ? t->next[i] : NIL,
				  next(&t->ix, i))
				TH_LOG("%s: next from %u", what, i);
	}
	starts[ns++] = 1;
	starts[ns++] = nbits - 1;
	starts[ns++] = nbits;
	starts[ns++] = nbits + 1;
	starts[ns++] = U32_MAX;
	for (c = 1; c * CHUNK <= nbits + 1 && ns + 3 <= 48; c++) {
		starts[ns++] = c * CHUNK - 1;
		starts[ns++] = c * CHUNK;
		starts[ns++] = c * CHUNK + 1;
	}
	while (ns < ARRAY_SIZE(starts))
		starts[ns++] = rndn(&r, nbits + 2);
	for (i = 0; i < ns; i++)
		ASSERT_EQ(starts[i] < nbits ? t->next[starts[i]] : NIL,
			  next(&t->ix, starts[i]))
			TH_LOG("%s: next from %u", what, starts[i]);
	ix_unlock(t);
}

static bool chunk_dirty(struct tix *t, u32 c)
{
	u32 s, end = min(t->n, (c + 1) * CHUNK);

	for (s = c * CHUNK; s < end; s++)
		if (t->dirty[s])
			return true;
	return false;
}

static void check_all(struct __test_metadata *_metadata, struct tix *t)
{
	struct rawkv_index *ix = &t->ix;
	u32 nb = 1U << ix->hash_bits, b, s, i, j, cnt, np, k, prev, m;
	u32 nw[6] = {};

	t->full_checks++;
	check_quick(_metadata, t);
	ASSERT_EQ(t->n, ix->slot_count);
	ASSERT_EQ(t->mpb, ix->meta_per_block);
	memset(t->place, W_OUT, t->n);

	/* the slot lists */
	walk_list(_metadata, t, &ix->free, &t->free, W_FREE);
	walk_list(_metadata, t, &ix->limbo, &t->limbo, W_LIMBO);
	walk_list(_metadata, t, &ix->committing, &t->committing,
		  W_COMMITTING);

	/* the hash: the live entries, each once, in its bucket */
	cnt = 0;
	for (b = 0; b < nb; b++) {
		for (s = ix->buckets[b]; s != NIL; s = ix->ents[s].hnext) {
			ASSERT_LT(s, t->n) TH_LOG("bucket %u", b);
			ASSERT_EQ(W_OUT, t->place[s])
				TH_LOG("slot %u in the hash and %s", s,
				       where_name[t->place[s]]);
			t->place[s] = W_LIVE;
			ASSERT_EQ(b, ix->ents[s].fp & (nb - 1))
				TH_LOG("slot %u in bucket %u", s, b);
			cnt++;
		}
	}
	ASSERT_EQ(t->nr_live, cnt) TH_LOG("entries in the hash");

	/* the LRU list: the live entries in the model's order */
	prev = NIL;
	m = t->lru_head;
	i = 0;
	for (s = ix->lru_head; s != NIL; s = ix->ents[s].next, i++) {
		ASSERT_LT(i, t->nr_live) TH_LOG("LRU list too long");
		ASSERT_EQ(m, s) TH_LOG("LRU position %u", i);
		ASSERT_EQ(W_LIVE, t->place[s]) TH_LOG("LRU slot %u", s);
		ASSERT_EQ(prev, ix->ents[s].prev) TH_LOG("LRU slot %u", s);
		prev = s;
		m = t->lnext[m];
	}
	ASSERT_EQ(t->nr_live, i) TH_LOG("LRU list length");
	ASSERT_EQ(prev, ix->lru_tail);

	/* every slot in exactly one place, the model's */
	for (s = 0; s < t->n; s++) {
		u8 w = t->where[s];
		u8 want = w == W_DEAD ? W_OUT : w;

		ASSERT_EQ(want, t->place[s])
			TH_LOG("slot %u: the model has it %s, the index %s", s,
			       where_name[w], where_name[t->place[s]]);
		check_entry(_metadata, t, s);
		nw[w]++;
	}
	ASSERT_EQ(t->nr_out, nw[W_OUT]);
	ASSERT_EQ(t->nr_live, nw[W_LIVE]);
	ASSERT_EQ(t->nr_dead, nw[W_DEAD]);

	/*
	 * rawkv_index_find(): exactly the live entries of each fingerprint.
	 * Each is in its bucket (above), so they are those of the chain.
	 */
	for (b = 0; b < nb; b++) {
		np = 0;
		for (s = ix->buckets[b]; s != NIL; s = ix->ents[s].hnext)
			t->chain[np++] = s;
		for (i = 0; i < np; i++) {
			u64 fp = t->fp[t->chain[i]];

			for (j = 0; j < i && t->fp[t->chain[j]] != fp; j++)
				;
			if (j < i)	/* that fingerprint is done */
				continue;
			for (cnt = 0, j = i; j < np; j++)
				cnt += t->fp[t->chain[j]] == fp;
			ix_lock(t);
			k = rawkv_index_find(ix, fp, t->buf, t->n + 1, NULL, 0);
			ix_unlock(t);
			ASSERT_EQ(cnt, k) TH_LOG("entries of fp %#llx",
						 (unsigned long long)fp);
			t->stamp++;
			for (m = 0; m < k; m++) {
				u32 x = t->buf[m];

				ASSERT_LT(x, t->n);
				ASSERT_EQ(W_LIVE, t->where[x]);
				ASSERT_EQ(fp, t->fp[x]);
				ASSERT_NE(t->stamp, t->seen[x])
					TH_LOG("slot %u found twice", x);
				t->seen[x] = t->stamp;
			}
		}
	}

	/* the dirty bitmap, its summary, rawkv_index_next_dirty() */
	for (b = 0; b < t->chunks; b++)
		if (chunk_dirty(t, b))
			ASSERT_TRUE(test_bit(b, ix->dirty_sum))
				TH_LOG("chunk %u dirty, not in dirty_sum", b);
	for (b = t->chunks; b % BITS_PER_LONG; b++)
		ASSERT_FALSE(test_bit(b, ix->dirty_sum));
	check_set(_metadata, t, "dirty", ix->dirty, t->n, t->dirty,
		  t->nr_dirty, rawkv_index_next_dirty);
	/* A walk from 0 forgets every chunk with nothing dirty. */
	for (b = 0; b < t->chunks; b++)
		ASSERT_EQ(chunk_dirty(t, b), test_bit(b, ix->dirty_sum))
			TH_LOG("dirty_sum bit %u after a walk", b);

	/* the metadata blocks to write back */
	check_set(_metadata, t, "meta dirty", ix->meta_dirty, t->blocks,
		  t->mdirty, t->nr_mdirty, rawkv_index_next_meta_dirty);
}

static void after_op(struct __test_metadata *_metadata, struct tix *t)
{
	t->ops++;
	if (t->full_every <= 1 || t->ops % t->full_every == 0)
		check_all(_metadata, t);
	else
		check_quick(_metadata, t);
	t->nr_touched = 0;
}

static void tix_init(struct __test_metadata *_metadata, struct tix *t, u32 n,
		     u32 mpb)
{
	memset(t, 0, sizeof(*t));
	ASSERT_EQ(0, rawkv_index_init(&t->ix, n, mpb));
	t->n = n;
	t->mpb = mpb;
	t->blocks = DIV_ROUND_UP(n, mpb);
	t->chunks = DIV_ROUND_UP(n, CHUNK);
	t->where = xcalloc(n, 1);
	t->fp = xcalloc(n, sizeof(u64));
	t->gen = xcalloc(n, sizeof(u64));
	t->lseq = xcalloc(n, sizeof(u64));
	t->len = xcalloc(n, sizeof(u32));
	t->pins = xcalloc(n, sizeof(u32));
	t->sync = xcalloc(n, 1);
	t->committed = xcalloc(n, 1);
	t->dirty = xcalloc(n, 1);
	t->mdirty = xcalloc(t->blocks, 1);
	t->named = xcalloc(n, 1);
	t->free.v = xcalloc(n, sizeof(u32));
	t->limbo.v = xcalloc(n, sizeof(u32));
	t->committing.v = xcalloc(n, sizeof(u32));
	t->lprev = xcalloc(n, sizeof(u32));
	t->lnext = xcalloc(n, sizeof(u32));
	t->named_order = xcalloc(n, sizeof(u32));
	t->place = xcalloc(n, 1);
	t->buf = xcalloc(n + 1, sizeof(u32));
	t->next = xcalloc(max(n, t->blocks) + 2, sizeof(u32));
	t->chain = xcalloc(n, sizeof(u32));
	t->seen = xcalloc(n, sizeof(u32));
	t->nr_out = n;
	t->lru_head = NIL;
	t->lru_tail = NIL;
	t->full_every = 1;
	check_all(_metadata, t);
}

static void tix_fini(struct __test_metadata *_metadata, struct tix *t)
{
	rawkv_index_free(&t->ix);
	ASSERT_EQ(0UL, index_compat_allocs) TH_LOG("index memory leaked");
	ASSERT_EQ(0UL, index_compat_bytes);
	free(t->where);
	free(t->fp);
	free(t->gen);
	free(t->lseq);
	free(t->len);
	free(t->pins);
	free(t->sync);
	free(t->committed);
	free(t->dirty);
	free(t->mdirty);
	free(t->named);
	free(t->free.v);
	free(t->limbo.v);
	free(t->committing.v);
	free(t->lprev);
	free(t->lnext);
	free(t->named_order);
	free(t->place);
	free(t->buf);
	free(t->next);
	free(t->chain);
	free(t->seen);
}

/* ------------------------------------------------------------------ */
/* Operations: each on the index and on the model, then checked.      */

/* A PUT takes the head of the free list. */
static u32 op_pop(struct __test_metadata *_metadata, struct tix *t)
{
	u32 s, want;

	ASSERT_NE(0U, t->free.n);
	want = ml_pop(&t->free);
	ix_lock(t);
	s = rawkv_slot_pop(&t->ix, &t->ix.free);
	ix_unlock(t);
	ASSERT_EQ(want, s) TH_LOG("popped from the free list");
	t->where[s] = W_OUT;
	t->nr_out++;
	touched(t, s);
	after_op(_metadata, t);
	return s;
}

/* A failed PUT gives its slot back. */
static void op_giveback(struct __test_metadata *_metadata, struct tix *t,
			u32 s)
{
	ASSERT_EQ(W_OUT, t->where[s]);
	ix_lock(t);
	rawkv_slot_push(&t->ix, &t->ix.free, s);
	ix_unlock(t);
	ml_push(&t->free, s);
	t->where[s] = W_FREE;
	t->nr_out--;
	touched(t, s);
	after_op(_metadata, t);
}

static void op_insert(struct __test_metadata *_metadata, struct tix *t,
		      u32 s, u64 fp, u64 gen, u32 len, bool sync)
{
	ASSERT_EQ(W_OUT, t->where[s]) TH_LOG("insert into slot %u", s);
	ix_lock(t);
	rawkv_index_insert(&t->ix, s, fp, gen, len, sync);
	ix_unlock(t);
	t->where[s] = W_LIVE;
	t->fp[s] = fp;
	t->gen[s] = gen;
	t->len[s] = len;
	t->sync[s] = sync;
	t->committed[s] = false;
	m_set_dirty(t, s);
	m_lru_add_tail(t, s);
	t->nr_live++;
	t->nr_out--;
	t->changes++;
	touched(t, s);
	after_op(_metadata, t);
}

static void op_remove(struct __test_metadata *_metadata, struct tix *t,
		      u32 s)
{
	ASSERT_EQ(W_LIVE, t->where[s]) TH_LOG("remove slot %u", s);
	ix_lock(t);
	rawkv_index_remove(&t->ix, rawkv_ent(&t->ix, s));
	ix_unlock(t);
	m_lru_del(t, s);
	m_set_dirty(t, s);
	t->changes++;
	t->nr_live--;
	if (t->pins[s]) {
		t->where[s] = W_DEAD;
		t->nr_dead++;
	} else {
		t->where[s] = W_LIMBO;
		ml_push(&t->limbo, s);
	}
	touched(t, s);
	after_op(_metadata, t);
}

static void op_touch(struct __test_metadata *_metadata, struct tix *t, u32 s)
{
	ASSERT_EQ(W_LIVE, t->where[s]);
	ix_lock(t);
	rawkv_index_touch(&t->ix, rawkv_ent(&t->ix, s));
	ix_unlock(t);
	m_lru_del(t, s);
	m_lru_add_tail(t, s);
	touched(t, s);
	after_op(_metadata, t);
}

static bool op_pin(struct __test_metadata *_metadata, struct tix *t, u32 s)
{
	bool ok, want = t->pins[s] < U32_MAX;

	ASSERT_EQ(W_LIVE, t->where[s]);
	ix_lock(t);
	ok = rawkv_index_pin(&t->ix, rawkv_ent(&t->ix, s));
	ix_unlock(t);
	ASSERT_EQ(want, ok) TH_LOG("pin slot %u with %u pins", s, t->pins[s]);
	if (ok)
		t->pins[s]++;
	else
		t->warns++;
	touched(t, s);
	after_op(_metadata, t);
	return ok;
}

static bool op_unpin(struct __test_metadata *_metadata, struct tix *t,
		     u32 s)
{
	bool last;

	ASSERT_NE(0, t->pins[s]);
	ix_lock(t);
	last = rawkv_index_unpin(&t->ix, rawkv_ent(&t->ix, s));
	ix_unlock(t);
	ASSERT_EQ(t->pins[s] == 1, last) TH_LOG("unpin slot %u", s);
	if (!--t->pins[s] && t->where[s] == W_DEAD) {
		t->where[s] = W_LIMBO;
		t->nr_dead--;
		ml_push(&t->limbo, s);
	}
	touched(t, s);
	after_op(_metadata, t);
	return last;
}

static void op_set_dirty(struct __test_metadata *_metadata, struct tix *t,
			 u32 s)
{
	ix_lock(t);
	rawkv_index_set_dirty(&t->ix, s);
	ix_unlock(t);
	m_set_dirty(t, s);
	touched(t, s);
	after_op(_metadata, t);
}

static void op_clear_dirty(struct __test_metadata *_metadata, struct tix *t,
			   u32 s)
{
	ix_lock(t);
	rawkv_index_clear_dirty(&t->ix, s);
	ix_unlock(t);
	m_clear_dirty(t, s);
	touched(t, s);
	after_op(_metadata, t);
}

static void op_set_mdirty(struct __test_metadata *_metadata, struct tix *t,
			  u32 b)
{
	rawkv_index_set_meta_dirty(&t->ix, b);
	m_set_mdirty(t, b);
	after_op(_metadata, t);
}

static void op_clear_mdirty(struct __test_metadata *_metadata, struct tix *t,
			    u32 b)
{
	rawkv_index_clear_meta_dirty(&t->ix, b);
	m_clear_mdirty(t, b);
	after_op(_metadata, t);
}

/*
 * rawkv_commit_collect(): take every dirty slot, in order, clearing its
 * bit, and move limbo to committing. The records go to @recs.
 */
static u32 op_collect(struct __test_metadata *_metadata, struct tix *t,
		      struct rec *recs)
{
	u32 n = 0, s, want = 0;

	ix_lock(t);
	for (s = rawkv_index_next_dirty(&t->ix, 0); s != NIL;
	     s = rawkv_index_next_dirty(&t->ix, s + 1)) {
		const struct rawkv_entry *e = rawkv_ent(&t->ix, s);

		ASSERT_LT(n, t->n) TH_LOG("collect does not end");
		rawkv_index_clear_dirty(&t->ix, s);
		recs[n].slot = s;
		recs[n].live = e->state == RAWKV_E_LIVE;
		recs[n].gen = e->gen;
		n++;
	}
	rawkv_slot_splice(&t->ix, &t->ix.committing, &t->ix.limbo);
	ix_unlock(t);

	ASSERT_EQ(t->nr_dirty, n) TH_LOG("slots collected");
	for (s = 0; s < t->n; s++) {
		if (!t->dirty[s])
			continue;
		ASSERT_EQ(s, recs[want].slot) TH_LOG("record %u", want);
		ASSERT_EQ(t->where[s] == W_LIVE, recs[want].live);
		want++;
		m_clear_dirty(t, s);
	}
	for (s = 0; s < t->limbo.n; s++)
		t->where[t->limbo.v[s]] = W_COMMITTING;
	ml_splice(&t->committing, &t->limbo);
	after_op(_metadata, t);
	return n;
}

/* rawkv_commit_finish(): the transaction is durable (@ok), or failed. */
static void op_finish(struct __test_metadata *_metadata, struct tix *t,
		      const struct rec *recs, u32 n, bool ok)
{
	u32 i;

	ix_lock(t);
	for (i = 0; i < n; i++) {
		if (ok)
			rawkv_index_committed(&t->ix, recs[i].slot,
					      recs[i].live);
		else
			rawkv_index_set_dirty(&t->ix, recs[i].slot);
	}
	if (ok)
		rawkv_slot_splice(&t->ix, &t->ix.free, &t->ix.committing);
	else
		rawkv_slot_splice(&t->ix, &t->ix.limbo, &t->ix.committing);
	ix_unlock(t);

	for (i = 0; i < n; i++) {
		u32 s = recs[i].slot;

		if (!ok) {
			m_set_dirty(t, s);
			continue;
		}
		/*
		 * Only committed state changes: a slot recorded live was not
		 * reused in between (it can only be in the table or limbo).
		 */
		if (recs[i].live) {
			ASSERT_TRUE(t->where[s] == W_LIVE ||
				    t->where[s] == W_DEAD ||
				    t->where[s] == W_LIMBO)
				TH_LOG("slot %u committed live is %s", s,
				       where_name[t->where[s]]);
			ASSERT_EQ(recs[i].gen, t->gen[s])
				TH_LOG("slot %u reused before its commit", s);
		}
		t->committed[s] = recs[i].live;
		m_set_mdirty(t, s / t->mpb);
	}
	for (i = 0; i < t->committing.n; i++)
		t->where[t->committing.v[i]] = ok ? W_FREE : W_LIMBO;
	ml_splice(ok ? &t->free : &t->limbo, &t->committing);
	after_op(_metadata, t);
}

/* rawkv_commit_locked() with nothing dirty: limbo is committed already. */
static void op_commit_idle(struct __test_metadata *_metadata, struct tix *t)
{
	u32 i;

	ASSERT_EQ(0U, t->nr_dirty);
	ix_lock(t);
	rawkv_slot_splice(&t->ix, &t->ix.free, &t->ix.limbo);
	ix_unlock(t);
	for (i = 0; i < t->limbo.n; i++)
		t->where[t->limbo.v[i]] = W_FREE;
	ml_splice(&t->free, &t->limbo);
	after_op(_metadata, t);
}

/*
 * rawkv_wb_chunk(): take up to @max blocks of slot metadata to write back
 * from *@cursor on; on @fail they are dirty again. Returns how many.
 */
static u32 op_writeback(struct __test_metadata *_metadata, struct tix *t,
			u32 *cursor, u32 max, bool fail)
{
	u32 blocks[16], n = 0, b, i, from = *cursor;

	ASSERT_LE(max, ARRAY_SIZE(blocks));
	ix_lock(t);
	while (n < max) {
		b = rawkv_index_next_meta_dirty(&t->ix, *cursor);
		if (b == NIL)
			break;
		rawkv_index_clear_meta_dirty(&t->ix, b);
		blocks[n++] = b;
		*cursor = b + 1;
	}
	ix_unlock(t);
	/* the model's dirty blocks from the cursor on, in order */
	for (i = 0, b = from; i <= n && b < t->blocks; b++) {
		if (!t->mdirty[b])
			continue;
		if (i == n)
			break;
		ASSERT_EQ(b, blocks[i]) TH_LOG("writeback block %u", i);
		m_clear_mdirty(t, b);
		i++;
	}
	ASSERT_EQ(n, i);
	if (n < max)	/* nothing dirty was left behind the cursor's way */
		ASSERT_EQ(t->blocks, b) TH_LOG("block %u dirty, not taken", b);
	if (fail) {
		ix_lock(t);
		for (i = 0; i < n; i++)
			rawkv_index_set_meta_dirty(&t->ix, blocks[i]);
		ix_unlock(t);
		for (i = 0; i < n; i++)
			m_set_mdirty(t, blocks[i]);
	}
	after_op(_metadata, t);
	return n;
}

/* At load (no lock): @s holds a committed value. */
static void op_load(struct __test_metadata *_metadata, struct tix *t, u32 s,
		    u64 fp, u64 gen, u32 len, bool sync)
{
	ASSERT_TRUE(t->where[s] == W_OUT || t->where[s] == W_LIVE);
	rawkv_index_load(&t->ix, s, fp, gen, len, sync);
	if (t->where[s] == W_LIVE) {
		m_lru_del(t, s);
		t->nr_live--;
	} else {
		t->nr_out--;
	}
	t->where[s] = W_LIVE;
	t->fp[s] = fp;
	t->gen[s] = gen;
	t->len[s] = len;
	t->sync[s] = sync;
	t->committed[s] = true;
	t->lseq[s] = ++t->load_seq;
	m_lru_add_tail(t, s);
	t->nr_live++;
	touched(t, s);
	after_op(_metadata, t);
}

/* At load: @s is free in the committed table. */
static void op_load_clear(struct __test_metadata *_metadata, struct tix *t,
			  u32 s)
{
	ASSERT_TRUE(t->where[s] == W_OUT || t->where[s] == W_LIVE);
	rawkv_index_load_clear(&t->ix, s);
	if (t->where[s] == W_LIVE) {
		m_lru_del(t, s);
		t->nr_live--;
		t->nr_out++;
	}
	t->where[s] = W_OUT;
	t->committed[s] = false;
	t->sync[s] = false;
	touched(t, s);
	after_op(_metadata, t);
}

/*
 * At load: one part of the LRU hint. What the model expects is said from
 * the definition, not from how index.c does it: the live slots a part
 * names (each once, the first time) follow the ones no part named so far,
 * which keep their load order; after the last part, the named ones come
 * first, in the order named, then the others in load order.
 */
static void op_hint(struct __test_metadata *_metadata, struct tix *t,
		    const __le32 *order, u32 cnt, bool last)
{
	u32 i, s, nu = 0;

	rawkv_index_lru_hint(&t->ix, order, cnt, last);
	for (i = 0; i < cnt; i++) {
		s = le32_to_cpu(order[i]);
		if (s >= t->n || t->where[s] != W_LIVE || t->named[s])
			continue;
		t->named[s] = true;
		t->named_order[t->nr_named++] = s;
	}
	/* The unnamed ones, in load order: the LRU holds nothing else yet. */
	for (s = t->lru_head; s != NIL; s = t->lnext[s])
		if (!t->named[s])
			t->buf[nu++] = s;
	for (i = 1; i < nu; i++)
		ASSERT_LT(t->lseq[t->buf[i - 1]], t->lseq[t->buf[i]]);
	t->lru_head = NIL;
	t->lru_tail = NIL;
	if (last) {
		for (i = 0; i < t->nr_named; i++)
			m_lru_add_tail(t, t->named_order[i]);
		for (i = 0; i < nu; i++)
			m_lru_add_tail(t, t->buf[i]);
		for (i = 0; i < t->nr_named; i++)
			t->named[t->named_order[i]] = false;
		t->nr_named = 0;
	} else {
		for (i = 0; i < nu; i++)
			m_lru_add_tail(t, t->buf[i]);
		for (i = 0; i < t->nr_named; i++)
			m_lru_add_tail(t, t->named_order[i]);
	}
	after_op(_metadata, t);
}

/* At load, after the last rawkv_index_load(): free what holds nothing. */
static void op_load_done(struct __test_metadata *_metadata, struct tix *t,
			 u32 from, u32 to)
{
	u32 s;

	rawkv_index_load_done(&t->ix, from, to);
	for (s = to; s-- > from;) {
		if (t->where[s] == W_LIVE)
			continue;
		ASSERT_EQ(W_OUT, t->where[s]);
		t->where[s] = W_FREE;
		t->nr_out--;
		ml_push(&t->free, s);
	}
	after_op(_metadata, t);
}

/* load_done for every slot, in descending ranges of @step, as rawkv_recover(). */
static void load_done_all(struct __test_metadata *_metadata, struct tix *t,
			  u32 step)
{
	u32 from = t->n, to;

	while (from) {
		to = from;
		from = from > step ? from - step : 0;
		op_load_done(_metadata, t, from, to);
	}
}

/* The free list holds exactly the slots that are not live, lowest first. */
static void check_free_ascending(struct __test_metadata *_metadata,
				 struct tix *t)
{
	u32 s, i = 0, slot = t->ix.free.head;

	for (s = 0; s < t->n; s++) {
		if (t->where[s] == W_LIVE)
			continue;
		ASSERT_LT(i, t->ix.free.count);
		ASSERT_EQ(s, slot) TH_LOG("free list position %u", i);
		slot = t->ix.ents[slot].next;
		i++;
	}
	ASSERT_EQ(i, t->ix.free.count);
}

static u32 lru_walk(struct tix *t, u32 *out)
{
	u32 s, n = 0;

	for (s = t->ix.lru_head; s != NIL && n <= t->n; s = t->ix.ents[s].next)
		out[n++] = s;
	return n;
}

static u64 fp_of(u32 i)
{
	u64 s = i * 7919ULL + 1;

	return splitmix(&s);
}

/* Insert @n new entries (fingerprints from @fp(i)); their slots in @out. */
static void insert_n(struct __test_metadata *_metadata, struct tix *t,
		     u32 n, u64 (*fp)(u32), u32 *out)
{
	u32 i, s;

	for (i = 0; i < n; i++) {
		s = op_pop(_metadata, t);
		op_insert(_metadata, t, s, fp(i), 1000 + t->changes, i * 3,
			  i % 2);
		if (out)
			out[i] = s;
	}
}

/* Drive a whole commit, successful, as rawkv_commit_locked(). */
static void commit_all(struct __test_metadata *_metadata, struct tix *t,
		       struct rec *recs)
{
	u32 n;

	if (!t->nr_dirty) {
		op_commit_idle(_metadata, t);
		return;
	}
	n = op_collect(_metadata, t, recs);
	op_finish(_metadata, t, recs, n, true);
}

/* ------------------------------------------------------------------ */
/* Tests                                                              */

TEST(entry_layout)
{
	struct rawkv_entry two[2];

	ASSERT_EQ(36, sizeof(struct rawkv_entry));
	ASSERT_EQ(72, sizeof(two));
	ASSERT_EQ(4, _Alignof(struct rawkv_entry));
	ASSERT_EQ(0, offsetof(struct rawkv_entry, fp));
	ASSERT_EQ(8, offsetof(struct rawkv_entry, gen));
	ASSERT_EQ(16, offsetof(struct rawkv_entry, hnext));
	ASSERT_EQ(20, offsetof(struct rawkv_entry, prev));
	ASSERT_EQ(24, offsetof(struct rawkv_entry, next));
	ASSERT_EQ(28, offsetof(struct rawkv_entry, pins));
	/* value_len, state and flags share the last word, without loss */
	memset(two, 0, sizeof(two));
	two[0].value_len = (1U << RAWKV_VALUE_LEN_BITS) - 1;
	two[0].state = RAWKV_E_DEAD;
	two[0].flags = RAWKV_EF_SYNC | RAWKV_EF_COMMITTED | RAWKV_EF_MARK;
	ASSERT_EQ((1U << RAWKV_VALUE_LEN_BITS) - 1, (u32)two[0].value_len);
	ASSERT_EQ(RAWKV_E_DEAD, (u32)two[0].state);
	ASSERT_EQ(RAWKV_EF_SYNC | RAWKV_EF_COMMITTED | RAWKV_EF_MARK,
		  (u32)two[0].flags);
	ASSERT_EQ(0U, (u32)two[1].value_len);
	ASSERT_EQ(12, sizeof(struct rawkv_slot_list));
}

/* The compat helpers themselves, against the obvious implementations. */
TEST(compat_helpers)
{
	unsigned long bits[4];
	u64 r = 42;
	unsigned int round, size, off, i, want;

	for (round = 0; round < 2000; round++) {
		for (i = 0; i < ARRAY_SIZE(bits); i++)
			bits[i] = round % 3 ? splitmix(&r) & splitmix(&r) &
					      splitmix(&r) : 0;
		if (round % 5 == 0)
			bits[rndn(&r, 4)] = 1UL << rndn(&r, BITS_PER_LONG);
		size = 1 + rndn(&r, 4 * BITS_PER_LONG);
		for (off = 0; off <= size + 1; off++) {
			for (want = off; want < size && !test_bit(want, bits);
			     want++)
				;
			if (want > size)
				want = size;
			ASSERT_EQ(want, find_next_bit(bits, size, off))
				TH_LOG("size %u offset %u", size, off);
		}
	}
	for (i = 1; i < 100000; i += 1 + i / 7) {
		int l = 0;

		while ((2ULL << l) <= i)
			l++;
		ASSERT_EQ(l, ilog2(i)) TH_LOG("ilog2(%u)", i);
	}
	ASSERT_EQ(31, ilog2(U32_MAX));
	ASSERT_EQ(3U, clamp(7U, 1U, 3U));
	ASSERT_EQ(1U, clamp(0U, 1U, 3U));
	ASSERT_EQ(2U, max(1U, 2U));
	ASSERT_EQ(1U, min(1U, 2U));
	ASSERT_EQ(2U, DIV_ROUND_UP(4097U, 4096U));
	ASSERT_EQ(2, BITS_TO_LONGS(65));
	ASSERT_FALSE(__test_and_set_bit(70, bits));
	ASSERT_TRUE(__test_and_set_bit(70, bits));
	ASSERT_TRUE(__test_and_clear_bit(70, bits));
	ASSERT_FALSE(__test_and_clear_bit(70, bits));
	ASSERT_EQ(0x01020304U, le32_to_cpu(cpu_to_le32(0x01020304U)));
}

/* Sizes, hash width, what init leaves, the memory it accounts for. */
TEST(init_and_accounting)
{
	static const u32 sizes[][2] = {
		{ 1, 1 }, { 2, 170 }, { 3, 2 }, { 4, 7 }, { 5, 170 },
		{ 170, 170 }, { 171, 170 }, { 4095, 170 }, { 4096, 1 },
		{ 4097, 170 }, { 10000, 7 }, { 12289, 170 }, { 65536, 170 },
		{ 100003, 170 },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		u32 n = sizes[i][0], mpb = sizes[i][1], s, b;
		u32 chunks = DIV_ROUND_UP(n, CHUNK);
		u32 blocks = DIV_ROUND_UP(n, mpb);
		int bits = 0;
		struct tix t;
		size_t table;

		while ((2ULL << bits) <= n)
			bits++;
		bits = bits - 1 < 1 ? 1 : bits - 1;
		tix_init(_metadata, &t, n, mpb);
		ASSERT_EQ((unsigned int)bits, t.ix.hash_bits) TH_LOG("%u slots", n);
		if (n >= 4) {
			/* about two slots per bucket */
			ASSERT_LE(2U << bits, n);
			ASSERT_LT(n, 4U << bits);
		}
		for (b = 0; b < 1U << bits; b++)
			ASSERT_EQ(NIL, t.ix.buckets[b]);
		for (s = 0; s < n; s++) {
			static const struct rawkv_entry zero;

			ASSERT_EQ(0, memcmp(&t.ix.ents[s], &zero, sizeof(zero)));
		}
		ASSERT_EQ(NIL, t.ix.lru_head);
		ASSERT_EQ(NIL, t.ix.lru_tail);
		ASSERT_EQ(0U, t.ix.free.count + t.ix.limbo.count +
			      t.ix.committing.count + t.ix.nr_used);
		ASSERT_EQ(0U, t.ix.nr_dirty + t.ix.nr_meta_dirty);
		ASSERT_EQ(0U, t.ix.changes);
		/* memory: what was allocated, all of it, and nothing more */
		ASSERT_EQ((size_t)n * 36, t.ix.ents_bytes);
		table = (sizeof(u32) << bits) +
			(BITS_TO_LONGS(n) + BITS_TO_LONGS(chunks) +
			 BITS_TO_LONGS(blocks)) * sizeof(long);
		ASSERT_EQ(table, t.ix.table_bytes) TH_LOG("%u slots", n);
		ASSERT_EQ(5UL, index_compat_allocs);
		ASSERT_EQ(index_compat_bytes, t.ix.ents_bytes + t.ix.table_bytes);
		/* at most 40 bytes per slot, whatever the size */
		if (n >= 1024)
			ASSERT_LE(t.ix.ents_bytes + t.ix.table_bytes,
				  (size_t)n * 40);
		/* before load_done every slot is out; then all free */
		load_done_all(_metadata, &t, n > 1000 ? 65536 : 1);
		check_free_ascending(_metadata, &t);
		tix_fini(_metadata, &t);
		ASSERT_EQ(NULL, t.ix.ents);
		ASSERT_EQ(NULL, t.ix.buckets);
		ASSERT_EQ(NULL, t.ix.dirty);
		ASSERT_EQ(NULL, t.ix.dirty_sum);
		ASSERT_EQ(NULL, t.ix.meta_dirty);
	}
}

/*
 * Entries past INT_MAX bytes (about 60 M slots) come from vzalloc(), the
 * rest from kvzalloc(): both sides of the line, accounted the same way,
 * and the top slot works. No full check: 60 M slots would take minutes.
 */
TEST(init_big)
{
	static const u32 sizes[] = { INT_MAX / 36, INT_MAX / 36 + 1 };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		u32 n = sizes[i], top = n - 1, out[2];
		unsigned long v = index_compat_vallocs;
		struct rawkv_index ix;
		size_t table;

		ASSERT_EQ(0, rawkv_index_init(&ix, n, META_PER_BLOCK));
		ASSERT_EQ((size_t)n * 36, ix.ents_bytes);
		ASSERT_EQ(i == 1, ix.ents_bytes > INT_MAX);
		ASSERT_EQ(v + (i == 1), index_compat_vallocs)
			TH_LOG("%u slots: entries from vzalloc()?", n);
		ASSERT_EQ(24U, ix.hash_bits);
		table = (sizeof(u32) << 24) +
			(BITS_TO_LONGS(n) + BITS_TO_LONGS(DIV_ROUND_UP(n, CHUNK)) +
			 BITS_TO_LONGS(DIV_ROUND_UP(n, META_PER_BLOCK))) *
			sizeof(long);
		ASSERT_EQ(table, ix.table_bytes);
		ASSERT_EQ(index_compat_bytes, ix.ents_bytes + ix.table_bytes);
		ASSERT_LE(index_compat_bytes, (size_t)n * 40);
		ASSERT_EQ(0U, (u32)ix.ents[top].state);
		ASSERT_EQ(0ULL, ix.ents[top].fp);
		rawkv_index_load_done(&ix, top, n);
		spin_lock(&ix.lock);
		ASSERT_EQ(top, rawkv_slot_pop(&ix, &ix.free));
		rawkv_index_insert(&ix, top, 0xabcdef, 1, 2, true);
		ASSERT_EQ(1U, rawkv_index_find(&ix, 0xabcdef, out, 2, NULL, 0));
		ASSERT_EQ(top, out[0]);
		ASSERT_EQ(top, rawkv_index_next_dirty(&ix, 0));
		ASSERT_EQ(top, ix.lru_head);
		rawkv_index_remove(&ix, rawkv_ent(&ix, top));
		ASSERT_EQ(top, ix.limbo.head);
		ASSERT_EQ(0U, ix.nr_used);
		spin_unlock(&ix.lock);
		ASSERT_EQ(0U, index_compat_lock_errors);
		rawkv_index_free(&ix);
		ASSERT_EQ(0UL, index_compat_allocs);
	}
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Up to U32_MAX slots (rawkv_format_geo() caps there, the superblock
 * allows it): no kvmalloc() of more than INT_MAX bytes, which the kernel
 * refuses with a WARNING whatever memory there is, and each bitmap sized
 * for every slot, with no u32 wrapping. Nothing that large is allocated:
 * above 256 MiB allocations fail as if memory were short, so init must
 * fail, cleanly, with -ENOMEM; what it asked for is checked.
 */
TEST(init_huge)
{
	static const u32 sizes[] = {
		(1U << 29) - 1, 1U << 29, (1U << 30) - 1, 1U << 30, 1U << 31,
		U32_MAX - 4096, U32_MAX - 4095, U32_MAX - 169, U32_MAX - 1,
		U32_MAX,
	};
	unsigned int i, j;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		u64 n = sizes[i], chunks = (n + CHUNK - 1) / CHUNK;
		u64 blocks = (n + META_PER_BLOCK - 1) / META_PER_BLOCK;
		int bits = max(ilog2(n) - 1, 1);
		size_t want[5] = {
			sizeof(u32) << bits, n * 36, (n + 63) / 64 * 8,
			(chunks + 63) / 64 * 8, (blocks + 63) / 64 * 8,
		};
		struct rawkv_index ix;

		index_compat_nomem_over = 256 << 20;
		index_compat_nreq = 0;
		ASSERT_EQ(-ENOMEM, rawkv_index_init(&ix, n, META_PER_BLOCK));
		index_compat_nomem_over = 0;
		ASSERT_EQ(0U, index_compat_warns)
			TH_LOG("%llu slots: a kvmalloc() of more than INT_MAX bytes",
			       (unsigned long long)n);
		ASSERT_EQ(0UL, index_compat_allocs);
		ASSERT_EQ(5U, index_compat_nreq);
		qsort(want, 5, sizeof(size_t), cmp_size);
		qsort(index_compat_req, 5, sizeof(size_t), cmp_size);
		for (j = 0; j < 5; j++) {
			size_t w = want[j], got = index_compat_req[j];

			ASSERT_EQ(w, got)
				TH_LOG("%llu slots: an allocation of %zu bytes, not %zu",
				       (unsigned long long)n, got, w);
		}
	}
}

/* Any allocation failing: -ENOMEM, and nothing is left allocated. */
TEST(init_enomem)
{
	struct rawkv_index ix;
	unsigned long k;

	for (k = 1; k <= 5; k++) {
		index_compat_fail_at = k;
		ASSERT_EQ(-ENOMEM, rawkv_index_init(&ix, 10000, 170))
			TH_LOG("allocation %lu failing", k);
		ASSERT_EQ(0UL, index_compat_allocs);
		ASSERT_EQ(0UL, index_compat_bytes);
		ASSERT_EQ(NULL, ix.ents);
		ASSERT_EQ(NULL, ix.buckets);
		ASSERT_EQ(NULL, ix.dirty);
		ASSERT_EQ(NULL, ix.dirty_sum);
		ASSERT_EQ(NULL, ix.meta_dirty);
		rawkv_index_free(&ix);	/* harmless twice */
	}
	index_compat_fail_at = 0;
	ASSERT_EQ(0, rawkv_index_init(&ix, 10000, 170));
	rawkv_index_free(&ix);
	ASSERT_EQ(0UL, index_compat_allocs);
}

/* The fake lockdep does catch a call without the lock. */
TEST(lockdep_is_checked)
{
	struct tix t;
	u32 out;

	tix_init(_metadata, &t, 16, 4);
	report("lockdep_is_checked: two calls without the lock, each reported as a LOCK ERROR (expected):\n");
	ASSERT_EQ(0U, rawkv_index_find(&t.ix, 1, &out, 1, NULL, 0));
	ASSERT_EQ(1U, index_compat_lock_errors);
	ASSERT_EQ(NIL, rawkv_index_next_dirty(&t.ix, 0));
	ASSERT_EQ(2U, index_compat_lock_errors);
	index_compat_lock_errors = 0;
	tix_fini(_metadata, &t);
}

TEST(insert_remove)
{
	u32 a, b, c, d, s;
	struct tix t;

	tix_init(_metadata, &t, 8, 3);
	load_done_all(_metadata, &t, 8);
	check_free_ascending(_metadata, &t);

	a = op_pop(_metadata, &t);
	ASSERT_EQ(0U, a);
	op_insert(_metadata, &t, a, 0xa, 1, 10, false);
	b = op_pop(_metadata, &t);
	ASSERT_EQ(1U, b);
	op_insert(_metadata, &t, b, 0xb, 2, 20, true);
	/* a PUT that fails gives its slot back, to the head */
	s = op_pop(_metadata, &t);
	ASSERT_EQ(2U, s);
	op_giveback(_metadata, &t, s);
	ASSERT_EQ(2U, t.ix.free.head);
	c = op_pop(_metadata, &t);
	d = op_pop(_metadata, &t);
	/* c and d in one bucket, different fingerprints */
	op_insert(_metadata, &t, c, 0x100a, 3, 30, false);
	op_insert(_metadata, &t, d, 0x200a, 4, 0, false);
	ASSERT_EQ(4U, t.ix.nr_used);
	ASSERT_EQ(4ULL, t.ix.changes);
	/* remove from the middle of a chain, then its head, then its tail */
	op_remove(_metadata, &t, c);
	op_remove(_metadata, &t, d);
	op_remove(_metadata, &t, a);
	ASSERT_EQ(3U, t.ix.limbo.count);
	ASSERT_EQ(a, t.ix.limbo.head);
	ASSERT_EQ(c, t.ix.limbo.tail);
	/* removed slots are not free, nor found */
	ASSERT_EQ(4U, t.ix.free.count);
	ASSERT_EQ(1U, t.ix.nr_used);
	op_remove(_metadata, &t, b);
	ASSERT_EQ(NIL, t.ix.lru_head);
	ASSERT_EQ(8ULL, t.ix.changes);
	tix_fini(_metadata, &t);
}

TEST(touch_lru)
{
	u32 sl[10], got[16], want[10], n, i;
	struct tix t;

	tix_init(_metadata, &t, 16, 4);
	load_done_all(_metadata, &t, 5);
	insert_n(_metadata, &t, 10, fp_of, sl);
	for (i = 0; i < 10; i++)
		want[i] = sl[i];
	n = lru_walk(&t, got);
	ASSERT_EQ(10U, n);
	ASSERT_EQ(0, memcmp(got, want, sizeof(want)));
	/* head, middle, tail, then the head again */
	op_touch(_metadata, &t, sl[0]);
	op_touch(_metadata, &t, sl[5]);
	op_touch(_metadata, &t, sl[5]);
	op_touch(_metadata, &t, sl[1]);
	n = lru_walk(&t, got);
	{
		u32 w[10] = { sl[2], sl[3], sl[4], sl[6], sl[7], sl[8], sl[9],
			      sl[0], sl[5], sl[1] };

		ASSERT_EQ(10U, n);
		ASSERT_EQ(0, memcmp(got, w, sizeof(w)));
	}
	/* down to one entry, and touched alone */
	for (i = 2; i < 10; i++)
		op_remove(_metadata, &t, sl[i]);
	op_remove(_metadata, &t, sl[0]);
	op_touch(_metadata, &t, sl[1]);
	ASSERT_EQ(sl[1], t.ix.lru_head);
	ASSERT_EQ(sl[1], t.ix.lru_tail);
	op_remove(_metadata, &t, sl[1]);
	tix_fini(_metadata, &t);
}

TEST(pin_unpin)
{
	u32 sl[4], i;
	struct tix t;

	tix_init(_metadata, &t, 8, 3);
	load_done_all(_metadata, &t, 8);
	insert_n(_metadata, &t, 4, fp_of, sl);

	/* a live entry: unpin says last at the last pin, and it stays */
	ASSERT_TRUE(op_pin(_metadata, &t, sl[0]));
	ASSERT_TRUE(op_pin(_metadata, &t, sl[0]));
	ASSERT_FALSE(op_unpin(_metadata, &t, sl[0]));
	ASSERT_TRUE(op_unpin(_metadata, &t, sl[0]));
	ASSERT_EQ(RAWKV_E_LIVE, (u32)t.ix.ents[sl[0]].state);

	/* removed while pinned: dead, busy, to limbo at the last unpin */
	op_pin(_metadata, &t, sl[1]);
	op_pin(_metadata, &t, sl[1]);
	op_pin(_metadata, &t, sl[2]);
	op_remove(_metadata, &t, sl[1]);
	op_remove(_metadata, &t, sl[2]);
	ASSERT_EQ(0U, t.ix.limbo.count);
	ix_lock(&t);
	ASSERT_EQ(2U, rawkv_index_busy(&t.ix));
	ix_unlock(&t);
	ASSERT_FALSE(op_unpin(_metadata, &t, sl[1]));
	ASSERT_EQ(0U, t.ix.limbo.count);
	ASSERT_TRUE(op_unpin(_metadata, &t, sl[2]));
	ASSERT_EQ(sl[2], t.ix.limbo.head);
	ASSERT_TRUE(op_unpin(_metadata, &t, sl[1]));
	ASSERT_EQ(sl[1], t.ix.limbo.head);
	ASSERT_EQ(2U, t.ix.limbo.count);

	/*
	 * 65,536 pins do not wrap (a 16-bit count did); the count saturates
	 * at U32_MAX: refused, warned. Reaching it takes 4 G pins: start
	 * near it, in the index and the model alike.
	 */
	for (i = 0; i < 65536; i++)
		ASSERT_TRUE(op_pin(_metadata, &t, sl[3]));
	ASSERT_EQ(65536U, t.ix.ents[sl[3]].pins);
	t.ix.ents[sl[3]].pins = U32_MAX - 1;
	t.pins[sl[3]] = U32_MAX - 1;
	ASSERT_TRUE(op_pin(_metadata, &t, sl[3]));
	ASSERT_EQ(0U, index_compat_warns);
	report("pin_unpin: a pin past U32_MAX, refused with one WARNING (expected):\n");
	ASSERT_FALSE(op_pin(_metadata, &t, sl[3]));
	ASSERT_FALSE(op_pin(_metadata, &t, sl[3]));
	ASSERT_EQ(2U, index_compat_warns);
	ASSERT_EQ(U32_MAX, t.ix.ents[sl[3]].pins);
	op_remove(_metadata, &t, sl[3]);
	t.ix.ents[sl[3]].pins = 2;
	t.pins[sl[3]] = 2;
	ASSERT_FALSE(op_unpin(_metadata, &t, sl[3]));
	ASSERT_TRUE(op_unpin(_metadata, &t, sl[3]));
	ASSERT_EQ(sl[3], t.ix.limbo.head);
	tix_fini(_metadata, &t);
}

static u64 fp_same(u32 i)
{
	return i < 200 ? 0x5a5a5a5a00000077ULL :
	       /* same bucket, other fingerprints (any hash width <= 16) */
	       i < 300 ? 0x77ULL + ((u64)(i - 199) << 16) : fp_of(i);
}

/* Many entries of one fingerprint, more sharing its bucket. */
TEST(fp_collisions)
{
	static struct rec recs[600];
	const u64 F = fp_same(0);
	u32 sl[400], out[400], skip[400], k, i, n, nskip;
	struct tix t;

	tix_init(_metadata, &t, 600, 7);
	load_done_all(_metadata, &t, 100);
	t.full_every = 10;
	insert_n(_metadata, &t, 400, fp_same, sl);
	t.full_every = 1;
	check_all(_metadata, &t);

	ix_lock(&t);
	/* every one, or the first max */
	ASSERT_EQ(200U, rawkv_index_find(&t.ix, F, out, 400, NULL, 0));
	ASSERT_EQ(RAWKV_MAX_SAME_FP,
		  rawkv_index_find(&t.ix, F, out, RAWKV_MAX_SAME_FP, NULL, 0));
	for (i = 0; i < RAWKV_MAX_SAME_FP; i++)
		ASSERT_EQ(F, t.ix.ents[out[i]].fp);
	ASSERT_EQ(1U, rawkv_index_find(&t.ix, F, out, 1, NULL, 0));
	/* skipping what was tried: each entry once, as PUT retries do */
	nskip = 0;
	while ((n = rawkv_index_find(&t.ix, F, out, RAWKV_MAX_SAME_FP, skip,
				     nskip))) {
		for (i = 0; i < n; i++) {
			for (k = 0; k < nskip; k++)
				ASSERT_NE(skip[k], out[i]);
			ASSERT_EQ(F, t.ix.ents[out[i]].fp);
			skip[nskip++] = out[i];
		}
		ASSERT_LE(nskip, 200U);
	}
	ASSERT_EQ(200U, nskip);
	/* a neighbour in the bucket finds only itself */
	for (i = 200; i < 300; i++) {
		ASSERT_EQ(1U, rawkv_index_find(&t.ix, fp_same(i), out, 400,
					       NULL, 0));
		ASSERT_EQ(sl[i], out[0]);
	}
	ASSERT_EQ(0U, rawkv_index_find(&t.ix, F + 1, out, 400, NULL, 0));
	ASSERT_EQ(0U, rawkv_index_find(&t.ix, F ^ (1ULL << 63), out, 400,
				       NULL, 0));
	ix_unlock(&t);

	/* remove the newest (chain head), the oldest, some in between */
	op_remove(_metadata, &t, sl[199]);
	op_remove(_metadata, &t, sl[0]);
	for (i = 1; i < 199; i += 3)
		op_remove(_metadata, &t, sl[i]);
	op_touch(_metadata, &t, sl[2]);
	for (i = 200; i < 300; i += 2)
		op_remove(_metadata, &t, sl[i]);
	/* re-insert with the same fingerprint into freed slots */
	commit_all(_metadata, &t, recs);
	for (i = 0; i < 50; i++)
		op_insert(_metadata, &t, op_pop(_metadata, &t), F, 5000 + i, i,
			  false);
	for (i = 0; i < 400; i++)	/* the first ones left of F */
		if (t.where[sl[i]] == W_LIVE && t.fp[sl[i]] == F &&
		    t.gen[sl[i]] < 5000)
			op_remove(_metadata, &t, sl[i]);
	ix_lock(&t);
	ASSERT_EQ(50U, rawkv_index_find(&t.ix, F, out, 400, NULL, 0));
	ix_unlock(&t);
	tix_fini(_metadata, &t);
}

static void check_local_list(struct __test_metadata *_metadata,
			     struct tix *t, const struct rawkv_slot_list *l,
			     const u32 *want, u32 n)
{
	u32 i, s = l->head;

	ASSERT_EQ(n, l->count);
	for (i = 0; i < n; i++) {
		ASSERT_EQ(want[i], s) TH_LOG("position %u", i);
		if (i == n - 1)
			ASSERT_EQ(s, l->tail);
		s = t->ix.ents[s].next;
	}
}

/* push, pop and splice, on lists of the test's and on the index's. */
TEST(slot_lists)
{
	struct rawkv_slot_list a = {}, b = {};
	struct rec recs[32];
	u32 sl[12], i;
	struct tix t;

	tix_init(_metadata, &t, 32, 5);
	load_done_all(_metadata, &t, 7);
	for (i = 0; i < 12; i++)
		sl[i] = op_pop(_metadata, &t);	/* out, held by the test */

	ix_lock(&t);
	rawkv_slot_push(&t.ix, &a, sl[3]);
	rawkv_slot_push(&t.ix, &a, sl[5]);
	rawkv_slot_push(&t.ix, &a, sl[7]);
	check_local_list(_metadata, &t, &a, (u32 []){ sl[7], sl[5], sl[3] }, 3);
	ASSERT_EQ(sl[7], rawkv_slot_pop(&t.ix, &a));
	rawkv_slot_push(&t.ix, &a, sl[9]);
	check_local_list(_metadata, &t, &a, (u32 []){ sl[9], sl[5], sl[3] }, 3);
	/* into an empty list: it takes the tail too */
	rawkv_slot_splice(&t.ix, &b, &a);
	check_local_list(_metadata, &t, &b, (u32 []){ sl[9], sl[5], sl[3] }, 3);
	ASSERT_EQ(0U, a.count);
	/* a list emptied and pushed again has a new tail */
	rawkv_slot_push(&t.ix, &a, sl[11]);
	check_local_list(_metadata, &t, &a, (u32 []){ sl[11] }, 1);
	rawkv_slot_splice(&t.ix, &b, &a);
	check_local_list(_metadata, &t, &b,
			 (u32 []){ sl[11], sl[9], sl[5], sl[3] }, 4);
	/* an empty source changes nothing */
	rawkv_slot_splice(&t.ix, &b, &a);
	check_local_list(_metadata, &t, &b,
			 (u32 []){ sl[11], sl[9], sl[5], sl[3] }, 4);
	ASSERT_EQ(0U, a.count);
	for (i = 0; i < 4; i++)
		rawkv_slot_pop(&t.ix, &b);
	ASSERT_EQ(0U, b.count);
	rawkv_slot_push(&t.ix, &b, sl[0]);
	check_local_list(_metadata, &t, &b, (u32 []){ sl[0] }, 1);
	ASSERT_EQ(sl[0], rawkv_slot_pop(&t.ix, &b));
	ix_unlock(&t);
	check_all(_metadata, &t);

	/* the index's own lists, through a commit */
	for (i = 0; i < 6; i++)
		op_insert(_metadata, &t, sl[i], fp_of(i), i + 1, i, false);
	for (i = 6; i < 12; i++)
		op_giveback(_metadata, &t, sl[i]);
	op_remove(_metadata, &t, sl[0]);
	op_remove(_metadata, &t, sl[1]);
	i = op_collect(_metadata, &t, recs);	/* limbo -> committing */
	op_remove(_metadata, &t, sl[2]);	/* limbo again */
	check_local_list(_metadata, &t, &t.ix.committing,
			 (u32 []){ sl[1], sl[0] }, 2);
	check_local_list(_metadata, &t, &t.ix.limbo, (u32 []){ sl[2] }, 1);
	op_finish(_metadata, &t, recs, i, false);	/* back to limbo, in front */
	check_local_list(_metadata, &t, &t.ix.limbo,
			 (u32 []){ sl[1], sl[0], sl[2] }, 3);
	ASSERT_EQ(0U, t.ix.committing.count);
	i = op_collect(_metadata, &t, recs);
	op_finish(_metadata, &t, recs, i, true);	/* to the front of free */
	ASSERT_EQ(sl[1], t.ix.free.head);
	ASSERT_EQ(0U, t.ix.limbo.count);
	tix_fini(_metadata, &t);
}

/* A commit as meta.c does it, with the table changing while it is written. */
TEST(commit_cycle)
{
	const u32 N = CHUNK + 300;
	struct rec *recs = calloc(N, sizeof(*recs));
	u32 *sl = calloc(N, sizeof(u32));
	u32 n, i, s, cursor, wb;
	struct tix t;

	ASSERT_NE(NULL, recs);
	ASSERT_NE(NULL, sl);
	tix_init(_metadata, &t, N, META_PER_BLOCK);
	t.full_every = 97;
	load_done_all(_metadata, &t, 1000);
	insert_n(_metadata, &t, N - 100, fp_of, sl);
	t.full_every = 1;
	check_all(_metadata, &t);

	/* a first commit: everything inserted is committed live */
	n = op_collect(_metadata, &t, recs);
	ASSERT_EQ(N - 100, n);
	ASSERT_EQ(0U, t.ix.nr_dirty);
	op_finish(_metadata, &t, recs, n, true);
	for (i = 0; i < N - 100; i++)
		ASSERT_TRUE(t.ix.ents[sl[i]].flags & RAWKV_EF_COMMITTED);
	ASSERT_EQ(DIV_ROUND_UP(N - 100, META_PER_BLOCK), t.ix.nr_meta_dirty);

	/* removals (some pinned), replacements, then collect */
	for (i = 0; i < 40; i++)
		op_remove(_metadata, &t, sl[i * 97 % (N - 100)]);
	op_pin(_metadata, &t, sl[4000]);
	op_pin(_metadata, &t, sl[4001]);
	op_remove(_metadata, &t, sl[4000]);	/* dead */
	s = op_pop(_metadata, &t);
	op_insert(_metadata, &t, s, fp_of(9999), 77777, 5, true);
	n = op_collect(_metadata, &t, recs);
	ASSERT_EQ(42U, n);
	ASSERT_EQ(40U, t.ix.committing.count);

	/* while it is written: a recorded-live entry goes, a dead one is
	 * freed, new PUTs */
	op_remove(_metadata, &t, s);
	op_remove(_metadata, &t, sl[4001]);	/* pinned: dead */
	ASSERT_TRUE(op_unpin(_metadata, &t, sl[4000]));	/* to limbo */
	for (i = 0; i < 10; i++)
		op_insert(_metadata, &t, op_pop(_metadata, &t), fp_of(20000 + i),
			  90000 + i, i, false);
	ASSERT_EQ(2U, t.ix.limbo.count);
	op_finish(_metadata, &t, recs, n, true);
	/* s was committed live: the committed table has it, limbo keeps it */
	ASSERT_TRUE(t.ix.ents[s].flags & RAWKV_EF_COMMITTED);
	ASSERT_EQ(RAWKV_E_IDLE, (u32)t.ix.ents[s].state);
	ASSERT_EQ(0, t.ix.ents[sl[4000]].flags & RAWKV_EF_COMMITTED);
	ASSERT_EQ(40U + 100 - 11, t.ix.free.count);

	/* a failed commit: dirty again, committing back to limbo */
	n = op_collect(_metadata, &t, recs);
	ASSERT_EQ(12U, n);
	op_finish(_metadata, &t, recs, n, false);
	ASSERT_EQ(12U, t.ix.nr_dirty);
	ASSERT_TRUE(t.ix.ents[s].flags & RAWKV_EF_COMMITTED);
	/* then one that works */
	n = op_collect(_metadata, &t, recs);
	ASSERT_EQ(12U, n);
	op_finish(_metadata, &t, recs, n, true);
	ASSERT_EQ(0, t.ix.ents[s].flags & RAWKV_EF_COMMITTED);
	ASSERT_EQ(0U, t.ix.limbo.count);

	/* the last unpin after the commit that recorded the removal: limbo,
	 * and a commit with nothing dirty frees it */
	ASSERT_TRUE(op_unpin(_metadata, &t, sl[4001]));
	ASSERT_EQ(1U, t.ix.limbo.count);
	op_commit_idle(_metadata, &t);
	ASSERT_EQ(0U, t.ix.limbo.count);
	ix_lock(&t);
	ASSERT_EQ(0U, rawkv_index_busy(&t.ix));
	ix_unlock(&t);

	/* write the metadata back, 8 blocks at a time, one batch failing */
	cursor = 0;
	wb = op_writeback(_metadata, &t, &cursor, 8, false);
	ASSERT_EQ(8U, wb);
	wb = op_writeback(_metadata, &t, &cursor, 8, true);
	ASSERT_EQ(8U, wb);
	while (op_writeback(_metadata, &t, &cursor, 8, false))
		;
	ASSERT_EQ(8U, t.ix.nr_meta_dirty);
	cursor = 0;
	while (op_writeback(_metadata, &t, &cursor, 8, false))
		;
	ASSERT_EQ(0U, t.ix.nr_meta_dirty);
	tix_fini(_metadata, &t);
	free(recs);
	free(sl);
}

/* The dirty bitmap and its summary across chunk boundaries. */
TEST(dirty_chunks)
{
	static const u32 sizes[] = { 1, 100, CHUNK - 1, CHUNK, CHUNK + 1,
				     2 * CHUNK, 3 * CHUNK + 123 };
	unsigned int z, i;

	for (z = 0; z < ARRAY_SIZE(sizes); z++) {
		u32 n = sizes[z], c, s;
		u32 marks[] = { 0, 1, 63, 64, 65, CHUNK - 1, CHUNK, CHUNK + 1,
				2 * CHUNK - 1, 2 * CHUNK, 3 * CHUNK - 1,
				3 * CHUNK, n - 1 };
		struct tix t;

		tix_init(_metadata, &t, n, 7);
		t.every_start = true;
		for (i = 0; i < ARRAY_SIZE(marks); i++)
			if (marks[i] < n)
				op_set_dirty(_metadata, &t, marks[i]);
		/* set twice counts once, clearing a clean bit nothing */
		op_set_dirty(_metadata, &t, 0);
		if (n > 2)
			op_clear_dirty(_metadata, &t, 2);
		/* empty a whole chunk: its summary bit goes at the next walk */
		for (i = 0; i < ARRAY_SIZE(marks); i++)
			if (marks[i] >= CHUNK && marks[i] < 2 * CHUNK &&
			    marks[i] < n)
				op_clear_dirty(_metadata, &t, marks[i]);
		if (n > CHUNK)
			ASSERT_FALSE(test_bit(1, t.ix.dirty_sum));
		/* everything dirty, then nothing */
		t.every_start = false;
		t.full_every = n / 8 + 1;
		for (s = 0; s < n; s++)
			op_set_dirty(_metadata, &t, s);
		t.every_start = true;
		check_all(_metadata, &t);
		for (c = 0; c < t.chunks; c++)
			ASSERT_TRUE(test_bit(c, t.ix.dirty_sum));
		t.every_start = false;
		for (s = n; s-- > 0;)
			op_clear_dirty(_metadata, &t, s);
		t.every_start = true;
		check_all(_metadata, &t);
		for (c = 0; c < t.chunks; c++)
			ASSERT_FALSE(test_bit(c, t.ix.dirty_sum));
		tix_fini(_metadata, &t);
	}
}

/* The metadata blocks to write back, with blocks that do not divide. */
TEST(meta_dirty)
{
	static const u32 cfg[][2] = { { 1000, 170 }, { 1000, 7 }, { 1000, 1 },
				      { 170, 170 }, { 64 * 3, 1 } };
	unsigned int z;

	for (z = 0; z < ARRAY_SIZE(cfg); z++) {
		u32 n = cfg[z][0], mpb = cfg[z][1], b, blocks;
		struct tix t;
		u64 r = z;

		tix_init(_metadata, &t, n, mpb);
		t.every_start = true;
		blocks = t.blocks;
		op_set_mdirty(_metadata, &t, 0);
		op_set_mdirty(_metadata, &t, blocks - 1);
		op_set_mdirty(_metadata, &t, blocks - 1);
		op_clear_mdirty(_metadata, &t, blocks / 2);
		for (b = 0; b < 3 * blocks; b++) {
			if (rndn(&r, 2))
				op_set_mdirty(_metadata, &t, rndn(&r, blocks));
			else
				op_clear_mdirty(_metadata, &t, rndn(&r, blocks));
		}
		/* rawkv_index_committed() marks the slot's block */
		load_done_all(_metadata, &t, n);
		ix_lock(&t);
		rawkv_index_committed(&t.ix, n - 1, false);
		ix_unlock(&t);
		m_set_mdirty(&t, (n - 1) / mpb);
		after_op(_metadata, &t);
		tix_fini(_metadata, &t);
	}
}

/* The load path, step by step as rawkv_recover() takes it. */
TEST(load_path)
{
	const u32 N = 1200;
	__le32 p1[] = { cpu_to_le32(5), cpu_to_le32(2), cpu_to_le32(N),
			cpu_to_le32(3), cpu_to_le32(5), cpu_to_le32(8),
			cpu_to_le32(U32_MAX) };
	__le32 p2[] = { cpu_to_le32(2), cpu_to_le32(11), cpu_to_le32(10),
			cpu_to_le32(N + 100) };
	__le32 *p3 = calloc(N, sizeof(__le32));
	u32 *want = calloc(N, sizeof(u32)), *got = calloc(N + 1, sizeof(u32));
	u32 s, n3 = 0, nw = 0, i, a, old;
	struct rec recs[64];
	struct tix t;

	ASSERT_NE(NULL, p3);
	ASSERT_NE(NULL, want);
	ASSERT_NE(NULL, got);
	tix_init(_metadata, &t, N, 7);
	t.full_every = 5;
	/* the slot metadata: every slot but each third */
	for (s = 0; s < N; s++)
		if (s % 3)
			op_load(_metadata, &t, s, fp_of(s), s + 1, s * 7,
				s % 5 == 0);
	t.full_every = 1;
	ASSERT_EQ(0U, t.ix.nr_dirty);

	/* the hint: named slots, dead and out of range ones, repeats */
	op_hint(_metadata, &t, p1, ARRAY_SIZE(p1), false);
	n3 = lru_walk(&t, got);
	ASSERT_EQ(t.nr_live, n3);
	ASSERT_EQ(5U, got[n3 - 3]);
	ASSERT_EQ(2U, got[n3 - 2]);
	ASSERT_EQ(8U, got[n3 - 1]);
	ASSERT_TRUE(t.ix.ents[5].flags & RAWKV_EF_MARK);
	op_hint(_metadata, &t, p2, ARRAY_SIZE(p2), false);
	n3 = 0;
	for (s = N; s-- > 600;)
		if (s % 3 == 1)
			p3[n3++] = cpu_to_le32(s);
	op_hint(_metadata, &t, p3, n3, false);
	op_hint(_metadata, &t, NULL, 0, true);
	/* said plainly: named in order, then the rest in load order */
	want[nw++] = 5;
	want[nw++] = 2;
	want[nw++] = 8;
	want[nw++] = 11;
	want[nw++] = 10;
	for (i = 0; i < n3; i++)
		want[nw++] = le32_to_cpu(p3[i]);
	for (s = 0; s < N; s++)
		if (s % 3 && s != 5 && s != 2 && s != 8 && s != 11 && s != 10 &&
		    !(s >= 600 && s % 3 == 1))
			want[nw++] = s;
	ASSERT_EQ(nw, lru_walk(&t, got));
	ASSERT_EQ(0, memcmp(want, got, nw * sizeof(u32)));
	for (s = 0; s < N; s++)
		ASSERT_EQ(0, t.ix.ents[s].flags & RAWKV_EF_MARK);

	/* the log: replacements go to the tail, clears leave */
	old = t.fp[4];
	op_load(_metadata, &t, 4, fp_of(100004), 5000, 1, false);
	op_load(_metadata, &t, 5, fp_of(100005), 5001, 2, true);
	op_load(_metadata, &t, 3, fp_of(100003), 5002, 3, false);
	op_load_clear(_metadata, &t, 2);
	op_load_clear(_metadata, &t, 6);	/* held nothing */
	op_load_clear(_metadata, &t, 7);
	for (s = 2; s <= 7; s++)
		op_set_mdirty(_metadata, &t, s / t.mpb);
	ix_lock(&t);
	ASSERT_EQ(0U, rawkv_index_find(&t.ix, old, got, N, NULL, 0));
	ix_unlock(&t);
	n3 = lru_walk(&t, got);
	ASSERT_EQ(t.nr_live, n3);
	ASSERT_EQ(4U, got[n3 - 3]);
	ASSERT_EQ(5U, got[n3 - 2]);
	ASSERT_EQ(3U, got[n3 - 1]);
	ASSERT_EQ(RAWKV_EF_COMMITTED | RAWKV_EF_SYNC, (u32)t.ix.ents[5].flags);
	ASSERT_EQ(0U, (u32)t.ix.ents[2].flags);

	/* load_done from the top down, in ranges that do not divide */
	load_done_all(_metadata, &t, 500);
	check_free_ascending(_metadata, &t);
	ASSERT_EQ(0U, t.ix.free.head);
	ix_lock(&t);
	ASSERT_EQ(0U, rawkv_index_busy(&t.ix));
	ix_unlock(&t);

	/* and it works: a PUT replacing a loaded key, a commit */
	a = op_pop(_metadata, &t);
	ASSERT_EQ(0U, a);
	op_remove(_metadata, &t, 10);
	op_insert(_metadata, &t, a, fp_of(10), 6000, 9, true);
	ASSERT_TRUE(t.ix.ents[10].flags & RAWKV_EF_COMMITTED);
	n3 = op_collect(_metadata, &t, recs);
	ASSERT_EQ(2U, n3);
	op_finish(_metadata, &t, recs, n3, true);
	ASSERT_EQ(0, t.ix.ents[10].flags & RAWKV_EF_COMMITTED);
	ASSERT_EQ(10U, t.ix.free.head);
	tix_fini(_metadata, &t);
	free(p3);
	free(want);
	free(got);
}

/* Hints that name nothing, everything, or come in one last part. */
TEST(load_hint_edges)
{
	const u32 N = 50;
	__le32 all[N], junk[] = { cpu_to_le32(N), cpu_to_le32(0),
				  cpu_to_le32(U32_MAX), cpu_to_le32(0) };
	u32 got[N + 1], s, n, round;
	struct tix t;

	for (round = 0; round < 4; round++) {
		tix_init(_metadata, &t, N, 3);
		if (round == 3) {	/* nothing loaded at all */
			op_hint(_metadata, &t, junk, ARRAY_SIZE(junk), true);
			ASSERT_EQ(NIL, t.ix.lru_head);
			load_done_all(_metadata, &t, 7);
			check_free_ascending(_metadata, &t);
			tix_fini(_metadata, &t);
			continue;
		}
		for (s = 1; s < N; s++)
			op_load(_metadata, &t, (s * 7) % N, fp_of(s), s, s, false);
		if (round == 0) {	/* no hint: load order */
			op_hint(_metadata, &t, NULL, 0, true);
			n = lru_walk(&t, got);
			for (s = 1; s < N; s++)
				ASSERT_EQ((s * 7) % N, got[s - 1]);
		} else if (round == 1) {	/* all of them, in one last part */
			for (s = 0; s < N; s++)
				all[s] = cpu_to_le32(N - 1 - s);
			op_hint(_metadata, &t, all, N, true);
			n = lru_walk(&t, got);
			ASSERT_EQ(N - 1, n);
			for (s = 0; s < n; s++)	/* slot 0 holds nothing */
				ASSERT_EQ(N - 1 - s, got[s]);
		} else {	/* junk only: load order */
			op_hint(_metadata, &t, junk, ARRAY_SIZE(junk), false);
			op_hint(_metadata, &t, junk, ARRAY_SIZE(junk), true);
			n = lru_walk(&t, got);
			for (s = 1; s < N; s++)
				ASSERT_EQ((s * 7) % N, got[s - 1]);
		}
		load_done_all(_metadata, &t, 7);
		check_free_ascending(_metadata, &t);
		tix_fini(_metadata, &t);
	}
}

/* ------------------------------------------------------------------ */
/* Random runs against the model                                      */

#define MAX_FLIGHT	8
#define MAX_READERS	64

/* A PUT in flight: its slot, and the candidates it pinned to match keys. */
struct put {
	u32 slot, key, cand[RAWKV_MAX_SAME_FP], ncand;
};

/* Keys and what the store does with them: the index's users, modelled. */
struct world {
	struct tix *t;
	u64 rng;
	u32 nkeys, nfp;		/* key k has fingerprint fpv[k % nfp] */
	u64 *fpv, gen;
	u32 *key_slot, *slot_key;
	struct put flight[MAX_FLIGHT];
	unsigned int nflight;
	u32 readers[MAX_READERS];	/* slots pinned by GETs */
	unsigned int nreaders;
	struct rec *recs;
	u32 nrecs;
	bool collected;		/* a commit is being written */
	u32 wb_cursor;
	unsigned long nput, ndel, nget, nevict, ncommit, nfail, nwb, nabort;
	unsigned long ndead;	/* removed while pinned */
};

static void world_init(struct world *w, struct tix *t, u64 seed)
{
	u32 g;

	memset(w, 0, sizeof(*w));
	w->t = t;
	w->rng = seed;
	w->nkeys = 2 * t->n + 8;
	w->nfp = w->nkeys / 3 + 1;
	w->fpv = xcalloc(w->nfp, sizeof(u64));
	/*
	 * Distinct by construction: bit 63 and the group in the low bits,
	 * or, for one group in 64, the same low 16 bits for all of them
	 * (one long hash chain) and the group above.
	 */
	for (g = 0; g < w->nfp; g++)
		w->fpv[g] = g % 64 ? (splitmix(&w->rng) << 24) | 1ULL << 63 | g :
				     (u64)g << 24 | 0x1234;
	w->key_slot = xcalloc(w->nkeys, sizeof(u32));
	memset(w->key_slot, 0xff, w->nkeys * sizeof(u32));
	w->slot_key = xcalloc(t->n, sizeof(u32));
	w->recs = xcalloc(t->n, sizeof(struct rec));
	w->gen = 1;
}

static void world_fini(struct world *w)
{
	free(w->fpv);
	free(w->key_slot);
	free(w->slot_key);
	free(w->recs);
}

static u64 key_fp(struct world *w, u32 k)
{
	return w->fpv[k % w->nfp];
}

/*
 * What a GET or PUT finds for key @k: exactly the live keys of its
 * fingerprint group. Returns how many (in t->buf).
 */
static u32 w_find(struct __test_metadata *_metadata, struct world *w, u32 k)
{
	struct tix *t = w->t;
	u32 g = k % w->nfp, kk, want = 0, n, i;
	bool has = false;

	for (kk = g; kk < w->nkeys; kk += w->nfp)
		want += w->key_slot[kk] != NIL;
	ix_lock(t);
	n = rawkv_index_find(&t->ix, key_fp(w, k), t->buf, t->n + 1, NULL, 0);
	ix_unlock(t);
	ASSERT_EQ(want, n) TH_LOG("entries of key %u's fingerprint", k);
	for (i = 0; i < n; i++) {
		u32 s = t->buf[i];

		ASSERT_LT(s, t->n);
		ASSERT_EQ(W_LIVE, t->where[s]);
		ASSERT_EQ(g, w->slot_key[s] % w->nfp);
		has |= s == w->key_slot[k];
	}
	ASSERT_EQ(w->key_slot[k] != NIL, has);
	return n;
}

static void w_remove(struct __test_metadata *_metadata, struct world *w,
		     u32 s)
{
	w->key_slot[w->slot_key[s]] = NIL;
	w->ndead += w->t->pins[s] != 0;
	op_remove(_metadata, w->t, s);
}

/* rawkv_evict(): the least recently used entries no reader pins. */
static u32 w_evict(struct __test_metadata *_metadata, struct world *w)
{
	struct tix *t = w->t;
	u32 batch = clamp(t->n / 256, 1U, EVICT_MAX), n = 0, s, next;

	ASSERT_EQ(t->lru_head, t->ix.lru_head);
	for (s = t->lru_head; s != NIL && n < batch; s = next) {
		next = t->lnext[s];
		if (t->pins[s])
			continue;
		w_remove(_metadata, w, s);
		n++;
	}
	w->nevict += n;
	return n;
}

static void w_commit_step(struct __test_metadata *_metadata, struct world *w,
			  bool ok)
{
	struct tix *t = w->t;

	if (w->collected) {
		op_finish(_metadata, t, w->recs, w->nrecs, ok);
		w->collected = false;
		w->ncommit++;
		w->nfail += !ok;
	} else if (!t->nr_dirty) {
		op_commit_idle(_metadata, t);
	} else {
		w->nrecs = op_collect(_metadata, t, w->recs);
		w->collected = true;
	}
}

/* rawkv_commit(): finish the one being written, then one of everything. */
static void w_commit_all(struct __test_metadata *_metadata, struct world *w)
{
	if (w->collected)
		w_commit_step(_metadata, w, true);
	w_commit_step(_metadata, w, true);
	if (w->collected)
		w_commit_step(_metadata, w, true);
}

/* rawkv_slot_get(): commit if that frees slots, else evict. */
static bool w_slot_get(struct __test_metadata *_metadata, struct world *w)
{
	struct tix *t = w->t;
	int tries;

	for (tries = 0; tries < 4 && !t->free.n; tries++) {
		if (t->limbo.n || t->committing.n)
			w_commit_all(_metadata, w);
		else if (!w_evict(_metadata, w))
			break;
	}
	return t->free.n;
}

static void w_put_start(struct __test_metadata *_metadata, struct world *w)
{
	struct tix *t = w->t;
	u32 k = rndn(&w->rng, w->nkeys), n, i;
	struct put *p;

	if (w->nflight == MAX_FLIGHT || !w_slot_get(_metadata, w))
		return;
	p = &w->flight[w->nflight++];
	p->key = k;
	/* the candidates, pinned while the key is compared (store.c) */
	n = w_find(_metadata, w, k);
	p->ncand = min(n, (u32)RAWKV_MAX_SAME_FP);
	memcpy(p->cand, t->buf, p->ncand * sizeof(u32));
	for (i = 0; i < p->ncand; i++)
		ASSERT_TRUE(op_pin(_metadata, t, p->cand[i]));
	p->slot = op_pop(_metadata, t);
}

static void w_put_end(struct __test_metadata *_metadata, struct world *w)
{
	struct tix *t = w->t;
	unsigned int j = rndn(&w->rng, w->nflight), i;
	struct put p = w->flight[j];
	u32 old = w->key_slot[p.key];

	w->flight[j] = w->flight[--w->nflight];
	if (rndn(&w->rng, 100) < 5) {
		op_giveback(_metadata, t, p.slot);
		w->nabort++;
	} else {
		if (old != NIL)
			w_remove(_metadata, w, old);
		op_insert(_metadata, t, p.slot, key_fp(w, p.key), w->gen++,
			  rndn(&w->rng, 1 << 20), rndn(&w->rng, 4) == 0);
		w->key_slot[p.key] = p.slot;
		w->slot_key[p.slot] = p.key;
		w->nput++;
	}
	for (i = 0; i < p.ncand; i++)
		op_unpin(_metadata, t, p.cand[i]);
}

static void w_step(struct __test_metadata *_metadata, struct world *w)
{
	struct tix *t = w->t;
	u32 r = rndn(&w->rng, 100), k, s;

	if (r < 25) {
		w_put_start(_metadata, w);
	} else if (r < 45) {
		if (w->nflight)
			w_put_end(_metadata, w);
	} else if (r < 53) {
		k = rndn(&w->rng, w->nkeys);
		w_find(_metadata, w, k);
		if (w->key_slot[k] != NIL) {
			w_remove(_metadata, w, w->key_slot[k]);
			w->ndel++;
		}
	} else if (r < 70) {
		k = rndn(&w->rng, w->nkeys);
		w_find(_metadata, w, k);
		s = w->key_slot[k];
		w->nget++;
		if (s == NIL)
			return;
		op_touch(_metadata, t, s);
		if (w->nreaders < MAX_READERS && rndn(&w->rng, 2)) {
			ASSERT_TRUE(op_pin(_metadata, t, s));
			w->readers[w->nreaders++] = s;
		}
	} else if (r < 80) {
		if (w->nreaders) {
			unsigned int j = rndn(&w->rng, w->nreaders);

			s = w->readers[j];
			w->readers[j] = w->readers[--w->nreaders];
			op_unpin(_metadata, t, s);
		}
	} else if (r < 88) {
		w_commit_step(_metadata, w, rndn(&w->rng, 10) != 0);
	} else if (r < 94) {
		if (!op_writeback(_metadata, t, &w->wb_cursor, 8,
				  rndn(&w->rng, 10) == 0))
			w->wb_cursor = 0;
		w->nwb++;
	} else if (r < 97) {
		/* pressure without a PUT waiting, when the table is full */
		if (t->nr_live * 4 > t->n * 3)
			w_evict(_metadata, w);
	} else {
		/* the metadata writeback after a load, or a bad block */
		op_set_mdirty(_metadata, t, rndn(&w->rng, t->blocks));
	}
}

/* Let everything in flight finish; then nothing is busy or waiting. */
static void w_drain(struct __test_metadata *_metadata, struct world *w)
{
	struct tix *t = w->t;
	u32 s;

	while (w->nflight)
		w_put_end(_metadata, w);
	while (w->nreaders)
		op_unpin(_metadata, t, w->readers[--w->nreaders]);
	w_commit_all(_metadata, w);
	w_commit_all(_metadata, w);
	w->wb_cursor = 0;
	while (op_writeback(_metadata, t, &w->wb_cursor, 8, false))
		;
	t->full_every = 1;
	check_all(_metadata, t);
	ASSERT_EQ(0U, t->ix.limbo.count);
	ASSERT_EQ(0U, t->ix.committing.count);
	ASSERT_EQ(0U, t->ix.nr_dirty);
	ASSERT_EQ(0U, t->ix.nr_meta_dirty);
	ASSERT_EQ(t->n, t->ix.free.count + t->ix.nr_used);
	for (s = 0; s < t->n; s++)
		ASSERT_EQ(t->where[s] == W_LIVE,
			  !!(t->ix.ents[s].flags & RAWKV_EF_COMMITTED));
}

static void w_report(struct world *w, const char *what, u64 seed,
		     unsigned long ops, const struct timespec *t0)
{
	report("%s: seed %#llx, %lu ops on %u slots, %.2f s CPU: %lu puts (%lu failed), %lu deletes, %lu gets, %lu evicted, %lu removed while pinned, %lu commits (%lu failed), %lu writebacks; %u full checks\n",
		       what, (unsigned long long)seed, ops, w->t->n,
		       cpu_since(t0),
		       w->nput, w->nabort, w->ndel, w->nget, w->nevict,
		       w->ndead, w->ncommit, w->nfail, w->nwb, w->t->full_checks);
}

static void random_run(struct __test_metadata *_metadata, u32 n, u32 mpb,
		       unsigned long ops, unsigned int full_every,
		       const char *what)
{
	u64 seed = test_seed() ^ n;
	struct timespec t0;
	struct world w;
	unsigned long i;
	struct tix t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	tix_init(_metadata, &t, n, mpb);
	t.full_every = n;
	load_done_all(_metadata, &t, 65536);
	t.full_every = full_every;
	world_init(&w, &t, seed);
	for (i = 0; i < ops; i++)
		w_step(_metadata, &w);
	w_drain(_metadata, &w);
	w_report(&w, what, seed, ops, &t0);
	world_fini(&w);
	tix_fini(_metadata, &t);
}

/* 10^5 operations on 10^4 slots (three chunks, the last one partial). */
TEST(random_ops)
{
	random_run(_metadata, 10000, META_PER_BLOCK, 100000, 64, "random_ops");
}

/* Few slots, always full: eviction, waiting commits; checked every op. */
TEST(random_ops_small)
{
	random_run(_metadata, 97, 7, 30000, 1, "random_ops_small");
}

/*
 * Random loads: the slot metadata, a hint in random parts with junk in
 * it, a log replay, load_done in random ranges; then random operations.
 */
TEST(random_load)
{
	u64 seed = test_seed(), r = seed;
	struct timespec t0;
	unsigned int round;
	unsigned long ops = 0;
	u32 total = 0;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	for (round = 0; round < 24; round++) {
		static const u32 mpbs[] = { 1, 7, META_PER_BLOCK };
		u32 n = round < 4 ? (u32[]){ 1, CHUNK, CHUNK + 1, 2 * CHUNK }[round]
				  : 1 + rndn(&r, 6000);
		u32 mpb = mpbs[rndn(&r, ARRAY_SIZE(mpbs))];
		u32 s, k, i, nh, part, step;
		__le32 *hint;
		struct world w;
		struct tix t;

		tix_init(_metadata, &t, n, mpb);
		world_init(&w, &t, splitmix(&r));
		t.full_every = n / 16 + 1;
		total += n;

		/* the slot metadata: some slots hold a key */
		for (s = 0; s < n; s++) {
			if (rndn(&r, 10) < 4)
				continue;
			do
				k = rndn(&r, w.nkeys);
			while (w.key_slot[k] != NIL);
			op_load(_metadata, &t, s, key_fp(&w, k), w.gen++,
				rndn(&r, 5000), rndn(&r, 3) == 0);
			w.key_slot[k] = s;
			w.slot_key[s] = k;
		}

		/* the hint: a random subset in random order, and junk */
		hint = xcalloc(2 * n + 16, sizeof(__le32));
		nh = 0;
		for (s = 0; s < n; s++) {
			u32 x = rndn(&r, 100);

			if (x < 60)
				hint[nh++] = cpu_to_le32(s);	/* live or not */
			if (x < 5)
				hint[nh++] = cpu_to_le32(s);	/* again */
			if (x == 99)
				hint[nh++] = cpu_to_le32(n + rndn(&r, 3) *
							 (U32_MAX / 2 - n));
		}
		for (i = nh; i > 1; i--) {
			u32 j = rndn(&r, i);
			__le32 tmp = hint[i - 1];

			hint[i - 1] = hint[j];
			hint[j] = tmp;
		}
		if (round % 5 == 4)
			nh = 0;
		for (i = 0; i < nh; i += part) {
			part = 1 + rndn(&r, nh - i);
			op_hint(_metadata, &t, hint + i, part,
				i + part == nh && rndn(&r, 2));
		}
		if (t.nr_named || !nh)
			op_hint(_metadata, &t, NULL, 0, true);
		free(hint);

		/* the log: keys put into new slots, removed, slots cleared */
		for (i = 0; i < n / 2; i++) {
			s = rndn(&r, n);
			if (rndn(&r, 3) == 0) {
				if (t.where[s] == W_LIVE)
					w.key_slot[w.slot_key[s]] = NIL;
				op_load_clear(_metadata, &t, s);
			} else {
				k = rndn(&r, w.nkeys);
				if (t.where[s] == W_LIVE)
					w.key_slot[w.slot_key[s]] = NIL;
				if (w.key_slot[k] != NIL)
					op_load_clear(_metadata, &t,
						      w.key_slot[k]);
				op_load(_metadata, &t, s, key_fp(&w, k),
					w.gen++, rndn(&r, 5000),
					rndn(&r, 3) == 0);
				w.key_slot[k] = s;
				w.slot_key[s] = k;
			}
			op_set_mdirty(_metadata, &t, s / mpb);
		}

		step = 1 + rndn(&r, n + 10);
		load_done_all(_metadata, &t, step);
		check_all(_metadata, &t);
		check_free_ascending(_metadata, &t);
		for (k = 0; k < w.nkeys; k++)
			if (w.key_slot[k] != NIL)
				w_find(_metadata, &w, k);

		t.full_every = 50;
		for (i = 0; i < 2000; i++)
			w_step(_metadata, &w);
		ops += 2000;
		w_drain(_metadata, &w);
		world_fini(&w);
		tix_fini(_metadata, &t);
	}
	report("random_load: seed %#llx, %u loads of %u slots in all, %lu ops after them, %.2f s CPU\n",
	       (unsigned long long)seed, round, total, ops, cpu_since(&t0));
}

TEST_HARNESS_MAIN
