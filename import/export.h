/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Writing an export (transfer-format.h): the closure of some bundle
 * revisions, minus what the other side already has, as one or more
 * volumes of object records copied verbatim from the packs.
 *
 * Data flow: export_writer_new() plans everything without reading a
 * payload: it resolves the revisions, walks their closure (reach.h) with
 * the closure of each --since base pre-marked as seen (so a shared subtree
 * is never even entered), drops ids in the --have set, sorts what is left
 * by pack and offset (the shipping order: packs are then read front to
 * back), and fixes the manifest, the object list, the signature and the
 * volume layout. So every size is known before a byte is written (--dry-run
 * prints them). export_writer_write_volume() then streams one volume to an
 * fd, sequentially, never seeking: the header, the manifest, the
 * signature, the object list, the records (each checked against its
 * header and checksum as it is read), and the trailer hash.
 *
 * Reads the store only (no lock); one thread. */

#include <jansson.h>
#include <stdint.h>

#include "id-set.h"
#include "signature.h"
#include "store.h"

typedef struct ExportOptions {
        char *const *revisions;         /* NAME[@REV], at least one */
        size_t n_revisions;
        char *const *since;             /* NAME[@REV]: bases the receiver has */
        size_t n_since;
        const IdSet *have;              /* ids the receiver holds, or NULL */
        SignatureKey *sign;             /* private key, or NULL for unsigned */
        uint64_t split;                 /* largest volume in bytes; 0 = one volume */
} ExportOptions;

typedef struct ExportWriter ExportWriter;

/* Plans the export. -ENOENT when a revision does not exist, -EINVAL for a
 * bad spec or a split size too small to hold one object, -EBADMSG when the
 * store lacks or has damaged objects the revisions need; *reterr explains. */
int export_writer_new(Store *s, const ExportOptions *o, ExportWriter **ret, char **reterr);
ExportWriter *export_writer_free(ExportWriter *w);
DEFINE_FREEP(ExportWriter, export_writer_free)

uint32_t export_writer_volumes(const ExportWriter *w);
/* Exact bytes of volume v (1-based), and of all volumes. */
uint64_t export_writer_volume_size(const ExportWriter *w, uint32_t v);
uint64_t export_writer_total_size(const ExportWriter *w);
uint64_t export_writer_objects(const ExportWriter *w);
/* Bytes of the records (headers and stored payloads) of all volumes. */
uint64_t export_writer_record_bytes(const ExportWriter *w);
/* Bytes every volume repeats: header, manifest, signature, list, trailer. */
uint64_t export_writer_overhead(const ExportWriter *w);
const ObjectId *export_writer_id(const ExportWriter *w);
/* The manifest as a JSON document (borrowed). */
const json_t *export_writer_manifest(const ExportWriter *w);

/* Called with the bytes of this volume written so far. */
typedef void (*ExportProgressFn)(uint64_t bytes, void *userdata);

/* Writes volume v (1-based) to fd. -EBADMSG when a record read from a pack
 * is damaged (*reterr names it); errors of write() as they come. */
int export_writer_write_volume(ExportWriter *w, uint32_t v, int fd, ExportProgressFn fn, void *userdata,
                               char **reterr);
