/* SPDX-License-Identifier: Apache-2.0 */
/* The files view: every "files" artifact is a tree, placed under files/.
 * Two bundles may both provide a path only with identical content. */
#include <stdio.h>

#include "refs.h"
#include "render.h"

/* Which earlier bundle provides path (for the conflict message). */
static const char *provider(Store *s, const RenderItem *items, size_t upto, const char *path) {
        for (size_t i = 0; i < upto; i++) {
                ObjectId tree;
                TreeEntry e;
                if (json_get_id(items[i].artifact, "tree", &tree) >= 0 && tree_lookup_path(s, &tree, path, &e) >= 0)
                        return items[i].bundle;
        }
        return "another bundle";
}

static int render_files(StoreTxn *t, const RenderItem *items, size_t n, TreeBuilder *out, char **reterr) {
        int r = tree_builder_mkdir(out, "files", 0755);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                ObjectId tree;
                r = json_get_id(items[i].artifact, "tree", &tree);
                if (r < 0)
                        return r;
                r = tree_builder_put(out, "files", TREE_ENTRY_DIR, 0755, 0, &tree, TREE_PUT_MERGE);
                if (r == -EEXIST) {
                        const char *path = tree_builder_conflict(out);
                        const char *rel = strncmp(path, "files/", 6) == 0 ? path + 6 : path;
                        if (reterr &&
                            asprintf(reterr, "bundles %s and %s both provide %s with different contents",
                                     provider(store_txn_store(t), items, i, rel), items[i].bundle, path) < 0)
                                *reterr = NULL;
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

const Renderer renderer_files = {
        .name = "files",
        .kind = "files",
        .render = render_files,
};
