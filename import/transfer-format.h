/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The media transfer format: what `isle export` writes and `isle import`
 * reads, and the inventory `isle inventory` writes for `export --have`.
 *
 * An export is one or more volumes. Every volume is a complete, sequential
 * stream (written without seeking, so it can go to a pipe, a tape or a data
 * diode) and is importable on its own, in any order:
 *
 *   +------------------------------+
 *   | TransferHeader (128 B)       |  magic "ISLEXFER", version, features,
 *   |                              |  volume i of n, export id, this volume's
 *   |                              |  slice of the object list, section sizes
 *   +------------------------------+
 *   | manifest (manifest_size B)   |  JSON; export id = SHA-256 of these bytes
 *   +------------------------------+
 *   | signature (signature_size B) |  0 B (unsigned) or 64 B: Ed25519 over
 *   |                              |  the manifest bytes
 *   +------------------------------+
 *   | object list (list_size B)    |  one zstd frame: TransferListEntry for
 *   |                              |  EVERY object of the export, in shipping
 *   |                              |  order; SHA-256 of these (compressed)
 *   |                              |  bytes is in the manifest
 *   +------------------------------+
 *   | records                      |  list[first .. first+count), each exactly
 *   |                              |  as stored in the source pack: a
 *   |                              |  RecordHeader (pack-format.h) and its
 *   |                              |  stored payload, no recompression
 *   +------------------------------+
 *   | TransferTrailer (64 B)       |  magic "ISLEXEND", record count and
 *   |                              |  bytes, SHA-256 of every byte before it
 *   +------------------------------+
 *
 * All integers are little endian.
 *
 * What covers what: the header carries a CRC-32 of its first 124 bytes and
 * of the signature, so damage there is named before anything else is read.
 * The manifest is bound to the header by the export id (its SHA-256). The
 * signature covers the manifest, which holds the hash of the object list,
 * which holds every object's id and record size, and every record's payload
 * is verified against its id (chunks, trees and records by hashing the
 * decompressed content, recipes by hashing the chunks they name). So a
 * verified signature authenticates every byte that reaches the store. The
 * manifest's "volumes" array fixes each volume's slice; a header that
 * disagrees with it is refused. The trailer hash catches what the rest does
 * not name (and truncation) without a key.
 *
 * Shipping order is the source store's pack order, so export reads packs
 * sequentially, except that each recipe goes just before the first of its
 * chunks the export carries: an importer then verifies a blob's id as its
 * chunks go by, without reading them back. Every volume carries the whole object list: an importer can
 * tell from any single volume what the export holds, what it already has
 * and which volumes it still needs.
 *
 * The manifest (compact JSON, sorted keys):
 *   {"format":"isle-transfer","version":1,"created":RFC3339,
 *    "revisions":[{"bundle":NAME,"revision":N,"id":HEX,"root":HEX}...],
 *    "bases":[{"bundle":NAME,"revision":N,"id":HEX}...],
 *    "objects":N,"bytes":RECORD_BYTES,
 *    "list":{"sha256":HEX,"size":COMPRESSED_BYTES},
 *    "volumes":[{"first":N,"objects":N,"bytes":RECORD_BYTES}...]}
 * "id" is the revision record's object id. "bases" are the --since
 * revisions: the export leaves out everything they reach, so the importing
 * store must hold each of them. "bytes" count record headers and payloads.
 *
 * Readers refuse a version they do not know and any required feature flag
 * they do not know. */

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include "pack-format.h"

#define TRANSFER_MAGIC "ISLEXFER"
#define TRANSFER_TRAILER_MAGIC "ISLEXEND"
#define TRANSFER_VERSION 1
#define TRANSFER_HEADER_SIZE 128
#define TRANSFER_TRAILER_SIZE 64

/* Required feature flags: none defined yet. */
#define TRANSFER_FEATURES_KNOWN 0u

/* Ed25519: the only signature there is. */
#define TRANSFER_SIGNATURE_SIZE 64

/* Bounds that keep a damaged size from making a reader allocate wildly. */
#define TRANSFER_MANIFEST_MAX (64u << 20)
#define TRANSFER_OBJECTS_MAX (1ull << 32)

typedef struct TransferHeader {
        char magic[8];                  /*   0 "ISLEXFER" */
        uint32_t version;               /*   8 TRANSFER_VERSION */
        uint32_t features;              /*  12 required feature flags */
        uint32_t volume;                /*  16 this volume, 1-based */
        uint32_t volumes;               /*  20 how many the export has */
        uint8_t export_id[32];          /*  24 SHA-256 of the manifest bytes */
        uint64_t first;                 /*  56 list index of this volume's first record */
        uint64_t count;                 /*  64 records in this volume */
        uint64_t record_bytes;          /*  72 their bytes (headers + payloads) */
        uint32_t manifest_size;         /*  80 */
        uint32_t signature_size;        /*  84 0 or TRANSFER_SIGNATURE_SIZE */
        uint64_t list_size;             /*  88 compressed object list bytes */
        uint32_t signature_crc;         /*  96 crc32 of the signature (0 when unsigned) */
        uint8_t reserved[24];           /* 100 zero */
        uint32_t header_crc;            /* 124 crc32 of bytes 0..123 */
} TransferHeader;
static_assert(sizeof(TransferHeader) == TRANSFER_HEADER_SIZE, "transfer header size");
static_assert(offsetof(TransferHeader, export_id) == 24 && offsetof(TransferHeader, first) == 56 &&
                      offsetof(TransferHeader, manifest_size) == 80 && offsetof(TransferHeader, list_size) == 88 &&
                      offsetof(TransferHeader, signature_crc) == 96 && offsetof(TransferHeader, header_crc) == 124,
              "transfer header layout");

/* One object of the export, in the (decompressed) object list. */
typedef struct TransferListEntry {
        uint8_t id[32];                 /* object id */
        uint32_t record_size;           /* RECORD_HEADER_SIZE + stored payload bytes */
} __attribute__((packed)) TransferListEntry;
#define TRANSFER_LIST_ENTRY_SIZE 36
static_assert(sizeof(TransferListEntry) == TRANSFER_LIST_ENTRY_SIZE, "transfer list entry size");

typedef struct TransferTrailer {
        char magic[8];                  /*  0 "ISLEXEND" */
        uint64_t records;               /*  8 records in this volume */
        uint64_t record_bytes;          /* 16 their bytes */
        uint8_t sha256[32];             /* 24 of every byte of the volume before the trailer */
        uint8_t reserved[8];            /* 56 zero */
} TransferTrailer;
static_assert(sizeof(TransferTrailer) == TRANSFER_TRAILER_SIZE, "transfer trailer size");
static_assert(offsetof(TransferTrailer, sha256) == 24, "transfer trailer layout");

/* The inventory (`isle inventory`): the ids a store holds, for `isle export
 * --have`, so sites where media travel back get exports of exactly what
 * they lack.
 *
 *   +------------------------------+
 *   | InventoryHeader (64 B)       |  magic "ISLEINVT", version, features,
 *   |                              |  id count, compressed size, SHA-256 of
 *   |                              |  the uncompressed ids
 *   +------------------------------+
 *   | ids (compressed_size B)      |  one zstd frame: count x 32-byte ids,
 *   |                              |  sorted ascending
 *   +------------------------------+ */

#define INVENTORY_MAGIC "ISLEINVT"
#define INVENTORY_VERSION 1
#define INVENTORY_HEADER_SIZE 64
#define INVENTORY_FEATURES_KNOWN 0u

typedef struct InventoryHeader {
        char magic[8];                  /*  0 "ISLEINVT" */
        uint32_t version;               /*  8 INVENTORY_VERSION */
        uint32_t features;              /* 12 required feature flags */
        uint64_t count;                 /* 16 ids */
        uint64_t compressed_size;       /* 24 bytes of the zstd frame that follows */
        uint8_t sha256[32];             /* 32 of the count x 32 uncompressed id bytes */
} InventoryHeader;
static_assert(sizeof(InventoryHeader) == INVENTORY_HEADER_SIZE, "inventory header size");
static_assert(offsetof(InventoryHeader, count) == 16 && offsetof(InventoryHeader, sha256) == 32,
              "inventory header layout");
