/* SPDX-License-Identifier: Apache-2.0 */
#include "store.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include "chunker.h"
#include "compressor.h"
#include "fileio.h"
#include "pack-writer.h"
#include "reterr.h"

/* Tree encodings from this size on are stored in chunks (CHUNKER_TREE). */
#define TREE_CHUNKED_MIN (16u << 10)
/* Checkpoint a write transaction after this many objects. */
#define CHECKPOINT_OBJECTS 200000

struct Store {
        char *path;
        char *packs_dir;
        Catalog *catalog;
        PackSet *packs;
        int lock_fd;
        /* The open write transaction and its thread: reads from that thread
         * see what it wrote before commit. */
        StoreTxn *active;
        pthread_t writer;
};

struct StoreTxn {
        Store *store;
        CatalogTxn *catalog;
        PackWriter *writer;
        uint64_t sequence;
        Compressor *compressor;
        uint64_t objects_since_checkpoint;
        uint64_t bytes_written;
};

const char *store_path(const Store *s) {
        return s->path;
}
Catalog *store_catalog(Store *s) {
        return s->catalog;
}
PackSet *store_packs(Store *s) {
        return s->packs;
}
CatalogTxn *store_txn_catalog(StoreTxn *t) {
        return t->catalog;
}
Store *store_txn_store(StoreTxn *t) {
        return t->store;
}
uint64_t store_txn_bytes_written(const StoreTxn *t) {
        return t->bytes_written;
}

static bool dir_is_empty(const char *path) {
        DIR *d = opendir(path);
        if (!d)
                return errno == ENOENT;
        struct dirent *de;
        bool empty = true;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
                        empty = false;
                        break;
                }
        closedir(d);
        return empty;
}

int store_init(const char *path) {
        _cleanup_free_ char *marker = path_join(path, STORE_MARKER);
        if (!marker)
                return -ENOMEM;
        if (access(marker, F_OK) == 0 || !dir_is_empty(path))
                return -EEXIST;
        int r = mkdir_p(path, 0755);
        if (r < 0)
                return r;
        static const char *const dirs[] = { "index", "packs", "tmp" };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                _cleanup_free_ char *d = path_join(path, dirs[i]);
                if (!d)
                        return -ENOMEM;
                r = mkdir_p(d, 0755);
                if (r < 0)
                        return r;
        }
        _cleanup_free_ char *index = path_join(path, "index");
        _cleanup_(catalog_freep) Catalog *c = NULL;
        if (!index)
                return -ENOMEM;
        r = catalog_open(index, true, &c);
        if (r < 0)
                return r;
        /* Where the first writer appends. A catalog without this value
         * beside existing packs is an index that was lost (store_begin). */
        _cleanup_(catalog_abortp) CatalogTxn *t = NULL;
        r = catalog_begin(c, true, &t);
        if (r < 0)
                return r;
        r = catalog_put_u64(t, "pack", 1);
        if (r >= 0)
                r = catalog_put_u64(t, "pack-end", 0);
        if (r < 0)
                return r;
        r = catalog_commit(TAKE_PTR(t));
        if (r < 0)
                return r;
        /* The marker last: a store without it is an interrupted init. */
        return write_file_atomic(marker, STORE_MARKER_CONTENT, strlen(STORE_MARKER_CONTENT), 0644);
}

Store *store_free(Store *s) {
        if (!s)
                return NULL;
        catalog_free(s->catalog);
        pack_set_free(s->packs);
        if (s->lock_fd >= 0)
                close(s->lock_fd);
        free(s->packs_dir);
        free(s->path);
        free(s);
        return NULL;
}

static int empty_tmp(const char *path) {
        _cleanup_free_ char *tmp = path_join(path, "tmp");
        if (!tmp)
                return -ENOMEM;
        DIR *d = opendir(tmp);
        if (!d)
                return errno == ENOENT ? mkdir_p(tmp, 0755) : -errno;
        struct dirent *de;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.' || (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")))
                        (void) unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
        return 0;
}

int store_open(const char *path, bool write, Store **ret) {
        _cleanup_free_ char *marker = path_join(path, STORE_MARKER);
        if (!marker)
                return -ENOMEM;
        _cleanup_free_ char *content = NULL;
        int r = read_file(marker, 64, &content, NULL);
        if (r < 0)
                return r == -ENOENT || r == -ENOTDIR ? -ENOENT : r;
        if (strcmp(content, STORE_MARKER_CONTENT) != 0)
                return -EPROTONOSUPPORT;

        _cleanup_(store_freep) Store *s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->lock_fd = -1;
        s->path = strdup(path);
        s->packs_dir = path_join(path, "packs");
        if (!s->path || !s->packs_dir)
                return -ENOMEM;

        if (write) {
                _cleanup_free_ char *lock = path_join(path, "lock");
                if (!lock)
                        return -ENOMEM;
                s->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
                if (s->lock_fd < 0)
                        return -errno;
                if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0)
                        return errno == EWOULDBLOCK ? -EBUSY : -errno;
                r = empty_tmp(path);
                if (r < 0)
                        return r;
        }
        _cleanup_free_ char *index = path_join(path, "index");
        if (!index)
                return -ENOMEM;
        r = catalog_open(index, write, &s->catalog);
        if (r == -ENOENT)
                return -ENOTRECOVERABLE; /* the marker is there, the index is not */
        if (r < 0)
                return r;
        r = pack_set_new(s->packs_dir, &s->packs);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

int store_open_error(char **reterr, const char *path, int r) {
        switch (r) {
        case -ENOENT:
                return reterr_printf(reterr, r, "%s is not an isle store (create one with `isle --store %s init`)",
                                     path, path);
        case -EBUSY:
                return reterr_printf(reterr, r,
                                     "store %s is in use by another isle process that writes to it; try again "
                                     "when it has finished",
                                     path);
        case -ENOTRECOVERABLE:
                return reterr_printf(reterr, r,
                                     "the index of store %s is missing; rebuild it from the packs with `isle "
                                     "--store %s fsck --rebuild-index`",
                                     path, path);
        case -EMEDIUMTYPE:
                return reterr_printf(reterr, r,
                                     "the index of store %s was written by an older isle; rebuild it from the "
                                     "packs with `isle --store %s fsck --rebuild-index`",
                                     path, path);
        case -EPROTONOSUPPORT:
                return reterr_printf(reterr, r, "store %s was made by a newer isle (unknown format)", path);
        default:
                return reterr_printf(reterr, r, "cannot open store %s: %s", path, strerror(-r));
        }
}

/* ---- reading ---- */

int store_lookup(Store *s, const ObjectId *id, ObjectLocation *ret) {
        if (s->active && pthread_equal(s->writer, pthread_self()))
                return catalog_get_object(s->active->catalog, id, ret);
        _cleanup_(catalog_abortp) CatalogTxn *t = NULL;
        int r = catalog_begin(s->catalog, false, &t);
        if (r < 0)
                return r;
        return catalog_get_object(t, id, ret);
}

int store_read_object(Store *s, const ObjectId *id, uint8_t expected_type, void **ret, size_t *ret_size) {
        ObjectLocation loc;
        int r = store_lookup(s, id, &loc);
        if (r < 0)
                return r;
        if (expected_type && loc.type != expected_type)
                return -EBADMSG;
        return pack_set_read(s->packs, &loc, id, true, ret, ret_size);
}

int store_read_tree_bytes(Store *s, const ObjectId *id, void **ret, size_t *ret_size) {
        ObjectLocation loc;
        int r = store_lookup(s, id, &loc);
        if (r < 0)
                return r;
        if (loc.type == OBJECT_TREE)
                return pack_set_read(s->packs, &loc, id, true, ret, ret_size);
        if (loc.type != OBJECT_RECIPE)
                return -EBADMSG;
        /* A large tree, stored in chunks: each chunk is verified as it is
         * read, the whole against the tree's id (the recipe itself is only
         * checksummed). */
        _cleanup_free_ void *buf = NULL;
        size_t n;
        r = store_read_blob(s, id, RECORD_PAYLOAD_MAX, &buf, &n);
        if (r < 0)
                return r == -EFBIG ? -EBADMSG : r;
        ObjectId got;
        object_id_hash(buf, n, &got);
        if (!object_id_equal(&got, id))
                return -EBADMSG;
        *ret = TAKE_PTR(buf);
        *ret_size = n;
        return 0;
}

int store_read_tree(Store *s, const ObjectId *id, Tree **ret) {
        _cleanup_free_ void *buf = NULL;
        size_t n;
        int r = store_read_tree_bytes(s, id, &buf, &n);
        if (r < 0)
                return r;
        return tree_decode(buf, n, ret);
}

int store_read_json(Store *s, const ObjectId *id, json_t **ret) {
        _cleanup_free_ void *buf = NULL;
        size_t n;
        int r = store_read_object(s, id, 0, &buf, &n);
        if (r < 0)
                return r;
        json_t *j = json_loadb(buf, n, 0, NULL);
        if (!j)
                return -EBADMSG;
        *ret = j;
        return 0;
}

Blob *blob_free(Blob *b) {
        if (!b)
                return NULL;
        free(b->chunks);
        free(b->locations);
        free(b);
        return NULL;
}

static int recipe_decode(const ObjectId *id, const uint8_t *p, size_t n, Blob **ret) {
        if (n < RECIPE_HEADER_SIZE)
                return -EBADMSG;
        uint64_t total = le64_read(p);
        uint32_t count = le32_read(p + 8);
        if (le32_read(p + 12) != 0 || count == 0 || (n - RECIPE_HEADER_SIZE) / RECIPE_ENTRY_SIZE != count ||
            (n - RECIPE_HEADER_SIZE) % RECIPE_ENTRY_SIZE != 0)
                return -EBADMSG;
        _cleanup_(blob_freep) Blob *b = calloc(1, sizeof *b);
        if (!b)
                return -ENOMEM;
        b->chunks = calloc(count, sizeof(BlobChunk));
        if (!b->chunks)
                return -ENOMEM;
        b->id = *id;
        b->n_chunks = count;
        uint64_t offset = 0;
        for (uint32_t i = 0; i < count; i++) {
                const uint8_t *e = p + RECIPE_HEADER_SIZE + (size_t) i * RECIPE_ENTRY_SIZE;
                BlobChunk *c = &b->chunks[i];
                memcpy(c->id.bytes, e, OBJECT_ID_SIZE);
                c->size = le32_read(e + 32);
                c->offset = offset;
                if (c->size == 0 || c->size > RECORD_PAYLOAD_MAX || le32_read(e + 36) != 0)
                        return -EBADMSG;
                offset += c->size;
        }
        if (offset != total)
                return -EBADMSG;
        b->size = total;
        *ret = TAKE_PTR(b);
        return 0;
}

int store_open_blob(Store *s, const ObjectId *id, Blob **ret) {
        ObjectLocation loc;
        int r = store_lookup(s, id, &loc);
        if (r < 0)
                return r;
        if (loc.type == OBJECT_RECIPE) {
                _cleanup_free_ void *buf = NULL;
                size_t n;
                r = pack_set_read(s->packs, &loc, id, false, &buf, &n);
                if (r < 0)
                        return r;
                return recipe_decode(id, buf, n, ret);
        }
        Blob *b = calloc(1, sizeof *b);
        if (!b)
                return -ENOMEM;
        b->chunks = calloc(1, sizeof(BlobChunk));
        /* The lookup above already says where its one chunk is. */
        b->locations = malloc(sizeof(ObjectLocation));
        if (!b->chunks || !b->locations) {
                blob_free(b);
                return -ENOMEM;
        }
        b->id = *id;
        b->size = loc.raw_size;
        b->n_chunks = loc.raw_size > 0; /* the empty blob has no chunks */
        b->chunks[0] = (BlobChunk) { .id = *id, .offset = 0, .size = loc.raw_size };
        b->locations[0] = loc;
        *ret = b;
        return 0;
}

size_t blob_find_chunk(const Blob *b, uint64_t offset) {
        size_t lo = 0, hi = b->n_chunks;
        while (hi - lo > 1) {
                size_t mid = lo + (hi - lo) / 2;
                if (b->chunks[mid].offset <= offset)
                        lo = mid;
                else
                        hi = mid;
        }
        return lo;
}

int store_blob_locate(Store *s, Blob *b) {
        if (b->locations || b->n_chunks == 0)
                return 0;
        _cleanup_free_ ObjectLocation *locs = calloc(b->n_chunks, sizeof *locs);
        if (!locs)
                return -ENOMEM;
        _cleanup_(catalog_abortp) CatalogTxn *t = NULL;
        int r = catalog_begin(s->catalog, false, &t);
        if (r < 0)
                return r;
        for (size_t i = 0; i < b->n_chunks; i++) {
                r = catalog_get_object(t, &b->chunks[i].id, &locs[i]);
                if (r < 0)
                        return r == -ENOENT ? -EBADMSG : r; /* a recipe naming a missing chunk is damage */
        }
        b->locations = TAKE_PTR(locs);
        return 0;
}

static int read_chunk_at(Store *s, const BlobChunk *chunk, const ObjectLocation *loc, StoreVerify verify,
                         void *buf) {
        if (!object_type_is_literal(loc->type) || loc->raw_size != chunk->size)
                return -EBADMSG;
        return pack_set_read_into(s->packs, loc, &chunk->id, verify == STORE_VERIFY_DIGEST, buf);
}

static int read_chunk_looked_up(Store *s, const BlobChunk *chunk, StoreVerify verify, void *buf,
                                ObjectLocation *ret_loc) {
        int r = store_lookup(s, &chunk->id, ret_loc);
        if (r < 0)
                return r == -ENOENT ? -EBADMSG : r; /* a recipe naming a missing chunk is damage */
        return read_chunk_at(s, chunk, ret_loc, verify, buf);
}

int store_read_chunk(Store *s, const BlobChunk *chunk, void *buf) {
        ObjectLocation loc;
        return read_chunk_looked_up(s, chunk, STORE_VERIFY_DIGEST, buf, &loc);
}

int store_read_blob_chunk(Store *s, const Blob *b, size_t i, StoreVerify verify, void *buf) {
        ObjectLocation fresh;
        if (!b->locations)
                return read_chunk_looked_up(s, &b->chunks[i], verify, buf, &fresh);
        const ObjectLocation *loc = &b->locations[i];
        int r = read_chunk_at(s, &b->chunks[i], loc, verify, buf);
        if (r != -EBADMSG && r != -ENOENT)
                return r;
        /* gc may have moved the chunk since the blob was located: only a
         * read from where the catalog says it is now can call it damaged. */
        int q = store_lookup(s, &b->chunks[i].id, &fresh);
        if (q < 0 || (fresh.pack == loc->pack && fresh.offset == loc->offset))
                return r;
        return read_chunk_at(s, &b->chunks[i], &fresh, verify, buf);
}

int store_blob_chunk_pages(Store *s, const Blob *b, size_t i, uint32_t **ret_table) {
        if (!b->locations || i >= b->n_chunks)
                return -EINVAL;
        const ObjectLocation *loc = &b->locations[i];
        if (loc->compression != PACK_COMPRESSION_PAGED || loc->raw_size != b->chunks[i].size)
                return -EINVAL;
        return pack_set_read_page_table(s->packs, loc, &b->chunks[i].id, ret_table);
}

int store_read_blob_chunk_part(Store *s, const Blob *b, size_t i, const uint32_t *table, uint64_t offset,
                               size_t len, void *buf) {
        if (!b->locations || i >= b->n_chunks)
                return -EINVAL;
        return pack_set_read_pages(s->packs, &b->locations[i], table, offset, len, buf);
}

int store_blob_write_to_fd(Store *s, const Blob *b, int fd) {
        uint32_t max = 0;
        for (size_t i = 0; i < b->n_chunks; i++)
                max = MAX(max, b->chunks[i].size);
        _cleanup_free_ uint8_t *buf = malloc(max ? max : 1);
        if (!buf)
                return -ENOMEM;
        for (size_t i = 0; i < b->n_chunks; i++) {
                int r = store_read_chunk(s, &b->chunks[i], buf);
                if (r < 0)
                        return r;
                r = write_full(fd, buf, b->chunks[i].size);
                if (r < 0)
                        return r;
        }
        return 0;
}

int store_read_blob(Store *s, const ObjectId *id, size_t max, void **ret, size_t *ret_size) {
        _cleanup_(blob_freep) Blob *b = NULL;
        int r = store_open_blob(s, id, &b);
        if (r < 0)
                return r;
        if (b->size > max)
                return -EFBIG;
        _cleanup_free_ uint8_t *buf = malloc(b->size + 1);
        if (!buf)
                return -ENOMEM;
        for (size_t i = 0; i < b->n_chunks; i++) {
                r = store_read_chunk(s, &b->chunks[i], buf + b->chunks[i].offset);
                if (r < 0)
                        return r;
        }
        buf[b->size] = 0;
        *ret_size = b->size;
        *ret = TAKE_PTR(buf);
        return 0;
}

/* ---- packs ---- */

static int pack_number_compare(const void *a, const void *b) {
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
        return x < y ? -1 : x > y;
}

/* The number in a pack file name, if the name is exactly what pack_path()
 * makes for it. */
static bool pack_name_parse(const char *name, uint32_t *ret) {
        if (strncmp(name, "pack-", 5) != 0 || name[5] < '0' || name[5] > '9')
                return false;
        char *end;
        errno = 0;
        unsigned long v = strtoul(name + 5, &end, 10);
        if (errno || *end || v == 0 || v > UINT32_MAX)
                return false;
        char canonical[32];
        snprintf(canonical, sizeof canonical, "pack-%06lu", v);
        if (strcmp(canonical, name) != 0)
                return false;
        *ret = (uint32_t) v;
        return true;
}

int store_list_packs(Store *s, uint32_t **ret, size_t *ret_n) {
        _cleanup_free_ char *dir = path_join(store_path(s), "packs");
        if (!dir)
                return -ENOMEM;
        DIR *d = opendir(dir);
        if (!d)
                return -errno;
        _cleanup_free_ uint32_t *packs = NULL;
        size_t n = 0, allocated = 0;
        struct dirent *de;
        int r = 0;
        errno = 0;
        while ((de = readdir(d))) {
                uint32_t p;
                if (!pack_name_parse(de->d_name, &p))
                        continue;
                r = GROW(packs, allocated, n + 1);
                if (r < 0)
                        break;
                packs[n++] = p;
        }
        if (r >= 0 && errno)
                r = -errno;
        closedir(d);
        if (r < 0)
                return r;
        if (n > 0)
                qsort(packs, n, sizeof *packs, pack_number_compare);
        *ret = TAKE_PTR(packs);
        *ret_n = n;
        return 0;
}

/* ---- writing ---- */

static bool store_has_packs(Store *s) {
        DIR *d = opendir(s->packs_dir);
        if (!d)
                return false;
        struct dirent *de;
        bool found = false;
        while (!found && (de = readdir(d)))
                found = strncmp(de->d_name, "pack-", 5) == 0;
        closedir(d);
        return found;
}

static int txn_open_catalog_and_writer(StoreTxn *t) {
        Store *s = t->store;
        int r = catalog_begin(s->catalog, true, &t->catalog);
        if (r < 0)
                return r;
        uint64_t pack = 1, end = 0, seq = 0;
        r = catalog_get_u64(t->catalog, "pack", &pack);
        if (r == -ENOENT && store_has_packs(s))
                /* An index that never saw a commit, beside packs: it was lost.
                 * Writing now would start pack 1 afresh over the truth. */
                return -ENOTRECOVERABLE;
        (void) catalog_get_u64(t->catalog, "pack-end", &end);
        (void) catalog_get_u64(t->catalog, "sequence", &seq);
        t->sequence = seq + 1;
        if (!t->writer) {
                r = pack_writer_open(s->packs_dir, (uint32_t) pack, end, t->sequence, &t->writer);
                if (r < 0)
                        return r;
        }
        return 0;
}

int store_begin(Store *s, StoreTxn **ret) {
        if (s->lock_fd < 0 || s->active)
                return -EBUSY;
        _cleanup_(store_txn_abortp) StoreTxn *t = calloc(1, sizeof *t);
        if (!t)
                return -ENOMEM;
        t->store = s;
        int r = txn_open_catalog_and_writer(t);
        if (r < 0)
                return r;
        s->active = t;
        s->writer = pthread_self();
        *ret = TAKE_PTR(t);
        return 0;
}

StoreTxn *store_txn_abort(StoreTxn *t) {
        if (!t)
                return NULL;
        if (t->store->active == t)
                t->store->active = NULL;
        catalog_abort(t->catalog);
        pack_writer_free(t->writer); /* cuts off what was not synced */
        compressor_free(t->compressor);
        free(t);
        return NULL;
}

int store_txn_has(StoreTxn *t, const ObjectId *id) {
        ObjectLocation loc;
        int r = catalog_get_object(t->catalog, id, &loc);
        if (r == -ENOENT)
                return 0;
        return r < 0 ? r : 1;
}

static int txn_append(StoreTxn *t, uint8_t type, const ObjectId *id, PackCompression c, const void *payload,
                      size_t stored, size_t raw, uint64_t content_size, const uint32_t *crc) {
        ObjectLocation loc;
        int r = pack_writer_append(t->writer, type, id, c, payload, stored, raw, content_size, crc, &loc);
        if (r < 0)
                return r;
        r = catalog_put_object(t->catalog, id, &loc);
        if (r < 0)
                return r;
        t->bytes_written += RECORD_HEADER_SIZE + stored;
        if (++t->objects_since_checkpoint >= CHECKPOINT_OBJECTS) {
                r = store_txn_checkpoint(t);
                if (r < 0)
                        return r;
        }
        return 1;
}

int store_txn_put(StoreTxn *t, uint8_t type, const ObjectId *id, const void *data, size_t n, bool compress) {
        int r = store_txn_has(t, id);
        if (r != 0)
                return r < 0 ? r : 0;
        if (n > RECORD_PAYLOAD_MAX)
                return -EFBIG;
        if (compress) {
                if (!t->compressor) {
                        t->compressor = compressor_new(COMPRESSOR_SMALL);
                        if (!t->compressor)
                                return -ENOMEM;
                }
                const void *packed;
                size_t k;
                r = compressor_run(t->compressor, data, n, &packed, &k);
                if (r < 0)
                        return r;
                if (r > 0)
                        return txn_append(t, type, id, PACK_COMPRESSION_ZSTD, packed, k, n, n, NULL);
        }
        return txn_append(t, type, id, PACK_COMPRESSION_NONE, data, n, n, n, NULL);
}

int store_txn_put_record(StoreTxn *t, const RecordInfo *info, const void *stored, uint64_t content_size,
                         bool replace) {
        if (!replace) {
                int r = store_txn_has(t, &info->id);
                if (r != 0)
                        return r < 0 ? r : 0;
        }
        return txn_append(t, info->type, &info->id, (PackCompression) info->compression, stored, info->stored_size,
                          info->raw_size, content_size, &info->payload_crc);
}

int store_txn_put_recipe(StoreTxn *t, const ObjectId *id, uint64_t size, const BlobChunk *chunks, size_t n) {
        int r = store_txn_has(t, id);
        if (r != 0)
                return r < 0 ? r : 0;
        if (n == 0 || n > (RECORD_PAYLOAD_MAX - RECIPE_HEADER_SIZE) / RECIPE_ENTRY_SIZE)
                return -EFBIG;
        size_t len = RECIPE_HEADER_SIZE + n * RECIPE_ENTRY_SIZE;
        _cleanup_free_ uint8_t *p = calloc(1, len);
        if (!p)
                return -ENOMEM;
        le64_write(p, size);
        le32_write(p + 8, (uint32_t) n);
        for (size_t i = 0; i < n; i++) {
                uint8_t *e = p + RECIPE_HEADER_SIZE + i * RECIPE_ENTRY_SIZE;
                memcpy(e, chunks[i].id.bytes, OBJECT_ID_SIZE);
                le32_write(e + 32, chunks[i].size);
        }
        return txn_append(t, OBJECT_RECIPE, id, PACK_COMPRESSION_NONE, p, len, len, size, NULL);
}

/* Stores bytes as compressed chunks plus a recipe under id, the SHA-256 of
 * all of them: how large trees dedup between versions. */
static int txn_put_chunked(StoreTxn *t, const ObjectId *id, const uint8_t *p, size_t n,
                           const ChunkerParams *params) {
        int r = store_txn_has(t, id);
        if (r != 0)
                return r < 0 ? r : 0;
        _cleanup_free_ BlobChunk *chunks = NULL;
        size_t n_chunks = 0, allocated = 0;
        for (size_t off = 0; off < n;) {
                size_t k = chunker_next_cut(params, p + off, MIN(n - off, params->max));
                r = GROW(chunks, allocated, n_chunks + 1);
                if (r < 0)
                        return r;
                BlobChunk *c = &chunks[n_chunks++];
                *c = (BlobChunk) { .offset = off, .size = (uint32_t) k };
                object_id_hash(p + off, k, &c->id);
                r = store_txn_put(t, OBJECT_CHUNK, &c->id, p + off, k, true);
                if (r < 0)
                        return r;
                off += k;
        }
        return store_txn_put_recipe(t, id, n, chunks, n_chunks);
}

int store_txn_put_tree(StoreTxn *t, Tree *tree, ObjectId *ret) {
        int r = tree_sort(tree);
        if (r < 0)
                return r;
        _cleanup_free_ void *buf = NULL;
        size_t n;
        r = tree_encode(tree, &buf, &n);
        if (r < 0)
                return r;
        ObjectId id;
        object_id_hash(buf, n, &id);
        r = n < TREE_CHUNKED_MIN ? store_txn_put(t, OBJECT_TREE, &id, buf, n, true)
                                 : txn_put_chunked(t, &id, buf, n, &CHUNKER_TREE);
        if (r < 0)
                return r;
        *ret = id;
        return 0;
}

int store_txn_put_json(StoreTxn *t, const json_t *doc, ObjectId *ret) {
        _cleanup_free_ char *s = json_dumps(doc, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENSURE_ASCII);
        if (!s)
                return -ENOMEM;
        ObjectId id;
        object_id_hash(s, strlen(s), &id);
        int r = store_txn_put(t, OBJECT_RECORD, &id, s, strlen(s), true);
        if (r < 0)
                return r;
        *ret = id;
        return 0;
}

int store_txn_put_small_blob(StoreTxn *t, const void *data, size_t n, ObjectId *ret) {
        ObjectId id;
        object_id_hash(data, n, &id);
        int r = store_txn_put(t, OBJECT_CHUNK, &id, data, n, true);
        if (r < 0)
                return r;
        *ret = id;
        return 0;
}

/* Records where the next writer appends. */
static int txn_record_pack_end(StoreTxn *t) {
        int r = catalog_put_u64(t->catalog, "pack", pack_writer_pack(t->writer));
        if (r >= 0)
                r = catalog_put_u64(t->catalog, "pack-end", pack_writer_end(t->writer));
        return r;
}

/* Bytes free on the filesystem holding the index. */
static int index_free_bytes(Store *s, uint64_t *ret) {
        _cleanup_free_ char *index = path_join(s->path, "index");
        struct statvfs st;
        if (!index)
                return -ENOMEM;
        if (statvfs(index, &st) < 0)
                return -errno;
        *ret = (uint64_t) st.f_bavail * st.f_frsize;
        return 0;
}

/* LMDB writes a transaction's pages only at commit, and a commit that
 * runs out of space fails after the packs were made durable. Refusing
 * beforehand, while aborting still leaves every file as it was, is the
 * only way a full disk changes nothing. The estimate is generous: every
 * put may dirty a leaf and a branch page, bounded by the whole index plus
 * the new entries, plus room for LMDB's own bookkeeping. */
static int txn_check_index_space(StoreTxn *t) {
        uint64_t free_bytes, index_bytes = 0;
        if (index_free_bytes(t->store, &free_bytes) < 0)
                return 0; /* cannot tell: let the commit say */
        (void) catalog_size(t->store->catalog, &index_bytes);
        uint64_t puts = t->objects_since_checkpoint + 16;
        uint64_t need = MIN(puts * 2 * 4096, index_bytes + puts * 256) + (64u << 10);
        return free_bytes < need ? -ENOSPC : 0;
}

/* LMDB turns a short write on a full disk into EIO; say what happened. */
static int commit_error(StoreTxn *t, int r) {
        uint64_t free_bytes;
        if (r == -EIO && index_free_bytes(t->store, &free_bytes) >= 0 && free_bytes < (1u << 20))
                return -ENOSPC;
        return r;
}

int store_txn_checkpoint(StoreTxn *t) {
        int r = pack_writer_sync(t->writer);
        if (r < 0)
                return r;
        r = txn_record_pack_end(t);
        if (r < 0)
                return r;
        r = catalog_commit(t->catalog);
        t->catalog = NULL;
        if (r < 0)
                return commit_error(t, r);
        pack_writer_committed(t->writer);
        t->objects_since_checkpoint = 0;
        return catalog_begin(t->store->catalog, true, &t->catalog);
}

/* The STATE record: every ref, so that the packs alone say what the
 * catalog held. */
static int state_add_revision(const char *bundle, uint32_t rev, const ObjectId *id, void *u) {
        json_t *arr = u, *e = json_pack("[s,i,s]", bundle, (json_int_t) rev, object_id_hex(id));
        return e && json_array_append_new(arr, e) == 0 ? 0 : -ENOMEM;
}

static int state_add_generation(uint64_t gen, const ObjectId *id, void *u) {
        json_t *arr = u, *e = json_pack("[I,s]", (json_int_t) gen, object_id_hex(id));
        return e && json_array_append_new(arr, e) == 0 ? 0 : -ENOMEM;
}

static int txn_write_state(StoreTxn *t) {
        json_t *revs = json_array(), *gens = json_array();
        json_t *doc = json_pack("{s:s,s:I,s:o,s:o}", "type", "state", "sequence", (json_int_t) t->sequence,
                                "revisions", revs, "generations", gens);
        if (!doc)
                return -ENOMEM;
        int r = catalog_foreach_revision(t->catalog, NULL, state_add_revision, revs);
        if (r >= 0)
                r = catalog_foreach_generation(t->catalog, state_add_generation, gens);
        uint64_t current;
        if (r >= 0 && catalog_get_u64(t->catalog, "current", &current) >= 0)
                r = json_object_set_new(doc, "current", json_integer((json_int_t) current)) == 0 ? 0 : -ENOMEM;
        if (r < 0) {
                json_decref(doc);
                return r;
        }
        _cleanup_free_ char *s = json_dumps(doc, JSON_SORT_KEYS | JSON_COMPACT);
        json_decref(doc);
        if (!s)
                return -ENOMEM;
        ObjectId id;
        object_id_hash(s, strlen(s), &id);
        r = store_txn_put(t, OBJECT_STATE, &id, s, strlen(s), true);
        if (r < 0)
                return r;
        /* Only the newest snapshot is live; gc drops the older ones. */
        r = catalog_put_id(t->catalog, "state", &id);
        if (r >= 0)
                r = catalog_put_u64(t->catalog, "sequence", t->sequence);
        if (r < 0)
                return r;
        return 0;
}

int store_txn_commit(StoreTxn *t) {
        int r = txn_write_state(t);
        if (r >= 0)
                r = txn_check_index_space(t);
        if (r >= 0)
                r = pack_writer_sync(t->writer);
        if (r >= 0)
                r = txn_record_pack_end(t);
        if (r < 0) {
                store_txn_abort(t);
                return r;
        }
        /* The packs are durable; this commit is the moment the new state
         * becomes visible. */
        r = catalog_commit(t->catalog);
        t->catalog = NULL;
        if (r >= 0)
                pack_writer_committed(t->writer);
        else
                r = commit_error(t, r);
        store_txn_abort(t); /* cuts the packs back when the commit failed */
        return r;
}
