/* SPDX-License-Identifier: Apache-2.0 */
#include "fsck.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include "fileio.h"
#include "id-set.h"
#include "pack-writer.h"
#include "reach.h"
#include "refs.h"
#include "tree.h"

/* The phases are in fsck.h. Everything is read through one catalog read
 * transaction, so the check sees one state even if a reader-only fsck
 * races a writer; verified ids go into an IdSet so that each later phase
 * can trust step 1's verdict instead of re-hashing. */

typedef struct Fsck {
        Store *store;
        CatalogTxn *txn;
        const FsckOptions *o;
        FsckReport *rep;
        size_t allocated_problems, allocated_regions;

        IdSet *verified;        /* objects whose record read back right */
        IdSet *problem_ids;     /* ids in rep->problems */
        IdSet *tainted;         /* recipes with a chunk that is damaged or missing */
        IdSet *clean;           /* trees with nothing damaged below (attribution) */
        ObjectId *recipes;
        size_t n_recipes, allocated_recipes;
        uint8_t *buf;
        size_t allocated_buf;

        /* The pack being scanned. */
        uint32_t pack;
        uint64_t next;          /* where the next record should start */
        uint64_t limit;         /* committed end: damage past it is not damage */
        uint64_t done_before;   /* bytes of the packs already scanned */
        uint64_t total;
} Fsck;

const char *fsck_problem_kind_to_string(FsckProblemKind kind) {
        static const char *const names[] = {
                [FSCK_DAMAGED] = "damaged",
                [FSCK_MISSING] = "missing",
                [FSCK_WRONG_TYPE] = "wrong type",
                [FSCK_MALFORMED] = "malformed",
        };
        return (size_t) kind < ELEMENTSOF(names) ? names[kind] : "?";
}

void fsck_report_clear(FsckReport *r) {
        for (size_t i = 0; i < r->n_problems; i++) {
                FsckProblem *p = &r->problems[i];
                free(p->detail);
                for (size_t k = 0; k < p->n_touches; k++)
                        free(p->touches[k]);
                free(p->touches);
        }
        free(r->problems);
        free(r->regions);
        *r = (FsckReport) {};
}

bool fsck_report_clean(const FsckReport *r) {
        return r->n_problems == 0 && r->n_regions == 0 && !r->index_empty;
}

static void progress(Fsck *f, const char *phase, uint64_t done, uint64_t total) {
        if (f->o && f->o->progress)
                f->o->progress(phase, done, total, f->o->userdata);
}

/* Records a problem with an object once: later findings about the same id
 * add nothing (the first, most direct, explanation stays). Returns 0 or
 * -ENOMEM. */
_printf_(4, 5) static int add_problem(Fsck *f, const ObjectId *id, FsckProblemKind kind, const char *fmt, ...) {
        int r = id_set_add(f->problem_ids, id);
        if (r <= 0)
                return r;
        FsckReport *rep = f->rep;
        r = GROW(rep->problems, f->allocated_problems, rep->n_problems + 1);
        if (r < 0)
                return r;
        FsckProblem *p = &rep->problems[rep->n_problems];
        *p = (FsckProblem) { .id = *id, .kind = kind };
        ObjectLocation loc;
        if (catalog_get_object(f->txn, id, &loc) >= 0) {
                p->type = loc.type;
                p->location = loc;
                p->has_location = true;
        }
        va_list ap;
        va_start(ap, fmt);
        r = vasprintf(&p->detail, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        rep->n_problems++;
        return 0;
}

static int add_region(Fsck *f, uint64_t offset, uint64_t size, const char *what) {
        if (size == 0)
                return 0;
        FsckReport *rep = f->rep;
        int r = GROW(rep->regions, f->allocated_regions, rep->n_regions + 1);
        if (r < 0)
                return r;
        rep->regions[rep->n_regions++] = (FsckRegion) { .pack = f->pack, .offset = offset, .size = size, .what = what };
        rep->damaged_bytes += size;
        return 0;
}

/* ---- 1. packs ---- */

static int verified_recipe(Fsck *f, const ObjectId *id) {
        int r = GROW(f->recipes, f->allocated_recipes, f->n_recipes + 1);
        if (r < 0)
                return r;
        f->recipes[f->n_recipes++] = *id;
        return 0;
}

static int scan_record(uint32_t pack, uint64_t offset, const RecordInfo *info, const void *payload, void *u) {
        Fsck *f = u;
        int r;
        if (offset > f->next && f->next < f->limit) {
                r = add_region(f, f->next, MIN(offset, f->limit) - f->next, "damaged");
                if (r < 0)
                        return r;
        }
        f->next = offset + RECORD_HEADER_SIZE + info->stored_size;
        progress(f, "packs", f->done_before + f->next, f->total);

        ObjectLocation loc;
        r = catalog_get_object(f->txn, &info->id, &loc);
        if (r == -ENOENT)
                return 0; /* garbage, or an uncommitted record */
        if (r < 0)
                return r;
        if (loc.pack != pack || loc.offset != offset)
                return 0; /* another copy; the catalog's is checked where it is */
        if (loc.type != info->type || loc.compression != info->compression || loc.stored_size != info->stored_size ||
            loc.raw_size != info->raw_size)
                return add_problem(f, &info->id, FSCK_DAMAGED,
                                   "the index and the record in pack-%06u at %" PRIu64 " disagree on its type or size",
                                   pack, offset);

        /* Raw payloads are verified in place (out == stored: no copy). */
        void *content = (void *) payload;
        if (!pack_compression_is_raw(info->compression)) {
                r = GROW(f->buf, f->allocated_buf, MAX(info->raw_size, 1u));
                if (r < 0)
                        return r;
                content = f->buf;
        }
        r = record_payload_decode(info, payload, content, true);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return add_problem(f, &info->id, FSCK_DAMAGED,
                                   object_type_is_literal(info->type)
                                           ? "its content in pack-%06u at %" PRIu64 " does not hash to its id"
                                           : "its record in pack-%06u at %" PRIu64 " does not decompress",
                                   pack, offset);
        if (info->type == OBJECT_RECIPE) {
                if (info->raw_size < RECIPE_HEADER_SIZE || le64_read(content) != loc.size)
                        return add_problem(f, &info->id, FSCK_MALFORMED,
                                           "its recipe and the index disagree on the blob's size");
                r = verified_recipe(f, &info->id);
                if (r < 0)
                        return r;
        }
        r = id_set_add(f->verified, &info->id);
        if (r < 0)
                return r;
        f->rep->objects_verified++;
        f->rep->bytes_verified += info->raw_size;
        return 0;
}

static int scan_pack(Fsck *f, const char *dir, uint32_t pack, bool has_cur, uint64_t cur, uint64_t cur_end) {
        FsckReport *rep = f->rep;
        _cleanup_free_ char *path = pack_path(dir, pack);
        if (!path)
                return -ENOMEM;
        struct stat st;
        if (stat(path, &st) < 0)
                return -errno;
        uint64_t size = (uint64_t) st.st_size, committed;
        if (!has_cur || pack > cur)
                committed = 0;
        else if (pack == cur)
                committed = cur_end;
        else
                committed = size;
        if (has_cur && size > committed)
                rep->uncommitted_bytes += size - committed;

        f->pack = pack;
        f->next = PACK_HEADER_SIZE;
        f->limit = MIN(committed, size);
        int r = 0;
        if (committed > size)
                r = add_region(f, size, committed - size, "missing: the pack is shorter than the index says");
        if (r < 0 || committed == 0)
                return r;
        int64_t end = pack_scan(path, pack, true, scan_record, f, NULL);
        if (end == -EBADMSG || end == -EPROTONOSUPPORT)
                return add_region(f, 0, f->limit, end == -EBADMSG ? "damaged pack header" : "unknown pack format");
        if (end < 0)
                return (int) end;
        if ((uint64_t) end < f->limit)
                r = add_region(f, (uint64_t) end, f->limit - (uint64_t) end, "damaged");
        f->done_before += size;
        return r;
}

/* Catalog objects that the scans did not verify: say why. */
static int check_unverified(const ObjectId *id, const ObjectLocation *loc, void *u) {
        Fsck *f = u;
        f->rep->objects++;
        if (id_set_contains(f->verified, id) || id_set_contains(f->problem_ids, id))
                return 0;
        _cleanup_free_ void *buf = NULL;
        int r = pack_set_read(store_packs(f->store), loc, id, true, &buf, NULL);
        if (r == -ENOMEM)
                return r;
        if (r == -ENOENT)
                return add_problem(f, id, FSCK_DAMAGED, "its pack, pack-%06u, is missing", loc->pack);
        if (r == -EBADMSG) {
                struct stat st;
                int fd = pack_set_fd(store_packs(f->store), loc->pack);
                if (fd >= 0 && fstat(fd, &st) >= 0 &&
                    loc->offset + RECORD_HEADER_SIZE + loc->stored_size > (uint64_t) st.st_size)
                        return add_problem(f, id, FSCK_DAMAGED,
                                           "its record in pack-%06u at %" PRIu64
                                           " is cut off (the pack ends at %" PRIu64 ")",
                                           loc->pack, loc->offset, (uint64_t) st.st_size);
                return add_problem(f, id, FSCK_DAMAGED,
                                   "its record in pack-%06u at %" PRIu64 " is damaged (checksum or hash mismatch)",
                                   loc->pack, loc->offset);
        }
        if (r < 0)
                return add_problem(f, id, FSCK_DAMAGED, "its record in pack-%06u at %" PRIu64 " cannot be read (%s)",
                                   loc->pack, loc->offset, strerror(-r));
        /* Readable after all (the scan resynchronized past it). */
        if (loc->type == OBJECT_RECIPE) {
                r = verified_recipe(f, id);
                if (r < 0)
                        return r;
        }
        f->rep->objects_verified++;
        f->rep->bytes_verified += loc->raw_size;
        return id_set_add(f->verified, id) < 0 ? -ENOMEM : 0;
}

static int check_packs(Fsck *f) {
        FsckReport *rep = f->rep;
        _cleanup_free_ char *dir = path_join(store_path(f->store), "packs");
        if (!dir)
                return -ENOMEM;
        _cleanup_free_ uint32_t *packs = NULL;
        size_t n;
        int r = store_list_packs(f->store, &packs, &n);
        if (r < 0)
                return r;
        uint64_t cur = 0, cur_end = 0;
        r = catalog_get_u64(f->txn, "pack", &cur);
        bool has_cur = r >= 0;
        if (r < 0 && r != -ENOENT)
                return r;
        if (has_cur) {
                r = catalog_get_u64(f->txn, "pack-end", &cur_end);
                if (r < 0 && r != -ENOENT)
                        return r;
        }
        rep->packs = n;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *path = pack_path(dir, packs[i]);
                struct stat st;
                if (!path)
                        return -ENOMEM;
                if (stat(path, &st) >= 0)
                        rep->pack_bytes += (uint64_t) st.st_size;
        }
        f->total = rep->pack_bytes;
        for (size_t i = 0; i < n; i++) {
                r = scan_pack(f, dir, packs[i], has_cur, cur, cur_end);
                if (r < 0)
                        return r;
        }
        r = catalog_foreach_object(f->txn, check_unverified, f);
        if (r < 0)
                return r;
        /* store_init() sets meta "pack": without it, packs are beside an
         * index that was lost. (Packs past it, even pack-000001 of a first
         * add that died, are a dead writer's uncommitted bytes.) */
        rep->index_empty = !has_cur && n > 0;
        return 0;
}

/* ---- 2. blobs ---- */

static int check_blob(Fsck *f, const ObjectId *id, Sha256 *h) {
        _cleanup_(blob_freep) Blob *b = NULL;
        int r = store_open_blob(f->store, id, &b);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return add_problem(f, id, FSCK_MALFORMED, "its recipe does not decode (%s)", strerror(-r));
        for (size_t i = 0; i < b->n_chunks; i++)
                if (!id_set_contains(f->verified, &b->chunks[i].id))
                        return id_set_add(f->tainted, id) < 0 ? -ENOMEM : 0;
        for (size_t i = 0; i < b->n_chunks; i++) {
                const BlobChunk *c = &b->chunks[i];
                ObjectLocation loc;
                r = catalog_get_object(f->txn, &c->id, &loc);
                if (r < 0)
                        return r;
                if (!object_type_is_literal(loc.type) || loc.raw_size != c->size)
                        return add_problem(f, id, FSCK_MALFORMED,
                                           "chunk %zu (%s) is a %s of %" PRIu32 " bytes; the recipe says %" PRIu32, i,
                                           object_id_hex(&c->id), object_type_to_string(loc.type), loc.raw_size,
                                           c->size);
                r = GROW(f->buf, f->allocated_buf, MAX(c->size, 1u));
                if (r < 0)
                        return r;
                /* Step 1 hashed this chunk; only its place in the blob is new. */
                r = pack_set_read_into(store_packs(f->store), &loc, &c->id, false, f->buf);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return id_set_add(f->tainted, id) < 0 ? -ENOMEM : 0;
                sha256_update(h, f->buf, c->size);
        }
        ObjectId got;
        sha256_final(h, &got);
        if (!object_id_equal(&got, id))
                return add_problem(f, id, FSCK_DAMAGED, "its %zu chunks do not hash to the blob's id", b->n_chunks);
        f->rep->blobs_verified++;
        return 0;
}

static int check_blobs(Fsck *f) {
        _cleanup_(sha256_freep) Sha256 *h = sha256_new();
        if (!h)
                return -ENOMEM;
        for (size_t i = 0; i < f->n_recipes; i++) {
                progress(f, "blobs", i, f->n_recipes);
                int r = check_blob(f, &f->recipes[i], h);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- 3. references ---- */

static int on_reach(const ObjectId *id, ReachKind kind, const ObjectLocation *loc _unused_, ReachError error,
                    const char *detail, void *u) {
        static const FsckProblemKind map[] = {
                [REACH_MISSING] = FSCK_MISSING,
                [REACH_WRONG_TYPE] = FSCK_WRONG_TYPE,
                [REACH_UNREADABLE] = FSCK_DAMAGED,
                [REACH_MALFORMED] = FSCK_MALFORMED,
        };
        if (error == REACH_OK)
                return 0;
        return add_problem(u, id, map[error], "%s %s", reach_kind_to_string(kind), detail);
}

static int count_revision(const char *bundle _unused_, uint32_t rev _unused_, const ObjectId *id _unused_,
                          void *u) {
        ((FsckReport *) u)->revisions++;
        return 0;
}

static int count_generation(uint64_t gen _unused_, const ObjectId *id _unused_, void *u) {
        ((FsckReport *) u)->generations++;
        return 0;
}

static int check_references(Fsck *f) {
        int r = catalog_foreach_revision(f->txn, NULL, count_revision, f->rep);
        if (r >= 0)
                r = catalog_foreach_generation(f->txn, count_generation, f->rep);
        if (r < 0)
                return r;
        _cleanup_(id_set_freep) IdSet *marked = NULL;
        r = id_set_new(&marked);
        if (r >= 0)
                r = id_set_reserve(marked, f->rep->objects);
        if (r < 0)
                return r;
        progress(f, "references", 0, 0);
        r = reach_roots(f->store, f->txn, marked, on_reach, f);
        if (r < 0)
                return r;
        f->rep->reachable = id_set_size(marked);
        return 0;
}

/* ---- 4. what the damage touches ---- */

typedef struct Attribution {
        const char *label;      /* "BUNDLE@REV", "generation N" */
        IdSet *seen;            /* problems already attributed under this label */
        bool artifacts;         /* walking artifact references: skip what the root walk found */
} Attribution;

static int problem_compare(const void *a, const void *b) {
        return object_id_compare(&((const FsckProblem *) a)->id, &((const FsckProblem *) b)->id);
}

static FsckProblem *find_problem(Fsck *f, const ObjectId *id) {
        if (!id_set_contains(f->problem_ids, id))
                return NULL;
        FsckProblem key = { .id = *id };
        return bsearch(&key, f->rep->problems, f->rep->n_problems, sizeof key, problem_compare);
}

/* Attributes problem id to "LABEL: WHAT". */
static int touch(Fsck *f, Attribution *a, const ObjectId *id, const char *what) {
        FsckProblem *p = find_problem(f, id);
        if (!p)
                return 0;
        int r = id_set_add(a->seen, id);
        if (r < 0)
                return r;
        if (r == 0 && a->artifacts)
                return 0;
        if (p->n_touches >= FSCK_TOUCHES_MAX) {
                p->more_touches++;
                return 0;
        }
        char *s;
        if (asprintf(&s, "%s: %s", a->label, what) < 0)
                return -ENOMEM;
        char **t = reallocarray(p->touches, p->n_touches + 1, sizeof(char *));
        if (!t) {
                free(s);
                return -ENOMEM;
        }
        p->touches = t;
        p->touches[p->n_touches++] = s;
        return 0;
}

/* "parent/name", "name" at the root, or parent alone without a name. */
static int touch_path(Fsck *f, Attribution *a, const ObjectId *id, const char *parent, const char *name) {
        _cleanup_free_ char *path = NULL;
        if (!name)
                path = strdup(*parent ? parent : "/");
        else
                path = *parent ? path_join(parent, name) : strdup(name);
        if (!path)
                return -ENOMEM;
        return touch(f, a, id, path);
}

/* 1 when the blob (or one of its chunks) is damaged, 0 if sound. */
static int attribute_blob(Fsck *f, Attribution *a, const ObjectId *id, const char *parent, const char *name) {
        if (id_set_contains(f->problem_ids, id)) {
                int r = touch_path(f, a, id, parent, name);
                return r < 0 ? r : 1;
        }
        if (!id_set_contains(f->tainted, id))
                return 0;
        _cleanup_(blob_freep) Blob *b = NULL;
        int r = store_open_blob(f->store, id, &b);
        if (r < 0)
                return r == -ENOMEM ? r : 1;
        for (size_t i = 0; i < b->n_chunks; i++) {
                r = touch_path(f, a, &b->chunks[i].id, parent, name);
                if (r < 0)
                        return r;
        }
        return 1;
}

/* 1 when something at or under the tree is damaged. path: "" for a root. */
static int attribute_tree(Fsck *f, Attribution *a, const ObjectId *id, const char *path) {
        if (id_set_contains(f->clean, id))
                return 0;
        if (id_set_contains(f->problem_ids, id)) {
                _cleanup_free_ char *dir = NULL;
                if (asprintf(&dir, "%s/", path) < 0)
                        return -ENOMEM;
                int r = touch(f, a, id, dir);
                return r < 0 ? r : 1;
        }
        _cleanup_(tree_freep) Tree *t = NULL;
        int r = store_read_tree(f->store, id, &t);
        if (r < 0)
                return r == -ENOMEM ? r : 1;
        bool tainted = false;
        for (size_t i = 0; i < t->n_entries; i++) {
                const TreeEntry *e = &t->entries[i];
                if (e->kind == TREE_ENTRY_DIR) {
                        _cleanup_free_ char *sub = *path ? path_join(path, e->name) : strdup(e->name);
                        if (!sub)
                                return -ENOMEM;
                        r = attribute_tree(f, a, &e->id, sub);
                } else
                        r = attribute_blob(f, a, &e->id, path, e->name);
                if (r < 0)
                        return r;
                tainted = tainted || r > 0;
        }
        if (!tainted && id_set_add(f->clean, id) < 0)
                return -ENOMEM;
        return tainted;
}

typedef struct ArtifactAttribution {
        Fsck *f;
        Attribution *a;
} ArtifactAttribution;

static int attribute_artifact_ref(const char *kind, const char *key, bool tree, const ObjectId *id,
                                  void *userdata) {
        ArtifactAttribution *aa = userdata;
        _cleanup_free_ char *where = NULL;
        if (asprintf(&where, "(%s artifact %s)", kind ?: "an", key) < 0)
                return -ENOMEM;
        if (tree)
                return attribute_tree(aa->f, aa->a, id, where);
        char hex[OBJECT_ID_HEX_SIZE];
        return attribute_blob(aa->f, aa->a, id, where, strcmp(key, "blobs") == 0 ? object_id_to_hex(id, hex) : NULL);
}

/* One revision or generation record: its root, and what else it names. */
static int attribute_record(Fsck *f, const char *label, const ObjectId *id, bool revision) {
        _cleanup_(id_set_freep) IdSet *seen = NULL;
        int r = id_set_new(&seen);
        if (r < 0)
                return r;
        Attribution a = { .label = label, .seen = seen };
        if (id_set_contains(f->problem_ids, id))
                return touch(f, &a, id, revision ? "(revision record)" : "(generation record)");
        json_t *j;
        r = refs_read_record(f->store, id, revision ? "revision" : "generation", &j);
        if (r < 0)
                return r == -ENOMEM ? r : 0;
        ObjectId root;
        if (json_get_id(j, "root", &root) >= 0)
                r = attribute_tree(f, &a, &root, "");
        if (r >= 0 && revision) {
                a.artifacts = true;
                r = refs_foreach_artifact_ref(json_object_get(j, "artifacts"), attribute_artifact_ref,
                                              &(ArtifactAttribution) { .f = f, .a = &a });
        } else if (r >= 0) {
                size_t i;
                json_t *e;
                json_array_foreach(json_object_get(j, "active"), i, e) {
                        ObjectId rid;
                        if (json_get_id(e, "id", &rid) < 0)
                                continue;
                        _cleanup_free_ char *what = NULL;
                        if (asprintf(&what, "(revision record of %s@%" JSON_INTEGER_FORMAT ")",
                                     json_string_value(json_object_get(e, "bundle")) ?: "?",
                                     json_integer_value(json_object_get(e, "revision"))) < 0) {
                                r = -ENOMEM;
                                break;
                        }
                        r = touch(f, &a, &rid, what);
                        if (r < 0)
                                break;
                }
        }
        json_decref(j);
        return r < 0 ? r : 0;
}

static int attribute_revision(const char *bundle, uint32_t rev, const ObjectId *id, void *u) {
        char label[160];
        snprintf(label, sizeof label, "%s@%" PRIu32, bundle, rev);
        return attribute_record(u, label, id, true);
}

static int attribute_generation(uint64_t gen, const ObjectId *id, void *u) {
        char label[48];
        snprintf(label, sizeof label, "generation %" PRIu64, gen);
        return attribute_record(u, label, id, false);
}

static int attribute(Fsck *f) {
        qsort(f->rep->problems, f->rep->n_problems, sizeof(FsckProblem), problem_compare);
        int r = id_set_new(&f->clean);
        if (r < 0)
                return r;
        r = catalog_foreach_revision(f->txn, NULL, attribute_revision, f);
        if (r >= 0)
                r = catalog_foreach_generation(f->txn, attribute_generation, f);
        if (r < 0)
                return r;
        ObjectId state;
        if (catalog_get_id(f->txn, "state", &state) >= 0 && id_set_contains(f->problem_ids, &state)) {
                _cleanup_(id_set_freep) IdSet *seen = NULL;
                r = id_set_new(&seen);
                if (r < 0)
                        return r;
                Attribution a = { .label = "store", .seen = seen };
                r = touch(f, &a, &state, "(newest state snapshot: the next commit writes a new one)");
        }
        return r;
}

/* ---- all ---- */

static int fsck_run(Fsck *f) {
        int r = catalog_begin(store_catalog(f->store), false, &f->txn);
        if (r < 0)
                return r;
        if ((r = id_set_new(&f->verified)) < 0 || (r = id_set_new(&f->problem_ids)) < 0 ||
            (r = id_set_new(&f->tainted)) < 0)
                return r;
        uint64_t count;
        r = catalog_count_objects(f->txn, &count);
        if (r >= 0)
                r = id_set_reserve(f->verified, count);
        if (r >= 0)
                r = check_packs(f);
        if (r >= 0)
                r = check_blobs(f);
        /* Not needed any more: keep one id set of the store's size at a time. */
        f->verified = id_set_free(f->verified);
        if (r >= 0)
                r = check_references(f);
        if (r >= 0 && f->rep->n_problems > 0)
                r = attribute(f);
        return r;
}

int store_fsck(Store *s, const FsckOptions *o, FsckReport *ret) {
        FsckReport rep = {};
        Fsck f = { .store = s, .o = o, .rep = &rep };
        int r = fsck_run(&f);
        catalog_abort(f.txn);
        id_set_free(f.verified);
        id_set_free(f.problem_ids);
        id_set_free(f.tainted);
        id_set_free(f.clean);
        free(f.recipes);
        free(f.buf);
        if (r < 0) {
                fsck_report_clear(&rep);
                return r;
        }
        *ret = rep;
        return 0;
}
