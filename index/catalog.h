/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The catalog: the store's index in LMDB. It maps object ids to pack
 * locations and holds the refs (bundle revisions, generations, what is
 * current). Everything in it can be rebuilt from the packs (fsck
 * --rebuild-index), so it is an index, not the truth.
 *
 * Tables:
 *   objects      id (32 bytes)               -> ObjectLocation (32 bytes)
 *   revisions    bundle NUL be32 revision    -> revision record id
 *   generations  be64 generation             -> generation record id
 *   meta         name                        -> value (see catalog.c)
 *
 * Transactions: one write transaction at a time (the store lock also keeps
 * other processes out); any number of read transactions, from any thread
 * (MDB_NOTLS). Values returned by getters are copied out, so they outlive
 * the transaction. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "object-id.h"
#include "object-location.h"

typedef struct Catalog Catalog;
typedef struct CatalogTxn CatalogTxn;

/* Opens the LMDB environment in directory path. With `create`, missing
 * tables are created (writers); without, a missing table is -ENOENT (the
 * index is lost or was never made) and opening never waits for a writer.
 * An index in an older format is -EMEDIUMTYPE to a reader; a writer
 * empties it, so that it is a lost index to be rebuilt (fsck
 * --rebuild-index). One in a newer format is -EPROTONOSUPPORT. */
int catalog_open(const char *path, bool create, Catalog **ret);
Catalog *catalog_free(Catalog *c);
DEFINE_FREEP(Catalog, catalog_free)

int catalog_begin(Catalog *c, bool write, CatalogTxn **ret);
/* Commits and frees. A read transaction just ends. */
int catalog_commit(CatalogTxn *t);
/* Ends and frees without writing. NULL-safe. */
CatalogTxn *catalog_abort(CatalogTxn *t);
DEFINE_FREEP(CatalogTxn, catalog_abort)

/* 0 and *ret filled, or -ENOENT. */
int catalog_get_object(CatalogTxn *t, const ObjectId *id, ObjectLocation *ret);
int catalog_put_object(CatalogTxn *t, const ObjectId *id, const ObjectLocation *loc);
int catalog_del_object(CatalogTxn *t, const ObjectId *id);
/* Calls fn for every object in id order; fn returns < 0 to stop. */
int catalog_foreach_object(CatalogTxn *t, int (*fn)(const ObjectId *id, const ObjectLocation *loc, void *u),
                           void *userdata);
/* Number of objects. */
int catalog_count_objects(CatalogTxn *t, uint64_t *ret);

/* Bundle revisions. */
int catalog_get_revision(CatalogTxn *t, const char *bundle, uint32_t rev, ObjectId *ret);
int catalog_put_revision(CatalogTxn *t, const char *bundle, uint32_t rev, const ObjectId *id);
int catalog_del_revision(CatalogTxn *t, const char *bundle, uint32_t rev);
/* Highest revision number of a bundle, or -ENOENT if it has none. */
int catalog_latest_revision(CatalogTxn *t, const char *bundle, uint32_t *ret);
/* All revisions in (bundle, revision) order; bundle NULL = every bundle. */
typedef int (*CatalogRevisionFn)(const char *bundle, uint32_t rev, const ObjectId *id, void *u);
int catalog_foreach_revision(CatalogTxn *t, const char *bundle, CatalogRevisionFn fn, void *userdata);

/* Generations. */
int catalog_get_generation(CatalogTxn *t, uint64_t gen, ObjectId *ret);
int catalog_put_generation(CatalogTxn *t, uint64_t gen, const ObjectId *id);
int catalog_del_generation(CatalogTxn *t, uint64_t gen);
typedef int (*CatalogGenerationFn)(uint64_t gen, const ObjectId *id, void *u);
int catalog_foreach_generation(CatalogTxn *t, CatalogGenerationFn fn, void *userdata);

/* Meta values: small named integers (current generation, commit sequence,
 * pack append point). Missing ones read as -ENOENT. */
int catalog_get_u64(CatalogTxn *t, const char *name, uint64_t *ret);
int catalog_put_u64(CatalogTxn *t, const char *name, uint64_t value);

/* Meta values that are object ids (the newest STATE record). */
int catalog_get_id(CatalogTxn *t, const char *name, ObjectId *ret);
int catalog_put_id(CatalogTxn *t, const char *name, const ObjectId *id);

/* Removes every object, revision, generation and meta value (rebuild),
 * leaving an empty index in the current format. */
int catalog_clear(CatalogTxn *t);

/* Map and page statistics for `isle stats`. */
int catalog_size(Catalog *c, uint64_t *ret_bytes);
