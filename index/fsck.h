/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* fsck: re-reads and re-hashes everything, and says what any damage
 * touches.
 *
 *   1. Packs, in number order, one sequential pass each (pack_scan): every
 *      record that the catalog locates there is decompressed and its
 *      content hashed against its id; stretches of a pack that hold no
 *      valid record are damaged regions. Catalog objects whose record was
 *      not found valid are then read at their location to say why.
 *   2. Blobs: every RECIPE is decoded and its chunks, already verified in
 *      step 1, are streamed through SHA-256 to check the blob's own id.
 *   3. References: reach_roots(); a missing object, one of the wrong
 *      type, or a tree, record or recipe that does not decode is a
 *      problem.
 *   4. When anything is wrong, each revision's and generation's root tree
 *      is walked with paths, and every file whose blob or a chunk of it is
 *      damaged is attributed to that object as "BUNDLE@REV: PATH".
 *
 * Printing is the caller's business. The store should be open for writing
 * (holding the lock) so that no gc runs underneath; fsck writes nothing. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "object-id.h"
#include "object-location.h"
#include "store.h"

typedef enum FsckProblemKind {
        FSCK_DAMAGED,           /* its record is unreadable or does not hash to its id */
        FSCK_MISSING,           /* referenced, but not in the catalog */
        FSCK_WRONG_TYPE,        /* referenced as one type, stored as another */
        FSCK_MALFORMED,         /* verified bytes that do not decode (tree, record, recipe) */
} FsckProblemKind;

const char *fsck_problem_kind_to_string(FsckProblemKind kind);

/* At most this many "BUNDLE@REV: PATH" strings are kept per object. */
#define FSCK_TOUCHES_MAX 100

typedef struct FsckProblem {
        ObjectId id;
        FsckProblemKind kind;
        uint8_t type;           /* ObjectType in the catalog, 0 when missing */
        bool has_location;
        ObjectLocation location;
        char *detail;           /* what is wrong, in words */
        char **touches;         /* "BUNDLE@REV: PATH", "generation N: PATH", ... */
        size_t n_touches;
        uint64_t more_touches;  /* beyond FSCK_TOUCHES_MAX */
} FsckProblem;

/* Bytes of a pack that hold no valid record. */
typedef struct FsckRegion {
        uint32_t pack;
        uint64_t offset, size;
        const char *what;       /* static: "damaged", "missing (pack shorter than the index says)", ... */
} FsckRegion;

typedef struct FsckReport {
        uint64_t packs, pack_bytes;
        uint64_t objects;               /* in the catalog */
        uint64_t objects_verified;      /* whose record read back and hashed right */
        uint64_t bytes_verified;        /* their content bytes */
        uint64_t blobs_verified;        /* recipes whose chunks hash to the blob id */
        uint64_t revisions, generations, reachable;
        uint64_t uncommitted_bytes;     /* past the committed end of the pack being written,
                                         * and packs past it: a dead writer's, not damage */
        uint64_t damaged_bytes;         /* sum of the regions */
        bool index_empty;               /* the index is lost: packs exist, but the catalog
                                         * lacks meta "pack" (which store_init() sets) */
        FsckProblem *problems;
        size_t n_problems;
        FsckRegion *regions;
        size_t n_regions;
} FsckReport;

typedef struct FsckOptions {
        /* Optional; phase is "packs" (done/total in bytes), "blobs" or
         * "references" (objects). */
        void (*progress)(const char *phase, uint64_t done, uint64_t total, void *userdata);
        void *userdata;
} FsckOptions;

/* Fills *ret (to be released with fsck_report_clear()). Returns 0 when the
 * check ran, whatever it found, or a negative errno when it could not run
 * (catalog unreadable, out of memory). o may be NULL. */
int store_fsck(Store *s, const FsckOptions *o, FsckReport *ret);
void fsck_report_clear(FsckReport *r);
/* No problems, no damaged regions, and an index that covers the packs. */
bool fsck_report_clean(const FsckReport *r);
