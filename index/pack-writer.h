/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Appends object records to the store's packs. One writer per store (the
 * store lock guarantees it). Data flow: records are appended with
 * pack_writer_append(); pack_writer_sync() makes them durable; only after it
 * returns may the catalog commit locations that point at them. A pack grows
 * to PACK_SIZE_TARGET, then the writer moves on to the next number. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "object-id.h"
#include "object-location.h"

#define PACK_SIZE_TARGET (1ULL << 30)

typedef struct PackWriter PackWriter;

/* Opens pack number `pack` in directory `dir` for appending at `end`, the
 * length the catalog last committed: anything beyond it is the torn tail of
 * a writer that died, and is cut off. end == 0 creates the pack (or
 * recreates an uncommitted one). `sequence` is stamped into every record. */
int pack_writer_open(const char *dir, uint32_t pack, uint64_t end, uint64_t sequence, PackWriter **ret);

/* Closes. Records appended since the last pack_writer_committed() are cut
 * off again (the pack is truncated to that point and packs created since
 * are removed), whether or not they were synced: a transaction that did
 * not commit leaves the packs as they were. */
PackWriter *pack_writer_free(PackWriter *w);
DEFINE_FREEP(PackWriter, pack_writer_free)

/* Appends one record. payload is stored_size bytes as they go into the pack
 * (already compressed if compression says so); raw_size is its length after
 * decompression. payload_crc is zlib's crc32 of the payload when the caller
 * has it (computed off this thread, or carried with the record), NULL to
 * compute it here. On success fills *ret with the new record's location. */
int pack_writer_append(PackWriter *w, uint8_t type, const ObjectId *id, PackCompression compression,
                       const void *payload, size_t stored_size, size_t raw_size, uint64_t content_size,
                       const uint32_t *payload_crc, ObjectLocation *ret);

/* fsync()s every pack written since the last sync (and the directory when a
 * pack was created). After it returns, the records are durable. */
int pack_writer_sync(PackWriter *w);
/* Says that the catalog now references everything appended so far: a later
 * free no longer cuts it off. Call after the catalog commit succeeded. */
void pack_writer_committed(PackWriter *w);

/* The pack and length to record in the catalog after a sync. */
uint32_t pack_writer_pack(const PackWriter *w);
uint64_t pack_writer_end(const PackWriter *w);
/* Bytes appended since open. */
uint64_t pack_writer_written(const PackWriter *w);

/* Fills a record header for the given fields (used by the writer and by
 * tests that forge records). */
void record_header_encode(uint8_t out[static RECORD_HEADER_SIZE], uint8_t type, uint8_t compression,
                          uint32_t stored_size, uint32_t raw_size, const ObjectId *id, uint64_t sequence,
                          uint32_t payload_crc);

/* Writes the page table of a PAGED payload (pack-format.h) for the n raw
 * bytes at raw into table (pack_paged_stored_size(n) - n bytes) and
 * returns the payload crc: the CRC-32 of the raw bytes followed by the
 * table, found from the page CRCs without a second pass. */
uint32_t pack_paged_table(const void *raw, uint32_t n, uint8_t *table);

char *pack_path(const char *dir, uint32_t pack);
