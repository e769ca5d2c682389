/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Reading exports (transfer-format.h) into a store: `isle import`.
 *
 * Data flow. transfer_import_add() reads each volume's preamble and checks
 * it before anything is written: header (magic, checksum, version,
 * features), manifest (hashes to the export id), signature (against the
 * --verify key and the store's required keys), object list (hashes to the
 * manifest's list hash), and that every volume of one run belongs to the
 * same export. transfer_import_run() then checks the store: already
 * imported (a no-op), revision numbers taken by other content, the --since
 * bases present, free space for the objects that are actually new; and
 * only then opens one store transaction and streams each volume's records:
 * each must be the next id of the object list; its header and payload
 * checksums, and for literal objects the SHA-256 of the decompressed
 * content, are verified before it is appended as stored (objects already
 * present are skipped); the trailer's hash must match every byte read. When
 * every object of the list is present, the recipes are verified (their
 * chunks must hash to the blob id), the revisions' whole closure must be
 * present, and the revisions are put into the catalog (optionally
 * activated) in the same transaction. When volumes are still missing, the
 * staged objects are committed together with a pending entry that keeps gc
 * from collecting them (meta "pending", read by reach_roots()), and the
 * revisions appear once the last volume is imported.
 *
 * Any failure aborts the transaction: the store is left as it was. Not
 * thread safe; the caller holds the store open for writing. */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "signature.h"
#include "store.h"

/* Called with the bytes read so far of `total`. */
typedef void (*TransferProgressFn)(uint64_t done, uint64_t total, void *userdata);

typedef struct TransferImportOptions {
        SignatureKey *verify;           /* --verify: the export must be signed by it; or NULL */
        const char *verify_name;        /* its file, for messages */
        SignatureKey *const *required;  /* the store's require-signature keys (store-config.h) */
        size_t n_required;
        /* With activate: makes bundle@rev current in the same transaction
         * (fs/publish.h's publish_activate(), which import/ cannot call). */
        int (*activate)(StoreTxn *t, const char *bundle, uint32_t rev, uint64_t *ret_gen, char **reterr);
        TransferProgressFn progress;
        void *userdata;
} TransferImportOptions;

typedef enum TransferImportStatus {
        TRANSFER_IMPORT_COMMITTED,      /* the revisions are in the store now */
        TRANSFER_IMPORT_STAGED,         /* objects staged; other volumes still needed */
        TRANSFER_IMPORT_NOTHING,        /* everything was there already: nothing changed */
} TransferImportStatus;

typedef struct TransferImportResult {
        TransferImportStatus status;
        ObjectId export_id;
        json_t *revisions;              /* the manifest's "revisions" (new reference) */
        uint32_t volumes;               /* volumes of the export */
        uint64_t objects;               /* objects of the export */
        uint64_t objects_new;           /* staged by this run */
        uint64_t bytes_new;             /* their record bytes */
        uint64_t objects_missing;       /* still to come from other volumes */
        uint64_t bytes_missing;
        uint32_t *volumes_missing;      /* 1-based volume numbers */
        size_t n_volumes_missing;
        uint64_t generation;            /* with activate: the new current generation, else 0 */
} TransferImportResult;

void transfer_import_result_done(TransferImportResult *r);

typedef struct TransferImport TransferImport;

/* s must be open for writing; options are copied (the keys are borrowed). */
int transfer_import_new(Store *s, const TransferImportOptions *o, TransferImport **ret);
TransferImport *transfer_import_free(TransferImport *ti);
DEFINE_FREEP(TransferImport, transfer_import_free)

/* Reads and checks the preamble of one volume from fd (borrowed; read
 * sequentially, never seeked, so a pipe will do; the rest is read by
 * transfer_import_run()). name is for messages. -EBADMSG for damaged or
 * foreign input, -EPROTONOSUPPORT for a newer format, -EPERM for a
 * signature that is missing or does not verify, -EXDEV for a volume of
 * another export than the first one added; *reterr says which. */
int transfer_import_add(TransferImport *ti, int fd, const char *name, char **reterr);

/* Imports the volumes added. Errors as above, plus -ENOENT for a missing
 * base revision, -EEXIST for a revision number this store already has with
 * other content, -ENOSPC for too little free space. On success fills *ret
 * (release with transfer_import_result_done()). */
int transfer_import_run(TransferImport *ti, TransferImportResult *ret, char **reterr);

/* ---- imports still waiting for volumes ---- */

/* The pending imports, as an array (new reference) of
 * {"export":HEX,"revisions":[{"bundle","revision","id"}...],"volumes":N,
 *  "objects":N,"present":N}: the export's object count and how many of
 * those objects the store holds now (staged or already there). */
int transfer_pending_list(Store *s, json_t **ret);

/* Drops the pending import whose export id starts with `export_prefix`
 * (at least 8 hex digits; -EINVAL otherwise, -ENOENT when none matches,
 * -EEXIST (explained) when several do), so that gc may collect the objects
 * it staged. *ret_entry (optional, new reference) is the entry dropped. */
int transfer_pending_abandon(StoreTxn *t, const char *export_prefix, json_t **ret_entry, char **reterr);
