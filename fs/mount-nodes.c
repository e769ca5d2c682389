/* SPDX-License-Identifier: Apache-2.0 */
#include "mount-nodes.h"

#include <assert.h>
#include <pthread.h>

/* Inode numbers below this are the fixed nodes' (ROOT is 1, as FUSE wants). */
#define FIXED_INO_END 16

struct MountNodes {
        pthread_mutex_t lock;
        MountNode **buckets;            /* protected by lock; chained through next */
        size_t n_buckets, n_nodes;      /* protected by lock */
        MountNode fixed[_MOUNT_NODE_FIXED_MAX];
};

static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
        const uint8_t *b = p;
        for (size_t i = 0; i < n; i++) {
                h ^= b[i];
                h *= 0x100000001b3ULL;
        }
        return h;
}

static uint64_t key_hash(const MountNodeKey *k) {
        uint64_t h = 0xcbf29ce484222325ULL;
        uint8_t kind = k->kind;
        h = fnv1a(h, &kind, sizeof kind);
        h = fnv1a(h, &k->mode, sizeof k->mode);
        h = fnv1a(h, &k->number, sizeof k->number);
        if (k->name)
                h = fnv1a(h, k->name, strlen(k->name) + 1);
        h = fnv1a(h, k->id.bytes, OBJECT_ID_SIZE);
        /* splitmix64's finalizer: spread FNV's weak high bits. */
        h ^= h >> 30;
        h *= 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 27;
        h *= 0x94d049bb133111ebULL;
        h ^= h >> 31;
        return h;
}

static uint64_t ino_of_hash(uint64_t h) {
        return h < FIXED_INO_END ? h + FIXED_INO_END : h;
}

uint64_t mount_node_key_ino(const MountNodeKey *key) {
        if (key->kind < _MOUNT_NODE_FIXED_MAX)
                return (uint64_t) key->kind + 1;
        return ino_of_hash(key_hash(key));
}

static bool key_equal(const MountNodeKey *a, const MountNodeKey *b) {
        if (a->kind != b->kind || a->mode != b->mode || a->number != b->number ||
            !object_id_equal(&a->id, &b->id))
                return false;
        if (!a->name || !b->name)
                return !a->name && !b->name;
        return strcmp(a->name, b->name) == 0;
}

int mount_nodes_new(MountNodes **ret) {
        MountNodes *t = calloc(1, sizeof *t);
        if (!t)
                return -ENOMEM;
        t->n_buckets = 1024;
        t->buckets = calloc(t->n_buckets, sizeof *t->buckets);
        if (!t->buckets) {
                free(t);
                return -ENOMEM;
        }
        pthread_mutex_init(&t->lock, NULL);
        for (int k = 0; k < _MOUNT_NODE_FIXED_MAX; k++) {
                t->fixed[k].key.kind = (uint8_t) k;
                t->fixed[k].ino = mount_node_key_ino(&t->fixed[k].key);
        }
        *ret = t;
        return 0;
}

static void node_free(MountNode *n) {
        free((char *) n->key.name);
        free(n);
}

MountNodes *mount_nodes_free(MountNodes *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_buckets; i++)
                for (MountNode *n = t->buckets[i], *next; n; n = next) {
                        next = n->next;
                        node_free(n);
                }
        free(t->buckets);
        pthread_mutex_destroy(&t->lock);
        free(t);
        return NULL;
}

MountNode *mount_nodes_fixed(MountNodes *t, MountNodeKind kind) {
        assert(kind < _MOUNT_NODE_FIXED_MAX);
        return &t->fixed[kind];
}

/* With t->lock held. */
static MountNode **bucket_of(MountNodes *t, uint64_t hash) {
        return &t->buckets[hash & (t->n_buckets - 1)];
}

static MountNode *find_locked(MountNodes *t, const MountNodeKey *key, uint64_t hash) {
        for (MountNode *n = *bucket_of(t, hash); n; n = n->next)
                if (n->ino == ino_of_hash(hash) && key_equal(&n->key, key))
                        return n;
        return NULL;
}

static void grow_locked(MountNodes *t) {
        size_t n_new = t->n_buckets * 2;
        MountNode **b = calloc(n_new, sizeof *b);
        if (!b)
                return; /* longer chains, still correct */
        MountNode **old = t->buckets;
        size_t n_old = t->n_buckets;
        t->buckets = b;
        t->n_buckets = n_new;
        for (size_t i = 0; i < n_old; i++)
                for (MountNode *n = old[i], *next; n; n = next) {
                        next = n->next;
                        MountNode **head = bucket_of(t, key_hash(&n->key));
                        n->next = *head;
                        *head = n;
                }
        free(old);
}

int mount_nodes_ref_existing(MountNodes *t, const MountNodeKey *key, MountNode **ret) {
        if (key->kind < _MOUNT_NODE_FIXED_MAX) {
                *ret = &t->fixed[key->kind];
                return 1;
        }
        uint64_t hash = key_hash(key);
        pthread_mutex_lock(&t->lock);
        MountNode *n = find_locked(t, key, hash);
        if (n)
                n->nlookup++;
        pthread_mutex_unlock(&t->lock);
        if (!n)
                return 0;
        *ret = n;
        return 1;
}

int mount_nodes_ref(MountNodes *t, const MountNodeKey *key, uint64_t size, const ObjectId *tree,
                    MountNode **ret) {
        if (key->kind < _MOUNT_NODE_FIXED_MAX) {
                *ret = &t->fixed[key->kind];
                return 0;
        }
        /* Allocate before locking; thrown away if another thread won. */
        MountNode *fresh = calloc(1, sizeof *fresh);
        if (!fresh)
                return -ENOMEM;
        fresh->key = *key;
        fresh->key.name = NULL;
        if (key->name && !(fresh->key.name = strdup(key->name))) {
                free(fresh);
                return -ENOMEM;
        }
        uint64_t hash = key_hash(key);
        fresh->ino = ino_of_hash(hash);
        fresh->size = size;
        if (tree)
                fresh->tree = *tree;

        pthread_mutex_lock(&t->lock);
        MountNode *n = find_locked(t, key, hash);
        int r = 0;
        if (!n) {
                if (t->n_nodes >= t->n_buckets)
                        grow_locked(t);
                MountNode **head = bucket_of(t, hash);
                fresh->next = *head;
                *head = fresh;
                t->n_nodes++;
                n = TAKE_PTR(fresh);
                r = 1;
        }
        n->nlookup++;
        pthread_mutex_unlock(&t->lock);
        if (fresh)
                node_free(fresh);
        *ret = n;
        return r;
}

void mount_nodes_unref(MountNodes *t, MountNode *n, uint64_t count) {
        if (mount_node_is_fixed(n))
                return;
        pthread_mutex_lock(&t->lock);
        assert(n->nlookup >= count);
        n->nlookup -= MIN(count, n->nlookup);
        bool gone = n->nlookup == 0;
        if (gone)
                for (MountNode **p = bucket_of(t, key_hash(&n->key)); *p; p = &(*p)->next)
                        if (*p == n) {
                                *p = n->next;
                                t->n_nodes--;
                                break;
                        }
        pthread_mutex_unlock(&t->lock);
        if (gone)
                node_free(n);
}

void mount_nodes_foreach(MountNodes *t, MountNodeKind kind, void (*fn)(const MountNode *n, void *u),
                         void *userdata) {
        pthread_mutex_lock(&t->lock);
        for (size_t i = 0; i < t->n_buckets; i++)
                for (MountNode *n = t->buckets[i]; n; n = n->next)
                        if (n->key.kind == kind)
                                fn(n, userdata);
        pthread_mutex_unlock(&t->lock);
}

size_t mount_nodes_count(MountNodes *t) {
        pthread_mutex_lock(&t->lock);
        size_t n = t->n_nodes;
        pthread_mutex_unlock(&t->lock);
        return n;
}
