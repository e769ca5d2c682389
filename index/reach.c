/* SPDX-License-Identifier: Apache-2.0 */
#include "reach.h"

#include <jansson.h>

#include "refs.h"

typedef struct Walk {
        Store *store;
        IdSet *seen;
        ReachFn fn;
        void *userdata;
} Walk;

static int visit(Walk *w, const ObjectId *id, ReachKind kind);

/* Reports an object; returns 1 when the walk should descend into it. */
static int report(Walk *w, const ObjectId *id, ReachKind kind, ObjectLocation *loc) {
        int r = id_set_add(w->seen, id);
        if (r <= 0)
                return r; /* seen before, or -ENOMEM */
        r = store_lookup(w->store, id, loc);
        if (r == -ENOENT) {
                r = w->fn ? w->fn(id, kind, NULL, -ENOENT, w->userdata) : 0;
                return r < 0 ? r : 0;
        }
        if (r < 0)
                return r;
        r = w->fn ? w->fn(id, kind, loc, 0, w->userdata) : 0;
        return r < 0 ? r : 1;
}

static int damaged(Walk *w, const ObjectId *id, ReachKind kind, const ObjectLocation *loc) {
        int r = w->fn ? w->fn(id, kind, loc, -EBADMSG, w->userdata) : 0;
        return r < 0 ? r : 0;
}

static int visit_hex(Walk *w, const json_t *v, ReachKind kind) {
        ObjectId id;
        const char *s = json_string_value(v);
        if (!s || object_id_from_hex(s, &id) < 0)
                return 0; /* not a reference; records are checked by their readers */
        return visit(w, &id, kind);
}

/* Artifact fields: "tree", "blob", "blobs", at any depth. */
static int visit_artifact(Walk *w, const json_t *j) {
        int r = 0;
        if (json_is_array(j)) {
                size_t i;
                const json_t *v;
                json_array_foreach(j, i, v)
                        if ((r = visit_artifact(w, v)) < 0)
                                return r;
                return 0;
        }
        if (!json_is_object(j))
                return 0;
        const char *key;
        const json_t *v;
        json_object_foreach((json_t *) j, key, v) {
                if (strcmp(key, "tree") == 0)
                        r = visit_hex(w, v, REACH_TREE);
                else if (strcmp(key, "blob") == 0)
                        r = visit_hex(w, v, REACH_BLOB);
                else if (strcmp(key, "blobs") == 0 && json_is_array(v)) {
                        size_t i;
                        const json_t *b;
                        json_array_foreach(v, i, b)
                                if ((r = visit_hex(w, b, REACH_BLOB)) < 0)
                                        return r;
                } else
                        r = visit_artifact(w, v);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int visit_record(Walk *w, const ObjectId *id, const ObjectLocation *loc) {
        json_t *rec = NULL;
        int r = store_read_json(w->store, id, &rec);
        if (r < 0)
                return damaged(w, id, REACH_RECORD, loc);
        const char *type = json_string_value(json_object_get(rec, "type"));
        if (!type) {
                json_decref(rec);
                return damaged(w, id, REACH_RECORD, loc);
        }
        r = visit_hex(w, json_object_get(rec, "root"), REACH_TREE);
        if (r >= 0 && strcmp(type, "revision") == 0)
                r = visit_artifact(w, json_object_get(rec, "artifacts"));
        else if (r >= 0 && strcmp(type, "generation") == 0) {
                size_t i;
                json_t *a;
                json_array_foreach(json_object_get(rec, "active"), i, a)
                        if ((r = visit_hex(w, json_object_get(a, "id"), REACH_RECORD)) < 0)
                                break;
        }
        json_decref(rec);
        return r;
}

static int visit_tree(Walk *w, const ObjectId *id, const ObjectLocation *loc) {
        _cleanup_(tree_freep) Tree *t = NULL;
        int r = store_read_tree(w->store, id, &t);
        if (r < 0)
                return damaged(w, id, REACH_TREE, loc);
        for (size_t i = 0; i < t->n_entries; i++) {
                const TreeEntry *e = &t->entries[i];
                r = visit(w, &e->id, e->kind == TREE_ENTRY_DIR ? REACH_TREE : REACH_BLOB);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int visit_blob(Walk *w, const ObjectId *id, const ObjectLocation *loc) {
        if (loc->type != OBJECT_RECIPE)
                return 0; /* a literal object is its own single chunk */
        _cleanup_(blob_freep) Blob *b = NULL;
        int r = store_open_blob(w->store, id, &b);
        if (r < 0)
                return damaged(w, id, REACH_BLOB, loc);
        for (size_t i = 0; i < b->n_chunks; i++) {
                r = visit(w, &b->chunks[i].id, REACH_CHUNK);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int visit(Walk *w, const ObjectId *id, ReachKind kind) {
        ObjectLocation loc;
        int r = report(w, id, kind, &loc);
        if (r <= 0)
                return r;
        switch (kind) {
        case REACH_RECORD: return visit_record(w, id, &loc);
        case REACH_TREE: return visit_tree(w, id, &loc);
        case REACH_BLOB: return visit_blob(w, id, &loc);
        case REACH_CHUNK: return 0;
        }
        return 0;
}

int reach_walk(Store *s, IdSet *seen, const ObjectId *id, ReachKind kind, ReachFn fn, void *userdata) {
        Walk w = { s, seen, fn, userdata };
        return visit(&w, id, kind);
}

static int root_revision(const char *bundle _unused_, uint32_t rev _unused_, const ObjectId *id, void *u) {
        return visit(u, id, REACH_RECORD);
}

static int root_generation(uint64_t gen _unused_, const ObjectId *id, void *u) {
        return visit(u, id, REACH_RECORD);
}

static ReachKind kind_of_type(uint8_t type) {
        switch (type) {
        case OBJECT_RECIPE: return REACH_BLOB;
        case OBJECT_TREE: return REACH_TREE;
        case OBJECT_RECORD: case OBJECT_STATE: return REACH_RECORD;
        default: return REACH_CHUNK;
        }
}

/* Marks the ids listed in blob `list` (32 bytes each) that are present. */
static int reach_listed(Walk *w, const ObjectId *list) {
        _cleanup_(blob_freep) Blob *b = NULL;
        if (store_open_blob(w->store, list, &b) < 0)
                return 0; /* missing or damaged: visit() reported it */
        _cleanup_free_ uint8_t *buf = NULL;
        size_t allocated = 0;
        for (size_t i = 0; i < b->n_chunks; i++) {
                int r = GROW(buf, allocated, b->chunks[i].size);
                if (r < 0)
                        return r;
                if (store_read_chunk(w->store, &b->chunks[i], buf) < 0)
                        return 0;
                for (size_t off = 0; off + OBJECT_ID_SIZE <= b->chunks[i].size; off += OBJECT_ID_SIZE) {
                        ObjectId id;
                        ObjectLocation loc;
                        memcpy(id.bytes, buf + off, OBJECT_ID_SIZE);
                        if (id_set_contains(w->seen, &id) || store_lookup(w->store, &id, &loc) < 0)
                                continue;
                        r = report(w, &id, kind_of_type(loc.type), &loc);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* Media imports staged volume by volume (import/transfer-import.c): meta
 * "pending" names a record {"type":"pending-imports","imports":[{"objects":
 * BLOB,...}...]} (all zeros: none) whose BLOBs list every object of an
 * export that is still arriving. Nothing else reaches those objects until
 * the last volume commits the revision, so they are roots. Only what is
 * present is reported (the rest has not arrived yet, which is not damage),
 * and nothing is descended into: the list names every object the export
 * brings, and whatever it lacks it expects the store to hold anyway. */
static int reach_pending(Walk *w, CatalogTxn *t) {
        ObjectId id;
        if (catalog_get_id(t, "pending", &id) < 0 || object_id_is_null(&id))
                return 0;
        int r = visit(w, &id, REACH_RECORD);
        json_t *rec = NULL;
        if (r < 0 || store_read_json(w->store, &id, &rec) < 0)
                return r < 0 ? r : 0;
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(rec, "imports"), i, e) {
                ObjectId list;
                if (json_get_id(e, "objects", &list) < 0)
                        continue;
                r = visit(w, &list, REACH_BLOB);
                if (r >= 0)
                        r = reach_listed(w, &list);
                if (r < 0)
                        break;
        }
        json_decref(rec);
        return r < 0 ? r : 0;
}

int reach_roots(Store *s, CatalogTxn *t, IdSet *seen, ReachFn fn, void *userdata) {
        Walk w = { s, seen, fn, userdata };
        int r = catalog_foreach_revision(t, NULL, root_revision, &w);
        if (r >= 0)
                r = catalog_foreach_generation(t, root_generation, &w);
        ObjectId state;
        if (r >= 0 && catalog_get_id(t, "state", &state) >= 0) {
                /* A STATE record has no edges: its refs are the catalog's. */
                ObjectLocation loc;
                r = report(&w, &state, REACH_RECORD, &loc);
        }
        if (r >= 0)
                r = reach_pending(&w, t);
        return r < 0 ? r : 0;
}
