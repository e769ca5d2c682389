/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The "files" importer: regular files, directories and symlinks from the
 * local filesystem into a tree. Modes (permission bits), symlink targets
 * and empty directories are kept; anything else (devices, fifos, sockets)
 * is refused with a message naming it. */

#include <stdint.h>

#include "blob-writer.h"
#include "tree-builder.h"

typedef struct FileImportStats {
        uint64_t files, dirs, symlinks;
        uint64_t bytes;         /* file bytes read */
} FileImportStats;

/* Imports the file, symlink or directory tree at src to dest (a relative
 * path in out). On failure *reterr names the path and the problem. */
int file_import(BlobWriter *w, TreeBuilder *out, const char *src, const char *dest, FileImportStats *stats,
                char **reterr);

/* Checks that a user-given destination prefix is a relative path of valid
 * names (no "..", no "."), so nothing lands outside the files view. */
int file_import_check_prefix(const char *prefix);
