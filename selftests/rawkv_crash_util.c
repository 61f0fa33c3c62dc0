// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers of the rawkv crash-consistency and device-error tests; see
 * rawkv_crash_util.h.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rawkv_crash_util.h"

/* ---- debugfs ---- */

static int dbg_path(char *path, size_t n, const char *name)
{
	if ((size_t)snprintf(path, n, "%s/%s", KV_DBG_DIR, name) >= n)
		return -ENAMETOOLONG;
	return 0;
}

int kv_dbg_get(const char *name, uint64_t *val)
{
	char path[256], buf[64];
	ssize_t n;
	int fd, ret;

	ret = dbg_path(path, sizeof(path), name);
	if (ret)
		return ret;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	ret = n < 0 ? -errno : 0;
	close(fd);
	if (ret)
		return ret;
	buf[n] = 0;
	if (sscanf(buf, "%" SCNu64, val) != 1)
		return -EINVAL;
	return 0;
}

uint64_t kv_dbg_val(const char *name)
{
	uint64_t v = 0;

	if (kv_dbg_get(name, &v))
		return 0;
	return v;
}

int kv_dbg_set(const char *name, uint64_t val)
{
	char path[256], buf[32];
	int fd, ret, len;

	ret = dbg_path(path, sizeof(path), name);
	if (ret)
		return ret;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	len = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", val);
	ret = write(fd, buf, len) == len ? 0 : -errno;
	if (close(fd) && !ret)
		ret = -errno;
	return ret;
}

int kv_dbg_kick_checkpoint(void)
{
	return kv_dbg_set("kick_checkpoint", 1);
}

int kv_dbg_disarm(void)
{
	static const char *const names[] = {
		"powercut_at", "powercut_torn_sectors", "fail_read_at",
		"fail_write_at", "fail_sticky",
	};
	unsigned int i;
	int ret, first = 0;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		ret = kv_dbg_set(names[i], 0);
		if (ret && !first)
			first = ret;
	}
	return first;
}

int kv_dbg_write_log(struct kv_wlog **log)
{
	char path[256], line[256];
	struct kv_wlog *v = NULL, *nv;
	int n = 0, cap = 0, ret;
	FILE *f;

	*log = NULL;
	ret = dbg_path(path, sizeof(path), "write_log");
	if (ret)
		return ret;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		struct kv_wlog e;

		memset(&e, 0, sizeof(e));
		if (sscanf(line, "%" SCNu64 " %15s %" SCNu64 " %" SCNu64 " %7s",
			   &e.n, e.kind, &e.sector, &e.sectors, e.flags) != 5)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 256;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				fclose(f);
				return -ENOMEM;
			}
			v = nv;
		}
		v[n++] = e;
	}
	fclose(f);
	*log = v;
	return n;
}

const struct kv_wlog *kv_wlog_find(const struct kv_wlog *log, int count,
				   uint64_t n)
{
	int i;

	for (i = 0; i < count; i++)
		if (log[i].n == n)
			return &log[i];
	return NULL;
}

/* ---- values ---- */

static uint64_t val_seed(uint32_t key, uint32_t ver, size_t len)
{
	return ((uint64_t)key << 40) ^ ((uint64_t)ver << 20) ^ len ^
	       0x5eedc0ffee000000ULL;
}

void kv_val_make(void *buf, uint32_t key, uint32_t ver, size_t len)
{
	unsigned char *p = buf;
	uint32_t h[4];

	kv_fill(buf, len, val_seed(key, ver, len));
	if (len < KV_VAL_HDR)
		return;
	h[0] = htole32(KV_VAL_MAGIC);
	h[1] = htole32(key);
	h[2] = htole32(ver);
	h[3] = htole32(kv_crc32c(~0U, p + KV_VAL_HDR, len - KV_VAL_HDR));
	memcpy(p, h, sizeof(h));
}

size_t kv_meta_make(void *buf, uint32_t key, uint32_t ver)
{
	size_t len = (key * 31 + ver * 7) % (RAWKV_META_MAX + 1);

	if (!((key + ver) % 5))
		len = 0;
	kv_fill(buf, len, val_seed(key, ver, len) ^ 0x3e7a);
	return len;
}

int kv_put_ver(struct rawkv *kv, const void *name, size_t nlen, uint32_t key,
	       uint32_t ver, void *vbuf, size_t len, bool sync)
{
	unsigned char meta[RAWKV_META_MAX];
	size_t mlen = kv_meta_make(meta, key, ver);

	kv_val_make(vbuf, key, ver, len);
	return rawkv_put_meta(kv, name, nlen, vbuf, len, meta, mlen,
			      sync ? RAWKV_PUT_SYNC : 0);
}

bool kv_val_claims(const void *buf, size_t len, uint32_t *key, uint32_t *ver,
		   bool *crc_ok)
{
	const unsigned char *p = buf;
	uint32_t h[4];

	if (len < KV_VAL_HDR)
		return false;
	memcpy(h, p, sizeof(h));
	if (le32toh(h[0]) != KV_VAL_MAGIC)
		return false;
	*key = le32toh(h[1]);
	*ver = le32toh(h[2]);
	*crc_ok = le32toh(h[3]) ==
		  kv_crc32c(~0U, p + KV_VAL_HDR, len - KV_VAL_HDR);
	return true;
}

/* ---- the model ---- */

int kv_model_key(struct kv_model *m, const char *label, size_t klen,
		 bool filler)
{
	struct kv_key *k;
	size_t i, l = strlen(label);

	if (m->nkeys == m->cap_keys) {
		struct kv_key *nk;

		m->cap_keys = m->cap_keys ? 2 * m->cap_keys : 64;
		nk = realloc(m->keys, m->cap_keys * sizeof(*nk));
		if (!nk)
			abort();
		m->keys = nk;
	}
	k = &m->keys[m->nkeys];
	memset(k, 0, sizeof(*k));
	if (!klen)
		klen = l;
	if (klen > RAWKV_KEY_MAX)
		klen = RAWKV_KEY_MAX;
	snprintf(k->label, sizeof(k->label), "%s", label);
	/* the label, then a '.' and letters up to klen */
	for (i = 0; i < klen; i++) {
		if (i < l)
			k->name[i] = label[i];
		else if (i == l)
			k->name[i] = '.';
		else
			k->name[i] = 'a' + (i * 7 + l) % 26;
	}
	k->len = klen;
	k->filler = filler;
	k->evicted_op = -1;
	return m->nkeys++;
}

int kv_model_op(struct kv_model *m, enum kv_op_type type, int key,
		uint32_t len)
{
	struct kv_op *op;
	uint32_t ver = 0;
	int i;

	if (m->nops == m->cap_ops) {
		struct kv_op *no;

		m->cap_ops = m->cap_ops ? 2 * m->cap_ops : 128;
		no = realloc(m->ops, m->cap_ops * sizeof(*no));
		if (!no)
			abort();
		m->ops = no;
	}
	if (type == KV_OP_PUT || type == KV_OP_PUT_SYNC) {
		ver = m->keys[key].ver_base;
		for (i = 0; i < m->nops; i++)
			if (m->ops[i].key == key && m->ops[i].ver > ver)
				ver = m->ops[i].ver;
		ver++;
	}
	if (type == KV_OP_FLUSH || type == KV_OP_KICK)
		key = -1;
	op = &m->ops[m->nops];
	memset(op, 0, sizeof(*op));
	op->type = type;
	op->key = key;
	op->ver = ver;
	op->len = len;
	return m->nops++;
}

void kv_model_reset_run(struct kv_model *m)
{
	int i;

	for (i = 0; i < m->nops; i++) {
		m->ops[i].issued = false;
		m->ops[i].acked = false;
		m->ops[i].durable = false;
		m->ops[i].rc = 0;
	}
	for (i = 0; i < m->nkeys; i++) {
		m->keys[i].evicted = false;
		m->keys[i].evicted_op = -1;
	}
}

void kv_model_free(struct kv_model *m)
{
	free(m->keys);
	free(m->ops);
	memset(m, 0, sizeof(*m));
}

const char *kv_op_name(uint8_t type)
{
	switch (type) {
	case KV_OP_PUT:		return "PUT";
	case KV_OP_PUT_SYNC:	return "PUT_SYNC";
	case KV_OP_DEL:		return "DELETE";
	case KV_OP_FLUSH:	return "FLUSH";
	case KV_OP_KICK:	return "KICK";
	case KV_OP_UNLOAD:	return "UNLOAD";
	}
	return "?";
}

/* ---- the checker ---- */

static bool is_put(const struct kv_op *op)
{
	return op->type == KV_OP_PUT || op->type == KV_OP_PUT_SYNC;
}

/* Whether op @j changed the state of its key (or may have, if unacked). */
static bool changes_state(const struct kv_op *op)
{
	if (!op->issued || op->key < 0)
		return false;
	if (is_put(op))
		return !op->acked || op->rc == 0;
	return true;	/* DELETE: absent afterwards, whatever it returned */
}

static uint32_t state_after(const struct kv_op *op)
{
	return is_put(op) ? op->ver : 0;
}

/*
 * The states key @k may be in after a crash, as versions (0 = absent):
 * the state the last guaranteed op left, then the state after every later
 * issued op. Returns the count; @floor_out gets the guaranteed op or -1.
 */
static int allowed_states(const struct kv_model *m, int committed_before,
			  int k, uint32_t *st, int max, int *floor_out)
{
	int j, floor = -1, n = 0;

	for (j = 0; j < m->nops; j++) {
		const struct kv_op *op = &m->ops[j];

		if (op->key != k || !changes_state(op))
			continue;
		if (j < committed_before || op->durable)
			floor = j;
	}
	if (floor < 0)
		st[n++] = 0;
	else
		st[n++] = state_after(&m->ops[floor]);
	for (j = floor + 1; j < m->nops && n < max; j++) {
		const struct kv_op *op = &m->ops[j];
		int i;

		if (op->key != k || !changes_state(op))
			continue;
		for (i = 0; i < n && st[i] != state_after(op); i++)
			;
		if (i == n)
			st[n++] = state_after(op);
	}
	*floor_out = floor;
	return n;
}

static void states_str(const uint32_t *st, int n, char *s, size_t len)
{
	size_t off = 0;
	int i;

	s[0] = 0;
	for (i = 0; i < n && off < len; i++) {
		int w = st[i] ? snprintf(s + off, len - off, "%sv%u",
					 i ? "|" : "", st[i]) :
				snprintf(s + off, len - off, "%sabsent",
					 i ? "|" : "");
		if (w < 0)
			break;
		off += w;
	}
}

void kv_expected_str(const struct kv_model *m, int committed_before, int k,
		     char *s, size_t n)
{
	uint32_t st[64];
	int floor, cnt;

	cnt = allowed_states(m, committed_before, k, st, 64, &floor);
	states_str(st, cnt, s, n);
}

static void violation(FILE *out, const char *prefix, int *lines,
		      int max_lines, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void violation(FILE *out, const char *prefix, int *lines,
		      int max_lines, const char *fmt, ...)
{
	va_list ap;

	if ((*lines)++ >= max_lines || !out)
		return;
	fprintf(out, "%s", prefix);
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
	fflush(out);
}

/*
 * Identify the bytes a GET of key @k returned (@len bytes in @buf) as the
 * value of one of its issued PUTs. Returns the version, or 0.
 */
static uint32_t identify(const struct kv_model *m, int k, const void *buf,
			 size_t len, void *want, const uint32_t *allowed,
			 int nallowed)
{
	uint32_t ckey, cver, found = 0;
	bool crc_ok;
	int j, i;

	/* A value with a header names its version: check that one first. */
	if (kv_val_claims(buf, len, &ckey, &cver, &crc_ok) &&
	    ckey == (uint32_t)k) {
		for (j = 0; j < m->nops; j++) {
			const struct kv_op *op = &m->ops[j];

			if (op->key == k && op->issued && is_put(op) &&
			    op->ver == cver && op->len == len) {
				kv_val_make(want, k, cver, len);
				return memcmp(want, buf, len) ? 0 : cver;
			}
		}
		return 0;
	}
	/* Short values: any issued PUT with these bytes, allowed ones first */
	for (j = 0; j < m->nops; j++) {
		const struct kv_op *op = &m->ops[j];

		if (op->key != k || !op->issued || !is_put(op) ||
		    op->len != len)
			continue;
		kv_val_make(want, k, op->ver, len);
		if (memcmp(want, buf, len))
			continue;
		for (i = 0; i < nallowed; i++)
			if (allowed[i] == op->ver)
				return op->ver;
		if (!found)
			found = op->ver;
	}
	return found;
}

static void describe_bytes(const void *buf, size_t len, char *s, size_t n)
{
	uint32_t ckey, cver;
	bool crc_ok;

	if (kv_val_claims(buf, len, &ckey, &cver, &crc_ok))
		snprintf(s, n, "%zu bytes claiming key %u v%u, crc %s", len,
			 ckey, cver, crc_ok ? "ok" : "BAD");
	else
		snprintf(s, n, "%zu bytes without a value header", len);
}

/* The states key @k may be in, its guaranteeing op, and whether exempt. */
struct allowed_ctx {
	int committed_before;	/* kv_check_store() */
	int cut_op;		/* kv_check_store_strict() */
	bool cut_issued;
	bool strict;
};

static int allowed_strict(const struct kv_model *m, int cut, bool issued,
			  int k, uint32_t *st, int max);

static int allowed_for(const struct kv_model *m, const struct allowed_ctx *a,
		       int k, uint32_t *st, int max, int *floor, bool *exempt)
{
	const struct kv_key *key = &m->keys[k];

	if (!a->strict) {
		*exempt = key->evicted;
		return allowed_states(m, a->committed_before, k, st, max,
				      floor);
	}
	*floor = -1;
	*exempt = key->evicted_op >= 0 && key->evicted_op <= a->cut_op;
	return allowed_strict(m, a->cut_op, a->cut_issued, k, st, max);
}

static int check_store(struct rawkv *kv, const struct kv_model *m,
		       const struct allowed_ctx *a, void *buf, void *want,
		       size_t buflen, FILE *out, const char *prefix,
		       int max_lines, struct kv_check *res);

int kv_check_store(struct rawkv *kv, const struct kv_model *m,
		   int committed_before, void *buf, void *want, size_t buflen,
		   FILE *out, const char *prefix, int max_lines,
		   struct kv_check *res)
{
	struct allowed_ctx a = { .committed_before = committed_before };

	return check_store(kv, m, &a, buf, want, buflen, out, prefix,
			   max_lines, res);
}

int kv_check_store_strict(struct rawkv *kv, const struct kv_model *m,
			  int cut_op, bool cut_issued, void *buf, void *want,
			  size_t buflen, FILE *out, const char *prefix,
			  int max_lines, struct kv_check *res)
{
	struct allowed_ctx a = {
		.cut_op = cut_op, .cut_issued = cut_issued, .strict = true,
	};

	return check_store(kv, m, &a, buf, want, buflen, out, prefix,
			   max_lines, res);
}

/* Version of key @k after ops [0, @j) (0: absent). */
static uint32_t state_at(const struct kv_model *m, int k, int j)
{
	uint32_t v = 0;
	int i;

	for (i = 0; i < j && i < m->nops; i++) {
		const struct kv_op *op = &m->ops[i];

		if (op->key != k || op->rc)
			continue;
		v = is_put(op) ? op->ver : 0;
	}
	return v;
}

/*
 * Whether the value DELETE op @j removed was written with
 * rawkv_put_sync(): the last op on its key before @j that changed it was a
 * sync PUT. (A key evicted since then makes the DELETE return -ENOENT.)
 */
static bool deletes_sync_value(const struct kv_model *m, int j)
{
	const struct kv_op *op = &m->ops[j];
	int i;

	if (op->type != KV_OP_DEL || op->rc)
		return false;
	for (i = j - 1; i >= 0; i--) {
		const struct kv_op *p = &m->ops[i];

		if (p->key != op->key || !p->issued || p->rc)
			continue;
		return p->type == KV_OP_PUT_SYNC;
	}
	return false;
}

/* Whether the contract makes op @j commit, after it, when it succeeds. */
static bool commits_by_contract(const struct kv_model *m, int j)
{
	const struct kv_op *op = &m->ops[j];

	switch (op->type) {
	case KV_OP_FLUSH:
	case KV_OP_PUT_SYNC:
		return !op->rc;
	case KV_OP_DEL:
		return deletes_sync_value(m, j);
	case KV_OP_KICK:
	case KV_OP_UNLOAD:
		return true;
	}
	return false;
}

/*
 * The snapshots commits of op @j have (ops before index s are in snapshot
 * s), at most two, earliest first: see kv_check_store_strict(). Returns
 * how many.
 */
static int op_snapshots(const struct kv_model *m, int j, int *snap)
{
	const struct kv_op *op = &m->ops[j];
	uint64_t counted = op->ckpt_after - op->ckpt_before;
	bool contract = commits_by_contract(m, j);
	int n = 0;

	if (op->ckpt_after < op->ckpt_before)
		counted = 0;
	if (is_put(op)) {
		/* beyond its own commit, a PUT's commits free slots first */
		if (counted > (uint64_t)(contract ? 1 : 0))
			snap[n++] = j;
		if (contract)
			snap[n++] = j + 1;
		return n;
	}
	if (contract || counted)
		snap[n++] = j + 1;
	return n;
}

static void add_state(uint32_t *st, int *n, int max, uint32_t v)
{
	int i;

	for (i = 0; i < *n && st[i] != v; i++)
		;
	if (i == *n && *n < max)
		st[(*n)++] = v;
}

static int allowed_strict(const struct kv_model *m, int cut, bool issued,
			  int k, uint32_t *st, int max)
{
	int j, i, ns, snap[2], last = 0, n = 0;

	/* the newest commit an acknowledged op made: the format is 0 */
	for (j = 0; j < cut && j < m->nops; j++) {
		ns = op_snapshots(m, j, snap);
		if (ns)
			last = snap[ns - 1];
	}
	add_state(st, &n, max, state_at(m, k, last));
	/* or one the op cut in the middle may have made */
	if (issued && cut < m->nops) {
		ns = op_snapshots(m, cut, snap);
		for (i = 0; i < ns; i++)
			add_state(st, &n, max, state_at(m, k, snap[i]));
	}
	return n;
}

/*
 * Whether @meta (@mlen bytes), returned with the value of key @k that
 * identify() took for version @ver, is the metadata of the PUT that wrote
 * that value: of version @ver for a value that names its version, else of
 * any issued PUT of these bytes.
 */
static bool meta_matches(const struct kv_model *m, int k, uint32_t ver,
			 const void *buf, size_t len, const void *meta,
			 size_t mlen, void *want)
{
	unsigned char exp[RAWKV_META_MAX];
	uint32_t ckey, cver;
	bool crc_ok;
	int j;

	if (kv_val_claims(buf, len, &ckey, &cver, &crc_ok))
		return kv_meta_make(exp, k, ver) == mlen &&
		       !memcmp(exp, meta, mlen);
	for (j = 0; j < m->nops; j++) {
		const struct kv_op *op = &m->ops[j];

		if (op->key != k || !op->issued || !is_put(op) ||
		    op->len != len)
			continue;
		kv_val_make(want, k, op->ver, len);
		if (!memcmp(want, buf, len) &&
		    kv_meta_make(exp, k, op->ver) == mlen &&
		    !memcmp(exp, meta, mlen))
			return true;
	}
	return false;
}

static int check_store(struct rawkv *kv, const struct kv_model *m,
		       const struct allowed_ctx *a, void *buf, void *want,
		       size_t buflen, FILE *out, const char *prefix,
		       int max_lines, struct kv_check *res)
{
	struct rawkv_stat st;
	uint32_t *state = res->state;
	int k, lines = 0, ret;
	bool torn_meta;

	if (state)
		memset(state, 0, m->nkeys * sizeof(*state));

	torn_meta = res->torn_meta;
	memset(res, 0, sizeof(*res));
	res->state = state;
	res->torn_meta = torn_meta;
	for (k = 0; k < m->nkeys; k++) {
		const struct kv_key *key = &m->keys[k];
		uint32_t allowed[64], ver = 0;
		unsigned char meta[RAWKV_META_MAX];
		size_t mlen = sizeof(meta);
		char exp[256], got[128];
		bool exempt;
		int floor, n, i;
		ssize_t r;

		n = allowed_for(m, a, k, allowed, 64, &floor, &exempt);
		states_str(allowed, n, exp, sizeof(exp));
		r = rawkv_get_meta(kv, key->name, key->len, buf, buflen, meta,
				   &mlen);
		if (r < 0 && r != -ENOENT) {
			res->violations++;
			violation(out, prefix, &lines, max_lines,
				  "(b) key %s: GET returned %zd (%s); expected %s",
				  key->label, r, rawkv_strerror(r), exp);
			continue;
		}
		if (r >= 0) {
			res->present++;
			ver = identify(m, k, buf, r, want, allowed, n);
			if (!ver) {
				res->violations++;
				describe_bytes(buf, r, got, sizeof(got));
				violation(out, prefix, &lines, max_lines,
					  "(b) key %s: GET returned bytes no PUT of it wrote (%s); expected %s",
					  key->label, got, exp);
				continue;
			}
			if (!meta_matches(m, k, ver, buf, r, meta, mlen,
					  want)) {
				res->violations++;
				violation(out, prefix, &lines, max_lines,
					  "(b) key %s: GET returned v%u with %zu bytes of metadata its PUT did not write",
					  key->label, ver, mlen);
				continue;
			}
		}
		if (state)
			state[k] = ver;
		if (exempt) {
			res->exempt++;
			continue;
		}
		for (i = 0; i < n && allowed[i] != ver; i++)
			;
		if (i == n) {
			const struct kv_op *fop = floor >= 0 ?
						  &m->ops[floor] : NULL;

			res->violations++;
			if (ver)
				snprintf(got, sizeof(got), "v%u", ver);
			else
				snprintf(got, sizeof(got), "absent");
			if (a->strict) {
				violation(out, prefix, &lines, max_lines,
					  "(c) key %s: expected %s, got %s (cut during op #%d%s)",
					  key->label, exp, got, a->cut_op,
					  a->cut_issued ? "" : ", before its I/O");
				continue;
			}
			violation(out, prefix, &lines, max_lines,
				  "(%c) key %s: expected %s, got %s (guaranteed by op #%d %s%s)",
				  fop && fop->durable &&
				  floor >= a->committed_before ?
				  'd' : 'c',
				  key->label, exp, got, floor,
				  fop ? kv_op_name(fop->type) : "-",
				  fop && fop->durable ? ", sync" :
				  ", before the last commit");
		}
	}

	ret = rawkv_stat(kv, &st);
	if (ret) {
		res->violations++;
		violation(out, prefix, &lines, max_lines,
			  "(a) STAT failed: %s", rawkv_strerror(ret));
	} else {
		if (st.slots_used != (uint64_t)res->present) {
			res->violations++;
			violation(out, prefix, &lines, max_lines,
				  "(e) slots_used %llu but %d keys present",
				  (unsigned long long)st.slots_used,
				  res->present);
		}
		if (st.stale_dropped ||
		    (st.load_dropped && !res->torn_meta)) {
			res->violations++;
			violation(out, prefix, &lines, max_lines,
				  "(e) stale_dropped %llu, load_dropped %llu (both should be 0)",
				  (unsigned long long)st.stale_dropped,
				  (unsigned long long)st.load_dropped);
		} else {
			res->load_dropped = st.load_dropped;
		}
	}
	if (lines > max_lines && out)
		fprintf(out, "%s... and %d more\n", prefix, lines - max_lines);
	return res->violations;
}

void kv_note(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

double kv_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}
