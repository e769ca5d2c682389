/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Views are renderers: pure functions from an artifact set to a tree.
 * Rendering happens when a revision or a generation is committed; the
 * output is stored, so the mount only ever serves trees.
 *
 * An artifact is a JSON object with at least "kind". A renderer takes the
 * artifacts of its kind (each with the bundle it came from, for error
 * messages) and puts its view into the output tree. The same artifacts give
 * the same tree, byte for byte. A new artifact kind is a new importer plus a
 * new Renderer in the table in render.c; nothing else changes. */

#include <jansson.h>

#include "store.h"
#include "tree-builder.h"

typedef struct RenderItem {
        const char *bundle;
        const json_t *artifact;
} RenderItem;

typedef struct Renderer {
        const char *name;       /* the view's top-level directory */
        const char *kind;       /* the artifact kind it renders */
        /* Puts the view for items (all of kind `kind`) into out. On failure
         * *reterr may say why in words (malloc'd). */
        int (*render)(StoreTxn *t, const RenderItem *items, size_t n, TreeBuilder *out, char **reterr);
} Renderer;

/* Renders a set of artifacts into a root tree. items may be in any order
 * and of any kinds; an artifact of a kind no renderer knows is -EPROTONOSUPPORT. */
int render_artifacts(StoreTxn *t, const RenderItem *items, size_t n, ObjectId *ret_root, uint64_t *ret_size,
                     char **reterr);

extern const Renderer renderer_files;
extern const Renderer renderer_registry;
extern const Renderer renderer_oci;
