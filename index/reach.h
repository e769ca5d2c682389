/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Reachability: what a record, tree or blob needs to be whole. One walker
 * serves gc (what to keep), fsck (what a damaged object touches) and the
 * media transfer (what an export must carry).
 *
 * Edges: a revision record reaches its "root" tree and, inside
 * "artifacts", every field named "tree" (a tree), "blob" (a blob) or
 * "blobs" (an array of blobs); a generation record reaches its "root" and
 * the revision records in "active"[].id. A revision's "parent" is not an
 * edge, so a forgotten revision can be collected. A tree reaches its
 * entries (directories as trees, files and symlinks as blobs); a blob
 * stored as a RECIPE reaches its chunks. */

#include <stdint.h>

#include "catalog.h"
#include "id-set.h"
#include "object-location.h"
#include "store.h"

typedef enum ReachKind {
        REACH_RECORD = 1,
        REACH_TREE,
        REACH_BLOB,
        REACH_CHUNK,
} ReachKind;

/* Called once for every newly reached object. loc is NULL and error
 * -ENOENT when the object is missing; error -EBADMSG when it exists but
 * could not be read or parsed as `kind` (the walk does not descend then).
 * Return < 0 to stop the walk with that value. */
typedef int (*ReachFn)(const ObjectId *id, ReachKind kind, const ObjectLocation *loc, int error, void *userdata);

/* Walks from id (of the given kind), adding every reached id to seen;
 * objects already in seen are not visited again. fn may be NULL. */
int reach_walk(Store *s, IdSet *seen, const ObjectId *id, ReachKind kind, ReachFn fn, void *userdata);

/* Walks from every root: each revision and generation in the catalog and
 * the newest STATE record (meta "state"), reading refs through t. */
int reach_roots(Store *s, CatalogTxn *t, IdSet *seen, ReachFn fn, void *userdata);
