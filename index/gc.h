/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Garbage collection, and the two things it shares with fsck and the index
 * rebuild: the list of pack files and the walk over everything the refs
 * reach.
 *
 * Reachability. The roots are every revision record in the revisions
 * table, every generation record in the generations table and the newest
 * STATE record (meta "state"). A revision record reaches its "root" tree
 * and, anywhere inside "artifacts", every "tree" (a tree id) and every
 * "blob" or "blobs" entry (blob ids, hex or "sha256:hex"). A generation
 * record reaches its "root" tree and the revision record of every
 * "active"[].id. A revision's "parent" is not followed: a forgotten
 * revision is garbage unless a generation still uses it. Trees reach their
 * entries (directories are trees, files and symlinks blobs); a RECIPE blob
 * reaches its chunks. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "id-set.h"
#include "object-id.h"
#include "store.h"

/* The pack numbers present in the store's packs directory (files named
 * pack-NNNNNN), ascending, malloc'd. *ret is NULL when there are none. */
int store_list_packs(Store *s, uint32_t **ret, size_t *ret_n);

/* What a reference is expected to name. */
typedef enum ReachKind {
        REACH_STATE,            /* the newest STATE record */
        REACH_REVISION,         /* a revision record */
        REACH_GENERATION,       /* a generation record */
        REACH_TREE,
        REACH_BLOB,             /* a literal object or a RECIPE */
        REACH_CHUNK,            /* a literal object, from a recipe */
} ReachKind;

const char *reach_kind_to_string(ReachKind kind);

/* Why a reachable object could not be followed. */
typedef enum ReachError {
        REACH_MISSING,          /* not in the catalog */
        REACH_WRONG_TYPE,       /* in the catalog as another type */
        REACH_UNREADABLE,       /* its record cannot be read or verified */
        REACH_MALFORMED,        /* read fine, but does not decode as a tree, record or recipe */
} ReachError;

/* Called once per object that cannot be followed; `detail` says what is
 * wrong in words ("is a TREE, expected a blob"). Return < 0 to stop. */
typedef int (*ReachErrorFn)(const ObjectId *id, ReachKind kind, ReachError error, const char *detail,
                            void *userdata);

/* Adds to `marked` every object reachable from the roots (also those that
 * turn out missing or damaged: the set is of ids referenced). Lookups go
 * through `t` (read or write) and objects are read from the store's packs
 * and verified. Objects that cannot be followed go to on_error (NULL: the
 * first one stops the walk with -EBADMSG) and the walk goes on around them.
 * Returns 0, or a negative errno (-ENOMEM, catalog errors, or what on_error
 * returned). */
int store_mark_reachable(Store *s, CatalogTxn *t, IdSet *marked, ReachErrorFn on_error, void *userdata);

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
 * Mark: store_mark_reachable(); any reachable tree, record or recipe that
 * cannot be read stops gc with -EBADMSG before anything changes (what it
 * reaches is unknown, so nothing can be proven dead) and *reterr_detail
 * names it. Sweep, in one store transaction: unreachable ids leave the
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
 * explanation for -EBADMSG and -ENOTRECOVERABLE (the catalog is empty but
 * packs exist: the index needs a rebuild first). */
int store_gc(Store *s, GcReport *ret, char **reterr_detail);
