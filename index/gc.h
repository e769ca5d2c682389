/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Garbage collection: reclaims what the roots do not reach (reach.h). */

#include <stdint.h>

#include "store.h"

/* Live bytes under this fraction of a pack's size get the pack rewritten. */
#define GC_REWRITE_LIVE_PERCENT 50

typedef struct GcReport {
        uint64_t objects_before;        /* in the catalog */
        uint64_t objects_removed;       /* unreachable, dropped from the catalog */
        uint64_t objects_moved;         /* live records copied out of rewritten packs */
        uint64_t bytes_moved;           /* their record bytes */
        uint64_t packs_before, packs_after;
        uint64_t packs_deleted;         /* nothing live: unlinked */
        uint64_t packs_rewritten;       /* mostly dead: live records copied, then unlinked */
        uint64_t packs_kept_damaged;    /* would be rewritten, but a live record in it is damaged */
        uint64_t bytes_before, bytes_after; /* sum of the pack files' sizes */
} GcReport;

/* Reclaims everything the roots do not reach. The store must be open for
 * writing (it holds the lock) with no transaction open.
 *
 * Mark: reach_roots(); any reachable tree, record or recipe that cannot be
 * read stops gc with -EBADMSG before anything changes (what it reaches is
 * unknown, so nothing can be proven dead) and *reterr_detail names it.
 * A missing blob, or a missing or damaged chunk or STATE record (leaves:
 * nothing is hidden behind them) does not stop it; a pending imports'
 * record or object list that cannot be read does (what it stages would be
 * dropped). Sweep, in one store transaction: unreachable ids leave the
 * catalog; each pack whose live records fill less than
 * GC_REWRITE_LIVE_PERCENT of it has them copied, as stored (no
 * recompression), to the pack being appended to. A current pack that
 * qualifies is first sealed (the writer moves on to a new pack number, in
 * a catalog commit of its own). The transaction commits (packs fsynced,
 * then the catalog) and only then are the dead and rewritten packs, and
 * any uncommitted pack past the writer's, unlinked. A crash at any moment
 * leaves a consistent store: before the commit readers see the old
 * catalog, after it the old packs are only garbage that the next gc
 * removes.
 *
 * *ret is filled on success. *reterr_detail (may be NULL) gets a malloc'd
 * explanation for -EBADMSG and -ENOTRECOVERABLE (the index is lost: meta
 * "pack" is absent but packs exist, so it needs a rebuild first). */
int store_gc(Store *s, GcReport *ret, char **reterr_detail);
