/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Builds nested trees: start empty or from a stored root, put entries at
 * slash-separated paths, write the result. Directories below the root are
 * loaded only when a put reaches into them, so updating one file in a huge
 * tree reads and writes only the trees on its path.
 *
 * Used by every importer and renderer: `isle add file`, the views, and the
 * union of the active revisions into a generation. Not thread safe. */

#include <stdbool.h>
#include <stdint.h>

#include "macro.h"
#include "object-id.h"
#include "store.h"
#include "tree.h"

typedef struct TreeBuilder TreeBuilder;

typedef enum TreePutMode {
        /* A file replaces what is at its path; directories merge. (add) */
        TREE_PUT_REPLACE,
        /* Directories merge; any other difference is a conflict (-EEXIST,
         * path in tree_builder_conflict()). (union of bundles) */
        TREE_PUT_MERGE,
} TreePutMode;

/* base NULL: start empty. */
int tree_builder_new(Store *s, const ObjectId *base, TreeBuilder **ret);
TreeBuilder *tree_builder_free(TreeBuilder *b);
DEFINE_FREEP(TreeBuilder, tree_builder_free)

/* Puts one entry. For a directory entry, id names a stored tree (its
 * entries are merged into what is there); missing parent directories are
 * created with mode 0755. -EINVAL for an invalid path. */
int tree_builder_put(TreeBuilder *b, const char *path, uint8_t kind, uint32_t mode, uint64_t size,
                     const ObjectId *id, TreePutMode how);
/* Creates an empty directory (or sets the mode of an existing one). */
int tree_builder_mkdir(TreeBuilder *b, const char *path, uint32_t mode);
/* Puts a small generated file: stores bytes as a blob, mode 0644. */
int tree_builder_put_bytes(TreeBuilder *b, StoreTxn *t, const char *path, const void *data, size_t n,
                           TreePutMode how);
/* Removes what is at path; -ENOENT if nothing. */
int tree_builder_remove(TreeBuilder *b, const char *path);

/* The path of the last conflict (valid until the next call). */
const char *tree_builder_conflict(const TreeBuilder *b);

/* Writes every changed directory bottom-up; *ret_root = root tree id,
 * *ret_size (optional) = total file bytes. */
int tree_builder_write(TreeBuilder *b, StoreTxn *t, ObjectId *ret_root, uint64_t *ret_size);

/* Looks up a slash-separated path from a stored root. "" is the root
 * itself (returned as a directory entry with name NULL). -ENOENT if absent,
 * -ENOTDIR if a component is not a directory. */
int tree_lookup_path(Store *s, const ObjectId *root, const char *path, TreeEntry *ret);

/* Id of the empty tree. */
void tree_empty_id(ObjectId *ret);
