/* SPDX-License-Identifier: Apache-2.0 */
#include "tar-reader.h"
#include "reterr.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdarg.h>
#include <stdio.h>

/* Total bytes of JSON-looking files kept in memory by one reader. */
#define KEEP_TOTAL_MAX (512ull << 20)
/* Links followed by one lookup before it is called a loop. */
#define LINK_DEPTH_MAX 16

struct TarReader {
        char *path;
        TarEntry *entries;
        size_t n_entries, allocated;
        size_t *by_name;        /* entry indexes sorted by (name, index) */
        size_t keep_max;
        uint64_t kept;
};

/* An entry's bytes come from archive_read_data_block(), not
 * archive_read_data(): the latter fills holes (a sparse entry, or any GNU
 * header's "realsize") with zeros, so a few bytes of archive could stream
 * an exabyte. Image archives have no holes: one is refused as damage. */
struct TarStream {
        struct archive *a;
        bool failed;
        bool hole;              /* failed at a hole, not in libarchive */
        bool end;
        const uint8_t *block;   /* the unread rest of the current block */
        size_t left;
        int64_t offset;         /* of the next byte in the entry */
};

/* libarchive's convention (ARCHIVE_OK/WARN/FATAL plus a message) turned
 * into ours: every failure of the archive itself is -EBADMSG, and the
 * message says what libarchive saw. */
static int archive_fail(char **reterr, struct archive *a, const char *path, const char *what) {
        const char *msg = archive_error_string(a);
        int e = archive_errno(a);
        if (e == ENOENT || e == EACCES || e == EISDIR)
                return reterr_printf(reterr, -e, "%s: %s", path, strerror(e));
        if (!msg)
                msg = "damaged archive";
        if (strstr(msg, "Unrecognized archive format"))
                return reterr_printf(reterr, -EBADMSG, "%s: not a tar archive (%s)", path, msg);
        return reterr_printf(reterr, -EBADMSG, "%s: %s: %s", path, what, msg);
}

static int hole_fail(char **reterr, const char *path, const char *name) {
        return reterr_printf(reterr, -EBADMSG, "%s: tar entry '%s' has holes (a sparse file), which image archives never have",
                             path, name);
}

/* Normalises an entry name: drops "./", empty and "." components and the
 * trailing '/'. -EINVAL for an absolute name or one with "..". "" stays
 * "" (the archive's root, "./"). */
static int normalise(const char *in, char **ret) {
        if (in[0] == '/')
                return -EINVAL;
        _cleanup_free_ char *copy = strdup(in), *out = malloc(strlen(in) + 1);
        if (!copy || !out)
                return -ENOMEM;
        out[0] = 0;
        size_t len = 0;
        char *save = NULL;
        for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                if (strcmp(c, ".") == 0)
                        continue;
                if (strcmp(c, "..") == 0)
                        return -EINVAL;
                if (len)
                        out[len++] = '/';
                memcpy(out + len, c, strlen(c));
                len += strlen(c);
                out[len] = 0;
        }
        *ret = TAKE_PTR(out);
        return 0;
}

static bool looks_like_json(const uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i++) {
                if (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r')
                        continue;
                return p[i] == '{' || p[i] == '[';
        }
        return false;
}

static int open_archive(const char *path, struct archive **ret, char **reterr) {
        struct archive *a = archive_read_new();
        if (!a)
                return -ENOMEM;
        archive_read_support_filter_all(a);
        archive_read_support_format_tar(a);
        if (archive_read_open_filename(a, path, 1 << 20) != ARCHIVE_OK) {
                int r = archive_fail(reterr, a, path, "cannot open");
                archive_read_free(a);
                return r;
        }
        *ret = a;
        return 0;
}

ssize_t tar_stream_read(TarStream *s, void *buf, size_t n) {
        while (s->left == 0 && !s->end) {
                const void *p;
                size_t size;
                la_int64_t offset;
                int k = archive_read_data_block(s->a, &p, &size, &offset);
                if (k < ARCHIVE_WARN) {
                        s->failed = true;
                        return -EBADMSG;
                }
                /* At the end, offset is the entry's size: short of it is a hole too. */
                if (offset != s->offset) {
                        s->failed = s->hole = true;
                        return -EBADMSG;
                }
                if (k == ARCHIVE_EOF)
                        s->end = true;
                else {
                        s->block = p;
                        s->left = size;
                }
        }
        size_t m = MIN(n, s->left);
        if (m > 0) {
                memcpy(buf, s->block, m);
                s->block += m;
                s->left -= m;
                s->offset += (int64_t) m;
        }
        return (ssize_t) m;
}

/* Reads the current entry's n bytes into a new buffer. */
static int read_data(struct archive *a, uint64_t n, void **ret, bool *ret_hole) {
        _cleanup_free_ uint8_t *buf = malloc(n ? n : 1);
        if (!buf)
                return -ENOMEM;
        TarStream s = { .a = a };
        uint64_t have = 0;
        while (have < n) {
                ssize_t k = tar_stream_read(&s, buf + have, n - have);
                *ret_hole = s.hole;
                if (k <= 0)
                        return -EBADMSG; /* damaged, a hole, or shorter than its header says */
                have += (uint64_t) k;
        }
        *ret = TAKE_PTR(buf);
        return 0;
}

static int compare_by_name(const void *x, const void *y, void *u) {
        const TarReader *t = u;
        size_t a = *(const size_t *) x, b = *(const size_t *) y;
        int c = strcmp(t->entries[a].name, t->entries[b].name);
        return c ? c : (a < b ? -1 : a > b);
}

static int scan_entry(TarReader *t, struct archive *a, struct archive_entry *e, char **reterr) {
        const char *raw = archive_entry_pathname(e);
        if (!raw)
                return reterr_printf(reterr, -EBADMSG, "%s: an entry has no name", t->path);
        TarEntry x = {};
        int r = normalise(raw, &x.name);
        if (r == -EINVAL)
                return reterr_printf(reterr, -EBADMSG, "%s: tar entry '%s' points outside the archive (absolute path or '..')",
                            t->path, raw);
        if (r < 0)
                return r;
        const char *hard = archive_entry_hardlink(e);
        mode_t type = archive_entry_filetype(e);
        if (hard) {
                x.type = TAR_ENTRY_HARDLINK;
                r = normalise(hard, &x.link);
                if (r == -EINVAL) {
                        r = reterr_printf(reterr, -EBADMSG, "%s: tar entry '%s' links to '%s', outside the archive", t->path,
                                 raw, hard);
                        goto err;
                }
                if (r < 0)
                        goto err;
        } else if (type == AE_IFREG) {
                x.type = TAR_ENTRY_FILE;
                la_int64_t size = archive_entry_size(e);
                if (size < 0) {
                        r = reterr_printf(reterr, -EBADMSG, "%s: tar entry '%s' has a negative size", t->path, raw);
                        goto err;
                }
                x.size = (uint64_t) size;
        } else if (type == AE_IFDIR)
                x.type = TAR_ENTRY_DIR;
        else if (type == AE_IFLNK) {
                x.type = TAR_ENTRY_SYMLINK;
                const char *target = archive_entry_symlink(e);
                x.link = strdup(target ? target : "");
                if (!x.link) {
                        r = -ENOMEM;
                        goto err;
                }
        } else
                x.type = TAR_ENTRY_OTHER;

        if (x.type == TAR_ENTRY_FILE && x.size <= t->keep_max) {
                void *data = NULL;
                bool hole = false;
                r = read_data(a, x.size, &data, &hole);
                if (r == -EBADMSG) {
                        r = hole ? hole_fail(reterr, t->path, raw) : archive_fail(reterr, a, t->path, raw);
                        goto err;
                }
                if (r < 0)
                        goto err;
                if (looks_like_json(data, x.size)) {
                        t->kept += x.size;
                        if (t->kept > KEEP_TOTAL_MAX) {
                                free(data);
                                r = reterr_printf(reterr, -EFBIG, "%s: more than %llu MiB of JSON files", t->path,
                                         KEEP_TOTAL_MAX >> 20);
                                goto err;
                        }
                        x.data = data;
                } else
                        free(data);
        }
        r = GROW(t->entries, t->allocated, t->n_entries + 1);
        if (r < 0)
                goto err;
        t->entries[t->n_entries++] = x;
        return 0;
err:
        free(x.name);
        free(x.link);
        free(x.data);
        return r;
}

int tar_reader_open(const char *path, size_t keep_max, TarReader **ret, char **reterr) {
        _cleanup_(tar_reader_freep) TarReader *t = calloc(1, sizeof *t);
        if (!t)
                return -ENOMEM;
        t->path = strdup(path);
        if (!t->path)
                return -ENOMEM;
        t->keep_max = keep_max;
        struct archive *a;
        int r = open_archive(path, &a, reterr);
        if (r < 0)
                return r;
        for (;;) {
                struct archive_entry *e;
                int k = archive_read_next_header(a, &e);
                if (k == ARCHIVE_EOF)
                        break;
                if (k < ARCHIVE_WARN) {
                        r = archive_fail(reterr, a, path, t->n_entries ? "after its last good entry" : "reading");
                        break;
                }
                r = scan_entry(t, a, e, reterr);
                if (r < 0)
                        break;
        }
        archive_read_free(a);
        if (r < 0)
                return r;
        if (t->n_entries == 0)
                return reterr_printf(reterr, -EBADMSG, "%s: not a tar archive (no entries)", path);

        t->by_name = calloc(t->n_entries, sizeof *t->by_name);
        if (!t->by_name)
                return -ENOMEM;
        for (size_t i = 0; i < t->n_entries; i++)
                t->by_name[i] = i;
        qsort_r(t->by_name, t->n_entries, sizeof *t->by_name, compare_by_name, t);
        *ret = TAKE_PTR(t);
        return 0;
}

TarReader *tar_reader_free(TarReader *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_entries; i++) {
                free(t->entries[i].name);
                free(t->entries[i].link);
                free(t->entries[i].data);
        }
        free(t->entries);
        free(t->by_name);
        free(t->path);
        free(t);
        return NULL;
}

size_t tar_reader_n_entries(const TarReader *t) {
        return t->n_entries;
}

const TarEntry *tar_reader_entry(const TarReader *t, size_t i) {
        return i < t->n_entries ? &t->entries[i] : NULL;
}

/* The last entry called name (the one extraction would leave). */
static int lookup(const TarReader *t, const char *name, size_t *ret) {
        size_t lo = 0, hi = t->n_entries;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (strcmp(t->entries[t->by_name[mid]].name, name) <= 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        if (lo == 0 || strcmp(t->entries[t->by_name[lo - 1]].name, name) != 0)
                return -ENOENT;
        *ret = t->by_name[lo - 1];
        return 0;
}

/* A symlink's target as an archive name: relative to the link's own
 * directory, ".." popping components. -EXDEV when it leaves the archive. */
static int symlink_resolve(const char *link_name, const char *target, char **ret) {
        if (target[0] == '/')
                return -EXDEV;
        const char *slash = strrchr(link_name, '/');
        _cleanup_free_ char *joined = NULL;
        if (asprintf(&joined, "%.*s%s%s", slash ? (int) (slash - link_name) : 0, link_name, slash ? "/" : "",
                     target) < 0)
                return -ENOMEM;
        _cleanup_free_ char *out = malloc(strlen(joined) + 1);
        if (!out)
                return -ENOMEM;
        size_t len = 0;
        out[0] = 0;
        char *save = NULL;
        for (char *c = strtok_r(joined, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                if (strcmp(c, ".") == 0)
                        continue;
                if (strcmp(c, "..") == 0) {
                        if (len == 0)
                                return -EXDEV;
                        char *p = strrchr(out, '/');
                        len = p ? (size_t) (p - out) : 0;
                        out[len] = 0;
                        continue;
                }
                if (len)
                        out[len++] = '/';
                memcpy(out + len, c, strlen(c));
                len += strlen(c);
                out[len] = 0;
        }
        *ret = TAKE_PTR(out);
        return 0;
}

int tar_reader_find(const TarReader *t, const char *name, size_t *ret_index) {
        _cleanup_free_ char *cur = NULL;
        int r = normalise(name, &cur);
        if (r < 0)
                return r == -EINVAL ? -ENOENT : r;
        for (int depth = 0; depth < LINK_DEPTH_MAX; depth++) {
                size_t i;
                r = lookup(t, cur, &i);
                if (r < 0)
                        return r;
                const TarEntry *e = &t->entries[i];
                char *next = NULL;
                switch (e->type) {
                case TAR_ENTRY_FILE:
                        *ret_index = i;
                        return 0;
                case TAR_ENTRY_HARDLINK:
                        next = strdup(e->link);
                        if (!next)
                                return -ENOMEM;
                        break;
                case TAR_ENTRY_SYMLINK:
                        r = symlink_resolve(e->name, e->link, &next);
                        if (r < 0)
                                return r;
                        break;
                default:
                        return -EISDIR;
                }
                free(cur);
                cur = next;
        }
        return -ELOOP;
}

int tar_reader_stream(TarReader *t, const bool *wanted, TarEntryFn fn, void *userdata, char **reterr) {
        struct archive *a;
        int r = open_archive(t->path, &a, reterr);
        if (r < 0)
                return r;
        for (size_t i = 0;; i++) {
                TarStream s = { .a = a };
                struct archive_entry *e;
                int k = archive_read_next_header(a, &e);
                if (k == ARCHIVE_EOF) {
                        if (i != t->n_entries)
                                r = reterr_printf(reterr, -EBADMSG, "%s: the archive changed while it was read", t->path);
                        break;
                }
                if (k < ARCHIVE_WARN) {
                        r = archive_fail(reterr, a, t->path, "reading");
                        break;
                }
                if (i >= t->n_entries) {
                        r = reterr_printf(reterr, -EBADMSG, "%s: the archive changed while it was read", t->path);
                        break;
                }
                if (!wanted[i])
                        continue;
                r = fn(i, &s, userdata);
                if (s.failed) {
                        r = s.hole ? hole_fail(reterr, t->path, t->entries[i].name)
                                   : archive_fail(reterr, a, t->path, t->entries[i].name);
                        break;
                }
                if (r < 0)
                        break;
        }
        archive_read_free(a);
        return r;
}
