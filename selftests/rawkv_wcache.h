/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The write-cache power-cut model of the rawkv crash tests.
 *
 * A workload runs once on a dm-log-writes device (rawkv_logwrites.h), with
 * rawkv's fault injection recording the order in which its write bios were
 * submitted to the device and completed (debugfs "events"). The log gives
 * every write's data and flags; the events give the timeline. Together
 * they say, for a power cut after the first t events, which writes a disk
 * with a volatile write cache must have kept and which it may have lost:
 *
 *   durable  completed with FUA, or completed before a PREFLUSH bio was
 *            submitted that then completed itself, before the cut;
 *   maybe    every other write submitted before the cut: completed but
 *            still in the cache, or in flight. Each may be lost, kept, or
 *            kept in part (any subset of its 512-byte sectors), except
 *            that a PREFLUSH write in flight whose data reached the device
 *            had its flush done first: every write that completed before
 *            it was submitted is then kept.
 *
 * An image is the device after such a cut: zeros (the device is zeroed
 * before the workload), then the kept writes in the order they reached the
 * device (completion order; writes still in flight last, in submission
 * order). wc_image_pieces() lists it for lw_image_build().
 *
 * Writes dm-log-writes logged but rawkv's events do not know (those rmmod
 * makes after the debugfs files are gone: the final commit, the writeback
 * of the slot metadata, the LRU hint and the anchor) are appended to the
 * timeline in log order, each completing before the next is submitted.
 * rmmod waits for each of them, except that the blocks of one writeback
 * chunk are in flight together; dm-log-writes logs those in the order
 * they completed, and any order is one the device could have seen.
 * The recording places the mark WC_LOADED_MARK in the log once the load
 * (the format) is done: writes rawkv submitted before it are looked for
 * before the mark, later ones after it. Writes of zeros before it that
 * are not rawkv's bios (the format's blkdev_issue_zeroout() of the slot
 * metadata) change nothing on the zeroed device and are left out.
 */
#ifndef RAWKV_WCACHE_H
#define RAWKV_WCACHE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "rawkv_crash_util.h"
#include "rawkv_logwrites.h"

#define WC_LOADED_MARK	"loaded"

struct wc_write {
	uint64_t n;		/* rawkv's write bio number; 0: from the log only */
	uint64_t sector;	/* 512-byte sectors */
	uint32_t sectors;
	bool preflush;
	bool fua;
	int entry;		/* its data in the log, -1 for an empty flush */
	int64_t submit;		/* event index */
	int64_t complete;	/* event index */
	int64_t durable;	/* first cut that keeps it for sure */
	char kind[16];		/* rawkv's write_log kind */
};

struct wc_model {
	struct wc_write *w;
	int nw;
	int64_t nev;		/* events, tail included */
	int64_t start;		/* cuts before this (the format) are not judged */
	/* Set by the caller: the slot metadata, [meta_lo, meta_hi) in
	 * 512-byte sectors, whose torn writes wc_image_pieces() reports.
	 */
	uint64_t meta_lo, meta_hi;
};

/*
 * Build the model from the log, rawkv's events ("s N" / "c N" lines read
 * from debugfs "events") and write_log (@wl, @nwl), all taken at the end of
 * the workload, before rmmod. @start is the event count after the load.
 * 0, or -errno with @why set (a write missing from the log, a log entry
 * that matches no write).
 */
int wc_model_build(struct wc_model *m, const struct lw_log *log,
		   const char *events_path, const struct kv_wlog *wl, int nwl,
		   int64_t start, char *why, size_t whylen);
void wc_model_free(struct wc_model *m);

/* The writes durable and maybe at cut @t, as indexes into m->w. */
int wc_cut_sets(const struct wc_model *m, int64_t t, int *dur, int *ndur,
		int *maybe, int *nmaybe);

/* Which of the maybe writes an image keeps. */
enum wc_variant {
	WC_ALL_LOST,		/* (a): only what is durable */
	WC_NONE_LOST,		/* (b): every write submitted */
	WC_RANDOM,		/* (c): each lost, kept or torn, seeded */
};

/* What wc_image_pieces() says about an image. */
struct wc_image {
	uint64_t sig;		/* a signature of it, to skip duplicates */
	bool torn_meta;		/* a write of the slot metadata kept in part */
	/* a PREFLUSH write in flight kept (in part): its flush was done */
	bool preflush_in_flight;
};

/*
 * The pieces of the image at cut @t for @variant (@seed for WC_RANDOM):
 * a malloc'ed array in *@p (free() it), its length returned, or -ENOMEM.
 */
int wc_image_pieces(const struct wc_model *m, int64_t t,
		    enum wc_variant variant, uint64_t seed,
		    struct lw_piece **p, struct wc_image *info);

/*
 * Print to @out, one line each after @prefix, the writes not yet durable
 * at cut @t and what the image of @variant and @seed kept of each (torn:
 * some of its sectors): to tell what a failed image holds.
 */
void wc_image_describe(const struct wc_model *m, int64_t t,
		       enum wc_variant variant, uint64_t seed, FILE *out,
		       const char *prefix);

#endif /* RAWKV_WCACHE_H */
