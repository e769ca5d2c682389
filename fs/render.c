/* SPDX-License-Identifier: Apache-2.0 */
#include "render.h"

#include <stdio.h>

static const Renderer *const renderers[] = {
        &renderer_files,
        &renderer_registry,
        &renderer_oci,
};

int render_artifacts(StoreTxn *t, const RenderItem *items, size_t n, ObjectId *ret_root, uint64_t *ret_size,
                     char **reterr) {
        for (size_t i = 0; i < n; i++) {
                const char *kind = json_string_value(json_object_get(items[i].artifact, "kind"));
                bool known = false;
                for (size_t k = 0; kind && k < ELEMENTSOF(renderers); k++)
                        known = known || strcmp(kind, renderers[k]->kind) == 0;
                if (!known) {
                        if (reterr && asprintf(reterr, "bundle %s has an artifact of unknown kind '%s'",
                                               items[i].bundle, kind ? kind : "(none)") < 0)
                                *reterr = NULL;
                        return -EPROTONOSUPPORT;
                }
        }

        _cleanup_(tree_builder_freep) TreeBuilder *out = NULL;
        int r = tree_builder_new(store_txn_store(t), NULL, &out);
        if (r < 0)
                return r;
        _cleanup_free_ RenderItem *mine = calloc(n ? n : 1, sizeof *mine);
        if (!mine)
                return -ENOMEM;
        for (size_t k = 0; k < ELEMENTSOF(renderers); k++) {
                size_t m = 0;
                for (size_t i = 0; i < n; i++)
                        if (strcmp(json_string_value(json_object_get(items[i].artifact, "kind")),
                                   renderers[k]->kind) == 0)
                                mine[m++] = items[i];
                if (m == 0)
                        continue;
                r = renderers[k]->render(t, mine, m, out, reterr);
                if (r < 0)
                        return r;
        }
        return tree_builder_write(out, t, ret_root, ret_size);
}
