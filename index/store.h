/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The store: packs (the objects, the truth) plus the catalog (the index and
 * the refs), under one directory:
 *
 *   STORE/isle-store     "isle store 1": marks the directory as a store
 *   STORE/index/         LMDB catalog (catalog.h)
 *   STORE/packs/         pack-NNNNNN (pack-format.h)
 *   STORE/tmp/           staging; emptied when a writer opens the store
 *   STORE/lock           flock()ed by the one writer
 *
 * Writing: store_begin() takes a transaction; objects go into the packs
 * with store_txn_put*(), refs into the catalog through store_txn_catalog();
 * store_txn_commit() appends a STATE record (a snapshot of every ref, so an
 * index rebuilt from the packs knows them), fsyncs the packs, and only then
 * commits the catalog. A crash at any point leaves either the old state or
 * the new one, plus at most unreferenced bytes that the next writer cuts off
 * or gc reclaims.
 *
 * Reading is thread safe and never blocks on the writer. In a process that
 * writes, the read functions called by the thread that owns the open
 * transaction see its uncommitted objects too. */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "macro.h"
#include "object-id.h"
#include "object-location.h"
#include "pack-reader.h"
#include "tree.h"

#define STORE_MARKER "isle-store"
#define STORE_MARKER_CONTENT "isle store 1\n"

typedef struct Store Store;
typedef struct StoreTxn StoreTxn;

/* Creates a store at path (the directory may exist but must be empty).
 * -EEXIST when path already holds a store or anything else. */
int store_init(const char *path);

/* Opens a store. With `write`, takes the writer lock: -EBUSY when another
 * process holds it. -ENOENT when path is not a store (no marker);
 * -ENOTRECOVERABLE for a reader when the index is missing, -EMEDIUMTYPE
 * when it is in an older format (rebuild it); -EPROTONOSUPPORT for a
 * newer store or index format. */
int store_open(const char *path, bool write, Store **ret);
/* Why store_open(path) failed with r, for its user: reterr_printf()'s
 * contract (the message in *reterr, returns r). */
int store_open_error(char **reterr, const char *path, int r);
Store *store_free(Store *s);
DEFINE_FREEP(Store, store_free)

const char *store_path(const Store *s);
Catalog *store_catalog(Store *s);
PackSet *store_packs(Store *s);

/* ---- reading ---- */

/* 0 and *ret, or -ENOENT. */
int store_lookup(Store *s, const ObjectId *id, ObjectLocation *ret);
/* Reads a whole object's payload (decompressed and verified). expected_type
 * 0 accepts any; otherwise a different type is -EBADMSG. */
int store_read_object(Store *s, const ObjectId *id, uint8_t expected_type, void **ret, size_t *ret_size);
/* A tree's canonical encoding, verified against its id. Large trees are
 * stored as chunks and a recipe (store_txn_put_tree); this reads both. */
int store_read_tree_bytes(Store *s, const ObjectId *id, void **ret, size_t *ret_size);
int store_read_tree(Store *s, const ObjectId *id, Tree **ret);
int store_read_json(Store *s, const ObjectId *id, json_t **ret);

/* A blob: the bytes of one file, as an ordered list of chunks. */
typedef struct BlobChunk {
        ObjectId id;
        uint64_t offset;        /* in the blob */
        uint32_t size;
} BlobChunk;

typedef struct Blob {
        ObjectId id;
        uint64_t size;
        size_t n_chunks;
        BlobChunk *chunks;
        ObjectLocation *locations;      /* per chunk: set for a literal blob, and by store_blob_locate() */
} Blob;

/* Resolves a blob id into its chunk list. A literal object is a blob of one
 * chunk (itself). -ENOENT if unknown, -EBADMSG if its recipe is damaged. */
int store_open_blob(Store *s, const ObjectId *id, Blob **ret);
Blob *blob_free(Blob *b);
DEFINE_FREEP(Blob, blob_free)
/* Index of the chunk holding byte `offset` (< size). */
size_t blob_find_chunk(const Blob *b, uint64_t offset);

/* Looks up where every chunk of b is stored, in one read transaction, so
 * that reading the blob needs the catalog no more (a mount reading at
 * random offsets would otherwise wait for catalog pages on every read). */
int store_blob_locate(Store *s, Blob *b);

/* How a chunk read proves its bytes: by the SHA-256 of the content (its
 * id), or by the record's CRC-32 of the stored bytes plus a header that
 * names the expected id, type and sizes (the mount's choice: a quarter of
 * the CPU per byte; `isle fsck` still proves every id). */
typedef enum StoreVerify {
        STORE_VERIFY_DIGEST,
        STORE_VERIFY_CHECKSUM,
} StoreVerify;

/* Reads one chunk into buf (at least chunk->size bytes), verified against
 * its id. -EBADMSG when the bytes on disk do not match. */
int store_read_chunk(Store *s, const BlobChunk *chunk, void *buf);
/* Chunk i of b, from its location when b was located (a location that has
 * gone stale, since gc moved the chunk, is looked up again). */
int store_read_blob_chunk(Store *s, const Blob *b, size_t i, StoreVerify verify, void *buf);
/* Part of chunk i of a located blob, for readers that want a few KiB of a
 * large chunk stored raw (PAGED, pack-format.h). store_blob_chunk_pages()
 * gives its page table (malloc'd; -EINVAL when the chunk is stored another
 * way: read it whole). store_read_blob_chunk_part() reads bytes [offset,
 * offset + len) of the chunk, only the pages they touch, each checked
 * against the table. Either fails with -EBADMSG on a mismatch and with
 * -ENOENT when the location went stale; the caller can then read the chunk
 * whole, which looks it up again. */
int store_blob_chunk_pages(Store *s, const Blob *b, size_t i, uint32_t **ret_table);
int store_read_blob_chunk_part(Store *s, const Blob *b, size_t i, const uint32_t *table, uint64_t offset,
                               size_t len, void *buf);
/* Writes a blob's bytes to fd, verifying every chunk. */
int store_blob_write_to_fd(Store *s, const Blob *b, int fd);
/* Reads a whole (small) blob into memory. */
int store_read_blob(Store *s, const ObjectId *id, size_t max, void **ret, size_t *ret_size);

/* The pack numbers present in the store's packs directory (files named
 * pack-NNNNNN), ascending, malloc'd. *ret is NULL when there are none. */
int store_list_packs(Store *s, uint32_t **ret, size_t *ret_n);

/* ---- writing ---- */

/* -EBUSY when the store is not open for writing or a transaction is open;
 * -ENOTRECOVERABLE when the catalog is empty but packs exist (the index was
 * lost: it must be rebuilt before anything is written). */
int store_begin(Store *s, StoreTxn **ret);
/* Commits: STATE record, fsync, catalog commit. Frees txn either way. */
int store_txn_commit(StoreTxn *t);
/* Drops everything written in this transaction (packs cut back). NULL-safe. */
StoreTxn *store_txn_abort(StoreTxn *t);
DEFINE_FREEP(StoreTxn, store_txn_abort)

/* The catalog transaction, for moving refs. */
CatalogTxn *store_txn_catalog(StoreTxn *t);
Store *store_txn_store(StoreTxn *t);

/* 1 if present (committed or written in this transaction), 0 if not. */
int store_txn_has(StoreTxn *t, const ObjectId *id);

/* Stores a literal object (content = payload) unless present. compress:
 * try zstd and keep the result when it pays. Returns 1 when written, 0 when
 * it was already there. */
int store_txn_put(StoreTxn *t, uint8_t type, const ObjectId *id, const void *data, size_t n, bool compress);
/* Appends a record whose payload the caller already prepared, as it goes
 * into the pack (compressed or not, with its crc32 in info->payload_crc):
 * chunks compressed on BlobWriter's threads, records carried by an export,
 * records gc moves. content_size is the blob size for a RECIPE, else the
 * raw size. Without replace, an object already present is left alone
 * (returns 0); with it, the catalog points at the new copy (gc). Returns 1
 * when written. */
int store_txn_put_record(StoreTxn *t, const RecordInfo *info, const void *stored, uint64_t content_size,
                         bool replace);
/* Stores a blob recipe (id = the blob's digest) unless present. */
int store_txn_put_recipe(StoreTxn *t, const ObjectId *id, uint64_t size, const BlobChunk *chunks, size_t n);
/* Sorts, encodes and stores a tree; *ret = its id. */
int store_txn_put_tree(StoreTxn *t, Tree *tree, ObjectId *ret);
/* Stores a JSON document canonically (sorted keys, compact); *ret = id. */
int store_txn_put_json(StoreTxn *t, const json_t *doc, ObjectId *ret);
/* Stores small bytes as a blob (e.g. a generated index file); *ret = id. */
int store_txn_put_small_blob(StoreTxn *t, const void *data, size_t n, ObjectId *ret);

/* Makes what is written so far durable and starts a new catalog
 * transaction, so a huge import never outgrows one LMDB transaction.
 * Refs are not touched: the objects stay unreferenced until commit. */
int store_txn_checkpoint(StoreTxn *t);

/* Bytes this transaction appended to packs, and objects it wrote. */
uint64_t store_txn_bytes_written(const StoreTxn *t);

/* ---- maintenance ---- */

/* Rebuilds the catalog from the packs alone: every valid record is indexed,
 * and the refs come from the newest STATE record. */
int store_rebuild_index(Store *s, uint64_t *ret_objects, uint64_t *ret_damaged);
