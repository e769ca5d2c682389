/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The filesystem the mount serves: libfuse low-level request handlers over
 * a read-only Store, laid out as DESIGN.md "Mount layout" says:
 *
 *   current -> generations/N     (absent when nothing is active)
 *   generations/N/               each generation's root tree
 *   bundles/NAME/REV/            each bundle revision's root tree
 *   bundles/NAME/latest -> REV
 *   blobs/sha256/HEX             any blob by digest; the directory lists
 *                                nothing (a listing would mean walking every
 *                                tree), but every blob in the store can be
 *                                looked up by name
 *
 * Files are 0444 (0555 when the stored mode has an exec bit), directories
 * 0555, symlinks as stored, all owned by the user running the daemon,
 * mtime 1 (the content never changes; a constant keeps tools that compare
 * times quiet). Every directory lists its entries sorted bytewise by name,
 * after "." and "..". statfs gives the store's logical size: the
 * uncompressed bytes of every distinct object, once each. Each file has the
 * extended attribute user.isle.digest = "sha256:HEX".
 *
 * What is stored never changes, so tree-backed entries and attributes are
 * cached by the kernel for a day and files are opened with keep_cache;
 * only the top level (current, generations/, bundles/, bundles/NAME/) moves,
 * with half-second timeouts plus explicit invalidation by
 * mount_fs_refresh() when the store's commit sequence moves.
 *
 * Reads: open() resolves the blob's chunk list and where each chunk is
 * stored, once (so an open file keeps reading the same bytes whatever
 * `current` does later, and no read waits for catalog pages); read() finds
 * the chunks by binary search and replies straight from a shared cache of
 * verified, decompressed chunks (object-cache.h). Every chunk is verified
 * when it is read from the packs: the record header must name its id, type
 * and sizes, and the CRC-32 of the stored bytes must match (a quarter of the
 * CPU of re-hashing; `isle fsck` proves every SHA-256). A mismatch is EIO
 * plus one log line naming the blob and chunk, never wrong bytes. A read
 * that carries on where the last one ended queues the next few MiB on a
 * prefetch pool (prefetch.h).
 *
 * Extended attributes: only user.isle.digest exists; names outside user.*
 * are "not supported", so that `ls -l` stops asking after the first file.
 *
 * Thread safe: any number of libfuse worker threads, plus one thread
 * calling mount_fs_refresh(). */

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <stdint.h>

#include "macro.h"
#include "store.h"

typedef struct MountFs MountFs;

/* cache_size: bytes of decoded objects to keep: decompressed chunks, and
 * a sixteenth of it (at least 4 MiB) for decoded trees. The daemon's memory
 * is that, up to another sixteenth (at most 16 MiB) of idle buffers, what
 * requests in flight pin, and a fixed overhead. The store stays owned by
 * the caller and must outlive the MountFs. */
int mount_fs_new(Store *s, uint64_t cache_size, MountFs **ret);
/* NULL-safe. Call after the session has ended (no request in flight). */
MountFs *mount_fs_free(MountFs *fs);
DEFINE_FREEP(MountFs, mount_fs_free)

/* The handlers; pass the MountFs as fuse_session_new()'s userdata. */
extern const struct fuse_lowlevel_ops mount_fs_ops;

/* The session to send invalidations to; set before mount_fs_refresh(). */
void mount_fs_set_session(MountFs *fs, struct fuse_session *se);

/* Reads the store's commit sequence; when it moved since the last call,
 * tells the kernel to forget what may have changed at the top level
 * (current, generations/, bundles/, bundles/NAME/latest, removed revisions
 * and generations). Also closes the packs gc deleted. Returns 1 when it
 * moved, 0 when not, or a negative errno. Call from one thread at a time,
 * never from a request handler. */
int mount_fs_refresh(MountFs *fs);

/* Requests answered and bytes read so far, for the exit log line. */
typedef struct MountFsStats {
        uint64_t reads, read_bytes, lookups, damaged;
        uint64_t part_reads;    /* chunk pieces read page by page (random readers of raw chunks) */
        uint64_t chunk_hits, chunk_misses, chunk_waits;
} MountFsStats;
void mount_fs_stats(MountFs *fs, MountFsStats *ret);
