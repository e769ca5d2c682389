/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The pack file: the store's truth.
 *
 *   packs/pack-000001
 *   +--------------------+
 *   | PackHeader (32 B)  |  magic "ISLEPACK", version, required features
 *   +--------------------+
 *   | RecordHeader (64 B)|  one record per object, back to back, no padding
 *   | payload            |
 *   +--------------------+
 *   | RecordHeader       |
 *   | payload            |
 *   ...
 *
 * Packs are append-only. Every record is self-describing (type, id,
 * compression, both sizes, checksums), so the catalog can be rebuilt from
 * the packs alone, and a reader can verify a record without the catalog.
 *
 * All integers are little endian. The header checksum covers the first 60
 * bytes of the record header; the payload checksum covers the stored
 * payload. Both are zlib's CRC-32: a cheap guard against torn writes and
 * bit rot that lets a scan find record boundaries; the object id (SHA-256
 * of the content) is the real verification. */

#include <assert.h>
#include <stdint.h>

#define PACK_MAGIC "ISLEPACK"
#define PACK_VERSION 1
#define PACK_HEADER_SIZE 32
#define RECORD_MAGIC 0x524c5349u /* "ISLR" */
#define RECORD_HEADER_SIZE 64

/* A pack header's required feature flags; a reader refuses unknown ones. */
#define PACK_FEATURES_KNOWN 0u

typedef struct PackHeader {
        char magic[8];          /* "ISLEPACK" */
        uint32_t version;       /* PACK_VERSION */
        uint32_t features;      /* required feature flags */
        uint8_t reserved[16];   /* zero */
} PackHeader;
static_assert(sizeof(PackHeader) == PACK_HEADER_SIZE, "pack header size");

/* What an object is. The id of every type is the SHA-256 of its content
 * (uncompressed payload), except RECIPE, whose id is the SHA-256 of the
 * bytes it describes. */
typedef enum ObjectType {
        OBJECT_CHUNK = 1,       /* bytes of a file (or all of a small one) */
        OBJECT_RECIPE = 2,      /* a blob made of chunks: see below */
        OBJECT_TREE = 3,        /* a directory: tree-format.h */
        OBJECT_RECORD = 4,      /* a JSON document: revision, generation */
        OBJECT_STATE = 5,       /* a JSON snapshot of all refs, written by every commit */
        _OBJECT_TYPE_MAX,
} ObjectType;

typedef enum PackCompression {
        PACK_COMPRESSION_NONE = 0,
        PACK_COMPRESSION_ZSTD = 1,
        PACK_COMPRESSION_PAGED = 2,     /* raw, then a page table: see below */
        _PACK_COMPRESSION_MAX,
} PackCompression;

/* Whether a payload starts with the content itself (its first raw_size
 * bytes), so readers can use it in place. */
static inline int pack_compression_is_raw(uint8_t compression) {
        return compression != PACK_COMPRESSION_ZSTD;
}

/* PAGED payload: the raw bytes, then
 *   n x le32 crc32 of each PACK_PAGE_SIZE page of them (the last may be short)
 *   le32 crc32 of those n x 4 bytes
 * where n = ceil(raw_size / PACK_PAGE_SIZE), so stored_size = raw_size +
 * 4 * (n + 1). Chunks stored raw (noise, compressed formats) are written so:
 * a reader that wants a few KiB of a multi-MiB chunk reads the table once
 * (it checks itself) and then only the pages it needs, each checked by its
 * own CRC. The payload CRC in the header still covers all of it. */
#define PACK_PAGE_SIZE 4096u
static inline uint32_t pack_paged_pages(uint32_t raw_size) {
        return (raw_size + PACK_PAGE_SIZE - 1) / PACK_PAGE_SIZE;
}
static inline uint64_t pack_paged_stored_size(uint32_t raw_size) {
        return (uint64_t) raw_size + 4u * ((uint64_t) pack_paged_pages(raw_size) + 1u);
}

typedef struct RecordHeader {
        uint32_t magic;         /* RECORD_MAGIC */
        uint8_t type;           /* ObjectType */
        uint8_t compression;    /* PackCompression */
        uint16_t flags;         /* zero */
        uint32_t stored_size;   /* payload bytes in the pack */
        uint32_t raw_size;      /* payload bytes after decompression */
        uint8_t id[32];         /* object id */
        uint64_t sequence;      /* commit sequence the record was written under */
        uint32_t payload_crc;   /* crc32 of the stored payload */
        uint32_t header_crc;    /* crc32 of the 60 bytes before this field */
} RecordHeader;
static_assert(sizeof(RecordHeader) == RECORD_HEADER_SIZE, "record header size");

/* The largest payload a record may hold (raw or stored). Chunks are at most
 * a few MiB; trees and records may be larger but are bounded here so a
 * corrupt size can never make a reader allocate gigabytes. */
#define RECORD_PAYLOAD_MAX (256u << 20)

/* RECIPE payload:
 *   le64 total size
 *   le32 chunk count
 *   le32 reserved (0)
 *   count x { uint8 id[32]; le32 size; le32 reserved }   (40 bytes each)
 * Chunks in file order; their sizes add up to the total. */
#define RECIPE_HEADER_SIZE 16
#define RECIPE_ENTRY_SIZE 40
