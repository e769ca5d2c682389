/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A bounded cache of decoded objects keyed by object id, shared by every
 * thread of the mount daemon: verified, decompressed chunks and decoded
 * trees (one ObjectCache each).
 *
 * object_cache_get() returns a pinned entry: its value stays valid, and is
 * never evicted, until object_cache_release(). Unpinned entries are kept in
 * least-recently-used order and evicted once the charged total is above the
 * capacity, so the cache holds at most capacity + whatever is pinned at the
 * moment (one request's worth per thread).
 *
 * Single flight: when an entry is missing, the first caller loads it with
 * no lock held, and callers that ask for the same id meanwhile wait for
 * that one load and share its result. A failed load is handed to the
 * waiters; a -EBADMSG result (damage, which does not heal by retrying) is
 * remembered for a few seconds so a damaged chunk is reported once, not
 * once per page the kernel retries; other errors are retried at once.
 *
 * The table is split into shards with a mutex each, held only to find,
 * insert, pin and evict: never while loading or freeing values.
 * Thread safe. */

#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "object-id.h"

typedef struct ObjectCache ObjectCache;
typedef struct ObjectCacheEntry ObjectCacheEntry;

/* Loads the object `id`: returns 0 with *ret_value (owned by the cache from
 * then on, freed with the cache's free function) and *ret_charge (bytes it
 * costs), or a negative errno. */
typedef int (*ObjectCacheLoadFn)(const ObjectId *id, void *userdata, void **ret_value, size_t *ret_charge);

/* Frees what a load returned, given the charge the load reported. */
typedef void (*ObjectCacheFreeFn)(void *value, size_t charge, void *userdata);

/* capacity: bytes of charge to keep (entries still pinned are kept even
 * beyond it). free_value(value, charge, free_userdata) frees values. */
int object_cache_new(uint64_t capacity, ObjectCacheFreeFn free_value, void *free_userdata, ObjectCache **ret);
/* Frees every entry. No entry may be pinned. NULL-safe. */
ObjectCache *object_cache_free(ObjectCache *c);
DEFINE_FREEP(ObjectCache, object_cache_free)

/* Finds the entry for id, loading it with load(id, userdata) when it is
 * missing (see above). 0 and a pinned *ret, or the load's negative errno. */
int object_cache_get(ObjectCache *c, const ObjectId *id, ObjectCacheLoadFn load, void *userdata,
                     ObjectCacheEntry **ret);
/* The entry for id when it is loaded already: 0 and a pinned *ret; -ENOENT
 * when it is missing, failed or still loading. Never loads nor waits. */
int object_cache_find(ObjectCache *c, const ObjectId *id, ObjectCacheEntry **ret);
/* The value of a pinned entry. */
void *object_cache_entry_value(const ObjectCacheEntry *e);
/* Unpins an entry; it may be evicted from then on. NULL-safe. */
void object_cache_release(ObjectCache *c, ObjectCacheEntry *e);

typedef struct ObjectCacheStats {
        uint64_t hits, misses, waits, evictions;
        uint64_t entries, charge, capacity;
} ObjectCacheStats;
void object_cache_stats(ObjectCache *c, ObjectCacheStats *ret);
