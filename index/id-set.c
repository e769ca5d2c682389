/* SPDX-License-Identifier: Apache-2.0 */
#include "id-set.h"

/* The table holds whole ids; an all-zero slot is empty. The all-zero id
 * itself (which no SHA-256 will ever produce, but nothing forbids) is kept
 * in a flag beside the table so that it never collides with "empty". The
 * home slot of an id is its first 8 bytes (little endian) masked by the
 * table size. Deletion shifts the following run back (Knuth's algorithm R)
 * so that probing needs no tombstones. */

#define ID_SET_MIN_CAPACITY 1024
/* Grow when size would exceed 3/4 of the capacity: linear probing then
 * averages 2.5 probes for a hit and 8.5 for a miss. */
#define ID_SET_FULL(size, capacity) ((size) > (capacity) / 4 * 3)

struct IdSet {
        ObjectId *slots;
        size_t capacity;        /* a power of two */
        size_t size;            /* ids in slots, not counting the zero id */
        bool has_zero;
};

static inline uint64_t id_key(const ObjectId *id) {
        return le64_read(id->bytes);
}

static inline bool slot_empty(const ObjectId *slot) {
        static const ObjectId zero;
        return id_key(slot) == 0 && memcmp(slot, &zero, sizeof zero) == 0;
}

static inline bool id_is_zero(const ObjectId *id) {
        return slot_empty(id);
}

int id_set_new(IdSet **ret) {
        IdSet *s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->slots = calloc(ID_SET_MIN_CAPACITY, sizeof(ObjectId));
        if (!s->slots) {
                free(s);
                return -ENOMEM;
        }
        s->capacity = ID_SET_MIN_CAPACITY;
        *ret = s;
        return 0;
}

IdSet *id_set_free(IdSet *s) {
        if (!s)
                return NULL;
        free(s->slots);
        free(s);
        return NULL;
}

/* Index of id's slot, or of the empty slot where it would go. */
static size_t probe(const ObjectId *slots, size_t mask, const ObjectId *id) {
        size_t i = (size_t) id_key(id) & mask;
        for (;;) {
                if (slot_empty(&slots[i]) || object_id_equal(&slots[i], id))
                        return i;
                i = (i + 1) & mask;
        }
}

static int rehash(IdSet *s, size_t capacity) {
        /* calloc: large tables come straight from mmap, zeroed lazily. */
        ObjectId *slots = calloc(capacity, sizeof(ObjectId));
        if (!slots)
                return -ENOMEM;
        size_t mask = capacity - 1;
        for (size_t i = 0; i < s->capacity; i++)
                if (!slot_empty(&s->slots[i]))
                        slots[probe(slots, mask, &s->slots[i])] = s->slots[i];
        free(s->slots);
        s->slots = slots;
        s->capacity = capacity;
        return 0;
}

int id_set_reserve(IdSet *s, size_t n) {
        size_t capacity = s->capacity;
        while (ID_SET_FULL(n, capacity)) {
                if (capacity > SIZE_MAX / 2 / sizeof(ObjectId))
                        return -ENOMEM;
                capacity *= 2;
        }
        return capacity == s->capacity ? 0 : rehash(s, capacity);
}

int id_set_add(IdSet *s, const ObjectId *id) {
        if (_unlikely_(id_is_zero(id))) {
                if (s->has_zero)
                        return 0;
                s->has_zero = true;
                return 1;
        }
        size_t i = probe(s->slots, s->capacity - 1, id);
        if (!slot_empty(&s->slots[i]))
                return 0;
        if (ID_SET_FULL(s->size + 1, s->capacity)) {
                int r = id_set_reserve(s, s->size + 1);
                if (r < 0)
                        return r;
                i = probe(s->slots, s->capacity - 1, id);
        }
        s->slots[i] = *id;
        s->size++;
        return 1;
}

bool id_set_contains(const IdSet *s, const ObjectId *id) {
        if (_unlikely_(id_is_zero(id)))
                return s->has_zero;
        return !slot_empty(&s->slots[probe(s->slots, s->capacity - 1, id)]);
}

bool id_set_remove(IdSet *s, const ObjectId *id) {
        if (_unlikely_(id_is_zero(id))) {
                bool had = s->has_zero;
                s->has_zero = false;
                return had;
        }
        size_t mask = s->capacity - 1;
        size_t i = probe(s->slots, mask, id);
        if (slot_empty(&s->slots[i]))
                return false;
        /* Move back every later id of the run whose home is not in (i, j]:
         * probing for it would otherwise stop at the hole. */
        for (size_t j = (i + 1) & mask; !slot_empty(&s->slots[j]); j = (j + 1) & mask) {
                size_t home = (size_t) id_key(&s->slots[j]) & mask;
                bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
                if (stays)
                        continue;
                s->slots[i] = s->slots[j];
                i = j;
        }
        memset(&s->slots[i], 0, sizeof(ObjectId));
        s->size--;
        return true;
}

size_t id_set_size(const IdSet *s) {
        return s->size + s->has_zero;
}

bool id_set_next(const IdSet *s, size_t *cursor, ObjectId *ret) {
        for (size_t i = *cursor; i < s->capacity; i++)
                if (!slot_empty(&s->slots[i])) {
                        *ret = s->slots[i];
                        *cursor = i + 1;
                        return true;
                }
        if (*cursor <= s->capacity && s->has_zero) {
                memset(ret, 0, sizeof *ret);
                *cursor = s->capacity + 1;
                return true;
        }
        *cursor = s->capacity + 1;
        return false;
}
