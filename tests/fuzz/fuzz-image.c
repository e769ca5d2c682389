/* SPDX-License-Identifier: Apache-2.0 */
/* `isle add image` on any bytes as an image archive (tar header checksums
 * fixed up first): image_source_open(), detection of an OCI archive or a
 * docker-archive, the parsing of oci-layout, index.json, manifests,
 * indexes, configs and manifest.json, the naming of the images, and the
 * storing of their blobs, into a transaction of a temporary store that is
 * aborted after every input (so the store stays empty). An input refused
 * for want of a name (-EINVAL) is tried again with --name, as a user would. */
#include "fuzz-util.h"
#include "importer.h"

static Store *store;

static int add(const char *path, const char *name) {
        StoreTxn *t;
        FUZZ_SETUP(store_begin(store, &t));
        json_t *artifacts = json_array(), *summary = json_object();
        FUZZ_CHECK(artifacts && summary);
        char *srcs[] = { (char *) path };
        ImportOptions o = { .bundle = "fuzz", .name = name };
        _cleanup_free_ char *err = NULL;
        int r = importer_image.add(t, artifacts, srcs, 1, &o, summary, &err);
        if (r >= 0)
                FUZZ_CHECK(json_array_size(artifacts) > 0);
        store_txn_abort(t);
        json_decref(artifacts);
        json_decref(summary);
        return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (!store)
                store = fuzz_store_new(fuzz_temp_dir("image"));

        _cleanup_free_ uint8_t *copy = memdup(data, size);
        FUZZ_CHECK(copy);
        fuzz_tar_fix_checksums(copy, size);
        const char *path;
        (void) fuzz_input_fd(copy, size, &path);

        if (add(path, NULL) == -EINVAL)
                (void) add(path, "example.org/fuzz");
        return 0;
}
