/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A set of object ids: the mark set of gc, the "seen" and "verified" sets
 * of fsck. Open addressing with linear probing over a power-of-two table of
 * whole ids; ids are SHA-256 digests, so their first 8 bytes already are a
 * uniform hash. The table grows (doubling) when it is 3/4 full, so memory
 * is 43 to 85 bytes per id: 10 million ids take at most about 850 MiB.
 *
 * Not thread safe: one set belongs to one thread (or its user locks). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "object-id.h"

typedef struct IdSet IdSet;

/* An empty set. -ENOMEM. */
int id_set_new(IdSet **ret);
IdSet *id_set_free(IdSet *s);
DEFINE_FREEP(IdSet, id_set_free)

/* Makes room for n ids in all, so that adding them does not rehash. */
int id_set_reserve(IdSet *s, size_t n);

/* 1 when added, 0 when it was already there, -ENOMEM (the set is then
 * unchanged). */
int id_set_add(IdSet *s, const ObjectId *id);
bool id_set_contains(const IdSet *s, const ObjectId *id);
/* Removes id; true if it was there. */
bool id_set_remove(IdSet *s, const ObjectId *id);
size_t id_set_size(const IdSet *s);

/* Iteration in table order (not sorted), while the set does not change:
 *
 *         size_t i = 0;
 *         ObjectId id;
 *         while (id_set_next(s, &i, &id))
 *                 ...
 */
bool id_set_next(const IdSet *s, size_t *cursor, ObjectId *ret);
