/* SPDX-License-Identifier: Apache-2.0 */
#include "catalog.h"

#include <lmdb.h>
#include <stdio.h>
#include <sys/stat.h>

#include "fileio.h"

/* Sparse: LMDB only uses what it writes. 1 TiB of index is ~30 billion
 * objects, far beyond any store this will hold. */
#define CATALOG_MAP_SIZE (1ULL << 40)

/* The encoding of the tables' values (object-location.h). An index in an
 * older one is rebuilt from the packs. 1: fixed 32-byte locations, before
 * the format was recorded. */
#define CATALOG_FORMAT 2

struct Catalog {
        MDB_env *env;
        MDB_dbi objects, revisions, generations, meta;
};

struct CatalogTxn {
        Catalog *catalog;
        MDB_txn *txn;
};

/* LMDB returns errno values and its own positive MDB_* codes; ours are
 * negative errno. */
static int lmdb_error(int r) {
        switch (r) {
        case MDB_SUCCESS: return 0;
        case MDB_NOTFOUND: return -ENOENT;
        case MDB_KEYEXIST: return -EEXIST;
        case MDB_MAP_FULL: return -ENOSPC;
        case MDB_TXN_FULL: return -E2BIG;
        case MDB_CORRUPTED: case MDB_PAGE_NOTFOUND: case MDB_INVALID: return -EBADMSG;
        case MDB_VERSION_MISMATCH: return -EPROTONOSUPPORT;
        default: return r > 0 && r < 4096 ? -r : -EIO;
        }
}

Catalog *catalog_free(Catalog *c) {
        if (!c)
                return NULL;
        if (c->env)
                mdb_env_close(c->env);
        free(c);
        return NULL;
}

static bool table_is_empty(CatalogTxn *t, MDB_dbi dbi) {
        MDB_stat st;
        return mdb_stat(t->txn, dbi, &st) == 0 && st.ms_entries == 0;
}

static int check_format(CatalogTxn *t, bool write) {
        uint64_t format;
        int r = catalog_get_u64(t, "format", &format);
        if (r >= 0)
                return format == CATALOG_FORMAT ? 0
                       : format > CATALOG_FORMAT ? -EPROTONOSUPPORT
                       : write                   ? catalog_clear(t)
                                                 : -EMEDIUMTYPE;
        if (r != -ENOENT)
                return r;
        if (table_is_empty(t, t->catalog->meta) && table_is_empty(t, t->catalog->objects))
                return write ? catalog_put_u64(t, "format", CATALOG_FORMAT) : 0; /* a new index */
        /* An older format, which nothing here can read. A writer empties
         * it, leaving what a lost index leaves: store_begin() and gc refuse
         * to write beside packs until fsck --rebuild-index has run. */
        return write ? catalog_clear(t) : -EMEDIUMTYPE;
}

int catalog_open(const char *path, bool create, Catalog **ret) {
        _cleanup_(catalog_freep) Catalog *c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        if (create) {
                int r = mkdir_p(path, 0755);
                if (r < 0)
                        return r;
        } else {
                struct stat st;
                if (stat(path, &st) < 0)
                        return -errno;
        }
        int r = mdb_env_create(&c->env);
        if (r)
                return lmdb_error(r);
        mdb_env_set_maxdbs(c->env, 8);
        mdb_env_set_mapsize(c->env, CATALOG_MAP_SIZE);
        mdb_env_set_maxreaders(c->env, 512);
        r = mdb_env_open(c->env, path, MDB_NOTLS, 0644);
        if (r)
                return lmdb_error(r);

        /* Readers open the tables in a read transaction, so they never wait
         * for a writer (a write transaction here would queue behind it). */
        MDB_txn *txn;
        r = mdb_txn_begin(c->env, NULL, create ? 0 : MDB_RDONLY, &txn);
        if (r)
                return lmdb_error(r);
        unsigned flags = create ? MDB_CREATE : 0;
        if ((r = mdb_dbi_open(txn, "objects", flags, &c->objects)) ||
            (r = mdb_dbi_open(txn, "revisions", flags, &c->revisions)) ||
            (r = mdb_dbi_open(txn, "generations", flags, &c->generations)) ||
            (r = mdb_dbi_open(txn, "meta", flags, &c->meta))) {
                mdb_txn_abort(txn);
                return lmdb_error(r);
        }
        CatalogTxn t = { .catalog = c, .txn = txn };
        r = check_format(&t, create);
        if (r < 0) {
                mdb_txn_abort(txn);
                return r;
        }
        r = mdb_txn_commit(txn);
        if (r)
                return lmdb_error(r);
        *ret = TAKE_PTR(c);
        return 0;
}

int catalog_begin(Catalog *c, bool write, CatalogTxn **ret) {
        CatalogTxn *t = calloc(1, sizeof *t);
        if (!t)
                return -ENOMEM;
        t->catalog = c;
        int r = mdb_txn_begin(c->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
        if (r) {
                free(t);
                return lmdb_error(r);
        }
        *ret = t;
        return 0;
}

int catalog_commit(CatalogTxn *t) {
        int r = mdb_txn_commit(t->txn);
        free(t);
        return lmdb_error(r);
}

CatalogTxn *catalog_abort(CatalogTxn *t) {
        if (!t)
                return NULL;
        mdb_txn_abort(t->txn);
        free(t);
        return NULL;
}

static int get(CatalogTxn *t, MDB_dbi dbi, const void *key, size_t klen, MDB_val *ret) {
        MDB_val k = { .mv_size = klen, .mv_data = (void *) key };
        return lmdb_error(mdb_get(t->txn, dbi, &k, ret));
}

/* A value that is an object id. */
static int get_id(CatalogTxn *t, MDB_dbi dbi, const void *key, size_t klen, ObjectId *ret) {
        MDB_val v;
        int r = get(t, dbi, key, klen, &v);
        if (r < 0)
                return r;
        if (v.mv_size != OBJECT_ID_SIZE)
                return -EBADMSG;
        memcpy(ret->bytes, v.mv_data, OBJECT_ID_SIZE);
        return 0;
}

static int put(CatalogTxn *t, MDB_dbi dbi, const void *key, size_t klen, const void *val, size_t vlen) {
        MDB_val k = { .mv_size = klen, .mv_data = (void *) key };
        MDB_val v = { .mv_size = vlen, .mv_data = (void *) val };
        return lmdb_error(mdb_put(t->txn, dbi, &k, &v, 0));
}

static int del(CatalogTxn *t, MDB_dbi dbi, const void *key, size_t klen) {
        MDB_val k = { .mv_size = klen, .mv_data = (void *) key };
        return lmdb_error(mdb_del(t->txn, dbi, &k, NULL));
}

int catalog_get_object(CatalogTxn *t, const ObjectId *id, ObjectLocation *ret) {
        MDB_val v;
        int r = get(t, t->catalog->objects, id->bytes, OBJECT_ID_SIZE, &v);
        if (r < 0)
                return r;
        return object_location_decode(v.mv_data, v.mv_size, ret);
}

int catalog_put_object(CatalogTxn *t, const ObjectId *id, const ObjectLocation *loc) {
        uint8_t v[OBJECT_LOCATION_MAX_SIZE];
        size_t n = object_location_encode(loc, v);
        return put(t, t->catalog->objects, id->bytes, OBJECT_ID_SIZE, v, n);
}

int catalog_del_object(CatalogTxn *t, const ObjectId *id) {
        return del(t, t->catalog->objects, id->bytes, OBJECT_ID_SIZE);
}

int catalog_count_objects(CatalogTxn *t, uint64_t *ret) {
        MDB_stat st;
        int r = mdb_stat(t->txn, t->catalog->objects, &st);
        if (r)
                return lmdb_error(r);
        *ret = st.ms_entries;
        return 0;
}

/* Walks a table from `start` (prefix match when prefix_len > 0). */
typedef int (*WalkFn)(const MDB_val *k, const MDB_val *v, void *u);
static int walk(CatalogTxn *t, MDB_dbi dbi, const void *prefix, size_t prefix_len, WalkFn fn, void *u) {
        MDB_cursor *cur;
        int r = mdb_cursor_open(t->txn, dbi, &cur);
        if (r)
                return lmdb_error(r);
        MDB_val k = { .mv_size = prefix_len, .mv_data = (void *) prefix }, v;
        r = mdb_cursor_get(cur, &k, &v, prefix_len ? MDB_SET_RANGE : MDB_FIRST);
        while (r == 0) {
                if (prefix_len && (k.mv_size < prefix_len || memcmp(k.mv_data, prefix, prefix_len) != 0))
                        break;
                int q = fn(&k, &v, u);
                if (q < 0) {
                        mdb_cursor_close(cur);
                        return q;
                }
                r = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
        mdb_cursor_close(cur);
        return r == MDB_NOTFOUND || r == 0 ? 0 : lmdb_error(r);
}

struct ObjectWalk {
        int (*fn)(const ObjectId *, const ObjectLocation *, void *);
        void *u;
};

static int object_walk(const MDB_val *k, const MDB_val *v, void *u) {
        struct ObjectWalk *w = u;
        ObjectId id;
        ObjectLocation loc;
        if (k->mv_size != OBJECT_ID_SIZE || object_location_decode(v->mv_data, v->mv_size, &loc) < 0)
                return -EBADMSG;
        memcpy(id.bytes, k->mv_data, OBJECT_ID_SIZE);
        return w->fn(&id, &loc, w->u);
}

int catalog_foreach_object(CatalogTxn *t, int (*fn)(const ObjectId *id, const ObjectLocation *loc, void *u),
                           void *userdata) {
        struct ObjectWalk w = { fn, userdata };
        return walk(t, t->catalog->objects, NULL, 0, object_walk, &w);
}

/* Revision keys: bundle name, NUL, big-endian revision (so keys sort by name
 * then number). */
static size_t revision_key(uint8_t *key, size_t size, const char *bundle, uint32_t rev) {
        size_t n = strlen(bundle);
        if (n + 5 > size)
                return 0;
        memcpy(key, bundle, n + 1);
        uint32_t be = htobe32(rev);
        memcpy(key + n + 1, &be, 4);
        return n + 5;
}

#define REVISION_KEY_MAX 512

int catalog_get_revision(CatalogTxn *t, const char *bundle, uint32_t rev, ObjectId *ret) {
        uint8_t key[REVISION_KEY_MAX];
        size_t n = revision_key(key, sizeof key, bundle, rev);
        if (n == 0)
                return -ENOENT;
        return get_id(t, t->catalog->revisions, key, n, ret);
}

int catalog_put_revision(CatalogTxn *t, const char *bundle, uint32_t rev, const ObjectId *id) {
        uint8_t key[REVISION_KEY_MAX];
        size_t n = revision_key(key, sizeof key, bundle, rev);
        if (n == 0)
                return -ENAMETOOLONG;
        return put(t, t->catalog->revisions, key, n, id->bytes, OBJECT_ID_SIZE);
}

int catalog_del_revision(CatalogTxn *t, const char *bundle, uint32_t rev) {
        uint8_t key[REVISION_KEY_MAX];
        size_t n = revision_key(key, sizeof key, bundle, rev);
        if (n == 0)
                return -ENOENT;
        return del(t, t->catalog->revisions, key, n);
}

struct RevisionWalk {
        CatalogRevisionFn fn;
        void *u;
};

static int revision_walk(const MDB_val *k, const MDB_val *v, void *u) {
        struct RevisionWalk *w = u;
        const char *key = k->mv_data;
        if (k->mv_size < 6 || key[k->mv_size - 5] != 0 || v->mv_size != OBJECT_ID_SIZE)
                return -EBADMSG;
        uint32_t be;
        memcpy(&be, key + k->mv_size - 4, 4);
        ObjectId id;
        memcpy(id.bytes, v->mv_data, OBJECT_ID_SIZE);
        return w->fn(key, be32toh(be), &id, w->u);
}

int catalog_foreach_revision(CatalogTxn *t, const char *bundle, CatalogRevisionFn fn, void *userdata) {
        struct RevisionWalk w = { fn, userdata };
        return walk(t, t->catalog->revisions, bundle, bundle ? strlen(bundle) + 1 : 0, revision_walk, &w);
}

static int latest_fn(const char *bundle _unused_, uint32_t rev, const ObjectId *id _unused_, void *u) {
        *(uint32_t *) u = rev;
        return 0;
}

int catalog_latest_revision(CatalogTxn *t, const char *bundle, uint32_t *ret) {
        uint32_t rev = 0;
        int r = catalog_foreach_revision(t, bundle, latest_fn, &rev);
        if (r < 0)
                return r;
        if (rev == 0)
                return -ENOENT;
        *ret = rev;
        return 0;
}

int catalog_get_generation(CatalogTxn *t, uint64_t gen, ObjectId *ret) {
        uint64_t key = htobe64(gen);
        return get_id(t, t->catalog->generations, &key, sizeof key, ret);
}

int catalog_put_generation(CatalogTxn *t, uint64_t gen, const ObjectId *id) {
        uint64_t key = htobe64(gen);
        return put(t, t->catalog->generations, &key, sizeof key, id->bytes, OBJECT_ID_SIZE);
}

int catalog_del_generation(CatalogTxn *t, uint64_t gen) {
        uint64_t key = htobe64(gen);
        return del(t, t->catalog->generations, &key, sizeof key);
}

struct GenerationWalk {
        CatalogGenerationFn fn;
        void *u;
};

static int generation_walk(const MDB_val *k, const MDB_val *v, void *u) {
        struct GenerationWalk *w = u;
        if (k->mv_size != 8 || v->mv_size != OBJECT_ID_SIZE)
                return -EBADMSG;
        uint64_t be;
        memcpy(&be, k->mv_data, 8);
        ObjectId id;
        memcpy(id.bytes, v->mv_data, OBJECT_ID_SIZE);
        return w->fn(be64toh(be), &id, w->u);
}

int catalog_foreach_generation(CatalogTxn *t, CatalogGenerationFn fn, void *userdata) {
        struct GenerationWalk w = { fn, userdata };
        return walk(t, t->catalog->generations, NULL, 0, generation_walk, &w);
}

int catalog_get_u64(CatalogTxn *t, const char *name, uint64_t *ret) {
        MDB_val v;
        int r = get(t, t->catalog->meta, name, strlen(name), &v);
        if (r < 0)
                return r;
        if (v.mv_size != 8)
                return -EBADMSG;
        *ret = le64_read(v.mv_data);
        return 0;
}

int catalog_put_u64(CatalogTxn *t, const char *name, uint64_t value) {
        uint8_t v[8];
        le64_write(v, value);
        return put(t, t->catalog->meta, name, strlen(name), v, sizeof v);
}

int catalog_get_id(CatalogTxn *t, const char *name, ObjectId *ret) {
        return get_id(t, t->catalog->meta, name, strlen(name), ret);
}

int catalog_put_id(CatalogTxn *t, const char *name, const ObjectId *id) {
        return put(t, t->catalog->meta, name, strlen(name), id->bytes, OBJECT_ID_SIZE);
}

int catalog_clear(CatalogTxn *t) {
        Catalog *c = t->catalog;
        MDB_dbi all[] = { c->objects, c->revisions, c->generations, c->meta };
        for (size_t i = 0; i < ELEMENTSOF(all); i++) {
                int r = mdb_drop(t->txn, all[i], 0);
                if (r)
                        return lmdb_error(r);
        }
        return catalog_put_u64(t, "format", CATALOG_FORMAT);
}

int catalog_size(Catalog *c, uint64_t *ret_bytes) {
        MDB_envinfo info;
        MDB_stat st;
        int r = mdb_env_info(c->env, &info);
        if (!r)
                r = mdb_env_stat(c->env, &st);
        if (r)
                return lmdb_error(r);
        *ret_bytes = (uint64_t) (info.me_last_pgno + 1) * st.ms_psize;
        return 0;
}
