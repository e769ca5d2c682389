/* SPDX-License-Identifier: Apache-2.0 */
#include "importer.h"

#include <string.h>

static const Importer *const importers[] = {
        &importer_file,
        &importer_image,
};

const Importer *importer_find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(importers); i++)
                if (strcmp(importers[i]->name, name) == 0)
                        return importers[i];
        return NULL;
}

const char *importer_names(void) {
        static char names[256];
        if (!names[0])
                for (size_t i = 0; i < ELEMENTSOF(importers); i++) {
                        if (i)
                                strncat(names, ", ", sizeof names - strlen(names) - 1);
                        strncat(names, importers[i]->name, sizeof names - strlen(names) - 1);
                }
        return names;
}

static ImportProgressFn progress_fn;
static void *progress_userdata;

void import_set_progress(ImportProgressFn fn, void *userdata) {
        progress_fn = fn;
        progress_userdata = userdata;
}

void import_progress(uint64_t bytes) {
        if (progress_fn)
                progress_fn(bytes, progress_userdata);
}
