/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Reachability: what the refs keep alive, and what a record, tree or blob
 * needs to be whole. One walker serves gc (what to keep), fsck (what is
 * missing or does not decode) and the media transfer (what an export must
 * carry, whether an import's closure is present).
 *
 * Roots (reach_roots()): every revision record in the revisions table,
 * every generation record in the generations table, the newest STATE
 * record (meta "state"), and the objects staged by pending imports (below).
 *
 * Edges: a revision record reaches its "root" tree and, anywhere inside
 * "artifacts", every "tree" (a tree id) and every "blob" or "blobs" entry
 * (blob ids, hex or "sha256:hex"). A generation record reaches its "root"
 * tree and the revision record of every "active"[].id. A revision's
 * "parent" is not followed: a forgotten revision is garbage unless a
 * generation still uses it. Trees reach their entries (directories are
 * trees, files and symlinks blobs); a RECIPE blob reaches its chunks. A
 * STATE record has no edges (its refs are the catalog's).
 *
 * Pending imports (import/transfer-import.c): meta "pending" names a
 * record {"type":"pending-imports","imports":[{"objects":BLOB,...}...]}
 * (all zeros or absent: none). Each BLOB (a literal object, or a RECIPE of
 * chunks) holds the 32-byte ids of every object of an export that is being
 * imported volume by volume. Nothing else reaches what is staged of it
 * until the last volume commits the revisions, so those objects are roots:
 * the record and each list are walked (a list's chunks too), and every
 * listed id that is present is reported as REACH_STAGED. Listed ids that
 * are absent are not reported (they have not arrived yet, which is not
 * damage), and staged objects are not followed: the list already names all
 * the export brings, and whatever it lacks the export expects the store to
 * hold anyway, so a partly staged tree's absent children are not damage.
 * The pending roots are walked last, after everything else the roots
 * reach, so an object both staged and reachable otherwise is followed. */

#include <stdint.h>

#include "catalog.h"
#include "id-set.h"
#include "object-id.h"
#include "object-location.h"
#include "store.h"

/* What a reference is expected to name. */
typedef enum ReachKind {
        REACH_STATE,            /* the newest STATE record */
        REACH_REVISION,         /* a revision record */
        REACH_GENERATION,       /* a generation record */
        REACH_TREE,
        REACH_BLOB,             /* a literal object or a RECIPE */
        REACH_CHUNK,            /* a literal object, from a recipe */
        REACH_PENDING,          /* the pending-imports record (meta "pending") */
        REACH_PENDING_LIST,     /* a pending import's object list: a blob of ids */
        REACH_STAGED,           /* a present object that a pending import's list names */
} ReachKind;

/* "revision record", "tree", "chunk", ... */
const char *reach_kind_to_string(ReachKind kind);

/* Why a reached object could not be followed. */
typedef enum ReachError {
        REACH_OK = 0,
        REACH_MISSING,          /* not in the catalog */
        REACH_WRONG_TYPE,       /* in the catalog as another type */
        REACH_UNREADABLE,       /* its record cannot be read or verified */
        REACH_MALFORMED,        /* read fine, but does not decode as a tree, record or recipe */
} ReachError;

/* Called once for every newly reached object: loc is its catalog location
 * (NULL when it is missing); error is REACH_OK, or why it could not be
 * followed, and then detail says it in words ("is a TREE, expected a
 * blob"; NULL with REACH_OK). The walk goes on around objects that cannot
 * be followed. Return < 0 to stop the walk with that value. */
typedef int (*ReachFn)(const ObjectId *id, ReachKind kind, const ObjectLocation *loc, ReachError error,
                       const char *detail, void *userdata);

/* Walks from id, expected to be of the given kind, adding every reached id
 * to seen (also those that turn out missing or damaged: the set is of ids
 * referenced); objects already in seen are neither reported nor entered.
 * Lookups go through t when it is given, else through store_lookup() (which
 * sees the calling writer thread's open transaction). Records are read
 * from the store's packs and verified. fn may be NULL. Returns 0, or a
 * negative errno (-ENOMEM, catalog errors, or what fn returned). */
int reach_walk(Store *s, CatalogTxn *t, IdSet *seen, const ObjectId *id, ReachKind kind, ReachFn fn,
               void *userdata);

/* Walks from every root (above), read through t (required). Otherwise as
 * reach_walk(). */
int reach_roots(Store *s, CatalogTxn *t, IdSet *seen, ReachFn fn, void *userdata);
