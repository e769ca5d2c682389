/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The mount daemon: checks the mount point, forks, opens the store (only in
 * the child: LMDB must be opened after fork), mounts it read-only with
 * libfuse (mount-fs.h), and serves it with a multi-threaded loop until it
 * is unmounted (isle umount, fusermount3 -u, umount) or told to stop
 * (SIGTERM, SIGINT, SIGHUP), unmounting cleanly either way. A thread polls
 * the store's commit sequence every 250 ms so that new revisions,
 * activations and rollbacks show up without a remount.
 *
 * Errors are returned with a sentence in *reterr (malloc'd) saying what is
 * wrong; the daemon itself logs to syslog once it has detached (or to the
 * file options->log_path names), to stderr in the foreground. */

#include <stdbool.h>
#include <stdint.h>

#define MOUNT_CACHE_SIZE_DEFAULT (256ull << 20)
#define MOUNT_FSTYPE "fuse.isle"

typedef struct MountOptions {
        const char *store_path;
        const char *mountpoint;
        bool foreground;        /* stay attached (logs to stderr) */
        bool allow_other;       /* let other users read (-o allow_other) */
        bool debug;             /* libfuse's request trace on stderr; implies foreground */
        uint64_t cache_size;    /* bytes of decompressed chunks to keep; 0 = the default */
        const char *log_path;   /* detached: log (and stderr) appended here instead of syslog */
} MountOptions;

/* Refuses a mount point that is missing, not a directory, already mounted
 * (or a dead mount), or not empty: -ENOENT, -ENOTDIR, -EBUSY, -ENOTEMPTY,
 * with *reterr. */
int mount_check_mountpoint(const char *path, char **reterr);

/* Mounts and serves. Without foreground, forks and returns in the parent
 * only once the mount answers requests (0), or with the child's error; the
 * child never returns: it exits when the mount ends. In the foreground,
 * returns 0 when the mount has ended cleanly. */
int mount_run(const MountOptions *o, char **reterr);

/* Unmounts an isle mount (lazily: detached now, gone when no longer used).
 * -EINVAL when path is not an isle mount. */
int mount_unmount(const char *path, bool lazy, char **reterr);
