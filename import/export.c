/* SPDX-License-Identifier: Apache-2.0 */
#include "export.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <zlib.h>
#include <zstd.h>

#include "fileio.h"
#include "pack-reader.h"
#include "reach.h"
#include "refs.h"
#include "reterr.h"
#include "transfer-format.h"

/* Records are read from the packs in runs of adjacent records of up to
 * this many bytes: one pread, one write. */
#define READ_RUN_MAX (8u << 20)
#define LIST_ZSTD_LEVEL 3

typedef struct ExportEntry {
        ObjectId id;
        ObjectLocation loc;
} ExportEntry;

typedef struct ExportVolume {
        uint64_t first;         /* index into entries */
        uint64_t count;
        uint64_t record_bytes;
} ExportVolume;

struct ExportWriter {
        Store *store;
        const IdSet *have;

        ExportEntry *entries;
        size_t n_entries, allocated_entries;
        uint64_t record_bytes;

        json_t *revisions;      /* the manifest's "revisions" */
        json_t *bases;          /* and "bases" */
        char created[32];

        uint8_t *list;          /* compressed object list */
        size_t list_size;
        ObjectId list_hash;

        char *manifest;         /* its bytes; export id = their SHA-256 */
        size_t manifest_size;
        json_t *manifest_doc;
        ObjectId export_id;
        uint8_t signature[SIGNATURE_SIZE];
        size_t signature_size;

        ExportVolume *volumes;
        uint32_t n_volumes;

        /* While walking: which revision, for messages. */
        const char *walking;
        char **reterr;
};

ExportWriter *export_writer_free(ExportWriter *w) {
        if (!w)
                return NULL;
        free(w->entries);
        json_decref(w->revisions);
        json_decref(w->bases);
        free(w->list);
        free(w->manifest);
        json_decref(w->manifest_doc);
        free(w->volumes);
        free(w);
        return NULL;
}

uint32_t export_writer_volumes(const ExportWriter *w) {
        return w->n_volumes;
}
uint64_t export_writer_objects(const ExportWriter *w) {
        return w->n_entries;
}
uint64_t export_writer_record_bytes(const ExportWriter *w) {
        return w->record_bytes;
}
const ObjectId *export_writer_id(const ExportWriter *w) {
        return &w->export_id;
}
const json_t *export_writer_manifest(const ExportWriter *w) {
        return w->manifest_doc;
}

static uint64_t overhead_of(const ExportWriter *w) {
        return TRANSFER_HEADER_SIZE + w->manifest_size + w->signature_size + w->list_size + TRANSFER_TRAILER_SIZE;
}

uint64_t export_writer_overhead(const ExportWriter *w) {
        return overhead_of(w);
}

uint64_t export_writer_volume_size(const ExportWriter *w, uint32_t v) {
        assert(v >= 1 && v <= w->n_volumes);
        return overhead_of(w) + w->volumes[v - 1].record_bytes;
}

uint64_t export_writer_total_size(const ExportWriter *w) {
        return overhead_of(w) * w->n_volumes + w->record_bytes;
}

/* ---- planning ---- */

static int collect(const ObjectId *id, ReachKind kind, const ObjectLocation *loc, ReachError error,
                   const char *detail _unused_, void *userdata) {
        ExportWriter *w = userdata;
        if (error == REACH_MISSING)
                return reterr_printf(w->reterr, -EBADMSG, "this store lacks %s sha256:%s, which %s needs (run isle fsck)",
                            reach_kind_to_string(kind), object_id_hex(id), w->walking);
        if (error != REACH_OK)
                return reterr_printf(w->reterr, -EBADMSG, "%s sha256:%s, which %s needs, is damaged (run isle fsck)",
                            reach_kind_to_string(kind), object_id_hex(id), w->walking);
        if (w->have && id_set_contains(w->have, id))
                return 0;
        int r = GROW(w->entries, w->allocated_entries, w->n_entries + 1);
        if (r < 0)
                return r;
        w->entries[w->n_entries++] = (ExportEntry) { .id = *id, .loc = *loc };
        w->record_bytes += RECORD_HEADER_SIZE + (uint64_t) loc->stored_size;
        return 0;
}

static int entry_compare(const void *a, const void *b) {
        const ObjectLocation *x = &((const ExportEntry *) a)->loc, *y = &((const ExportEntry *) b)->loc;
        if (x->pack != y->pack)
                return x->pack < y->pack ? -1 : 1;
        return x->offset < y->offset ? -1 : x->offset > y->offset;
}

typedef struct IndexedId {
        ObjectId id;
        size_t index;           /* in entries */
} IndexedId;

static int indexed_compare(const void *a, const void *b) {
        return object_id_compare(&((const IndexedId *) a)->id, &((const IndexedId *) b)->id);
}

/* Moves each recipe to just before the first of its chunks the export
 * carries (its chunks precede it in the pack, as the writer makes them).
 * The importer then knows a blob's chunk list before the chunks go by and
 * verifies the blob id as they do, instead of reading them back. The reads
 * stay sequential but for one small step back per recipe. */
static int plan_recipes_first(ExportWriter *w, char **reterr) {
        size_t n = w->n_entries;
        _cleanup_free_ IndexedId *index = calloc(n ? n : 1, sizeof *index);
        _cleanup_free_ size_t *before = malloc((n ? n : 1) * sizeof *before); /* recipe i goes before entry before[i] */
        if (!index || !before)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                index[i] = (IndexedId) { w->entries[i].id, i };
                before[i] = SIZE_MAX;
        }
        qsort(index, n, sizeof *index, indexed_compare);
        size_t moved = 0;
        for (size_t i = 0; i < n; i++) {
                const ExportEntry *e = &w->entries[i];
                if (e->loc.type != OBJECT_RECIPE)
                        continue;
                _cleanup_free_ uint8_t *p = NULL;
                size_t size;
                int r = pack_set_read(store_packs(w->store), &e->loc, &e->id, false, (void **) &p, &size);
                if (r < 0)
                        return reterr_printf(reterr, r, "cannot read the recipe of blob sha256:%s: %s", object_id_hex(&e->id),
                                    strerror(-r));
                size_t first = i;
                for (size_t off = RECIPE_HEADER_SIZE; off + RECIPE_ENTRY_SIZE <= size; off += RECIPE_ENTRY_SIZE) {
                        IndexedId key = {};
                        memcpy(key.id.bytes, p + off, OBJECT_ID_SIZE);
                        const IndexedId *hit = bsearch(&key, index, n, sizeof *index, indexed_compare);
                        if (hit && hit->index < first)
                                first = hit->index;
                }
                if (first < i) {
                        before[i] = first;
                        moved++;
                }
        }
        if (moved == 0)
                return 0;
        /* Entries that stay, in order, each preceded by the recipes that
         * go before it (in their own order). */
        _cleanup_free_ size_t *heads = malloc(n * sizeof *heads), *next = malloc(n * sizeof *next);
        _cleanup_free_ ExportEntry *out = malloc(n * sizeof *out);
        if (!heads || !next || !out)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                heads[i] = next[i] = SIZE_MAX;
        for (size_t i = n; i-- > 0;)
                if (before[i] != SIZE_MAX) {
                        next[i] = heads[before[i]];
                        heads[before[i]] = i;
                }
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
                for (size_t j = heads[i]; j != SIZE_MAX; j = next[j])
                        out[k++] = w->entries[j];
                if (before[i] == SIZE_MAX)
                        out[k++] = w->entries[i];
        }
        assert(k == n);
        memcpy(w->entries, out, n * sizeof *out);
        return 0;
}

/* Resolves a NAME[@REV] to its number, record id and record. */
static int resolve(Store *s, CatalogTxn *t, const char *spec, const char *what, json_t **ret, char **reterr) {
        _cleanup_free_ char *name = NULL;
        uint32_t rev;
        if (revision_spec_parse(spec, &name, &rev) < 0)
                return reterr_printf(reterr, -EINVAL, "%s'%s' is not a revision: expected NAME or NAME@N", what, spec);
        ObjectId id;
        uint32_t wanted = rev;
        int r = refs_resolve(t, name, rev, &rev, &id);
        if (r == -ENOENT)
                return wanted ? reterr_printf(reterr, r, "%sbundle %s has no revision %u", what, name, wanted)
                              : reterr_printf(reterr, r, "%sno bundle named %s", what, name);
        if (r < 0)
                return reterr_printf(reterr, r, "%scannot resolve %s: %s", what, spec, strerror(-r));
        json_t *rec;
        r = refs_read_record(s, &id, "revision", &rec);
        if (r < 0)
                return reterr_printf(reterr, r, "%scannot read the record of %s@%u: %s", what, name, rev, strerror(-r));
        char hex[OBJECT_ID_HEX_SIZE];
        json_t *out = json_pack("{s:s,s:i,s:s}", "bundle", name, "revision", (json_int_t) rev, "id",
                                object_id_to_hex(&id, hex));
        json_t *root = json_object_get(rec, "root");
        if (out && json_is_string(root))
                json_object_set(out, "root", root);
        json_decref(rec);
        if (!out)
                return -ENOMEM;
        *ret = out;
        return 0;
}

static bool spec_listed(const json_t *arr, const json_t *e) {
        size_t i;
        const json_t *x;
        json_array_foreach(arr, i, x)
                if (json_equal(json_object_get(x, "id"), json_object_get(e, "id")))
                        return true;
        return false;
}

static int plan_walk(ExportWriter *w, const ExportOptions *o, char **reterr) {
        Store *s = w->store;
        _cleanup_(catalog_abortp) CatalogTxn *t = NULL;
        int r = catalog_begin(store_catalog(s), false, &t);
        if (r < 0)
                return reterr_printf(reterr, r, "cannot read the catalog: %s", strerror(-r));
        w->revisions = json_array();
        w->bases = json_array();
        if (!w->revisions || !w->bases)
                return -ENOMEM;
        for (size_t i = 0; i < o->n_since; i++) {
                json_t *e;
                r = resolve(s, t, o->since[i], "--since: ", &e, reterr);
                if (r < 0)
                        return r;
                json_object_del(e, "root");
                if (spec_listed(w->bases, e))
                        json_decref(e);
                else if (json_array_append_new(w->bases, e) < 0)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < o->n_revisions; i++) {
                json_t *e;
                r = resolve(s, t, o->revisions[i], "", &e, reterr);
                if (r < 0)
                        return r;
                if (!json_is_string(json_object_get(e, "root"))) {
                        json_decref(e);
                        return reterr_printf(reterr, -EBADMSG, "the record of %s has no root tree", o->revisions[i]);
                }
                if (spec_listed(w->revisions, e))
                        json_decref(e);
                else if (json_array_append_new(w->revisions, e) < 0)
                        return -ENOMEM;
        }
        catalog_abort(TAKE_PTR(t));

        /* The bases' closure goes into `seen` first, so the walk of the
         * revisions neither reports nor enters anything a base reaches:
         * a subtree the base shares costs one lookup, and a file that
         * changed ships its recipe and new chunks only. */
        _cleanup_(id_set_freep) IdSet *seen = NULL;
        r = id_set_new(&seen);
        if (r < 0)
                return r;
        size_t i;
        json_t *e;
        json_array_foreach(w->bases, i, e) {
                ObjectId id;
                if (json_get_id(e, "id", &id) < 0)
                        return -EBADMSG;
                r = reach_walk(s, NULL, seen, &id, REACH_REVISION, NULL, NULL);
                if (r < 0)
                        return reterr_printf(reterr, r, "cannot walk the base revision: %s", strerror(-r));
        }
        w->reterr = reterr;
        json_array_foreach(w->revisions, i, e) {
                ObjectId id;
                char spec[200];
                snprintf(spec, sizeof spec, "%s@%" JSON_INTEGER_FORMAT, json_string_value(json_object_get(e, "bundle")),
                         json_integer_value(json_object_get(e, "revision")));
                w->walking = spec;
                if (json_get_id(e, "id", &id) < 0)
                        return -EBADMSG;
                r = reach_walk(s, NULL, seen, &id, REACH_REVISION, collect, w);
                if (r < 0)
                        return reterr_printf(reterr, r, "cannot walk %s: %s", spec, strerror(-r));
        }
        w->walking = NULL;
        w->reterr = NULL;
        if (w->n_entries > 0)
                qsort(w->entries, w->n_entries, sizeof *w->entries, entry_compare);
        return plan_recipes_first(w, reterr);
}

static int plan_list(ExportWriter *w) {
        size_t raw = w->n_entries * TRANSFER_LIST_ENTRY_SIZE;
        _cleanup_free_ uint8_t *buf = malloc(raw ? raw : 1);
        if (!buf)
                return -ENOMEM;
        for (size_t i = 0; i < w->n_entries; i++) {
                uint8_t *p = buf + i * TRANSFER_LIST_ENTRY_SIZE;
                memcpy(p + offsetof(TransferListEntry, id), w->entries[i].id.bytes, OBJECT_ID_SIZE);
                le32_write(p + offsetof(TransferListEntry, record_size),
                           RECORD_HEADER_SIZE + w->entries[i].loc.stored_size);
        }
        size_t bound = ZSTD_compressBound(raw);
        w->list = malloc(bound);
        if (!w->list)
                return -ENOMEM;
        size_t k = ZSTD_compress(w->list, bound, buf, raw, LIST_ZSTD_LEVEL);
        if (ZSTD_isError(k))
                return -EIO;
        w->list_size = k;
        object_id_hash(w->list, k, &w->list_hash);
        return 0;
}

/* (Re)builds the manifest for the current volume layout. */
static int plan_manifest(ExportWriter *w) {
        json_t *vols = json_array();
        if (!vols)
                return -ENOMEM;
        for (uint32_t i = 0; i < w->n_volumes; i++)
                if (json_array_append_new(vols, json_pack("{s:I,s:I,s:I}", "first", (json_int_t) w->volumes[i].first,
                                                          "objects", (json_int_t) w->volumes[i].count, "bytes",
                                                          (json_int_t) w->volumes[i].record_bytes)) < 0) {
                        json_decref(vols);
                        return -ENOMEM;
                }
        char hex[OBJECT_ID_HEX_SIZE];
        json_t *m = json_pack("{s:s,s:i,s:s,s:O,s:O,s:I,s:I,s:{s:s,s:I},s:o}", "format", "isle-transfer", "version",
                              TRANSFER_VERSION, "created", w->created, "revisions", w->revisions, "bases", w->bases,
                              "objects", (json_int_t) w->n_entries, "bytes", (json_int_t) w->record_bytes, "list",
                              "sha256", object_id_to_hex(&w->list_hash, hex), "size", (json_int_t) w->list_size,
                              "volumes", vols);
        if (!m)
                return -ENOMEM;
        char *text = json_dumps(m, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENSURE_ASCII);
        if (!text) {
                json_decref(m);
                return -ENOMEM;
        }
        json_decref(w->manifest_doc);
        free(w->manifest);
        w->manifest_doc = m;
        w->manifest = text;
        w->manifest_size = strlen(text);
        object_id_hash(text, w->manifest_size, &w->export_id);
        return 0;
}

static int set_one_volume(ExportWriter *w) {
        free(w->volumes);
        w->volumes = calloc(1, sizeof *w->volumes);
        if (!w->volumes)
                return -ENOMEM;
        w->volumes[0] = (ExportVolume) { 0, w->n_entries, w->record_bytes };
        w->n_volumes = 1;
        return 0;
}

/* Cuts the records into volumes of at most `split` bytes. Every volume
 * repeats the manifest, which lists the volumes, so the overhead depends on
 * the layout: lay out with the overhead known so far until the manifest it
 * yields fits in it (a few rounds at most; the overhead only grows). */
static int plan_layout(ExportWriter *w, uint64_t split, char **reterr) {
        int r = set_one_volume(w);
        if (r >= 0)
                r = plan_manifest(w);
        if (r < 0 || split == 0)
                return r;
        uint64_t overhead = overhead_of(w);
        for (unsigned round = 0; round < 64; round++) {
                char a[32], b[32], c[32];
                if (overhead >= split)
                        return reterr_printf(reterr, -EINVAL,
                                    "--split %s is too small: every volume carries %s of header, manifest and object "
                                    "list",
                                    format_bytes(a, split), format_bytes(b, overhead));
                uint64_t room = split - overhead;
                size_t allocated = 0;
                _cleanup_free_ ExportVolume *vols = NULL;
                uint32_t n = 0;
                r = GROW(vols, allocated, 1);
                if (r < 0)
                        return r;
                vols[0] = (ExportVolume) {};
                for (size_t i = 0; i < w->n_entries; i++) {
                        uint64_t size = RECORD_HEADER_SIZE + (uint64_t) w->entries[i].loc.stored_size;
                        if (size > room)
                                return reterr_printf(reterr, -EINVAL,
                                            "--split %s is too small: object sha256:%s takes %s, and every volume "
                                            "also carries %s of header, manifest and object list",
                                            format_bytes(a, split), object_id_hex(&w->entries[i].id),
                                            format_bytes(b, size), format_bytes(c, overhead));
                        ExportVolume *v = &vols[n];
                        if (v->record_bytes + size > room) {
                                if ((r = GROW(vols, allocated, (size_t) n + 2)) < 0)
                                        return r;
                                n++;
                                vols[n] = (ExportVolume) { .first = i };
                                v = &vols[n];
                        }
                        v->count++;
                        v->record_bytes += size;
                }
                free(w->volumes);
                w->volumes = TAKE_PTR(vols);
                w->n_volumes = n + 1;
                r = plan_manifest(w);
                if (r < 0)
                        return r;
                if (overhead_of(w) <= overhead)
                        return 0;
                overhead = overhead_of(w);
        }
        return reterr_printf(reterr, -EINVAL, "cannot lay out volumes of %" PRIu64 " bytes", split);
}

int export_writer_new(Store *s, const ExportOptions *o, ExportWriter **ret, char **reterr) {
        if (o->n_revisions == 0)
                return reterr_printf(reterr, -EINVAL, "nothing to export: name at least one revision");
        _cleanup_(export_writer_freep) ExportWriter *w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        w->store = s;
        w->have = o->have;
        now_rfc3339(w->created);
        int r = plan_walk(w, o, reterr);
        if (r >= 0)
                r = plan_list(w);
        if (r >= 0) {
                /* The signature's size is all the layout needs to know of it. */
                w->signature_size = o->sign ? SIGNATURE_SIZE : 0;
                r = plan_layout(w, o->split, reterr);
        }
        if (r >= 0 && o->sign) {
                r = signature_sign(o->sign, w->manifest, w->manifest_size, w->signature);
                if (r < 0)
                        return reterr_printf(reterr, r, "cannot sign the manifest: %s", strerror(-r));
        }
        if (r < 0)
                return r;
        /* Open every pack now: a gc that replaces one from here on leaves
         * the old file readable through the open fd. */
        for (size_t i = 0; i < w->n_entries; i++)
                if (i == 0 || w->entries[i].loc.pack != w->entries[i - 1].loc.pack) {
                        r = pack_set_fd(store_packs(s), w->entries[i].loc.pack);
                        if (r < 0)
                                return reterr_printf(reterr, r, "cannot open pack %u: %s", w->entries[i].loc.pack,
                                            strerror(-r));
                }
        *ret = TAKE_PTR(w);
        return 0;
}

/* ---- writing ---- */

static void header_encode(const ExportWriter *w, uint32_t v, uint8_t h[static TRANSFER_HEADER_SIZE]) {
        const ExportVolume *vol = &w->volumes[v - 1];
        memset(h, 0, TRANSFER_HEADER_SIZE);
        memcpy(h + offsetof(TransferHeader, magic), TRANSFER_MAGIC, 8);
        le32_write(h + offsetof(TransferHeader, version), TRANSFER_VERSION);
        le32_write(h + offsetof(TransferHeader, features), 0);
        le32_write(h + offsetof(TransferHeader, volume), v);
        le32_write(h + offsetof(TransferHeader, volumes), w->n_volumes);
        memcpy(h + offsetof(TransferHeader, export_id), w->export_id.bytes, OBJECT_ID_SIZE);
        le64_write(h + offsetof(TransferHeader, first), vol->first);
        le64_write(h + offsetof(TransferHeader, count), vol->count);
        le64_write(h + offsetof(TransferHeader, record_bytes), vol->record_bytes);
        le32_write(h + offsetof(TransferHeader, manifest_size), (uint32_t) w->manifest_size);
        le32_write(h + offsetof(TransferHeader, signature_size), (uint32_t) w->signature_size);
        le64_write(h + offsetof(TransferHeader, list_size), w->list_size);
        le32_write(h + offsetof(TransferHeader, signature_crc),
                   w->signature_size ? (uint32_t) crc32(0, w->signature, (uInt) w->signature_size) : 0);
        le32_write(h + offsetof(TransferHeader, header_crc),
                   (uint32_t) crc32(0, h, offsetof(TransferHeader, header_crc)));
}

typedef struct Out {
        int fd;
        Sha256 *hash;
        uint64_t written;
        ExportProgressFn fn;
        void *userdata;
} Out;

static int out_write(Out *o, const void *p, size_t n) {
        sha256_update(o->hash, p, n);
        int r = write_full(o->fd, p, n);
        if (r < 0)
                return r;
        o->written += n;
        if (o->fn)
                o->fn(o->written, o->userdata);
        return 0;
}

/* Checks that the bytes read for entry e are the record the catalog
 * promised, whole: the header's checksum and fields, the payload's crc. */
static int check_record(const ExportEntry *e, const uint8_t *p, char **reterr) {
        RecordInfo info;
        int r = record_header_decode(p, &info);
        if (r < 0 || !object_id_equal(&info.id, &e->id) || info.type != e->loc.type ||
            info.compression != e->loc.compression || info.stored_size != e->loc.stored_size ||
            info.raw_size != e->loc.raw_size)
                return reterr_printf(reterr, -EBADMSG,
                            "object sha256:%s: the record in pack %u at offset %" PRIu64
                            " is damaged or not what the catalog says (run isle fsck)",
                            object_id_hex(&e->id), e->loc.pack, e->loc.offset);
        if ((uint32_t) crc32(0, p + RECORD_HEADER_SIZE, info.stored_size) != info.payload_crc)
                return reterr_printf(reterr, -EBADMSG,
                            "object sha256:%s: its payload in pack %u at offset %" PRIu64
                            " is damaged (run isle fsck)",
                            object_id_hex(&e->id), e->loc.pack, e->loc.offset);
        return 0;
}

static int write_records(ExportWriter *w, const ExportVolume *vol, Out *o, char **reterr) {
        PackSet *packs = store_packs(w->store);
        _cleanup_free_ uint8_t *buf = NULL;
        size_t allocated = 0;
        uint64_t i = vol->first, end = vol->first + vol->count;
        while (i < end) {
                /* A run: records that lie back to back in one pack. */
                const ExportEntry *e = &w->entries[i];
                uint64_t run_bytes = RECORD_HEADER_SIZE + (uint64_t) e->loc.stored_size;
                uint64_t j = i + 1;
                while (j < end) {
                        const ObjectLocation *prev = &w->entries[j - 1].loc, *next = &w->entries[j].loc;
                        uint64_t size = RECORD_HEADER_SIZE + (uint64_t) next->stored_size;
                        if (next->pack != e->loc.pack || next->offset != prev->offset + RECORD_HEADER_SIZE +
                                                                                 prev->stored_size ||
                            run_bytes + size > READ_RUN_MAX)
                                break;
                        run_bytes += size;
                        j++;
                }
                int r = GROW(buf, allocated, run_bytes);
                if (r < 0)
                        return r;
                int fd = pack_set_fd(packs, e->loc.pack);
                if (fd < 0)
                        return reterr_printf(reterr, fd, "cannot open pack %u: %s", e->loc.pack, strerror(-fd));
                ssize_t k = pread_full(fd, buf, run_bytes, e->loc.offset);
                if (k < 0)
                        return reterr_printf(reterr, (int) k, "cannot read pack %u: %s", e->loc.pack, strerror((int) -k));
                if ((uint64_t) k < run_bytes)
                        return reterr_printf(reterr, -EBADMSG, "pack %u ends before object sha256:%s (run isle fsck)",
                                    e->loc.pack, object_id_hex(&e->id));
                size_t off = 0;
                for (uint64_t x = i; x < j; x++) {
                        r = check_record(&w->entries[x], buf + off, reterr);
                        if (r < 0)
                                return r;
                        off += RECORD_HEADER_SIZE + w->entries[x].loc.stored_size;
                }
                r = out_write(o, buf, run_bytes);
                if (r < 0)
                        return r;
                i = j;
        }
        return 0;
}

int export_writer_write_volume(ExportWriter *w, uint32_t v, int fd, ExportProgressFn fn, void *userdata,
                               char **reterr) {
        if (v < 1 || v > w->n_volumes)
                return -EINVAL;
        const ExportVolume *vol = &w->volumes[v - 1];
        _cleanup_(sha256_freep) Sha256 *hash = sha256_new();
        if (!hash)
                return -ENOMEM;
        Out o = { .fd = fd, .hash = hash, .fn = fn, .userdata = userdata };
        uint8_t h[TRANSFER_HEADER_SIZE];
        header_encode(w, v, h);
        int r = out_write(&o, h, sizeof h);
        if (r >= 0)
                r = out_write(&o, w->manifest, w->manifest_size);
        if (r >= 0 && w->signature_size)
                r = out_write(&o, w->signature, w->signature_size);
        if (r >= 0)
                r = out_write(&o, w->list, w->list_size);
        if (r >= 0)
                r = write_records(w, vol, &o, reterr);
        if (r < 0)
                return r;

        ObjectId digest;
        sha256_final(hash, &digest);
        uint8_t t[TRANSFER_TRAILER_SIZE] = {};
        memcpy(t + offsetof(TransferTrailer, magic), TRANSFER_TRAILER_MAGIC, 8);
        le64_write(t + offsetof(TransferTrailer, records), vol->count);
        le64_write(t + offsetof(TransferTrailer, record_bytes), vol->record_bytes);
        memcpy(t + offsetof(TransferTrailer, sha256), digest.bytes, OBJECT_ID_SIZE);
        r = write_full(fd, t, sizeof t);
        if (r < 0)
                return r;
        if (fn)
                fn(o.written + sizeof t, userdata);
        return 0;
}
