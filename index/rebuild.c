/* SPDX-License-Identifier: Apache-2.0 */
/* store_rebuild_index(): the catalog from the packs alone.
 *
 * Every pack is scanned in number order; every record whose header and
 * payload checksums hold is indexed, the first location of an id winning
 * (a copy gc left behind, or a record written twice by transactions that
 * both died, is the same content). The refs come from a STATE record: the
 * one with the highest sequence whose revision and generation records all
 * made it into the index (a STATE from a commit that never finished may be
 * newer than what is on disk), else the highest that parses.
 *
 * The catalog is cleared first and refilled in batches, each its own LMDB
 * commit, so that any number of objects fits. Until the last batch the
 * writer's append point is a fresh pack number past every existing pack:
 * an interrupted rebuild leaves a partial index without refs (run it
 * again), never one that would make the next writer truncate a pack. */
#include "store.h"

#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>

#include "fileio.h"
#include "pack-writer.h"
#include "refs.h"

#define REBUILD_OBJECTS_PER_COMMIT 200000

typedef struct StateCandidate {
        uint64_t sequence;
        ObjectId id;
        ObjectLocation loc;
} StateCandidate;

typedef struct Rebuild {
        Store *store;
        CatalogTxn *txn;
        uint64_t objects, uncommitted_puts;
        uint64_t max_record_sequence;
        uint64_t damaged;       /* bytes between valid records */
        uint64_t next;          /* where the next record of this pack should start */
        StateCandidate *states;
        size_t n_states, allocated_states;
        void *buf;              /* decompressed payloads */
        size_t allocated_buf;
} Rebuild;

static int rebuild_batch_commit(Rebuild *b) {
        int r = catalog_commit(b->txn);
        b->txn = NULL;
        if (r < 0)
                return r;
        b->uncommitted_puts = 0;
        return catalog_begin(store_catalog(b->store), true, &b->txn);
}

/* The content of a record, decompressed when it was stored compressed. */
static int rebuild_payload(Rebuild *b, const RecordInfo *info, const void *payload, const void **ret) {
        if (pack_compression_is_raw(info->compression)) {
                *ret = payload;
                return 0;
        }
        int r = grow_array(&b->buf, &b->allocated_buf, MAX(info->raw_size, 1u), 1);
        if (r < 0)
                return r;
        r = record_payload_decode(info, payload, b->buf, false);
        if (r < 0)
                return r;
        *ret = b->buf;
        return 0;
}

static int rebuild_state_candidate(Rebuild *b, const RecordInfo *info, const void *content,
                                   const ObjectLocation *loc) {
        ObjectId got;
        object_id_hash(content, info->raw_size, &got);
        if (!object_id_equal(&got, &info->id))
                return 0;
        json_t *j = json_loadb(content, info->raw_size, 0, NULL);
        const char *type = json_string_value(json_object_get(j, "type"));
        json_t *seq = json_object_get(j, "sequence");
        int r = 0;
        if (json_is_object(j) && type && strcmp(type, "state") == 0 && json_is_integer(seq) &&
            json_integer_value(seq) >= 0) {
                r = GROW(b->states, b->allocated_states, b->n_states + 1);
                if (r >= 0)
                        b->states[b->n_states++] = (StateCandidate) {
                                .sequence = (uint64_t) json_integer_value(seq),
                                .id = info->id,
                                .loc = *loc,
                        };
        }
        json_decref(j);
        return r;
}

static int rebuild_record(uint32_t pack, uint64_t offset, const RecordInfo *info, const void *payload, void *u) {
        Rebuild *b = u;
        if (offset > b->next)
                b->damaged += offset - b->next;
        b->next = offset + RECORD_HEADER_SIZE + info->stored_size;
        b->max_record_sequence = MAX(b->max_record_sequence, info->sequence);

        ObjectLocation loc;
        int r = catalog_get_object(b->txn, &info->id, &loc);
        if (r == 0)
                return 0; /* first location wins */
        if (r != -ENOENT)
                return r;
        loc = (ObjectLocation) {
                .pack = pack,
                .offset = offset,
                .stored_size = info->stored_size,
                .raw_size = info->raw_size,
                .type = info->type,
                .compression = info->compression,
                .size = info->raw_size,
        };
        if (info->type == OBJECT_RECIPE || info->type == OBJECT_STATE) {
                const void *content;
                r = rebuild_payload(b, info, payload, &content);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return 0; /* checksum held but it does not decompress: damaged */
                if (info->type == OBJECT_RECIPE) {
                        if (info->raw_size < RECIPE_HEADER_SIZE)
                                return 0;
                        loc.size = le64_read(content);
                } else {
                        r = rebuild_state_candidate(b, info, content, &loc);
                        if (r < 0)
                                return r;
                }
        }
        r = catalog_put_object(b->txn, &info->id, &loc);
        if (r < 0)
                return r;
        b->objects++;
        if (++b->uncommitted_puts >= REBUILD_OBJECTS_PER_COMMIT)
                return rebuild_batch_commit(b);
        return 0;
}

static int state_candidate_compare(const void *a, const void *b) {
        uint64_t x = ((const StateCandidate *) a)->sequence, y = ((const StateCandidate *) b)->sequence;
        return x > y ? -1 : x < y; /* newest first */
}

/* Reads a STATE record and checks its shape. *ret_complete: every record
 * it names is in the index as a RECORD. */
static int state_load(Rebuild *b, const StateCandidate *c, json_t **ret, bool *ret_complete) {
        _cleanup_free_ void *buf = NULL;
        size_t n;
        int r = pack_set_read(store_packs(b->store), &c->loc, &c->id, true, &buf, &n);
        if (r < 0)
                return r;
        json_t *j = json_loadb(buf, n, 0, NULL);
        json_t *revs = json_object_get(j, "revisions"), *gens = json_object_get(j, "generations");
        json_t *cur = json_object_get(j, "current");
        if (!json_is_array(revs) || !json_is_array(gens) || (cur && !json_is_integer(cur))) {
                json_decref(j);
                return -EBADMSG;
        }
        bool complete = true;
        size_t i;
        json_t *e;
        json_array_foreach(revs, i, e) {
                const char *bundle = json_string_value(json_array_get(e, 0));
                json_t *rev = json_array_get(e, 1);
                ObjectId id;
                ObjectLocation loc;
                if (json_array_size(e) != 3 || !bundle || !bundle_name_valid(bundle) || !json_is_integer(rev) ||
                    json_integer_value(rev) <= 0 || json_integer_value(rev) > UINT32_MAX ||
                    object_id_from_hex(json_string_value(json_array_get(e, 2)) ?: "", &id) < 0) {
                        json_decref(j);
                        return -EBADMSG;
                }
                if (catalog_get_object(b->txn, &id, &loc) < 0 || loc.type != OBJECT_RECORD)
                        complete = false;
        }
        json_array_foreach(gens, i, e) {
                json_t *gen = json_array_get(e, 0);
                ObjectId id;
                ObjectLocation loc;
                if (json_array_size(e) != 2 || !json_is_integer(gen) || json_integer_value(gen) <= 0 ||
                    object_id_from_hex(json_string_value(json_array_get(e, 1)) ?: "", &id) < 0) {
                        json_decref(j);
                        return -EBADMSG;
                }
                if (catalog_get_object(b->txn, &id, &loc) < 0 || loc.type != OBJECT_RECORD)
                        complete = false;
        }
        *ret = j;
        *ret_complete = complete;
        return 0;
}

static int state_apply(Rebuild *b, const StateCandidate *c, json_t *j) {
        size_t i;
        json_t *e;
        int r;
        json_array_foreach(json_object_get(j, "revisions"), i, e) {
                ObjectId id;
                (void) object_id_from_hex(json_string_value(json_array_get(e, 2)), &id);
                r = catalog_put_revision(b->txn, json_string_value(json_array_get(e, 0)),
                                         (uint32_t) json_integer_value(json_array_get(e, 1)), &id);
                if (r < 0)
                        return r;
        }
        json_array_foreach(json_object_get(j, "generations"), i, e) {
                ObjectId id;
                (void) object_id_from_hex(json_string_value(json_array_get(e, 1)), &id);
                r = catalog_put_generation(b->txn, (uint64_t) json_integer_value(json_array_get(e, 0)), &id);
                if (r < 0)
                        return r;
        }
        json_t *cur = json_object_get(j, "current");
        if (cur) {
                r = catalog_put_u64(b->txn, "current", (uint64_t) json_integer_value(cur));
                if (r < 0)
                        return r;
        }
        r = catalog_put_id(b->txn, "state", &c->id);
        if (r < 0)
                return r;
        /* Past every record on disk, so the next commit's STATE is the
         * newest even next to one a dead transaction left. */
        return catalog_put_u64(b->txn, "sequence", MAX(c->sequence, b->max_record_sequence));
}

static int rebuild_refs(Rebuild *b) {
        if (b->n_states > 0)
                qsort(b->states, b->n_states, sizeof *b->states, state_candidate_compare);
        json_t *fallback = NULL;
        const StateCandidate *fallback_c = NULL;
        for (size_t i = 0; i < b->n_states; i++) {
                json_t *j;
                bool complete;
                int r = state_load(b, &b->states[i], &j, &complete);
                if (r == -ENOMEM) {
                        json_decref(fallback);
                        return r;
                }
                if (r < 0)
                        continue;
                if (complete) {
                        json_decref(fallback);
                        r = state_apply(b, &b->states[i], j);
                        json_decref(j);
                        return r;
                }
                if (!fallback) {
                        fallback = j;
                        fallback_c = &b->states[i];
                } else
                        json_decref(j);
        }
        int r = catalog_put_u64(b->txn, "sequence", b->max_record_sequence);
        if (r >= 0 && fallback)
                r = state_apply(b, fallback_c, fallback);
        json_decref(fallback);
        return r;
}

static int rebuild_run(Rebuild *b, const uint32_t *packs, size_t n_packs) {
        Store *s = b->store;
        _cleanup_free_ char *dir = path_join(store_path(s), "packs");
        if (!dir)
                return -ENOMEM;
        int r = catalog_begin(store_catalog(s), true, &b->txn);
        if (r < 0)
                return r;
        r = catalog_clear(b->txn);
        if (r < 0)
                return r;
        uint32_t last = n_packs ? packs[n_packs - 1] : 0;
        if (n_packs > 0) {
                r = catalog_put_u64(b->txn, "pack", (uint64_t) last + 1);
                if (r >= 0)
                        r = catalog_put_u64(b->txn, "pack-end", 0);
                if (r < 0)
                        return r;
        }

        int64_t last_end = -EBADMSG;
        for (size_t i = 0; i < n_packs; i++) {
                _cleanup_free_ char *path = pack_path(dir, packs[i]);
                if (!path)
                        return -ENOMEM;
                struct stat st;
                if (stat(path, &st) < 0)
                        return -errno;
                b->next = PACK_HEADER_SIZE;
                int64_t end = pack_scan(path, packs[i], true, rebuild_record, b, NULL);
                if (end < 0 && end != -EBADMSG && end != -EPROTONOSUPPORT)
                        return (int) end; /* not the pack's fault: I/O, memory, the catalog */
                bool is_last = i + 1 == n_packs;
                if (end < 0) {
                        /* No valid pack header: nothing in it can be read. */
                        b->damaged += (uint64_t) st.st_size;
                } else if (!is_last && (uint64_t) st.st_size > (uint64_t) end)
                        b->damaged += (uint64_t) st.st_size - (uint64_t) end; /* a torn tail is only
                                                                                  normal in the last pack */
                if (is_last)
                        last_end = end;
        }
        r = rebuild_refs(b);
        if (r < 0)
                return r;
        if (n_packs > 0 && last_end >= PACK_HEADER_SIZE) {
                /* The next writer appends here, cutting off a torn tail. */
                r = catalog_put_u64(b->txn, "pack", last);
                if (r >= 0)
                        r = catalog_put_u64(b->txn, "pack-end", (uint64_t) last_end);
                if (r < 0)
                        return r;
        }
        r = catalog_commit(b->txn);
        b->txn = NULL;
        return r;
}

int store_rebuild_index(Store *s, uint64_t *ret_objects, uint64_t *ret_damaged) {
        _cleanup_free_ uint32_t *packs = NULL;
        size_t n_packs;
        int r = store_list_packs(s, &packs, &n_packs);
        if (r < 0)
                return r;
        Rebuild b = { .store = s };
        r = rebuild_run(&b, packs, n_packs);
        catalog_abort(b.txn);
        free(b.states);
        free(b.buf);
        /* Locations changed under any fd the store holds. */
        pack_set_flush(store_packs(s));
        if (r < 0)
                return r;
        if (ret_objects)
                *ret_objects = b.objects;
        if (ret_damaged)
                *ret_damaged = b.damaged;
        return 0;
}
