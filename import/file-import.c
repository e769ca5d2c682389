/* SPDX-License-Identifier: Apache-2.0 */
#include "file-import.h"

#include <dirent.h>
#include <libgen.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "fileio.h"
#include "importer.h"
#include "refs.h"
#include "reterr.h"

typedef struct Walk {
        BlobWriter *writer;
        TreeBuilder *out;
        FileImportStats *stats;
        char **reterr;
} Walk;

static const char *file_type_name(mode_t m) {
        switch (m & S_IFMT) {
        case S_IFCHR: return "a character device";
        case S_IFBLK: return "a block device";
        case S_IFIFO: return "a fifo";
        case S_IFSOCK: return "a socket";
        default: return "a special file";
        }
}

/* parent_fd/name is the source (name relative to parent_fd), src its path for
 * messages, dest where it goes in the tree. */
static int import_at(Walk *w, int parent_fd, const char *name, const char *src, const char *dest) {
        struct stat st;
        if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return reterr_printf(w->reterr, -errno, "%s: %s", src, strerror(errno));

        if (S_ISREG(st.st_mode)) {
                _cleanup_close_ int fd = openat(parent_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
                if (fd < 0)
                        return reterr_printf(w->reterr, -errno, "%s: %s", src, strerror(errno));
                ObjectId id;
                uint64_t size;
                int r = blob_writer_write_fd(w->writer, fd, &id, &size);
                if (r < 0)
                        return reterr_printf(w->reterr, r, "%s: %s", src, strerror(-r));
                w->stats->files++;
                w->stats->bytes += size;
                import_progress(w->stats->bytes);
                r = tree_builder_put(w->out, dest, TREE_ENTRY_FILE, st.st_mode & 07777, size, &id, TREE_PUT_REPLACE);
                if (r < 0)
                        return reterr_printf(w->reterr, r, "%s: cannot place it at %s: %s", src, dest, strerror(-r));
                return 0;
        }
        if (S_ISLNK(st.st_mode)) {
                char target[PATH_MAX + 1];
                ssize_t n = readlinkat(parent_fd, name, target, sizeof target - 1);
                if (n < 0)
                        return reterr_printf(w->reterr, -errno, "%s: %s", src, strerror(errno));
                ObjectId id;
                int r = blob_writer_write_buffer(w->writer, target, (size_t) n, &id, NULL);
                if (r < 0)
                        return reterr_printf(w->reterr, r, "%s: %s", src, strerror(-r));
                w->stats->symlinks++;
                r = tree_builder_put(w->out, dest, TREE_ENTRY_SYMLINK, 0777, (uint64_t) n, &id, TREE_PUT_REPLACE);
                if (r < 0)
                        return reterr_printf(w->reterr, r, "%s: cannot place it at %s: %s", src, dest, strerror(-r));
                return 0;
        }
        if (!S_ISDIR(st.st_mode))
                return reterr_printf(w->reterr, -EINVAL, "%s: is %s; isle adds regular files, directories and symlinks", src,
                            file_type_name(st.st_mode));

        int r = tree_builder_mkdir(w->out, dest, st.st_mode & 07777);
        if (r < 0)
                return reterr_printf(w->reterr, r, "%s: cannot place it at %s: %s", src, dest, strerror(-r));
        w->stats->dirs++;
        int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return reterr_printf(w->reterr, -errno, "%s: %s", src, strerror(errno));
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return reterr_printf(w->reterr, -errno, "%s: %s", src, strerror(errno));
        }
        struct dirent *de;
        r = 0;
        while ((errno = 0, de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (strlen(de->d_name) > TREE_NAME_MAX) {
                        r = reterr_printf(w->reterr, -ENAMETOOLONG, "%s/%s: name longer than %d bytes", src, de->d_name,
                                 TREE_NAME_MAX);
                        break;
                }
                _cleanup_free_ char *csrc = path_join(src, de->d_name), *cdest = path_join(dest, de->d_name);
                if (!csrc || !cdest) {
                        r = -ENOMEM;
                        break;
                }
                r = import_at(w, dirfd(d), de->d_name, csrc, cdest);
                if (r < 0)
                        break;
        }
        if (r >= 0 && errno != 0)
                r = reterr_printf(w->reterr, -errno, "%s: %s", src, strerror(errno));
        closedir(d);
        return r;
}

int file_import(BlobWriter *writer, TreeBuilder *out, const char *src, const char *dest, FileImportStats *stats,
                char **reterr) {
        Walk w = { writer, out, stats, reterr };
        return import_at(&w, AT_FDCWD, src, src, dest);
}

int file_import_check_prefix(const char *prefix) {
        _cleanup_free_ char *copy = strdup(prefix);
        if (!copy)
                return -ENOMEM;
        if (copy[0] == '/')
                return -EINVAL;
        char *save = NULL;
        for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save))
                if (!tree_name_valid(c))
                        return -EINVAL;
        return 0;
}

/* Where src lands: its base name under the prefix; "dir/" and "." put a
 * directory's contents at the prefix itself. */
static char *file_dest(const char *src, const char *prefix) {
        size_t n = strlen(src);
        bool contents = strcmp(src, ".") == 0 || (n > 1 && src[n - 1] == '/') || strcmp(src, "/") == 0;
        if (contents)
                return strdup(prefix ? prefix : "");
        _cleanup_free_ char *copy = strdup(src);
        if (!copy)
                return NULL;
        const char *base = basename(copy);
        if (strcmp(base, "..") == 0 || strcmp(base, ".") == 0)
                return strdup(prefix ? prefix : "");
        return prefix && *prefix ? path_join(prefix, base) : strdup(base);
}

static int add_files(StoreTxn *t, json_t *artifacts, char **srcs, int n, const ImportOptions *o, json_t *summary,
                     char **reterr) {
        Store *s = store_txn_store(t);
        /* The files artifact is one tree; the new one is the parent's with
         * the sources laid over it. */
        json_t *old = NULL;
        size_t i;
        json_t *a;
        json_array_foreach(artifacts, i, a)
                if (strcmp(json_string_value(json_object_get(a, "kind")), "files") == 0) {
                        old = a;
                        break;
                }
        ObjectId base;
        bool have_base = old && json_get_id(old, "tree", &base) >= 0;

        _cleanup_(tree_builder_freep) TreeBuilder *b = NULL;
        int r = tree_builder_new(s, have_base ? &base : NULL, &b);
        if (r < 0)
                return r;
        _cleanup_(blob_writer_freep) BlobWriter *w = NULL;
        r = blob_writer_new(t, &w);
        if (r < 0)
                return r;

        FileImportStats stats = {};
        for (int k = 0; k < n; k++) {
                _cleanup_free_ char *dest = file_dest(srcs[k], o->prefix);
                if (!dest)
                        return -ENOMEM;
                if (!*dest) {
                        struct stat st;
                        if (stat(srcs[k], &st) == 0 && !S_ISDIR(st.st_mode)) {
                                if (asprintf(reterr, "%s: a file needs a name; give --prefix", srcs[k]) < 0)
                                        *reterr = NULL;
                                return -EINVAL;
                        }
                }
                r = file_import(w, b, srcs[k], dest, &stats, reterr);
                if (r < 0)
                        return r;
        }
        ObjectId root;
        uint64_t size;
        r = tree_builder_write(b, t, &root, &size);
        if (r < 0)
                return r;
        json_t *art = json_pack("{s:s,s:s,s:I}", "kind", "files", "tree", object_id_hex(&root), "size",
                                (json_int_t) size);
        if (!art)
                return -ENOMEM;
        if (old)
                json_array_set_new(artifacts, i, art);
        else
                json_array_append_new(artifacts, art);
        json_object_set_new(summary, "files", json_integer((json_int_t) stats.files));
        json_object_set_new(summary, "directories", json_integer((json_int_t) stats.dirs));
        json_object_set_new(summary, "symlinks", json_integer((json_int_t) stats.symlinks));
        json_object_set_new(summary, "bytes", json_integer((json_int_t) stats.bytes));
        json_object_set_new(summary, "new_bytes", json_integer((json_int_t) blob_writer_bytes_new(w)));
        return 0;
}

const Importer importer_file = {
        .name = "file",
        .usage = "file PATH...     files, directories (recursively) and symlinks",
        .add = add_files,
};
