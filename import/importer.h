/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Importers bring sources into the store as artifacts. Each source kind
 * (`isle add KIND SRC...`) is one Importer registered in importer.c; its
 * artifacts are shown by the Renderer of the same artifact kind (fs/).
 *
 * An importer receives the bundle's current artifact list and changes it
 * in place: adds new artifacts, replaces those with the same identity (an
 * image with the same repository and tag, the files tree). It writes what
 * it needs through the transaction; on failure the caller aborts the
 * transaction, so an importer never has to clean up after itself. */

#include <jansson.h>

#include "store.h"

typedef struct ImportOptions {
        const char *bundle;
        const char *prefix;     /* files: where the sources go */
        const char *name;       /* images: REPO:TAG overriding the source's own */
} ImportOptions;

typedef struct Importer {
        const char *name;       /* the KIND of `isle add KIND` */
        const char *usage;      /* one line for `isle add --help` */
        /* summary: a JSON object to fill with counts for the user (files,
         * bytes, new_bytes, images...). *reterr: what is wrong, in words,
         * naming the input. */
        int (*add)(StoreTxn *t, json_t *artifacts, char **srcs, int n, const ImportOptions *o, json_t *summary,
                   char **reterr);
        /* `isle rm KIND SPEC...`: removes the artifacts the SPECs name from
         * the list (in place), noting them in summary. -ENOENT with *reterr
         * when a SPEC names nothing there. NULL for kinds that cannot. */
        int (*remove)(json_t *artifacts, char **specs, int n, json_t *summary, char **reterr);
} Importer;

const Importer *importer_find(const char *name);
/* "file, image, ..." for messages. */
const char *importer_names(void);

/* Progress reporting for long imports: set by the CLI, called by importers
 * with the bytes read so far. NULL when nobody listens. */
typedef void (*ImportProgressFn)(uint64_t bytes, void *userdata);
void import_set_progress(ImportProgressFn fn, void *userdata);
void import_progress(uint64_t bytes);

extern const Importer importer_file;
extern const Importer importer_image;
