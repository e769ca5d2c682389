/* SPDX-License-Identifier: Apache-2.0 */
#include "object-cache.h"

#include <assert.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

/* An entry moves LOADING -> READY or FAILED. While LOADING only its loader
 * touches the value; the others wait on the shard's condition variable.
 * Entries with no pins sit in the shard's LRU list (READY and FAILED alike)
 * and are the only ones eviction may take. */

#define SHARDS_MAX 16
/* Shards are at least this big, so that one large chunk (up to a few MiB)
 * never exceeds a shard on its own. */
#define SHARD_MIN_CAPACITY (32u << 20)
/* How long a damaged object's failure is remembered. */
#define FAILED_TTL_MS 5000

typedef enum EntryState {
        ENTRY_LOADING,
        ENTRY_READY,
        ENTRY_FAILED,
} EntryState;

typedef struct Shard Shard;

struct ObjectCacheEntry {
        ObjectId id;
        Shard *shard;
        ObjectCacheEntry *hash_next;            /* protected by shard->lock */
        ObjectCacheEntry *lru_prev, *lru_next;  /* protected by shard->lock; linked iff pins == 0 */
        unsigned pins;                          /* protected by shard->lock */
        EntryState state;                       /* protected by shard->lock */
        int error;                              /* FAILED: the load's errno */
        uint64_t expires_ms;                    /* FAILED: when to load again */
        void *value;                            /* READY */
        size_t charge;
};

struct Shard {
        pthread_mutex_t lock;
        pthread_cond_t loaded;          /* broadcast whenever a load in this shard ends */
        ObjectCacheEntry **buckets;     /* protected by lock */
        size_t n_buckets, n_entries;    /* protected by lock */
        ObjectCacheEntry lru;           /* sentinel; lru.lru_next = most recently used */
        uint64_t charge, capacity;      /* protected by lock */
        uint64_t hits, misses, waits, evictions;
};

struct ObjectCache {
        ObjectCacheFreeFn free_value;
        void *free_userdata;
        size_t n_shards;
        Shard shards[SHARDS_MAX];
};

static uint64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* Ids are SHA-256 digests: any 8 of their bytes are a good hash. */
static uint64_t id_hash(const ObjectId *id) {
        uint64_t h;
        memcpy(&h, id->bytes, sizeof h);
        return h;
}

static Shard *shard_of(ObjectCache *c, const ObjectId *id) {
        uint64_t h;
        memcpy(&h, id->bytes + 8, sizeof h);
        return &c->shards[h % c->n_shards];
}

int object_cache_new(uint64_t capacity, ObjectCacheFreeFn free_value, void *free_userdata, ObjectCache **ret) {
        ObjectCache *c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->free_value = free_value;
        c->free_userdata = free_userdata;
        c->n_shards = (size_t) MAX(1u, MIN((uint64_t) SHARDS_MAX, capacity / SHARD_MIN_CAPACITY));
        for (size_t i = 0; i < c->n_shards; i++) {
                Shard *s = &c->shards[i];
                pthread_mutex_init(&s->lock, NULL);
                pthread_cond_init(&s->loaded, NULL);
                s->lru.lru_next = s->lru.lru_prev = &s->lru;
                s->capacity = capacity / c->n_shards;
                s->n_buckets = 64;
                s->buckets = calloc(s->n_buckets, sizeof *s->buckets);
                if (!s->buckets) {
                        c->n_shards = i + 1;
                        object_cache_free(c);
                        return -ENOMEM;
                }
        }
        *ret = c;
        return 0;
}

ObjectCache *object_cache_free(ObjectCache *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n_shards; i++) {
                Shard *s = &c->shards[i];
                for (size_t b = 0; s->buckets && b < s->n_buckets; b++)
                        for (ObjectCacheEntry *e = s->buckets[b], *next; e; e = next) {
                                next = e->hash_next;
                                assert(e->pins == 0);
                                if (e->state == ENTRY_READY)
                                        c->free_value(e->value, e->charge, c->free_userdata);
                                free(e);
                        }
                free(s->buckets);
                pthread_cond_destroy(&s->loaded);
                pthread_mutex_destroy(&s->lock);
        }
        free(c);
        return NULL;
}

/* ---- shard internals; all with s->lock held ---- */

static ObjectCacheEntry **bucket_of(Shard *s, const ObjectId *id) {
        return &s->buckets[(id_hash(id) >> 7) & (s->n_buckets - 1)];
}

static ObjectCacheEntry *shard_find(Shard *s, const ObjectId *id) {
        for (ObjectCacheEntry *e = *bucket_of(s, id); e; e = e->hash_next)
                if (object_id_equal(&e->id, id))
                        return e;
        return NULL;
}

static void shard_grow(Shard *s) {
        size_t n = s->n_buckets * 2;
        ObjectCacheEntry **b = calloc(n, sizeof *b);
        if (!b)
                return; /* longer chains, still correct */
        ObjectCacheEntry **old = s->buckets;
        size_t n_old = s->n_buckets;
        s->buckets = b;
        s->n_buckets = n;
        for (size_t i = 0; i < n_old; i++)
                for (ObjectCacheEntry *e = old[i], *next; e; e = next) {
                        next = e->hash_next;
                        ObjectCacheEntry **head = bucket_of(s, &e->id);
                        e->hash_next = *head;
                        *head = e;
                }
        free(old);
}

static void shard_insert(Shard *s, ObjectCacheEntry *e) {
        if (s->n_entries >= s->n_buckets)
                shard_grow(s);
        ObjectCacheEntry **head = bucket_of(s, &e->id);
        e->hash_next = *head;
        *head = e;
        s->n_entries++;
}

static void shard_unlink(Shard *s, ObjectCacheEntry *e) {
        for (ObjectCacheEntry **p = bucket_of(s, &e->id); *p; p = &(*p)->hash_next)
                if (*p == e) {
                        *p = e->hash_next;
                        s->n_entries--;
                        return;
                }
        assert(!"entry not in its shard");
}

static void lru_remove(ObjectCacheEntry *e) {
        e->lru_prev->lru_next = e->lru_next;
        e->lru_next->lru_prev = e->lru_prev;
        e->lru_prev = e->lru_next = NULL;
}

static void lru_push_front(Shard *s, ObjectCacheEntry *e) {
        e->lru_next = s->lru.lru_next;
        e->lru_prev = &s->lru;
        s->lru.lru_next->lru_prev = e;
        s->lru.lru_next = e;
}

static void pin(ObjectCacheEntry *e) {
        if (e->pins++ == 0 && e->state != ENTRY_LOADING)
                lru_remove(e);
}

static void unpin(Shard *s, ObjectCacheEntry *e) {
        assert(e->pins > 0);
        if (--e->pins == 0)
                lru_push_front(s, e);
}

/* Takes unpinned entries off the cold end until the shard fits; returns
 * them as a list (through hash_next) for the caller to free unlocked. */
static ObjectCacheEntry *shard_evict(Shard *s) {
        ObjectCacheEntry *victims = NULL;
        while (s->charge > s->capacity && s->lru.lru_prev != &s->lru) {
                ObjectCacheEntry *e = s->lru.lru_prev;
                lru_remove(e);
                shard_unlink(s, e);
                s->charge -= e->charge;
                s->evictions++;
                e->hash_next = victims;
                victims = e;
        }
        return victims;
}

static void free_victims(ObjectCache *c, ObjectCacheEntry *victims) {
        while (victims) {
                ObjectCacheEntry *next = victims->hash_next;
                if (victims->state == ENTRY_READY)
                        c->free_value(victims->value, victims->charge, c->free_userdata);
                free(victims);
                victims = next;
        }
}

/* ---- the API ---- */

/* Waits for e (pinned by the caller) to finish loading; returns its result
 * and unpins it on failure. */
static int wait_loaded(Shard *s, ObjectCacheEntry *e) {
        if (e->state == ENTRY_LOADING)
                s->waits++;
        while (e->state == ENTRY_LOADING)
                pthread_cond_wait(&s->loaded, &s->lock);
        if (e->state == ENTRY_FAILED) {
                int r = e->error;
                unpin(s, e);
                return r;
        }
        return 0;
}

int object_cache_get(ObjectCache *c, const ObjectId *id, ObjectCacheLoadFn load, void *userdata,
                     ObjectCacheEntry **ret) {
        Shard *s = shard_of(c, id);
        ObjectCacheEntry *victims = NULL;

        pthread_mutex_lock(&s->lock);
        ObjectCacheEntry *e = shard_find(s, id);
        if (e && e->state == ENTRY_FAILED && e->pins == 0 && now_ms() >= e->expires_ms) {
                /* A remembered failure that is due for another try. */
                lru_remove(e);
                shard_unlink(s, e);
                free(e);
                e = NULL;
        }
        if (e) {
                pin(e);
                int r = wait_loaded(s, e);
                if (r >= 0)
                        s->hits++;
                pthread_mutex_unlock(&s->lock);
                if (r < 0)
                        return r;
                *ret = e;
                return 0;
        }

        e = calloc(1, sizeof *e);
        if (!e) {
                pthread_mutex_unlock(&s->lock);
                return -ENOMEM;
        }
        e->id = *id;
        e->shard = s;
        e->state = ENTRY_LOADING;
        e->pins = 1;
        shard_insert(s, e);
        s->misses++;
        pthread_mutex_unlock(&s->lock);

        void *value = NULL;
        size_t charge = 0;
        int r = load(id, userdata, &value, &charge);

        pthread_mutex_lock(&s->lock);
        if (r < 0) {
                e->state = ENTRY_FAILED;
                e->error = r;
                e->expires_ms = r == -EBADMSG ? now_ms() + FAILED_TTL_MS : 0;
                unpin(s, e);
        } else {
                e->state = ENTRY_READY;
                e->value = value;
                e->charge = charge;
                s->charge += charge;
                victims = shard_evict(s);
        }
        pthread_cond_broadcast(&s->loaded);
        pthread_mutex_unlock(&s->lock);

        free_victims(c, victims);
        if (r < 0)
                return r;
        *ret = e;
        return 0;
}

int object_cache_find(ObjectCache *c, const ObjectId *id, ObjectCacheEntry **ret) {
        Shard *s = shard_of(c, id);
        pthread_mutex_lock(&s->lock);
        ObjectCacheEntry *e = shard_find(s, id);
        bool ready = e && e->state == ENTRY_READY;
        if (ready) {
                pin(e);
                s->hits++;
        }
        pthread_mutex_unlock(&s->lock);
        if (!ready)
                return -ENOENT;
        *ret = e;
        return 0;
}

void *object_cache_entry_value(const ObjectCacheEntry *e) {
        assert(e->state == ENTRY_READY);
        return e->value;
}

void object_cache_release(ObjectCache *c, ObjectCacheEntry *e) {
        if (!e)
                return;
        Shard *s = e->shard;
        pthread_mutex_lock(&s->lock);
        unpin(s, e);
        ObjectCacheEntry *victims = shard_evict(s);
        pthread_mutex_unlock(&s->lock);
        free_victims(c, victims);
}

void object_cache_stats(ObjectCache *c, ObjectCacheStats *ret) {
        ObjectCacheStats st = {};
        for (size_t i = 0; i < c->n_shards; i++) {
                Shard *s = &c->shards[i];
                pthread_mutex_lock(&s->lock);
                st.hits += s->hits;
                st.misses += s->misses;
                st.waits += s->waits;
                st.evictions += s->evictions;
                st.entries += s->n_entries;
                st.charge += s->charge;
                st.capacity += s->capacity;
                pthread_mutex_unlock(&s->lock);
        }
        *ret = st;
}
