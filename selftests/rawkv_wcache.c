// SPDX-License-Identifier: GPL-2.0
/*
 * The write-cache power-cut model of the rawkv crash tests; see
 * rawkv_wcache.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rawkv_wcache.h"

#define NEVER	INT64_MAX

static int why_set(char *why, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int why_set(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

static int add_write(struct wc_model *m, int *cap, const struct wc_write *w)
{
	if (m->nw == *cap) {
		struct wc_write *nw;

		*cap = *cap ? 2 * *cap : 256;
		nw = realloc(m->w, *cap * sizeof(*nw));
		if (!nw)
			return -ENOMEM;
		m->w = nw;
	}
	m->w[m->nw++] = *w;
	return 0;
}

/* The events file: "s N" or "c N" per line, into submit/complete indexes. */
static int read_events(const char *path, int64_t **sub, int64_t **comp,
		       uint64_t maxn, int64_t *nev)
{
	char line[64];
	FILE *f;
	int64_t i = 0;

	*sub = calloc(maxn + 1, sizeof(**sub));
	*comp = calloc(maxn + 1, sizeof(**comp));
	if (!*sub || !*comp)
		return -ENOMEM;
	for (uint64_t n = 0; n <= maxn; n++)
		(*sub)[n] = (*comp)[n] = -1;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		uint64_t n;
		char c;

		if (sscanf(line, "%c %" SCNu64, &c, &n) != 2 || n > maxn)
			continue;
		if (c == 's')
			(*sub)[n] = i;
		else
			(*comp)[n] = i;
		i++;
	}
	fclose(f);
	*nev = i;
	return 0;
}

static bool all_zero(const struct lw_entry *le)
{
	uint64_t i;

	for (i = 0; i < le->nr_sectors * 512; i++)
		if (le->data[i])
			return false;
	return true;
}

/* Durable from: FUA at completion, else the first covering flush's end. */
static void set_durable(struct wc_model *m)
{
	int i, j;

	for (i = 0; i < m->nw; i++) {
		struct wc_write *w = &m->w[i];

		w->durable = NEVER;
		if (w->complete < 0)
			continue;
		if (w->fua && w->entry >= 0) {
			w->durable = w->complete + 1;
			continue;
		}
		for (j = 0; j < m->nw; j++) {
			const struct wc_write *f = &m->w[j];

			if (f->preflush && f->submit > w->complete &&
			    f->complete >= 0 && f->complete + 1 < w->durable)
				w->durable = f->complete + 1;
		}
	}
}

int wc_model_build(struct wc_model *m, const struct lw_log *log,
		   const char *events_path, const struct kv_wlog *wl, int nwl,
		   int64_t start, char *why, size_t whylen)
{
	int64_t *sub = NULL, *comp = NULL, nev = 0;
	uint64_t maxn = 0;
	bool *used = NULL;
	size_t e, last_mark = 0, load_mark = 0;
	int i, cap = 0, ret;

	memset(m, 0, sizeof(*m));
	m->start = start;
	for (i = 0; i < nwl; i++)
		if (wl[i].n > maxn)
			maxn = wl[i].n;
	ret = read_events(events_path, &sub, &comp, maxn, &nev);
	if (ret) {
		why_set(why, whylen, "cannot read %s: %s", events_path,
			strerror(-ret));
		goto out;
	}
	used = calloc(log->n + 1, sizeof(*used));
	if (!used) {
		ret = -ENOMEM;
		goto out;
	}
	for (e = 0; e < log->n; e++) {
		if (!(log->e[e].flags & LW_MARK))
			continue;
		if (!strncmp(log->e[e].mark, "op-", 3))
			last_mark = e;
		else if (!strcmp(log->e[e].mark, WC_LOADED_MARK) && !load_mark)
			load_mark = e;
	}

	/* Every write rawkv submitted, with its data from the log. */
	for (i = 0; i < nwl; i++) {
		struct wc_write w = { 0 };

		if (sub[wl[i].n] < 0)
			continue;	/* dropped by a power cut: never sent */
		w.n = wl[i].n;
		w.sector = wl[i].sector;
		w.sectors = wl[i].sectors;
		w.preflush = strchr(wl[i].flags, 'P') != NULL;
		w.fua = strchr(wl[i].flags, 'F') != NULL;
		w.submit = sub[w.n];
		w.complete = comp[w.n];
		w.entry = -1;
		snprintf(w.kind, sizeof(w.kind), "%s", wl[i].kind);
		/* the format's writes before the mark, the rest after it */
		for (e = w.submit < start ? 0 : load_mark;
		     e < (w.submit < start && load_mark ? load_mark : log->n);
		     e++) {
			const struct lw_entry *le = &log->e[e];

			if (used[e] || !le->data || le->sector != w.sector ||
			    le->nr_sectors != w.sectors ||
			    !!(le->flags & LW_FUA) != w.fua)
				continue;
			used[e] = true;
			w.entry = e;
			break;
		}
		if (w.entry < 0 && w.complete >= 0) {
			ret = why_set(why, whylen,
				      "write bio %" PRIu64 " (%s, sector %" PRIu64 ", %u sectors%s) is not in the dm-log-writes log",
				      w.n, w.kind, w.sector, w.sectors,
				      w.fua ? ", FUA" : "");
			goto out;
		}
		ret = add_write(m, &cap, &w);
		if (ret)
			goto out;
	}

	/* What only the log knows: rmmod's writes, after the last op mark. */
	for (e = 0; e < log->n; e++) {
		const struct lw_entry *le = &log->e[e];
		struct wc_write w = { 0 };

		if (used[e] || (le->flags & LW_MARK))
			continue;
		if (!le->data && !(le->flags & LW_FLUSH))
			continue;
		/*
		 * The format zeroes the slot metadata with
		 * blkdev_issue_zeroout(), not with bios of rawkv's own: zeros
		 * on the device the recording starts from zeroed.
		 */
		if (e < load_mark && le->data && all_zero(le))
			continue;
		if (e < last_mark && le->data) {
			ret = why_set(why, whylen,
				      "log entry %zu (sector %" PRIu64 ", %" PRIu64 " sectors) matches no write bio of rawkv",
				      e, le->sector, le->nr_sectors);
			goto out;
		}
		if (e < last_mark)
			continue;	/* a flush of a bio already known */
		w.sector = le->sector;
		w.sectors = le->nr_sectors;
		w.preflush = le->flags & LW_FLUSH;
		w.fua = le->flags & LW_FUA;
		w.entry = le->data ? (int)e : -1;
		w.submit = nev++;
		w.complete = nev++;
		snprintf(w.kind, sizeof(w.kind), "rmmod");
		ret = add_write(m, &cap, &w);
		if (ret)
			goto out;
	}
	/* An empty flush of rawkv's own is never a data write. */
	for (i = 0; i < m->nw; i++)
		if (m->w[i].n && m->w[i].preflush && !m->w[i].sectors)
			m->w[i].entry = -1;
	m->nev = nev;
	set_durable(m);
	ret = 0;
out:
	free(sub);
	free(comp);
	free(used);
	if (ret)
		wc_model_free(m);
	return ret;
}

void wc_model_free(struct wc_model *m)
{
	free(m->w);
	memset(m, 0, sizeof(*m));
}

int wc_cut_sets(const struct wc_model *m, int64_t t, int *dur, int *ndur,
		int *maybe, int *nmaybe)
{
	int i;

	*ndur = *nmaybe = 0;
	for (i = 0; i < m->nw; i++) {
		const struct wc_write *w = &m->w[i];

		if (w->submit >= t || w->entry < 0)
			continue;
		if (w->durable <= t)
			dur[(*ndur)++] = i;
		else
			maybe[(*nmaybe)++] = i;
	}
	return 0;
}

/* Order in which writes reach the device, as seen at cut @t. */
static int64_t apply_key(const struct wc_write *w, int64_t t)
{
	return w->complete >= 0 && w->complete < t ? w->complete :
						      t + w->submit;
}

static const struct wc_model *sort_m;
static int64_t sort_t;

static int cmp_apply(const void *a, const void *b)
{
	int64_t ka = apply_key(&sort_m->w[*(const int *)a], sort_t);
	int64_t kb = apply_key(&sort_m->w[*(const int *)b], sort_t);

	return ka < kb ? -1 : ka > kb;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdULL;
}

/*
 * The fate of each write not yet durable at cut @t: 0 lost, 1 kept, 2
 * torn. A PREFLUSH write still in flight whose data the image keeps, even
 * in part, had its flush done first: every write that completed before it
 * was submitted is then kept too.
 */
static bool choose_fates(const struct wc_model *m, enum wc_variant variant,
			 const int *maybe, int nm, uint8_t *fate,
			 uint64_t *rng)
{
	bool flushed = false;
	int i, k;

	for (i = 0; i < nm; i++) {
		if (variant == WC_NONE_LOST)
			fate[maybe[i]] = 1;
		else if (variant == WC_RANDOM)
			fate[maybe[i]] = kv_rand(rng) % 3;
	}
	for (i = 0; i < nm; i++) {
		const struct wc_write *f = &m->w[maybe[i]];

		if (!f->preflush || !fate[maybe[i]])
			continue;
		flushed = true;
		for (k = 0; k < nm; k++) {
			const struct wc_write *w = &m->w[maybe[k]];

			if (w->complete >= 0 && w->complete < f->submit)
				fate[maybe[k]] = 1;
		}
	}
	return flushed;
}

int wc_image_pieces(const struct wc_model *m, int64_t t,
		    enum wc_variant variant, uint64_t seed,
		    struct lw_piece **p, struct wc_image *info)
{
	int *ids = malloc(2 * (m->nw + 1) * sizeof(int)), *maybe, nd, nm;
	uint8_t *fate = calloc(m->nw + 1, 1);	/* 0 lost, 1 kept, 2 torn */
	int i, n = 0, cap = 0, count;
	uint64_t rng = seed ^ (uint64_t)t * 0x9e3779b97f4a7c15ULL, h = 1469598103934665603ULL;
	struct lw_piece *v = NULL;

	*p = NULL;
	memset(info, 0, sizeof(*info));
	if (!ids || !fate) {
		free(ids);
		free(fate);
		return -ENOMEM;
	}
	maybe = ids + m->nw + 1;
	wc_cut_sets(m, t, ids, &nd, maybe, &nm);
	info->preflush_in_flight = choose_fates(m, variant, maybe, nm, fate,
						&rng);
	for (i = 0; i < nm; i++)
		ids[nd++] = maybe[i];
	for (i = 0; i < nd; i++)
		if (m->w[ids[i]].durable <= t)
			fate[ids[i]] = 1;
	sort_m = m;
	sort_t = t;
	qsort(ids, nd, sizeof(int), cmp_apply);

	for (i = 0; i < nd; i++) {
		const struct wc_write *w = &m->w[ids[i]];
		uint32_t s = 0;

		if (!fate[ids[i]])
			continue;
		if (fate[ids[i]] == 2 && w->sector < m->meta_hi &&
		    w->sector + w->sectors > m->meta_lo)
			info->torn_meta = true;
		while (s < w->sectors) {
			uint32_t run = w->sectors - s;

			if (fate[ids[i]] == 2) {
				/* torn: runs of kept and lost sectors */
				bool keep = kv_rand(&rng) & 1;

				run = 1 + kv_rand(&rng) % (w->sectors - s);
				if (run > 8 && kv_rand(&rng) % 4)
					run = 1 + run % 8;
				if (!keep) {
					s += run;
					continue;
				}
			}
			if (n == cap) {
				struct lw_piece *nv;

				cap = cap ? 2 * cap : 256;
				nv = realloc(v, cap * sizeof(*v));
				if (!nv) {
					free(v);
					free(ids);
					free(fate);
					return -ENOMEM;
				}
				v = nv;
			}
			v[n++] = (struct lw_piece) {
				.entry = w->entry, .first = s, .count = run,
			};
			h = mix(h, ((uint64_t)w->entry << 32) ^ s);
			h = mix(h, run);
			s += run;
		}
	}
	count = n;
	*p = v;
	info->sig = h;
	free(ids);
	free(fate);
	return count;
}

void wc_image_describe(const struct wc_model *m, int64_t t,
		       enum wc_variant variant, uint64_t seed, FILE *out,
		       const char *prefix)
{
	static const char *const fates[] = { "lost", "kept", "torn" };
	int *dur = malloc(2 * (m->nw + 1) * sizeof(int)), *maybe, nd, nm, i;
	uint8_t *fate = calloc(m->nw + 1, 1);
	uint64_t rng = seed ^ (uint64_t)t * 0x9e3779b97f4a7c15ULL;

	if (!dur || !fate || !out) {
		free(dur);
		free(fate);
		return;
	}
	maybe = dur + m->nw + 1;
	wc_cut_sets(m, t, dur, &nd, maybe, &nm);
	choose_fates(m, variant, maybe, nm, fate, &rng);
	fprintf(out, "%s%d writes durable at the cut, %d not yet:\n", prefix,
		nd, nm);
	for (i = 0; i < nm; i++) {
		const struct wc_write *w = &m->w[maybe[i]];

		fprintf(out, "%s  bio %" PRIu64 " %s sector %" PRIu64 " +%u%s%s, submitted at event %" PRId64 ", completed %s%" PRId64 ": %s\n",
			prefix, w->n, w->kind, w->sector, w->sectors,
			w->preflush ? " PREFLUSH" : "", w->fua ? " FUA" : "",
			w->submit, w->complete < 0 ? "never " : "at ",
			w->complete, fates[fate[maybe[i]]]);
	}
	free(dur);
	free(fate);
}

