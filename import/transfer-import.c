/* SPDX-License-Identifier: Apache-2.0 */
#include "transfer-import.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/statvfs.h>
#include <zlib.h>
#include <zstd.h>

#include "compressor.h"
#include "fileio.h"
#include "pack-reader.h"
#include "reach.h"
#include "refs.h"
#include "reterr.h"
#include "transfer-format.h"

#define READ_BUFFER_MIN (64u << 10)
#define READ_BUFFER (4u << 20)
/* The pending entry's id list is stored as chunks of this many ids. */
#define PENDING_CHUNK_IDS 32768u
#define PENDING_KEY "pending"
#define PENDING_TYPE "pending-imports"
/* What the catalog needs per new object, roughly, for the space check. */
#define CATALOG_BYTES_PER_OBJECT 160u
#define SPACE_SLACK (1u << 20)

/* Records are read, hashed and verified in batches of about this many
 * bytes, this many at a time. */
#define BATCH_BYTES (4u << 20)
#define BATCH_RAW_MAX (16u << 20)
#define BATCHES 6
/* Reads this large go straight into the batch. */
#define READ_DIRECT_MIN (64u << 10)
#define WORKERS_MAX 8
/* Recipes verified at a time. */
#define RECIPE_JOBS 16

/* Truncation inside the reader; turned into a message by its callers. */
#define TRUNCATED (-EPIPE)

typedef struct Pool Pool;
typedef struct Batch Batch;
typedef struct BlobTracker BlobTracker;
static BlobTracker *blob_tracker_free(BlobTracker *t);
static Pool *pool_free(Pool *p);
static Batch *batches_free(Batch *batches);

typedef struct Reader {
        int fd;
        uint8_t *buf;
        size_t allocated, pos, len;     /* unread bytes: buf[pos..len) */
        uint64_t offset;                /* volume offset of buf[pos] */
        Sha256 *hash;                   /* of every byte taken before the trailer */
} Reader;

typedef struct Slice {
        uint64_t first, count, bytes;
} Slice;

typedef struct Volume {
        char *name;
        Reader reader;
        uint32_t index;                 /* 1-based */
        uint64_t first, count, record_bytes;
        uint64_t size;                  /* of the whole volume */
        bool duplicate;                 /* the same volume was added before */
        uint64_t new_objects, new_bytes;
} Volume;

struct TransferImport {
        Store *store;
        TransferImportOptions options;

        Volume *volumes;
        size_t n_volumes, allocated_volumes;

        /* The export, from the first volume added. */
        ObjectId export_id;
        json_t *manifest;
        json_t *revisions, *bases;      /* borrowed from manifest */
        Slice *slices;
        uint32_t n_slices;
        uint64_t n_objects;
        ObjectId list_hash;
        uint64_t list_size;
        uint8_t *list;                  /* n_objects x TRANSFER_LIST_ENTRY_SIZE */


        Pool *workers, *hasher;         /* started when first needed */
        Batch *batches;                 /* BATCHES of them */
        BlobTracker *tracker;           /* the hasher's while streaming, then the caller's */
};

static const ObjectId *list_id(const TransferImport *ti, uint64_t i) {
        return (const ObjectId *) (ti->list + i * TRANSFER_LIST_ENTRY_SIZE);
}

static uint32_t list_record_size(const TransferImport *ti, uint64_t i) {
        return le32_read(ti->list + i * TRANSFER_LIST_ENTRY_SIZE + offsetof(TransferListEntry, record_size));
}

void transfer_import_result_done(TransferImportResult *r) {
        json_decref(r->revisions);
        free(r->volumes_missing);
        *r = (TransferImportResult) {};
}

int transfer_import_new(Store *s, const TransferImportOptions *o, TransferImport **ret) {
        TransferImport *ti = calloc(1, sizeof *ti);
        if (!ti)
                return -ENOMEM;
        ti->store = s;
        ti->options = *o;
        *ret = ti;
        return 0;
}

TransferImport *transfer_import_free(TransferImport *ti) {
        if (!ti)
                return NULL;
        for (size_t i = 0; i < ti->n_volumes; i++) {
                free(ti->volumes[i].name);
                free(ti->volumes[i].reader.buf);
                sha256_free(ti->volumes[i].reader.hash);
        }
        free(ti->volumes);
        json_decref(ti->manifest);
        free(ti->slices);
        free(ti->list);
        /* The pools first: no job may run on a batch being freed. */
        pool_free(ti->workers);
        pool_free(ti->hasher);
        batches_free(ti->batches);
        blob_tracker_free(ti->tracker);
        free(ti);
        return NULL;
}

/* ---- reading a volume sequentially ---- */

/* Makes at least `need` unread bytes available. TRUNCATED at end of input. */
static int reader_fill(Reader *r, size_t need) {
        if (r->len - r->pos >= need)
                return 0;
        if (r->pos > 0) {
                memmove(r->buf, r->buf + r->pos, r->len - r->pos);
                r->len -= r->pos;
                r->pos = 0;
        }
        while (r->len < need) {
                /* Grows with the bytes that arrive, not to `need` at once: a
                 * damaged size must not make a small file allocate gigabytes. */
                if (r->len == r->allocated) {
                        size_t a = MIN(MAX(r->allocated * 2, (size_t) READ_BUFFER_MIN),
                                       MAX(need, (size_t) READ_BUFFER_MIN));
                        uint8_t *b = realloc(r->buf, a);
                        if (!b)
                                return -ENOMEM;
                        r->buf = b;
                        r->allocated = a;
                }
                ssize_t k = read(r->fd, r->buf + r->len, r->allocated - r->len);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return TRUNCATED;
                r->len += (size_t) k;
        }
        return 0;
}

/* Takes n bytes (hashed when `hash`); *ret stays valid until the next call. */
static int reader_take(Reader *r, size_t n, bool hash, const uint8_t **ret) {
        int q = reader_fill(r, n);
        if (q < 0)
                return q;
        *ret = r->buf + r->pos;
        if (hash)
                sha256_update(r->hash, *ret, n);
        r->pos += n;
        r->offset += n;
        return 0;
}

/* Grows the buffer for streaming records: fewer, larger reads. */
static int reader_reserve(Reader *r, size_t n) {
        if (r->allocated >= n)
                return 0;
        uint8_t *b = realloc(r->buf, n);
        if (!b)
                return -ENOMEM;
        r->buf = b;
        r->allocated = n;
        return 0;
}

/* ---- the preamble ---- */

static bool json_is_uint(const json_t *j) {
        return json_is_integer(j) && json_integer_value(j) >= 0;
}

static int check_revision_entry(const json_t *e, bool with_root) {
        const char *bundle = json_string_value(json_object_get(e, "bundle"));
        const json_t *rev = json_object_get(e, "revision");
        ObjectId id;
        if (!bundle || !bundle_name_valid(bundle) || !json_is_integer(rev) || json_integer_value(rev) < 1 ||
            json_integer_value(rev) > UINT32_MAX || json_get_id(e, "id", &id) < 0 ||
            (with_root && json_get_id(e, "root", &id) < 0))
                return -EBADMSG;
        return 0;
}

static int manifest_parse(TransferImport *ti, const Volume *v, const uint8_t *p, size_t n, uint32_t volumes,
                          uint64_t list_size, char **reterr) {
        json_error_t e;
        json_t *m = json_loadb((const char *) p, n, JSON_REJECT_DUPLICATES, &e);
        if (!json_is_object(m)) {
                json_decref(m);
                return reterr_printf(reterr, -EBADMSG, "%s: the manifest is not a JSON object", v->name);
        }
        ti->manifest = m;
        const char *what = NULL;
        const json_t *revs = json_object_get(m, "revisions"), *bases = json_object_get(m, "bases");
        const json_t *list = json_object_get(m, "list"), *vols = json_object_get(m, "volumes");
        size_t i;
        json_t *x;
        const char *format = json_string_value(json_object_get(m, "format"));
        if (!format || strcmp(format, "isle-transfer") != 0)
                what = "format";
        else if (json_integer_value(json_object_get(m, "version")) != TRANSFER_VERSION)
                what = "version";
        else if (!json_is_array(revs) || json_array_size(revs) == 0)
                what = "revisions";
        else if (!json_is_array(bases))
                what = "bases";
        else if (!json_is_uint(json_object_get(m, "objects")) ||
                 (uint64_t) json_integer_value(json_object_get(m, "objects")) > TRANSFER_OBJECTS_MAX)
                what = "objects";
        else if (!json_is_uint(json_object_get(m, "bytes")))
                what = "bytes";
        else if (!json_is_object(list) || json_get_id(list, "sha256", &ti->list_hash) < 0 ||
                 !json_is_uint(json_object_get(list, "size")) ||
                 (uint64_t) json_integer_value(json_object_get(list, "size")) != list_size)
                what = "list";
        else if (!json_is_array(vols) || json_array_size(vols) != volumes)
                what = "volumes";
        if (!what) {
                json_array_foreach(revs, i, x)
                        if (check_revision_entry(x, true) < 0)
                                what = "revisions";
                json_array_foreach(bases, i, x)
                        if (check_revision_entry(x, false) < 0)
                                what = "bases";
        }
        if (what)
                return reterr_printf(reterr, -EBADMSG, "%s: the manifest is malformed (\"%s\")", v->name, what);

        ti->revisions = json_object_get(m, "revisions");
        ti->bases = json_object_get(m, "bases");
        ti->n_objects = (uint64_t) json_integer_value(json_object_get(m, "objects"));
        ti->list_size = list_size;
        ti->n_slices = volumes;
        ti->slices = calloc(volumes, sizeof *ti->slices);
        if (!ti->slices)
                return -ENOMEM;
        uint64_t next = 0, bytes = 0;
        json_array_foreach(vols, i, x) {
                const json_t *f = json_object_get(x, "first"), *c = json_object_get(x, "objects"),
                             *b = json_object_get(x, "bytes");
                if (!json_is_uint(f) || !json_is_uint(c) || !json_is_uint(b) ||
                    (uint64_t) json_integer_value(f) != next ||
                    (uint64_t) json_integer_value(c) > ti->n_objects - next)
                        return reterr_printf(reterr, -EBADMSG, "%s: the manifest is malformed (\"volumes\")", v->name);
                ti->slices[i] = (Slice) { next, (uint64_t) json_integer_value(c), (uint64_t) json_integer_value(b) };
                next += ti->slices[i].count;
                bytes += ti->slices[i].bytes;
        }
        if (next != ti->n_objects || bytes != (uint64_t) json_integer_value(json_object_get(m, "bytes")))
                return reterr_printf(reterr, -EBADMSG, "%s: the manifest is malformed (\"volumes\")", v->name);
        return 0;
}

static int list_parse(TransferImport *ti, const Volume *v, const uint8_t *p, size_t n, char **reterr) {
        uint64_t raw = ti->n_objects * TRANSFER_LIST_ENTRY_SIZE;
        if (ZSTD_getFrameContentSize(p, n) != raw)
                return reterr_printf(reterr, -EBADMSG, "%s: the object list does not hold the manifest's %" PRIu64 " objects",
                            v->name, ti->n_objects);
        int r = zstd_decompress_exact(p, n, raw, &ti->list);
        if (r == -EBADMSG)
                return reterr_printf(reterr, -EBADMSG, "%s: the object list does not decompress", v->name);
        if (r < 0)
                return r;
        for (uint32_t s = 0; s < ti->n_slices; s++) {
                uint64_t bytes = 0;
                for (uint64_t i = ti->slices[s].first; i < ti->slices[s].first + ti->slices[s].count; i++) {
                        uint32_t size = list_record_size(ti, i);
                        if (size < RECORD_HEADER_SIZE || size - RECORD_HEADER_SIZE > RECORD_PAYLOAD_MAX)
                                return reterr_printf(reterr, -EBADMSG, "%s: the object list is malformed (record size)",
                                            v->name);
                        bytes += size;
                }
                if (bytes != ti->slices[s].bytes)
                        return reterr_printf(reterr, -EBADMSG, "%s: the object list disagrees with the manifest on volume %u",
                                    v->name, s + 1);
        }
        return 0;
}

static int check_signature(TransferImport *ti, const Volume *v, const uint8_t *manifest, size_t manifest_size,
                           const uint8_t *sig, size_t sig_size, char **reterr) {
        const TransferImportOptions *o = &ti->options;
        if (!o->verify && o->n_required == 0)
                return 0; /* nobody asked: the trailer still covers its bytes */
        if (sig_size == 0)
                return o->verify ? reterr_printf(reterr, -EPERM, "%s is not signed (--verify %s was given)", v->name,
                                        o->verify_name)
                                 : reterr_printf(reterr, -EPERM,
                                        "%s is not signed, and this store requires signatures (isle config "
                                        "require-signature)",
                                        v->name);
        if (o->verify && signature_verify(o->verify, manifest, manifest_size, sig, sig_size) < 0)
                return reterr_printf(reterr, -EPERM,
                            "%s: the signature does not verify with %s: signed with another key, or the manifest "
                            "was altered",
                            v->name, o->verify_name);
        if (o->n_required > 0) {
                bool ok = false;
                for (size_t i = 0; i < o->n_required && !ok; i++)
                        ok = signature_verify(o->required[i], manifest, manifest_size, sig, sig_size) >= 0;
                if (!ok)
                        return reterr_printf(reterr, -EPERM,
                                    "%s: the signature does not verify with any key this store requires (isle config "
                                    "require-signature)",
                                    v->name);
        }
        return 0;
}

typedef struct HeaderInfo {
        uint32_t version, features, volume, volumes;
        ObjectId export_id;
        uint64_t first, count, record_bytes;
        uint32_t manifest_size, signature_size, signature_crc;
        uint64_t list_size;
} HeaderInfo;

static int header_read(Volume *v, HeaderInfo *h, char **reterr) {
        int q = reader_fill(&v->reader, TRANSFER_HEADER_SIZE);
        const uint8_t *p = v->reader.buf + v->reader.pos;
        size_t avail = v->reader.len - v->reader.pos;
        if (q == TRUNCATED || memcmp(p, TRANSFER_MAGIC, MIN(avail, (size_t) 8)) != 0) {
                if (avail < 8 || memcmp(p, TRANSFER_MAGIC, 8) != 0)
                        return reterr_printf(reterr, -EBADMSG, "%s is not an isle export (no ISLEXFER header)", v->name);
                return reterr_printf(reterr, -EBADMSG, "%s is truncated: it ends inside the header", v->name);
        }
        if (q < 0)
                return reterr_printf(reterr, q, "cannot read %s: %s", v->name, strerror(-q));
        /* Every version keeps the magic, the version and the header crc
         * where they are, so a newer volume is told from a damaged one. */
        if (le32_read(p + offsetof(TransferHeader, header_crc)) !=
            (uint32_t) crc32(0, p, offsetof(TransferHeader, header_crc)))
                return reterr_printf(reterr, -EBADMSG, "%s: the header is damaged (checksum mismatch)", v->name);
        h->version = le32_read(p + offsetof(TransferHeader, version));
        if (h->version > TRANSFER_VERSION)
                return reterr_printf(reterr, -EPROTONOSUPPORT,
                            "%s was made by a newer isle (transfer format version %u; this isle reads version %u)",
                            v->name, h->version, TRANSFER_VERSION);
        h->features = le32_read(p + offsetof(TransferHeader, features));
        if (h->version != TRANSFER_VERSION)
                return reterr_printf(reterr, -EBADMSG, "%s: the header is damaged (version %u)", v->name, h->version);
        if (h->features & ~TRANSFER_FEATURES_KNOWN)
                return reterr_printf(reterr, -EPROTONOSUPPORT,
                            "%s was made by a newer isle: it needs features this isle lacks (0x%x)", v->name,
                            h->features & ~TRANSFER_FEATURES_KNOWN);
        h->volume = le32_read(p + offsetof(TransferHeader, volume));
        h->volumes = le32_read(p + offsetof(TransferHeader, volumes));
        memcpy(h->export_id.bytes, p + offsetof(TransferHeader, export_id), OBJECT_ID_SIZE);
        h->first = le64_read(p + offsetof(TransferHeader, first));
        h->count = le64_read(p + offsetof(TransferHeader, count));
        h->record_bytes = le64_read(p + offsetof(TransferHeader, record_bytes));
        h->manifest_size = le32_read(p + offsetof(TransferHeader, manifest_size));
        h->signature_size = le32_read(p + offsetof(TransferHeader, signature_size));
        h->list_size = le64_read(p + offsetof(TransferHeader, list_size));
        h->signature_crc = le32_read(p + offsetof(TransferHeader, signature_crc));
        static const uint8_t zero[24];
        if (h->volume < 1 || h->volume > h->volumes || h->manifest_size == 0 ||
            h->manifest_size > TRANSFER_MANIFEST_MAX ||
            (h->signature_size != 0 && h->signature_size != TRANSFER_SIGNATURE_SIZE) ||
            (h->signature_size == 0 && h->signature_crc != 0) ||
            h->list_size > ZSTD_compressBound(TRANSFER_OBJECTS_MAX * TRANSFER_LIST_ENTRY_SIZE) ||
            memcmp(p + offsetof(TransferHeader, reserved), zero, sizeof zero) != 0)
                return reterr_printf(reterr, -EBADMSG, "%s: the header is damaged (impossible values)", v->name);
        const uint8_t *dummy;
        return reader_take(&v->reader, TRANSFER_HEADER_SIZE, true, &dummy);
}

static int take(Volume *v, size_t n, const uint8_t **ret, const char *what, char **reterr) {
        int q = reader_take(&v->reader, n, true, ret);
        if (q == TRUNCATED)
                return reterr_printf(reterr, -EBADMSG, "%s is truncated: it ends inside the %s", v->name, what);
        if (q < 0)
                return reterr_printf(reterr, q, "cannot read %s: %s", v->name, strerror(-q));
        return 0;
}

int transfer_import_add(TransferImport *ti, int fd, const char *name, char **reterr) {
        int r = GROW(ti->volumes, ti->allocated_volumes, ti->n_volumes + 1);
        if (r < 0)
                return r;
        Volume *v = &ti->volumes[ti->n_volumes++];
        *v = (Volume) { .name = strdup(name), .reader = { .fd = fd, .hash = sha256_new() } };
        if (!v->name || !v->reader.hash)
                return -ENOMEM;
        bool first = ti->n_volumes == 1;

        HeaderInfo h;
        r = header_read(v, &h, reterr);
        if (r < 0)
                return r;
        char a[OBJECT_ID_HEX_SIZE], b[OBJECT_ID_HEX_SIZE];
        if (!first && !object_id_equal(&h.export_id, &ti->export_id))
                return reterr_printf(reterr, -EXDEV, "%s belongs to another export (%.12s) than %s (%.12s)", v->name,
                            object_id_to_hex(&h.export_id, a), ti->volumes[0].name,
                            object_id_to_hex(&ti->export_id, b));

        const uint8_t *p;
        r = take(v, h.manifest_size, &p, "manifest", reterr);
        if (r < 0)
                return r;
        ObjectId got;
        object_id_hash(p, h.manifest_size, &got);
        if (!object_id_equal(&got, &h.export_id))
                return reterr_printf(reterr, -EBADMSG, "%s: the manifest is damaged (it does not hash to the export id)",
                            v->name);
        /* The manifest stays in the reader's buffer until the next take. */
        _cleanup_free_ uint8_t *manifest = memdup(p, h.manifest_size);
        if (!manifest)
                return -ENOMEM;
        if (first) {
                ti->export_id = h.export_id;
                r = manifest_parse(ti, v, manifest, h.manifest_size, h.volumes, h.list_size, reterr);
                if (r < 0)
                        return r;
        }
        const Slice *s = &ti->slices[h.volume - 1];
        if (h.volumes != ti->n_slices || h.first != s->first || h.count != s->count || h.record_bytes != s->bytes)
                return reterr_printf(reterr, -EBADMSG, "%s: the header disagrees with the manifest about volume %u", v->name,
                            h.volume);
        v->index = h.volume;
        v->first = h.first;
        v->count = h.count;
        v->record_bytes = h.record_bytes;
        v->size = TRANSFER_HEADER_SIZE + (uint64_t) h.manifest_size + h.signature_size + h.list_size +
                  h.record_bytes + TRANSFER_TRAILER_SIZE;

        r = take(v, h.signature_size, &p, "signature", reterr);
        if (r < 0)
                return r;
        if (h.signature_size && (uint32_t) crc32(0, p, h.signature_size) != h.signature_crc)
                return reterr_printf(reterr, -EBADMSG, "%s: the signature is damaged (checksum mismatch)", v->name);
        r = check_signature(ti, v, manifest, h.manifest_size, p, h.signature_size, reterr);
        if (r < 0)
                return r;

        r = take(v, h.list_size, &p, "object list", reterr);
        if (r < 0)
                return r;
        object_id_hash(p, h.list_size, &got);
        if (!object_id_equal(&got, &ti->list_hash))
                return reterr_printf(reterr, -EBADMSG, "%s: the object list is damaged (it does not hash to the manifest's "
                            "list hash)", v->name);
        if (first) {
                r = list_parse(ti, v, p, h.list_size, reterr);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i + 1 < ti->n_volumes; i++)
                if (ti->volumes[i].index == v->index)
                        v->duplicate = true;
        return 0;
}

/* ---- pending imports ---- */

/* The pending record: {"type":"pending-imports","imports":[{"export":HEX,
 * "objects":BLOB,"revisions":[...],"volumes":N}...]}, named by meta
 * "pending" (all zeros: none). BLOB holds the 32-byte ids of the export's
 * whole object list; reach_roots() keeps what of it is present. */
static int pending_read(Store *s, CatalogTxn *c, json_t **ret) {
        ObjectId id;
        int r = catalog_get_id(c, PENDING_KEY, &id);
        if (r == -ENOENT || (r >= 0 && object_id_is_null(&id))) {
                *ret = json_pack("{s:s,s:[]}", "type", PENDING_TYPE, "imports");
                return *ret ? 0 : -ENOMEM;
        }
        if (r < 0)
                return r;
        json_t *doc;
        r = refs_read_record(s, &id, PENDING_TYPE, &doc);
        if ((r == -ENOENT || r == -EBADMSG) || (r >= 0 && !json_is_array(json_object_get(doc, "imports")))) {
                /* Lost (a gc that did not know it, an index rebuilt from
                 * the packs): the staged objects are unprotected anyway,
                 * and the volumes still to come say what is missing. */
                if (r >= 0)
                        json_decref(doc);
                *ret = json_pack("{s:s,s:[]}", "type", PENDING_TYPE, "imports");
                return *ret ? 0 : -ENOMEM;
        }
        if (r < 0)
                return r;
        *ret = doc;
        return 0;
}

static ssize_t pending_find(const json_t *doc, const ObjectId *export_id) {
        char hex[OBJECT_ID_HEX_SIZE];
        object_id_to_hex(export_id, hex);
        size_t i;
        const json_t *e;
        json_array_foreach(json_object_get(doc, "imports"), i, e) {
                const char *x = json_string_value(json_object_get(e, "export"));
                if (x && strcmp(x, hex) == 0)
                        return (ssize_t) i;
        }
        return -1;
}

static int pending_write(StoreTxn *t, const json_t *doc) {
        ObjectId id = {};
        if (json_array_size(json_object_get(doc, "imports")) > 0) {
                int r = store_txn_put_json(t, doc, &id);
                if (r < 0)
                        return r;
        }
        return catalog_put_id(store_txn_catalog(t), PENDING_KEY, &id);
}

/* Stores the ids of the object list as a blob whose chunks hold whole ids. */
static int pending_store_ids(TransferImport *ti, StoreTxn *t, ObjectId *ret) {
        uint64_t n = ti->n_objects;
        _cleanup_free_ uint8_t *ids = malloc(n ? n * OBJECT_ID_SIZE : 1);
        if (!ids)
                return -ENOMEM;
        for (uint64_t i = 0; i < n; i++)
                memcpy(ids + i * OBJECT_ID_SIZE, list_id(ti, i), OBJECT_ID_SIZE);
        ObjectId whole;
        object_id_hash(ids, n * OBJECT_ID_SIZE, &whole);
        size_t pieces = (size_t) ((n + PENDING_CHUNK_IDS - 1) / PENDING_CHUNK_IDS);
        _cleanup_free_ BlobChunk *chunks = calloc(pieces ? pieces : 1, sizeof *chunks);
        if (!chunks)
                return -ENOMEM;
        for (size_t i = 0; i < pieces; i++) {
                uint64_t from = (uint64_t) i * PENDING_CHUNK_IDS, k = MIN((uint64_t) PENDING_CHUNK_IDS, n - from);
                const uint8_t *p = ids + from * OBJECT_ID_SIZE;
                BlobChunk *c = &chunks[i];
                object_id_hash(p, k * OBJECT_ID_SIZE, &c->id);
                c->offset = from * OBJECT_ID_SIZE;
                c->size = (uint32_t) (k * OBJECT_ID_SIZE);
                int r = store_txn_put(t, OBJECT_CHUNK, &c->id, p, c->size, false);
                if (r < 0)
                        return r;
        }
        if (pieces > 1) {
                int r = store_txn_put_recipe(t, &whole, n * OBJECT_ID_SIZE, chunks, pieces);
                if (r < 0)
                        return r;
        }
        *ret = whole;
        return 0;
}

/* Drops the entries whose revisions are all in the catalog now (this
 * import's, and any whose revisions arrived by another export). */
static int pending_prune(StoreTxn *t, json_t *doc) {
        json_t *imports = json_object_get(doc, "imports");
        bool changed = false;
        for (size_t i = json_array_size(imports); i-- > 0;) {
                bool all = true;
                size_t j;
                json_t *e;
                json_array_foreach(json_object_get(json_array_get(imports, i), "revisions"), j, e) {
                        ObjectId want, have;
                        const char *bundle = json_string_value(json_object_get(e, "bundle"));
                        if (!bundle || json_get_id(e, "id", &want) < 0 ||
                            catalog_get_revision(store_txn_catalog(t), bundle,
                                                 (uint32_t) json_integer_value(json_object_get(e, "revision")),
                                                 &have) < 0 ||
                            !object_id_equal(&want, &have))
                                all = false;
                }
                if (all) {
                        json_array_remove(imports, i);
                        changed = true;
                }
        }
        return changed ? pending_write(t, doc) : 0;
}

static int pending_add(TransferImport *ti, StoreTxn *t, json_t *doc) {
        ObjectId ids;
        int r = pending_store_ids(ti, t, &ids);
        if (r < 0)
                return r;
        char a[OBJECT_ID_HEX_SIZE], b[OBJECT_ID_HEX_SIZE];
        json_t *e = json_pack("{s:s,s:s,s:O,s:i}", "export", object_id_to_hex(&ti->export_id, a), "objects",
                              object_id_to_hex(&ids, b), "revisions", ti->revisions, "volumes",
                              (json_int_t) ti->n_slices);
        if (!e || json_array_append_new(json_object_get(doc, "imports"), e) < 0)
                return -ENOMEM;
        return pending_write(t, doc);
}

int transfer_pending_list(Store *s, json_t **ret) {
        _cleanup_(catalog_abortp) CatalogTxn *c = NULL;
        int r = catalog_begin(store_catalog(s), false, &c);
        if (r < 0)
                return r;
        json_t *doc;
        r = pending_read(s, c, &doc);
        if (r < 0)
                return r;
        json_t *out = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(doc, "imports"), i, e) {
                ObjectId list;
                _cleanup_free_ uint8_t *ids = NULL;
                size_t n = 0, present = 0;
                if (json_get_id(e, "objects", &list) >= 0 &&
                    store_read_blob(s, &list, SIZE_MAX / 2, (void **) &ids, &n) >= 0)
                        for (size_t k = 0; k + OBJECT_ID_SIZE <= n; k += OBJECT_ID_SIZE) {
                                ObjectId id;
                                ObjectLocation loc;
                                memcpy(id.bytes, ids + k, OBJECT_ID_SIZE);
                                present += catalog_get_object(c, &id, &loc) >= 0;
                        }
                json_t *x = json_pack("{s:O,s:O,s:O,s:I,s:I}", "export", json_object_get(e, "export"), "revisions",
                                      json_object_get(e, "revisions") ?: json_null(), "volumes",
                                      json_object_get(e, "volumes") ?: json_null(), "objects",
                                      (json_int_t) (n / OBJECT_ID_SIZE), "present", (json_int_t) present);
                if (!x || json_array_append_new(out, x) < 0) {
                        json_decref(out);
                        json_decref(doc);
                        return -ENOMEM;
                }
        }
        json_decref(doc);
        *ret = out;
        return 0;
}

int transfer_pending_abandon(StoreTxn *t, const char *export_prefix, json_t **ret_entry, char **reterr) {
        size_t len = strlen(export_prefix);
        if (len < 8 || len > 2 * OBJECT_ID_SIZE || strspn(export_prefix, "0123456789abcdef") != len)
                return reterr_printf(reterr, -EINVAL, "'%s' is not an export id (8 to 64 lowercase hex digits)",
                                     export_prefix);
        json_t *doc;
        int r = pending_read(store_txn_store(t), store_txn_catalog(t), &doc);
        if (r < 0)
                return r;
        json_t *imports = json_object_get(doc, "imports");
        ssize_t found = -1;
        size_t i;
        json_t *e;
        json_array_foreach(imports, i, e) {
                const char *x = json_string_value(json_object_get(e, "export"));
                if (!x || strncmp(x, export_prefix, len) != 0)
                        continue;
                if (found >= 0) {
                        json_decref(doc);
                        return reterr_printf(reterr, -EEXIST,
                                             "'%s' names more than one pending import: give more of the id",
                                             export_prefix);
                }
                found = (ssize_t) i;
        }
        if (found < 0) {
                json_decref(doc);
                return reterr_printf(reterr, -ENOENT, "no pending import has an export id starting with '%s'",
                                     export_prefix);
        }
        json_t *entry = json_incref(json_array_get(imports, (size_t) found));
        json_array_remove(imports, (size_t) found);
        r = pending_write(t, doc);
        json_decref(doc);
        if (r < 0) {
                json_decref(entry);
                return r;
        }
        if (ret_entry)
                *ret_entry = entry;
        else
                json_decref(entry);
        return 0;
}

/* ---- checks before writing ---- */

static const char *spec_of(const json_t *e, char buf[static 200]) {
        snprintf(buf, 200, "%s@%" JSON_INTEGER_FORMAT, json_string_value(json_object_get(e, "bundle")),
                 json_integer_value(json_object_get(e, "revision")));
        return buf;
}

/* 1 when every revision is there with the same record, 0 when some are
 * missing; -EEXIST (explained) when a revision number is taken by another
 * record. */
static int check_revisions(TransferImport *ti, CatalogTxn *c, char **reterr) {
        bool all = true;
        size_t i;
        json_t *e;
        json_array_foreach(ti->revisions, i, e) {
                ObjectId want, have;
                char spec[200], a[OBJECT_ID_HEX_SIZE], b[OBJECT_ID_HEX_SIZE];
                (void) json_get_id(e, "id", &want);
                int r = catalog_get_revision(c, json_string_value(json_object_get(e, "bundle")),
                                             (uint32_t) json_integer_value(json_object_get(e, "revision")), &have);
                if (r == -ENOENT) {
                        all = false;
                        continue;
                }
                if (r < 0)
                        return r;
                if (!object_id_equal(&want, &have))
                        return reterr_printf(reterr, -EEXIST,
                                    "%s already exists in this store with other content (record %.12s; the "
                                    "export's is %.12s)",
                                    spec_of(e, spec), object_id_to_hex(&have, a), object_id_to_hex(&want, b));
        }
        return all;
}

static int check_bases(TransferImport *ti, CatalogTxn *c, char **reterr) {
        size_t i;
        json_t *e;
        json_array_foreach(ti->bases, i, e) {
                ObjectId want, have;
                char spec[200];
                (void) json_get_id(e, "id", &want);
                int r = catalog_get_revision(c, json_string_value(json_object_get(e, "bundle")),
                                             (uint32_t) json_integer_value(json_object_get(e, "revision")), &have);
                if (r == -ENOENT)
                        return reterr_printf(reterr, -ENOENT,
                                    "missing base revision %s (export made with --since %s); import that first",
                                    spec_of(e, spec), spec);
                if (r < 0)
                        return r;
                if (!object_id_equal(&want, &have))
                        return reterr_printf(reterr, -ENOENT,
                                    "base revision %s in this store is not the one the export was made against "
                                    "(--since %s on another store?)",
                                    spec_of(e, spec), spec);
        }
        return 0;
}

/* Counts what each volume brings that the store lacks, and checks that the
 * file system has room for it. */
static int check_space(TransferImport *ti, CatalogTxn *c, char **reterr) {
        uint64_t objects = 0, bytes = 0;
        for (size_t i = 0; i < ti->n_volumes; i++) {
                Volume *v = &ti->volumes[i];
                if (v->duplicate)
                        continue;
                for (uint64_t k = v->first; k < v->first + v->count; k++) {
                        ObjectLocation loc;
                        int r = catalog_get_object(c, list_id(ti, k), &loc);
                        if (r == -ENOENT) {
                                v->new_objects++;
                                v->new_bytes += list_record_size(ti, k);
                        } else if (r < 0)
                                return r;
                }
                objects += v->new_objects;
                bytes += v->new_bytes;
        }
        if (objects == 0)
                return 0;
        uint64_t need = bytes + objects * CATALOG_BYTES_PER_OBJECT + SPACE_SLACK;
        _cleanup_free_ char *packs = path_join(store_path(ti->store), "packs");
        if (!packs)
                return -ENOMEM;
        struct statvfs st;
        if (statvfs(packs, &st) < 0)
                return reterr_printf(reterr, -errno, "cannot check the free space of %s: %s", packs, strerror(errno));
        uint64_t avail = (uint64_t) st.f_bavail * st.f_frsize;
        char a[32], b[32];
        if (need > avail)
                return reterr_printf(reterr, -ENOSPC,
                            "not enough disk space in %s: the import adds %" PRIu64 " objects of %s, and only %s "
                            "is free",
                            store_path(ti->store), objects, format_bytes(a, need), format_bytes(b, avail));
        return 0;
}

/* ---- the worker pool ---- */

/* Verifying is hashing: every literal object's content, every blob's
 * bytes, and every byte of the volume for the trailer. One core would make
 * the import several times slower than the disk, so the work runs on
 * threads: a pool of verifiers (any order) and a pool of one for the
 * volume hash (FIFO, so in order), while the calling thread reads, checks
 * headers and appends to the store, which stays single-threaded. A job is
 * owned by its submitter and must be waited for before it is reused or
 * freed. */

typedef struct PoolJob PoolJob;
struct PoolJob {
        int (*fn)(PoolJob *job);
        PoolJob *next;          /* protected by Pool.lock */
        int result;             /* protected by Pool.lock */
        bool done;              /* protected by Pool.lock */
};

struct Pool {
        pthread_mutex_t lock;
        pthread_cond_t work, finished;
        PoolJob *head, *tail;   /* protected by lock */
        bool stop;              /* protected by lock */
        pthread_t *threads;
        unsigned n_threads;
};

#define container_of(p, type, member) ((type *) ((char *) (p) - offsetof(type, member)))

static void *pool_thread(void *userdata) {
        Pool *p = userdata;
        pthread_mutex_lock(&p->lock);
        for (;;) {
                while (!p->head && !p->stop)
                        pthread_cond_wait(&p->work, &p->lock);
                PoolJob *j = p->head;
                if (!j)
                        break;
                p->head = j->next;
                if (!p->head)
                        p->tail = NULL;
                pthread_mutex_unlock(&p->lock);
                int r = j->fn(j);
                pthread_mutex_lock(&p->lock);
                j->result = r;
                j->done = true;
                pthread_cond_broadcast(&p->finished);
        }
        pthread_mutex_unlock(&p->lock);
        return NULL;
}

static Pool *pool_free(Pool *p) {
        if (!p)
                return NULL;
        pthread_mutex_lock(&p->lock);
        p->stop = true;
        pthread_cond_broadcast(&p->work);
        pthread_mutex_unlock(&p->lock);
        for (unsigned i = 0; i < p->n_threads; i++)
                pthread_join(p->threads[i], NULL);
        pthread_cond_destroy(&p->work);
        pthread_cond_destroy(&p->finished);
        pthread_mutex_destroy(&p->lock);
        free(p->threads);
        free(p);
        return NULL;
}

static int pool_new(unsigned n, Pool **ret) {
        Pool *p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        pthread_mutex_init(&p->lock, NULL);
        pthread_cond_init(&p->work, NULL);
        pthread_cond_init(&p->finished, NULL);
        p->threads = calloc(n, sizeof *p->threads);
        if (!p->threads) {
                pool_free(p);
                return -ENOMEM;
        }
        for (; p->n_threads < n; p->n_threads++) {
                int r = pthread_create(&p->threads[p->n_threads], NULL, pool_thread, p);
                if (r != 0) {
                        pool_free(p);
                        return -r;
                }
        }
        *ret = p;
        return 0;
}

static void pool_submit(Pool *p, PoolJob *j) {
        pthread_mutex_lock(&p->lock);
        j->next = NULL;
        j->done = false;
        j->result = 0;
        if (p->tail)
                p->tail->next = j;
        else
                p->head = j;
        p->tail = j;
        pthread_cond_signal(&p->work);
        pthread_mutex_unlock(&p->lock);
}

/* Waits for a submitted job; returns its result. */
static int pool_wait(Pool *p, PoolJob *j) {
        pthread_mutex_lock(&p->lock);
        while (!j->done)
                pthread_cond_wait(&p->finished, &p->lock);
        int r = j->result;
        pthread_mutex_unlock(&p->lock);
        return r;
}

static int pools_start(TransferImport *ti) {
        if (ti->workers)
                return 0;
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        unsigned n = (unsigned) MIN(MAX(cpus - 1, 1L), (long) WORKERS_MAX);
        int r = pool_new(n, &ti->workers);
        if (r >= 0)
                r = pool_new(1, &ti->hasher);
        return r;
}

/* ---- staging ---- */

static int recipe_parse(const uint8_t *p, size_t n, uint64_t *ret_total, BlobChunk **ret, size_t *ret_n) {
        if (n < RECIPE_HEADER_SIZE || (n - RECIPE_HEADER_SIZE) % RECIPE_ENTRY_SIZE != 0)
                return -EBADMSG;
        uint64_t total = le64_read(p);
        uint32_t count = le32_read(p + 8);
        if (le32_read(p + 12) != 0 || count == 0 || (n - RECIPE_HEADER_SIZE) / RECIPE_ENTRY_SIZE != count)
                return -EBADMSG;
        BlobChunk *chunks = calloc(count, sizeof *chunks);
        if (!chunks)
                return -ENOMEM;
        uint64_t offset = 0;
        for (uint32_t i = 0; i < count; i++) {
                const uint8_t *e = p + RECIPE_HEADER_SIZE + (size_t) i * RECIPE_ENTRY_SIZE;
                memcpy(chunks[i].id.bytes, e, OBJECT_ID_SIZE);
                chunks[i].size = le32_read(e + 32);
                chunks[i].offset = offset;
                if (chunks[i].size == 0 || chunks[i].size > RECORD_PAYLOAD_MAX || le32_read(e + 36) != 0) {
                        free(chunks);
                        return -EBADMSG;
                }
                offset += chunks[i].size;
        }
        if (offset != total) {
                free(chunks);
                return -EBADMSG;
        }
        *ret_total = total;
        *ret = chunks;
        *ret_n = count;
        return 0;
}

/* A batch: consecutive records of a volume, read by the calling thread,
 * hashed into the volume hash by the hasher, verified by a worker, then
 * appended in order by the calling thread. */
typedef struct BatchRecord {
        size_t offset;          /* of its header in buf */
        size_t content;         /* of its decompressed content in scratch; SIZE_MAX: the payload is the content */
        RecordInfo info;
        bool present;           /* in the store already: only the trailer needs its bytes */
} BatchRecord;

struct Batch {
        PoolJob verify, hash;
        TransferImport *ti;
        Sha256 *volume_hash;    /* the volume's, fed in order by the hasher */
        uint8_t *buf;
        size_t size, allocated;
        BatchRecord *recs;
        size_t n, allocated_recs;
        uint64_t first;         /* volume-local index of recs[0] */
        size_t bad;             /* the record verify failed on */
        uint8_t *scratch;       /* decompressed contents, kept for the blob tracker */
        size_t allocated_scratch, raw;
        bool in_flight;
};

static const uint8_t *record_content(const Batch *b, const BatchRecord *rec) {
        return rec->content == SIZE_MAX ? b->buf + rec->offset + RECORD_HEADER_SIZE : b->scratch + rec->content;
}

/* Checks payloads: crc, decompression, and for literal objects the
 * SHA-256 of the content. A recipe's id can only be checked once all its
 * chunks are present (verify_recipes()). */
static int batch_verify(PoolJob *j) {
        Batch *b = container_of(j, Batch, verify);
        for (size_t i = 0; i < b->n; i++) {
                const BatchRecord *rec = &b->recs[i];
                if (rec->present)
                        continue;
                uint8_t *payload = b->buf + rec->offset + RECORD_HEADER_SIZE;
                int r = record_payload_decode(&rec->info, payload, (uint8_t *) record_content(b, rec),
                                              object_type_is_literal(rec->info.type));
                if (r < 0) {
                        b->bad = i;
                        return r;
                }
        }
        return 0;
}

static void blob_tracker_feed(BlobTracker *t, const Batch *b, const BatchRecord *rec);

/* In order: the volume hash, then (once the batch is verified) the blobs. */
static int batch_hash(PoolJob *j) {
        Batch *b = container_of(j, Batch, hash);
        sha256_update(b->volume_hash, b->buf, b->size);
        if (pool_wait(b->ti->workers, &b->verify) < 0)
                return 0; /* the caller reports it; nothing of this batch is trusted */
        for (size_t i = 0; i < b->n; i++)
                blob_tracker_feed(b->ti->tracker, b, &b->recs[i]);
        return 0;
}

static Batch *batches_free(Batch *batches) {
        for (size_t i = 0; batches && i < BATCHES; i++) {
                free(batches[i].buf);
                free(batches[i].recs);
                free(batches[i].scratch);
        }
        free(batches);
        return NULL;
}

/* Copies n bytes of the volume into dst, hashing them or not. Large runs
 * are read straight into dst. */
static int reader_copy(Reader *r, void *dst, size_t n, bool hash) {
        uint8_t *d = dst;
        size_t have = MIN(n, r->len - r->pos);
        memcpy(d, r->buf + r->pos, have);
        r->pos += have;
        size_t done = have;
        if (n - done >= READ_DIRECT_MIN) {
                ssize_t k = read_full(r->fd, d + done, n - done);
                if (k < 0)
                        return (int) k;
                if ((size_t) k < n - done)
                        return TRUNCATED;
                done = n;
        }
        if (done < n) {
                const uint8_t *p;
                int q = reader_take(r, n - done, false, &p);
                if (q < 0)
                        return q;
                memcpy(d + done, p, n - done);
                r->offset -= n - done; /* counted once, below */
        }
        if (hash)
                sha256_update(r->hash, d, n);
        r->offset += n;
        return 0;
}

static int read_failed(const Volume *v, int r, uint64_t k, char **reterr) {
        if (r == TRUNCATED)
                return reterr_printf(reterr, -EBADMSG, "%s is truncated: it ends inside object %" PRIu64 " of %" PRIu64,
                            v->name, k + 1, v->count);
        return reterr_printf(reterr, r, "cannot read %s: %s", v->name, strerror(-r));
}

/* Reads the next records of v into b (about BATCH_BYTES), checking each
 * header: whole, the next id of the object list, the size the list says. */
static int batch_fill(TransferImport *ti, StoreTxn *t, Volume *v, Batch *b, uint64_t *next, char **reterr) {
        char a[OBJECT_ID_HEX_SIZE], c[OBJECT_ID_HEX_SIZE];
        b->size = b->n = b->raw = 0;
        b->first = *next;
        b->volume_hash = v->reader.hash;
        b->ti = ti;
        while (*next < v->count && (b->n == 0 || (b->size < BATCH_BYTES && b->raw < BATCH_RAW_MAX))) {
                uint64_t k = *next;
                const ObjectId *want = list_id(ti, v->first + k);
                uint32_t size = list_record_size(ti, v->first + k);
                uint64_t at = v->reader.offset;
                int r = GROW(b->buf, b->allocated, b->size + size);
                if (r >= 0)
                        r = GROW(b->recs, b->allocated_recs, b->n + 1);
                if (r < 0)
                        return r;
                uint8_t *h = b->buf + b->size;
                r = reader_copy(&v->reader, h, RECORD_HEADER_SIZE, false);
                if (r < 0)
                        return read_failed(v, r, k, reterr);
                RecordInfo info;
                if (record_header_decode(h, &info) < 0)
                        return reterr_printf(reterr, -EBADMSG,
                                    "%s: object %" PRIu64 " of %" PRIu64 " (at byte %" PRIu64
                                    "): its record header is damaged",
                                    v->name, k + 1, v->count, at);
                if (!object_id_equal(&info.id, want))
                        return reterr_printf(reterr, -EBADMSG,
                                    "%s: objects reordered or duplicated: object %" PRIu64
                                    " is sha256:%.12s where the object list has sha256:%.12s",
                                    v->name, k + 1, object_id_to_hex(&info.id, a), object_id_to_hex(want, c));
                if (RECORD_HEADER_SIZE + info.stored_size != size)
                        return reterr_printf(reterr, -EBADMSG,
                                    "%s: object %" PRIu64 " (sha256:%.12s) is damaged: its size is not the one in "
                                    "the object list",
                                    v->name, k + 1, object_id_to_hex(want, a));
                if (info.type == OBJECT_STATE)
                        return reterr_printf(reterr, -EBADMSG,
                                    "%s: object %" PRIu64 " is a store STATE record, which never travels", v->name,
                                    k + 1);
                r = reader_copy(&v->reader, h + RECORD_HEADER_SIZE, info.stored_size, false);
                if (r < 0)
                        return read_failed(v, r, k, reterr);
                r = store_txn_has(t, &info.id);
                if (r < 0)
                        return r;
                BatchRecord *rec = &b->recs[b->n++];
                *rec = (BatchRecord) { .offset = b->size, .content = SIZE_MAX, .info = info, .present = r > 0 };
                if (!rec->present && !pack_compression_is_raw(info.compression)) {
                        rec->content = b->raw;
                        b->raw += info.raw_size;
                }
                b->size += size;
                (*next)++;
        }
        return GROW(b->scratch, b->allocated_scratch, MAX(b->raw, (size_t) 1));
}

/* Appends a verified batch's new records, as stored. */
static int batch_append(TransferImport *ti, StoreTxn *t, const Volume *v, Batch *b, int verified,
                        char **reterr) {
        char a[OBJECT_ID_HEX_SIZE];
        if (verified < 0) {
                const BatchRecord *rec = &b->recs[b->bad];
                if (verified != -EBADMSG)
                        return reterr_printf(reterr, verified, "cannot verify object sha256:%s: %s",
                                    object_id_to_hex(&rec->info.id, a), strerror(-verified));
                return reterr_printf(reterr, -EBADMSG,
                            "%s: object %" PRIu64 " of %" PRIu64 " (sha256:%.12s, a %s) is damaged: its payload "
                            "does not match its checksum or id",
                            v->name, b->first + b->bad + 1, v->count, object_id_to_hex(&rec->info.id, a),
                            object_type_to_string(rec->info.type));
        }
        for (size_t i = 0; i < b->n; i++) {
                const BatchRecord *rec = &b->recs[i];
                const RecordInfo *info = &rec->info;
                if (rec->present)
                        continue;
                uint8_t *payload = b->buf + rec->offset + RECORD_HEADER_SIZE;
                int r;
                if (object_type_is_literal(info->type))
                        r = store_txn_put_record(t, info, payload, info->raw_size, false);
                else {
                        /* Recipes go through the store's own encoder, which
                         * also records the blob size in the catalog; the
                         * bytes come out the same. */
                        const uint8_t *content = record_content(b, rec);
                        uint64_t total;
                        _cleanup_free_ BlobChunk *chunks = NULL;
                        size_t n;
                        r = recipe_parse(content, info->raw_size, &total, &chunks, &n);
                        if (r == -EBADMSG)
                                return reterr_printf(reterr, r, "%s: object %" PRIu64 " (sha256:%.12s) is not a valid recipe",
                                            v->name, b->first + i + 1, object_id_to_hex(&info->id, a));
                        if (r >= 0)
                                r = store_txn_put_recipe(t, &info->id, total, chunks, n);
                }
                if (r < 0)
                        return reterr_printf(reterr, r, "cannot stage object sha256:%s: %s", object_id_to_hex(&info->id, a),
                                    strerror(-r));
        }
        return 0;
}

/* ---- following blobs as their chunks go by ---- */

/* Export ships each recipe just before its chunks (transfer-format.h).
 * The tracker, fed every record in stream order by the hasher thread once
 * its batch is verified, takes a new recipe's chunk list and hashes the
 * chunks' contents as they follow, so the blob id is checked with no read
 * back. Whatever breaks the sequence (a chunk the store had already, one
 * the export carried earlier, a foreign order) just leaves that blob to
 * verify_recipes(). */
struct BlobTracker {
        ObjectId id;            /* the recipe followed */
        BlobChunk *chunks;
        size_t n, next;
        bool active;
        Sha256 *hash;
        IdSet *verified;        /* blobs whose chunks hashed to their id */
        bool failed;            /* one did not: */
        ObjectId bad;
};

static BlobTracker *blob_tracker_free(BlobTracker *t) {
        if (!t)
                return NULL;
        free(t->chunks);
        sha256_free(t->hash);
        id_set_free(t->verified);
        free(t);
        return NULL;
}

static int blob_tracker_new(BlobTracker **ret) {
        BlobTracker *t = calloc(1, sizeof *t);
        if (!t)
                return -ENOMEM;
        t->hash = sha256_new();
        if (!t->hash || id_set_new(&t->verified) < 0) {
                blob_tracker_free(t);
                return -ENOMEM;
        }
        *ret = t;
        return 0;
}

static void blob_tracker_drop(BlobTracker *t) {
        if (t->active) {
                ObjectId ignored;
                sha256_final(t->hash, &ignored); /* resets it */
        }
        t->active = false;
        free(t->chunks);
        t->chunks = NULL;
}

static void blob_tracker_feed(BlobTracker *t, const Batch *b, const BatchRecord *rec) {
        const RecordInfo *info = &rec->info;
        if (info->type == OBJECT_RECIPE && !rec->present) {
                blob_tracker_drop(t);
                uint64_t total;
                if (recipe_parse(record_content(b, rec), info->raw_size, &total, &t->chunks, &t->n) < 0)
                        return; /* batch_append says what is wrong with it */
                t->id = info->id;
                t->next = 0;
                t->active = true;
                return;
        }
        if (!t->active)
                return;
        const BlobChunk *want = &t->chunks[t->next];
        if (rec->present || !object_type_is_literal(info->type) || !object_id_equal(&info->id, &want->id) ||
            info->raw_size != want->size) {
                blob_tracker_drop(t);
                return;
        }
        sha256_update(t->hash, record_content(b, rec), info->raw_size);
        if (++t->next < t->n)
                return;
        ObjectId got;
        sha256_final(t->hash, &got);
        t->active = false;
        if (object_id_equal(&got, &t->id)) {
                if (id_set_add(t->verified, &t->id) < 0)
                        return; /* out of memory: verify_recipes() reads it back instead */
        } else if (!t->failed) {
                t->failed = true;
                t->bad = t->id;
        }
        blob_tracker_drop(t);
}

static int stream_records(TransferImport *ti, StoreTxn *t, Volume *v, uint64_t *done, uint64_t total,
                          char **reterr) {
        uint64_t next = 0, start = v->reader.offset;
        size_t head = 0, in_flight = 0;
        int r = 0;
        while (r >= 0 && (next < v->count || in_flight > 0)) {
                if (next < v->count && in_flight < BATCHES) {
                        Batch *b = &ti->batches[(head + in_flight) % BATCHES];
                        r = batch_fill(ti, t, v, b, &next, reterr);
                        if (r < 0)
                                break;
                        b->verify.fn = batch_verify;
                        b->hash.fn = batch_hash;
                        b->in_flight = true;
                        /* verify first: the hasher waits for it, and must
                         * not see the done flag of the batch's last use. */
                        pool_submit(ti->workers, &b->verify);
                        pool_submit(ti->hasher, &b->hash);
                        in_flight++;
                        continue;
                }
                Batch *b = &ti->batches[head];
                int verified = pool_wait(ti->workers, &b->verify);
                (void) pool_wait(ti->hasher, &b->hash);
                b->in_flight = false;
                r = batch_append(ti, t, v, b, verified, reterr);
                head = (head + 1) % BATCHES;
                in_flight--;
                if (ti->options.progress)
                        ti->options.progress(*done + (v->reader.offset - start), total, ti->options.userdata);
        }
        /* No job may outlive the failure with a batch still in its hands. */
        for (size_t i = 0; i < BATCHES; i++)
                if (ti->batches[i].in_flight) {
                        (void) pool_wait(ti->workers, &ti->batches[i].verify);
                        (void) pool_wait(ti->hasher, &ti->batches[i].hash);
                        ti->batches[i].in_flight = false;
                }
        /* A blob split across volumes is verified by reading it back. */
        blob_tracker_drop(ti->tracker);
        *done += v->reader.offset - start;
        return r;
}

static int stream_volume(TransferImport *ti, StoreTxn *t, Volume *v, uint64_t *done, uint64_t total,
                         char **reterr) {
        Reader *rd = &v->reader;
        int r = reader_reserve(rd, READ_BUFFER);
        if (r >= 0)
                r = pools_start(ti);
        if (r < 0)
                return r;
        if (!ti->batches) {
                ti->batches = calloc(BATCHES, sizeof *ti->batches);
                if (!ti->batches)
                        return -ENOMEM;
        }
        if (!ti->tracker && (r = blob_tracker_new(&ti->tracker)) < 0)
                return r;
        r = stream_records(ti, t, v, done, total, reterr);
        if (r < 0)
                return r;

        ObjectId digest;
        sha256_final(rd->hash, &digest);
        const uint8_t *p;
        r = reader_take(rd, TRANSFER_TRAILER_SIZE, false, &p);
        if (r == TRUNCATED)
                return reterr_printf(reterr, -EBADMSG, "%s is truncated: the trailer is missing", v->name);
        if (r < 0)
                return reterr_printf(reterr, r, "cannot read %s: %s", v->name, strerror(-r));
        if (memcmp(p, TRANSFER_TRAILER_MAGIC, 8) != 0 ||
            le64_read(p + offsetof(TransferTrailer, records)) != v->count ||
            le64_read(p + offsetof(TransferTrailer, record_bytes)) != v->record_bytes)
                return reterr_printf(reterr, -EBADMSG, "%s: the trailer is damaged", v->name);
        if (memcmp(p + offsetof(TransferTrailer, sha256), digest.bytes, OBJECT_ID_SIZE) != 0)
                return reterr_printf(reterr, -EBADMSG,
                            "%s: the trailer hash does not match the volume: the trailer, or bytes no other check "
                            "covers, are damaged",
                            v->name);
        r = reader_fill(rd, 1);
        if (r == 0)
                return reterr_printf(reterr, -EBADMSG, "%s: unexpected bytes after the trailer", v->name);
        if (r != TRUNCATED)
                return reterr_printf(reterr, r, "cannot read %s: %s", v->name, strerror(-r));
        /* Done with it; many volumes may be given at once. */
        free(rd->buf);
        rd->buf = NULL;
        rd->allocated = rd->pos = rd->len = 0;
        return 0;
}

/* ---- completing ---- */

/* A recipe's id is the SHA-256 of the bytes its chunks make: read them
 * back (each was verified against its own id as it was staged, or was in
 * the store already) and hash them in order, on the workers. */
typedef struct RecipeJob {
        PoolJob job;
        PackSet *packs;
        ObjectId id;
        ObjectLocation *locs;   /* of the chunks, in order */
        BlobChunk *chunks;
        size_t n;
        uint8_t *scratch;
        size_t allocated_scratch;
        bool in_flight;
} RecipeJob;

static int recipe_job_run(PoolJob *j) {
        RecipeJob *rj = container_of(j, RecipeJob, job);
        _cleanup_(sha256_freep) Sha256 *hash = sha256_new();
        if (!hash)
                return -ENOMEM;
        for (size_t k = 0; k < rj->n; k++) {
                int r = GROW(rj->scratch, rj->allocated_scratch, MAX(rj->locs[k].raw_size, 1u));
                if (r >= 0)
                        r = pack_set_read_into(rj->packs, &rj->locs[k], &rj->chunks[k].id, false, rj->scratch);
                if (r < 0)
                        return r;
                sha256_update(hash, rj->scratch, rj->locs[k].raw_size);
        }
        ObjectId got;
        sha256_final(hash, &got);
        return object_id_equal(&got, &rj->id) ? 0 : -EBADMSG;
}

static int recipe_job_finish(TransferImport *ti, RecipeJob *rj, char **reterr) {
        char a[OBJECT_ID_HEX_SIZE];
        int r = pool_wait(ti->workers, &rj->job);
        rj->in_flight = false;
        free(rj->locs);
        free(rj->chunks);
        rj->locs = NULL;
        rj->chunks = NULL;
        if (r == -EBADMSG)
                return reterr_printf(reterr, r,
                            "blob sha256:%s: its chunks do not hash to its id: the export is damaged or forged",
                            object_id_to_hex(&rj->id, a));
        if (r < 0)
                return reterr_printf(reterr, r, "blob sha256:%s: cannot read its chunks: %s", object_id_to_hex(&rj->id, a),
                            strerror(-r));
        return 0;
}

/* Reads recipe `id` and looks up its chunks (on this thread: the catalog
 * transaction is this thread's). */
static int recipe_job_prepare(TransferImport *ti, StoreTxn *t, const ObjectId *id, const ObjectLocation *loc,
                              RecipeJob *rj, char **reterr) {
        CatalogTxn *c = store_txn_catalog(t);
        char a[OBJECT_ID_HEX_SIZE], b[OBJECT_ID_HEX_SIZE];
        _cleanup_free_ void *buf = NULL;
        size_t n;
        uint64_t total;
        int r = pack_set_read(store_packs(ti->store), loc, id, false, &buf, &n);
        if (r >= 0)
                r = recipe_parse(buf, n, &total, &rj->chunks, &rj->n);
        if (r < 0)
                return reterr_printf(reterr, r, "blob sha256:%s: cannot read its recipe: %s", object_id_to_hex(id, a),
                            strerror(-r));
        rj->locs = calloc(rj->n, sizeof *rj->locs);
        if (!rj->locs)
                return -ENOMEM;
        for (size_t k = 0; k < rj->n; k++) {
                r = catalog_get_object(c, &rj->chunks[k].id, &rj->locs[k]);
                if (r == -ENOENT)
                        return reterr_printf(reterr, -EBADMSG,
                                    "blob sha256:%.12s needs chunk sha256:%.12s, which is neither in the export nor "
                                    "in this store",
                                    object_id_to_hex(id, a), object_id_to_hex(&rj->chunks[k].id, b));
                if (r < 0)
                        return r;
                if (!object_type_is_literal(rj->locs[k].type) || rj->locs[k].raw_size != rj->chunks[k].size)
                        return reterr_printf(reterr, -EBADMSG, "blob sha256:%.12s: chunk sha256:%.12s is not what it names",
                                    object_id_to_hex(id, a), object_id_to_hex(&rj->chunks[k].id, b));
        }
        rj->id = *id;
        rj->packs = store_packs(ti->store);
        rj->job.fn = recipe_job_run;
        return 0;
}

static int verify_recipes(TransferImport *ti, StoreTxn *t, char **reterr) {
        CatalogTxn *c = store_txn_catalog(t);
        int r = pools_start(ti);
        if (r < 0)
                return r;
        char a[OBJECT_ID_HEX_SIZE];
        if (ti->tracker && ti->tracker->failed)
                return reterr_printf(reterr, -EBADMSG,
                            "blob sha256:%s: its chunks do not hash to its id: the export is damaged or forged",
                            object_id_to_hex(&ti->tracker->bad, a));
        RecipeJob jobs[RECIPE_JOBS] = {};
        size_t next = 0;
        for (uint64_t i = 0; i < ti->n_objects && r >= 0; i++) {
                const ObjectId *id = list_id(ti, i);
                ObjectLocation loc;
                if (ti->tracker && id_set_contains(ti->tracker->verified, id))
                        continue;
                r = catalog_get_object(c, id, &loc);
                if (r < 0 || loc.type != OBJECT_RECIPE)
                        continue;
                RecipeJob *rj = &jobs[next];
                next = (next + 1) % RECIPE_JOBS;
                if (rj->in_flight && (r = recipe_job_finish(ti, rj, reterr)) < 0)
                        break;
                r = recipe_job_prepare(ti, t, id, &loc, rj, reterr);
                if (r < 0)
                        break;
                rj->in_flight = true;
                pool_submit(ti->workers, &rj->job);
        }
        for (size_t k = 0; k < RECIPE_JOBS; k++) {
                if (jobs[k].in_flight) {
                        int q = recipe_job_finish(ti, &jobs[k], reterr);
                        if (r >= 0)
                                r = q;
                }
                free(jobs[k].locs);
                free(jobs[k].chunks);
                free(jobs[k].scratch);
        }
        return r;
}

typedef struct Closure {
        const char *spec;
        char **reterr;
} Closure;

static int closure_fn(const ObjectId *id, ReachKind kind, const ObjectLocation *loc _unused_, ReachError error,
                      const char *detail _unused_, void *u) {
        Closure *c = u;
        if (error == REACH_MISSING)
                return reterr_printf(c->reterr, -EBADMSG,
                            "%s needs %s sha256:%s, which is neither in the export nor in this store", c->spec,
                            reach_kind_to_string(kind), object_id_hex(id));
        if (error != REACH_OK)
                return reterr_printf(c->reterr, -EBADMSG, "%s needs %s sha256:%s, which is damaged", c->spec,
                            reach_kind_to_string(kind), object_id_hex(id));
        return 0;
}

static int put_revisions(TransferImport *ti, StoreTxn *t, char **reterr) {
        Store *s = ti->store;
        CatalogTxn *c = store_txn_catalog(t);
        _cleanup_(id_set_freep) IdSet *seen = NULL;
        int r = id_set_new(&seen);
        if (r < 0)
                return r;
        size_t i;
        json_t *e;
        json_array_foreach(ti->revisions, i, e) {
                char spec[200];
                spec_of(e, spec);
                ObjectId id, root;
                (void) json_get_id(e, "id", &id);
                (void) json_get_id(e, "root", &root);
                const char *bundle = json_string_value(json_object_get(e, "bundle"));
                uint32_t rev = (uint32_t) json_integer_value(json_object_get(e, "revision"));

                /* The record must say what the manifest says it is. */
                json_t *rec;
                r = refs_read_record(s, &id, "revision", &rec);
                if (r < 0)
                        return reterr_printf(reterr, -EBADMSG, "the record of %s is missing or damaged", spec);
                ObjectId rec_root;
                bool same = json_equal(json_object_get(rec, "bundle"), json_object_get(e, "bundle")) &&
                            json_equal(json_object_get(rec, "revision"), json_object_get(e, "revision")) &&
                            json_get_id(rec, "root", &rec_root) >= 0 && object_id_equal(&rec_root, &root);
                json_decref(rec);
                if (!same)
                        return reterr_printf(reterr, -EBADMSG, "the record of %s does not match the manifest", spec);

                Closure cl = { spec, reterr };
                r = reach_walk(s, NULL, seen, &id, REACH_REVISION, closure_fn, &cl);
                if (r < 0)
                        return r;

                ObjectId have;
                r = catalog_get_revision(c, bundle, rev, &have);
                if (r == -ENOENT)
                        r = catalog_put_revision(c, bundle, rev, &id);
                else if (r >= 0 && !object_id_equal(&have, &id))
                        return reterr_printf(reterr, -EEXIST, "%s already exists in this store with other content", spec);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Activates the newest imported revision of each bundle. */
static int activate(TransferImport *ti, StoreTxn *t, uint64_t *ret_gen, char **reterr) {
        size_t i, j;
        json_t *e, *f;
        json_array_foreach(ti->revisions, i, e) {
                const char *bundle = json_string_value(json_object_get(e, "bundle"));
                json_int_t rev = json_integer_value(json_object_get(e, "revision"));
                bool newest = true;
                json_array_foreach(ti->revisions, j, f)
                        if (strcmp(json_string_value(json_object_get(f, "bundle")), bundle) == 0 &&
                            (json_integer_value(json_object_get(f, "revision")) > rev ||
                             (json_integer_value(json_object_get(f, "revision")) == rev && j < i)))
                                newest = false;
                if (!newest)
                        continue;
                int r = ti->options.activate(t, bundle, (uint32_t) rev, ret_gen, reterr);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int count_missing(TransferImport *ti, StoreTxn *t, TransferImportResult *res) {
        for (uint32_t s = 0; s < ti->n_slices; s++) {
                bool missing = false;
                for (uint64_t i = ti->slices[s].first; i < ti->slices[s].first + ti->slices[s].count; i++) {
                        int r = store_txn_has(t, list_id(ti, i));
                        if (r < 0)
                                return r;
                        if (r == 0) {
                                missing = true;
                                res->objects_missing++;
                                res->bytes_missing += list_record_size(ti, i);
                        }
                }
                if (!missing)
                        continue;
                size_t allocated = res->n_volumes_missing;
                int r = GROW(res->volumes_missing, allocated, res->n_volumes_missing + 1);
                if (r < 0)
                        return r;
                res->volumes_missing[res->n_volumes_missing++] = s + 1;
        }
        return 0;
}

int transfer_import_run(TransferImport *ti, TransferImportResult *ret, char **reterr) {
        if (ti->n_volumes == 0)
                return -EINVAL;
        Store *s = ti->store;
        TransferImportResult res = {
                .export_id = ti->export_id,
                .revisions = json_incref(ti->revisions),
                .volumes = ti->n_slices,
                .objects = ti->n_objects,
        };
        _cleanup_(json_decrefp) json_t *pending = NULL;
        _cleanup_(catalog_abortp) CatalogTxn *c = NULL;
        int r = catalog_begin(store_catalog(s), false, &c);
        if (r >= 0)
                r = pending_read(s, c, &pending);
        if (r < 0) {
                transfer_import_result_done(&res);
                return reterr_printf(reterr, r, "cannot read the catalog: %s", strerror(-r));
        }
        bool was_pending = pending_find(pending, &ti->export_id) >= 0;
        r = check_revisions(ti, c, reterr);
        if (r > 0 && !was_pending) {
                res.status = TRANSFER_IMPORT_NOTHING;
                *ret = res;
                return 0;
        }
        if (r >= 0)
                r = check_bases(ti, c, reterr);
        if (r >= 0)
                r = check_space(ti, c, reterr);
        catalog_abort(TAKE_PTR(c));
        if (r < 0) {
                transfer_import_result_done(&res);
                return r;
        }

        _cleanup_(store_txn_abortp) StoreTxn *t = NULL;
        r = store_begin(s, &t);
        if (r < 0) {
                transfer_import_result_done(&res);
                return reterr_printf(reterr, r, "cannot start a transaction: %s", strerror(-r));
        }
        uint64_t total = 0, done = 0;
        for (size_t i = 0; i < ti->n_volumes; i++)
                if (!ti->volumes[i].duplicate && ti->volumes[i].new_objects > 0)
                        total += ti->volumes[i].size;
        for (size_t i = 0; i < ti->n_volumes && r >= 0; i++) {
                Volume *v = &ti->volumes[i];
                if (v->duplicate || v->new_objects == 0)
                        continue; /* everything in it is here already */
                r = stream_volume(ti, t, v, &done, total, reterr);
                res.objects_new += v->new_objects;
                res.bytes_new += v->new_bytes;
        }
        if (r >= 0)
                r = count_missing(ti, t, &res);
        if (r >= 0 && res.objects_missing == 0) {
                r = verify_recipes(ti, t, reterr);
                if (r >= 0)
                        r = put_revisions(ti, t, reterr);
                if (r >= 0)
                        r = pending_prune(t, pending);
                if (r >= 0 && ti->options.activate)
                        r = activate(ti, t, &res.generation, reterr);
                res.status = TRANSFER_IMPORT_COMMITTED;
        } else if (r >= 0 && res.objects_new == 0 && was_pending) {
                /* A volume staged before: nothing to write, so write nothing. */
                res.status = TRANSFER_IMPORT_NOTHING;
                store_txn_abort(TAKE_PTR(t));
                *ret = res;
                return 0;
        } else if (r >= 0) {
                if (!was_pending)
                        r = pending_add(ti, t, pending);
                res.status = TRANSFER_IMPORT_STAGED;
        }
        if (r >= 0) {
                r = store_txn_commit(TAKE_PTR(t));
                if (r < 0)
                        reterr_printf(reterr, r, "cannot commit to the store: %s", strerror(-r));
        }
        if (r < 0) {
                transfer_import_result_done(&res);
                return reterr_printf(reterr, r, "%s", strerror(-r));
        }
        *ret = res;
        return 0;
}
