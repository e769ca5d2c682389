/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* fd and path helpers. All return 0 or a negative errno. Every fd opened
 * here is O_CLOEXEC. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Reads exactly n bytes (retrying on EINTR and short reads). Returns n, or
 * fewer at end of file, or a negative errno. */
ssize_t read_full(int fd, void *buf, size_t n);
ssize_t pread_full(int fd, void *buf, size_t n, uint64_t offset);
/* Writes all n bytes or fails. */
int write_full(int fd, const void *buf, size_t n);

/* fsync()s the directory holding path (or path itself when it is a dir). */
int fsync_dir(const char *dir);
/* fsync()s the directory that holds path, so a rename or link into it lasts. */
int fsync_parent_dir(const char *path);

int mkdir_p(const char *path, mode_t mode);

/* Replaces path with data: temp file in the same directory, write, fsync,
 * rename, fsync the directory. A crash leaves the old or the new file. */
int write_file_atomic(const char *path, const void *data, size_t n, mode_t mode);

/* Reads a whole (small) file into a NUL-terminated malloc'd buffer. Refuses
 * files over max bytes with -EFBIG. */
int read_file(const char *path, size_t max, char **ret, size_t *ret_size);

/* "1.5 GiB" style, into buf. */
const char *format_bytes(char buf[static 32], uint64_t n);
/* Parses "4G", "4480M", "512k", "1000". */
int parse_size(const char *s, uint64_t *ret);

/* Joins two path parts with a single '/'; malloc'd, NULL on OOM. */
char *path_join(const char *a, const char *b);

void hex_encode(const void *p, size_t n, char *out);
int hex_decode(const char *s, size_t slen, void *out);
