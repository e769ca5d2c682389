/* SPDX-License-Identifier: Apache-2.0 */
#include "reach.h"

#include <assert.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>

#include "pack-reader.h"
#include "refs.h"
#include "tree.h"

/* A depth-first walk with an explicit stack (trees can be deep, stores
 * huge): an id is added to `seen` when it is pushed, so each is looked up,
 * checked against the kind its referrer expects, read and decoded once, and
 * reported once, after its children are pushed. */

const char *reach_kind_to_string(ReachKind kind) {
        static const char *const names[] = {
                [REACH_STATE] = "state record",
                [REACH_REVISION] = "revision record",
                [REACH_GENERATION] = "generation record",
                [REACH_TREE] = "tree",
                [REACH_BLOB] = "blob",
                [REACH_CHUNK] = "chunk",
                [REACH_PENDING] = "pending-imports record",
                [REACH_PENDING_LIST] = "pending import's object list",
                [REACH_STAGED] = "staged object",
        };
        return (size_t) kind < ELEMENTSOF(names) && names[kind] ? names[kind] : "object";
}

typedef struct WalkItem {
        ObjectId id;
        ReachKind kind;
} WalkItem;

typedef struct Walk {
        Store *store;
        CatalogTxn *txn;        /* NULL: store_lookup() */
        IdSet *seen;
        ReachFn fn;
        void *userdata;
        WalkItem *stack;
        size_t n, allocated;
        /* The first problem of the object being processed. */
        ReachError error;
        char detail[256];
} Walk;

static int lookup(Walk *w, const ObjectId *id, ObjectLocation *ret) {
        return w->txn ? catalog_get_object(w->txn, id, ret) : store_lookup(w->store, id, ret);
}

static int walk_push(Walk *w, const ObjectId *id, ReachKind kind) {
        int r = id_set_add(w->seen, id);
        if (r <= 0)
                return r;
        r = GROW(w->stack, w->allocated, w->n + 1);
        if (r < 0)
                return r;
        w->stack[w->n++] = (WalkItem) { .id = *id, .kind = kind };
        return 0;
}

/* Notes why the object being processed cannot be (wholly) followed; the
 * first reason is the one reported. */
_printf_(3, 4) static void problem(Walk *w, ReachError e, const char *fmt, ...) {
        if (w->error != REACH_OK)
                return;
        w->error = e;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->detail, sizeof w->detail, fmt, ap);
        va_end(ap);
}

static int report(Walk *w, const WalkItem *it, const ObjectLocation *loc) {
        if (!w->fn)
                return 0;
        int r = w->fn(&it->id, it->kind, loc, w->error, w->error != REACH_OK ? w->detail : NULL, w->userdata);
        return r < 0 ? r : 0;
}

/* Pushes an id given as hex in a record. A field that does not hold an id
 * is not a reference (artifact kinds may use these names loosely); the
 * record itself is verified by its own hash. */
static int walk_artifact_ref(const char *kind, const char *key, bool tree, const ObjectId *id, void *userdata) {
        return walk_push(userdata, id, tree ? REACH_TREE : REACH_BLOB);
}

static int walk_record(Walk *w, const WalkItem *it, const void *buf, size_t n) {
        bool revision = it->kind == REACH_REVISION;
        const char *want = revision ? "revision" : "generation";
        json_t *j = json_loadb(buf, n, 0, NULL);
        const char *type = json_string_value(json_object_get(j, "type"));
        ObjectId root;
        if (!json_is_object(j) || !type || strcmp(type, want) != 0 || json_get_id(j, "root", &root) < 0) {
                json_decref(j);
                problem(w, REACH_MALFORMED, "is not a valid %s record", want);
                return 0;
        }
        int r = walk_push(w, &root, REACH_TREE);
        if (r >= 0 && revision)
                r = refs_foreach_artifact_ref(json_object_get(j, "artifacts"), walk_artifact_ref, w);
        else if (r >= 0) {
                size_t i;
                json_t *a;
                json_array_foreach(json_object_get(j, "active"), i, a) {
                        ObjectId id;
                        if (json_get_id(a, "id", &id) < 0)
                                problem(w, REACH_MALFORMED, "active entry %zu has no revision id", i);
                        else
                                r = walk_push(w, &id, REACH_REVISION);
                        if (r < 0)
                                break;
                }
        }
        json_decref(j);
        return r;
}

static int walk_tree(Walk *w, const void *buf, size_t n) {
        _cleanup_(tree_freep) Tree *tree = NULL;
        int r = tree_decode(buf, n, &tree);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                problem(w, REACH_MALFORMED, "does not decode as a tree");
                return 0;
        }
        for (size_t i = 0; i < tree->n_entries; i++) {
                const TreeEntry *e = &tree->entries[i];
                r = walk_push(w, &e->id, e->kind == TREE_ENTRY_DIR ? REACH_TREE : REACH_BLOB);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* RECIPE payload (pack-format.h): the number of chunks, or 0 (and a
 * problem noted) when it does not decode. */
static uint32_t recipe_count(Walk *w, const uint8_t *p, size_t n) {
        uint32_t count = n >= RECIPE_HEADER_SIZE ? le32_read(p + 8) : 0;
        if (n < RECIPE_HEADER_SIZE || count == 0 || (n - RECIPE_HEADER_SIZE) % RECIPE_ENTRY_SIZE != 0 ||
            (n - RECIPE_HEADER_SIZE) / RECIPE_ENTRY_SIZE != count) {
                problem(w, REACH_MALFORMED, "does not decode as a recipe");
                return 0;
        }
        return count;
}

static void recipe_chunk(const uint8_t *p, uint32_t i, ObjectId *ret_id, uint32_t *ret_size) {
        const uint8_t *e = p + RECIPE_HEADER_SIZE + (size_t) i * RECIPE_ENTRY_SIZE;
        memcpy(ret_id->bytes, e, OBJECT_ID_SIZE);
        if (ret_size)
                *ret_size = le32_read(e + OBJECT_ID_SIZE);
}

static int walk_recipe(Walk *w, const uint8_t *p, size_t n) {
        uint32_t count = recipe_count(w, p, n);
        for (uint32_t i = 0; i < count; i++) {
                ObjectId id;
                recipe_chunk(p, i, &id, NULL);
                int r = walk_push(w, &id, REACH_CHUNK);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* A large tree stored in chunks: its chunks are reached, then its
 * entries, read through the store (which verifies the whole). */
static int walk_chunked_tree(Walk *w, const WalkItem *it, const uint8_t *recipe, size_t n) {
        int r = walk_recipe(w, recipe, n);
        if (r < 0)
                return r;
        _cleanup_free_ void *buf = NULL;
        size_t k;
        r = store_read_tree_bytes(w->store, &it->id, &buf, &k);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                problem(w, REACH_UNREADABLE, "cannot be read from its chunks: %s", strerror(-r));
                return 0;
        }
        return walk_tree(w, buf, k);
}

/* ---- pending imports ---- */

static int walk_pending(Walk *w, const void *buf, size_t n) {
        json_t *j = json_loadb(buf, n, 0, NULL);
        const char *type = json_string_value(json_object_get(j, "type"));
        json_t *imports = json_object_get(j, "imports");
        if (!json_is_object(j) || !type || strcmp(type, "pending-imports") != 0 || !json_is_array(imports)) {
                json_decref(j);
                problem(w, REACH_MALFORMED, "is not a valid pending-imports record");
                return 0;
        }
        ObjectId empty;
        object_id_hash("", 0, &empty); /* an export of no objects: a list that was never stored */
        int r = 0;
        size_t i;
        json_t *e;
        json_array_foreach(imports, i, e) {
                ObjectId list;
                if (json_get_id(e, "objects", &list) < 0)
                        problem(w, REACH_MALFORMED, "import %zu has no object list", i);
                else if (!object_id_equal(&list, &empty))
                        r = walk_push(w, &list, REACH_PENDING_LIST);
                if (r < 0)
                        break;
        }
        json_decref(j);
        return r;
}

/* Reads a pending list's bytes piece by piece; ids start at offsets that
 * are multiples of OBJECT_ID_SIZE. */
typedef struct ListReader {
        uint64_t next;          /* blob offset the next piece should start at */
        uint8_t part[OBJECT_ID_SIZE];
        size_t have;
} ListReader;

static int push_staged(Walk *w, const ObjectId *id) {
        if (id_set_contains(w->seen, id))
                return 0;
        ObjectLocation loc;
        int r = lookup(w, id, &loc);
        if (r == -ENOENT)
                return 0; /* not arrived yet */
        if (r < 0)
                return r;
        return walk_push(w, id, REACH_STAGED);
}

static int list_feed(Walk *w, ListReader *rd, uint64_t off, const uint8_t *p, size_t n) {
        if (off != rd->next)
                rd->have = 0; /* after a piece that could not be read: the id it cut is lost */
        rd->next = off + n;
        while (n > 0) {
                if (rd->have == 0 && off % OBJECT_ID_SIZE != 0) {
                        size_t skip = MIN(n, OBJECT_ID_SIZE - (size_t) (off % OBJECT_ID_SIZE));
                        p += skip, off += skip, n -= skip;
                        continue;
                }
                size_t k = MIN(n, OBJECT_ID_SIZE - rd->have);
                memcpy(rd->part + rd->have, p, k);
                rd->have += k, p += k, off += k, n -= k;
                if (rd->have < OBJECT_ID_SIZE)
                        break;
                rd->have = 0;
                ObjectId id;
                memcpy(id.bytes, rd->part, OBJECT_ID_SIZE);
                int r = push_staged(w, &id);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* A pending list: a literal object holding ids, or a recipe whose chunks
 * do. Its chunks are walked as chunks too; one that cannot be read makes
 * the list unreadable, and the ids of the others still count. */
static int walk_pending_list(Walk *w, const ObjectLocation *loc, const uint8_t *p, size_t n) {
        ListReader rd = {};
        if (loc->type != OBJECT_RECIPE)
                return list_feed(w, &rd, 0, p, n);
        int r = walk_recipe(w, p, n);
        if (r < 0)
                return r;
        uint32_t count = recipe_count(w, p, n);
        uint64_t off = 0;
        for (uint32_t i = 0; i < count; i++) {
                ObjectId id;
                uint32_t size;
                recipe_chunk(p, i, &id, &size);
                ObjectLocation cl;
                _cleanup_free_ void *buf = NULL;
                size_t k = 0;
                r = lookup(w, &id, &cl);
                if (r == -ENOENT)
                        problem(w, REACH_UNREADABLE, "cannot be read: its chunk %s is missing", object_id_hex(&id));
                else if (r < 0)
                        return r;
                else if (!object_type_is_literal(cl.type))
                        problem(w, REACH_UNREADABLE, "cannot be read: its chunk %s is a %s", object_id_hex(&id),
                                object_type_to_string(cl.type));
                else if ((r = pack_set_read(store_packs(w->store), &cl, &id, true, &buf, &k)) == -ENOMEM)
                        return r;
                else if (r < 0)
                        problem(w, REACH_UNREADABLE, "cannot be read: its chunk %s in pack-%06u: %s",
                                object_id_hex(&id), cl.pack, strerror(-r));
                else if ((r = list_feed(w, &rd, off, buf, k)) < 0)
                        return r;
                off += size;
        }
        return 0;
}

/* ---- the walk ---- */

static bool kind_accepts(ReachKind kind, uint8_t type) {
        switch (kind) {
        case REACH_STATE: return type == OBJECT_STATE;
        case REACH_REVISION:
        case REACH_GENERATION:
        case REACH_PENDING: return type == OBJECT_RECORD;
        case REACH_TREE: return type == OBJECT_TREE || type == OBJECT_RECIPE; /* large trees are chunked */
        case REACH_BLOB: /* a literal object is a one-chunk blob */
        case REACH_PENDING_LIST:
        case REACH_STAGED: return true;
        case REACH_CHUNK: return object_type_is_literal(type);
        }
        return false;
}

/* Objects with nothing to follow (their bytes are fsck's business). */
static bool kind_is_leaf(ReachKind kind, uint8_t type) {
        return kind == REACH_STATE || kind == REACH_CHUNK || kind == REACH_STAGED ||
               (kind == REACH_BLOB && type != OBJECT_RECIPE);
}

static int walk_one(Walk *w, const WalkItem *it) {
        w->error = REACH_OK;
        ObjectLocation loc;
        int r = lookup(w, &it->id, &loc);
        if (r == -ENOENT) {
                problem(w, REACH_MISSING, "is missing");
                return report(w, it, NULL);
        }
        if (r < 0)
                return r;
        if (!kind_accepts(it->kind, loc.type)) {
                problem(w, REACH_WRONG_TYPE, "is a %s, expected a %s", object_type_to_string(loc.type),
                        reach_kind_to_string(it->kind));
                return report(w, it, &loc);
        }
        if (kind_is_leaf(it->kind, loc.type))
                return report(w, it, &loc);

        _cleanup_free_ void *buf = NULL;
        size_t n;
        r = pack_set_read(store_packs(w->store), &loc, &it->id, true, &buf, &n);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                problem(w, REACH_UNREADABLE, "cannot be read from pack-%06u: %s", loc.pack, strerror(-r));
                return report(w, it, &loc);
        }
        switch (it->kind) {
        case REACH_REVISION:
        case REACH_GENERATION: r = walk_record(w, it, buf, n); break;
        case REACH_TREE:
                if (loc.type == OBJECT_RECIPE)
                        r = walk_chunked_tree(w, it, buf, n);
                else
                        r = walk_tree(w, buf, n);
                break;
        case REACH_BLOB: r = walk_recipe(w, buf, n); break;
        case REACH_PENDING: r = walk_pending(w, buf, n); break;
        case REACH_PENDING_LIST: r = walk_pending_list(w, &loc, buf, n); break;
        default: r = 0;
        }
        if (r < 0)
                return r;
        return report(w, it, &loc);
}

static int walk_drain(Walk *w) {
        int r = 0;
        while (r >= 0 && w->n > 0) {
                WalkItem it = w->stack[--w->n];
                r = walk_one(w, &it);
        }
        return r;
}

int reach_walk(Store *s, CatalogTxn *t, IdSet *seen, const ObjectId *id, ReachKind kind, ReachFn fn,
               void *userdata) {
        Walk w = { .store = s, .txn = t, .seen = seen, .fn = fn, .userdata = userdata };
        int r = walk_push(&w, id, kind);
        if (r >= 0)
                r = walk_drain(&w);
        free(w.stack);
        return r < 0 ? r : 0;
}

static int push_revision(const char *bundle _unused_, uint32_t rev _unused_, const ObjectId *id, void *u) {
        return walk_push(u, id, REACH_REVISION);
}

static int push_generation(uint64_t gen _unused_, const ObjectId *id, void *u) {
        return walk_push(u, id, REACH_GENERATION);
}

static int push_pending(Walk *w) {
        ObjectId id;
        int r = catalog_get_id(w->txn, "pending", &id);
        if (r == -ENOENT || (r >= 0 && object_id_is_null(&id)))
                return 0;
        if (r < 0)
                return r;
        return walk_push(w, &id, REACH_PENDING);
}

int reach_roots(Store *s, CatalogTxn *t, IdSet *seen, ReachFn fn, void *userdata) {
        assert(t);
        Walk w = { .store = s, .txn = t, .seen = seen, .fn = fn, .userdata = userdata };
        ObjectId state;
        int r = catalog_get_id(t, "state", &state);
        if (r >= 0)
                r = walk_push(&w, &state, REACH_STATE);
        else if (r == -ENOENT)
                r = 0;
        if (r >= 0)
                r = catalog_foreach_revision(t, NULL, push_revision, &w);
        if (r >= 0)
                r = catalog_foreach_generation(t, push_generation, &w);
        if (r >= 0)
                r = walk_drain(&w);
        /* Last, so that what the other roots reach is followed even if a
         * pending import stages it too. */
        if (r >= 0)
                r = push_pending(&w);
        if (r >= 0)
                r = walk_drain(&w);
        free(w.stack);
        return r < 0 ? r : 0;
}
