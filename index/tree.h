/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A tree: one directory's entries, in memory, with its canonical encoding
 * (tree-format.h). Pure data: reading and writing trees in the store is
 * store.h's business, building nested trees is tree-builder.h's. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "object-id.h"
#include "tree-format.h"

typedef enum TreeEntryKind {
        TREE_ENTRY_FILE = 1,
        TREE_ENTRY_DIR = 2,
        TREE_ENTRY_SYMLINK = 3,
} TreeEntryKind;

typedef struct TreeEntry {
        char *name;
        uint8_t kind;           /* TreeEntryKind */
        uint32_t mode;          /* permission bits */
        uint64_t size;
        ObjectId id;
} TreeEntry;

typedef struct Tree {
        TreeEntry *entries;     /* sorted by name once finished or decoded */
        size_t n_entries, allocated;
} Tree;

Tree *tree_new(void);
Tree *tree_free(Tree *t);
DEFINE_FREEP(Tree, tree_free)

/* True for a name a tree may hold (see tree-format.h). */
bool tree_name_valid(const char *name);

/* Appends an entry (copying name). -EINVAL for an invalid name or kind. */
int tree_add(Tree *t, const char *name, uint8_t kind, uint32_t mode, uint64_t size, const ObjectId *id);
/* Sorts entries; -EEXIST if a name occurs twice. */
int tree_sort(Tree *t);

/* Canonical encoding of a sorted tree: malloc'd buffer. */
int tree_encode(const Tree *t, void **ret, size_t *ret_size);
/* Parses and validates an encoding: magic, version, sizes, sorted unique
 * valid names, known kinds. -EBADMSG when malformed. */
int tree_decode(const void *p, size_t n, Tree **ret);

/* Binary search; NULL when absent. */
const TreeEntry *tree_find(const Tree *t, const char *name);

/* Sum of the sizes of the entries (the size of a directory entry). */
uint64_t tree_total_size(const Tree *t);

const char *tree_entry_kind_to_string(uint8_t kind);
