/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Reading tar archives (plain, or compressed with anything libarchive
 * knows: gzip, zstd, xz, bzip2) for the image readers, in two passes.
 *
 * tar_reader_open() scans the whole archive once: it learns every entry's
 * name, type, size and link target, refuses names that would leave the
 * archive (absolute, or with a ".." component), and keeps in memory the
 * regular files of at most keep_max bytes that look like JSON (first
 * non-blank byte '{' or '['), which is where manifests, indexes, configs
 * and manifest.json live. tar_reader_stream() then reads the archive a
 * second time and hands the chosen entries' bytes to a callback, in
 * archive order, so a layer of any size is read exactly once more and
 * never held in memory.
 *
 * Not thread safe. Error strings (*reterr, malloc'd) name the archive. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

typedef enum TarEntryType {
        TAR_ENTRY_FILE = 1,
        TAR_ENTRY_DIR,
        TAR_ENTRY_SYMLINK,
        TAR_ENTRY_HARDLINK,
        TAR_ENTRY_OTHER,        /* devices, fifos: never served */
} TarEntryType;

typedef struct TarEntry {
        char *name;             /* normalised: no "./", no empty or "." components, no trailing '/' */
        uint8_t type;           /* TarEntryType */
        char *link;             /* symlink: target as stored; hardlink: normalised target name */
        uint64_t size;          /* regular files */
        void *data;             /* the bytes, when kept in memory (NULL otherwise) */
} TarEntry;

typedef struct TarReader TarReader;

/* Scans path. -EBADMSG for anything that is not a readable tar archive
 * (not a tar, truncated, damaged, an entry name leaving the archive), with
 * *reterr saying which; -EFBIG when the JSON-looking files together pass
 * 512 MiB; other negative errnos for I/O errors. */
int tar_reader_open(const char *path, size_t keep_max, TarReader **ret, char **reterr);
TarReader *tar_reader_free(TarReader *t);
DEFINE_FREEP(TarReader, tar_reader_free)

size_t tar_reader_n_entries(const TarReader *t);
const TarEntry *tar_reader_entry(const TarReader *t, size_t i);

/* Finds the regular file holding name's bytes, following symlinks
 * (relative to their directory) and hardlinks; where a name occurs twice
 * the later entry wins, as when extracting. 0 and *ret_index, -ENOENT
 * when absent, -EISDIR when it is not a regular file, -ELOOP for link
 * cycles, -EXDEV when a symlink leads outside the archive. */
int tar_reader_find(const TarReader *t, const char *name, size_t *ret_index);

/* The second pass. For each entry i with wanted[i] (wanted has
 * tar_reader_n_entries() elements), calls fn, which reads the bytes with
 * tar_stream_read() (it need not read them all). A negative return from
 * fn stops the pass with that value. -EBADMSG with *reterr when the
 * archive turns out damaged or truncated, or differs from the first pass. */
typedef struct TarStream TarStream;
typedef int (*TarEntryFn)(size_t index, TarStream *s, void *userdata);
int tar_reader_stream(TarReader *t, const bool *wanted, TarEntryFn fn, void *userdata, char **reterr);

/* Reads up to n bytes of the current entry: the count, 0 at its end, or
 * -EBADMSG (truncated or damaged; the pass then reports the details). */
ssize_t tar_stream_read(TarStream *s, void *buf, size_t n);
