/* SPDX-License-Identifier: Apache-2.0 */
#include "image-source.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include "fileio.h"
#include "importer.h"
#include "reterr.h"
#include "tar-reader.h"

#define READ_BUFFER (1u << 20)

struct ImageSource {
        char *path;
        int dir_fd;             /* a directory source, or -1 */
        TarReader *tar;         /* an archive source, or NULL */
        uint64_t bytes;
};

void image_blob_request_done(ImageBlobRequest *r) {
        free(r->name);
        free(r->what);
        *r = (ImageBlobRequest) {};
}

/* Names from manifests (docker-archive's manifest.json may say anything)
 * must stay inside the source. */
static bool name_safe(const char *name) {
        if (!*name || name[0] == '/')
                return false;
        for (const char *p = name; *p;) {
                size_t n = strcspn(p, "/");
                if (n == 2 && p[0] == '.' && p[1] == '.')
                        return false;
                p += n;
                if (*p == '/')
                        p++;
        }
        return true;
}

int image_source_open(const char *path, ImageSource **ret, char **reterr) {
        _cleanup_(image_source_freep) ImageSource *s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->dir_fd = -1;
        s->path = strdup(path);
        if (!s->path)
                return -ENOMEM;
        struct stat st;
        if (stat(path, &st) < 0)
                return reterr_printf(reterr, -errno, "%s: %s", path, strerror(errno));
        if (S_ISDIR(st.st_mode)) {
                s->dir_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (s->dir_fd < 0)
                        return reterr_printf(reterr, -errno, "%s: %s", path, strerror(errno));
        } else if (S_ISREG(st.st_mode)) {
                int r = tar_reader_open(path, IMAGE_JSON_MAX, &s->tar, reterr);
                if (r < 0)
                        return r;
        } else
                return reterr_printf(reterr, -EINVAL, "%s: neither a directory (OCI layout) nor a file (tar archive)", path);
        *ret = TAKE_PTR(s);
        return 0;
}

ImageSource *image_source_free(ImageSource *s) {
        if (!s)
                return NULL;
        if (s->dir_fd >= 0)
                close(s->dir_fd);
        tar_reader_free(s->tar);
        free(s->path);
        free(s);
        return NULL;
}

const char *image_source_path(const ImageSource *s) {
        return s->path;
}

bool image_source_is_archive(const ImageSource *s) {
        return s->tar != NULL;
}

uint64_t image_source_bytes(const ImageSource *s) {
        return s->bytes;
}

static int open_in_dir(ImageSource *s, const char *name, int *ret_fd, uint64_t *ret_size) {
        if (!name_safe(name))
                return -ENOENT;
        _cleanup_close_ int fd = openat(s->dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return errno == ENOTDIR ? -ENOENT : -errno;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return S_ISDIR(st.st_mode) ? -EISDIR : -ENOENT;
        *ret_fd = TAKE_FD(fd);
        *ret_size = (uint64_t) st.st_size;
        return 0;
}

int image_source_has(ImageSource *s, const char *name) {
        if (s->tar) {
                size_t i;
                return tar_reader_find(s->tar, name, &i) >= 0;
        }
        _cleanup_close_ int fd = -1;
        uint64_t size;
        return open_in_dir(s, name, &fd, &size) >= 0;
}

int image_source_read(ImageSource *s, const char *name, size_t max, void **ret, size_t *ret_size) {
        if (s->tar) {
                size_t i;
                int r = tar_reader_find(s->tar, name, &i);
                if (r < 0)
                        return -ENOENT;
                const TarEntry *e = tar_reader_entry(s->tar, i);
                if (e->size > max)
                        return -EFBIG;
                if (!e->data)
                        return e->size > IMAGE_JSON_MAX ? -EFBIG : -EBADMSG;
                char *buf = malloc(e->size + 1);
                if (!buf)
                        return -ENOMEM;
                memcpy(buf, e->data, e->size);
                buf[e->size] = 0;
                *ret = buf;
                *ret_size = e->size;
                return 0;
        }
        _cleanup_close_ int fd = -1;
        uint64_t size;
        int r = open_in_dir(s, name, &fd, &size);
        if (r < 0)
                return r == -EISDIR ? -ENOENT : r;
        if (size > max)
                return -EFBIG;
        _cleanup_free_ char *buf = malloc(size + 1);
        if (!buf)
                return -ENOMEM;
        ssize_t n = read_full(fd, buf, size);
        if (n < 0)
                return (int) n;
        if ((uint64_t) n != size)
                return -EIO; /* changed under us */
        buf[size] = 0;
        *ret = TAKE_PTR(buf);
        *ret_size = size;
        return 0;
}

/* ---- storing ---- */

static int missing(ImageSource *s, const ImageBlobRequest *q, int r, char **reterr) {
        const char *why = r == -ENOENT ? "it is not in the source"
                        : r == -EISDIR ? "it is not a regular file"
                        : r == -ELOOP  ? "its links loop"
                        : r == -EXDEV  ? "a symlink leads outside the archive"
                                       : strerror(-r);
        if (q->check)
                return reterr_printf(reterr, r == -ENOENT ? -ENOENT : -EBADMSG, "%s: blob sha256:%s (%s) is missing: %s (%s)",
                            s->path, object_id_hex(&q->expected), q->what, q->name, why);
        return reterr_printf(reterr, r == -ENOENT ? -ENOENT : -EBADMSG, "%s: %s (%s) is missing: %s", s->path, q->name,
                    q->what, why);
}

static int size_mismatch(ImageSource *s, const ImageBlobRequest *q, uint64_t size, char **reterr) {
        return reterr_printf(reterr, -EBADMSG, "%s: blob sha256:%s (%s) has %llu bytes, but %llu are claimed", s->path,
                    object_id_hex(&q->expected), q->what, (unsigned long long) size,
                    (unsigned long long) q->expected_size);
}

/* Called with the blob just written: checks it and copies the results. */
static int finish(ImageSource *s, BlobWriter *w, ImageBlobRequest *q, const uint8_t *magic, char **reterr) {
        ObjectId id;
        uint64_t size;
        int r = blob_writer_finish(w, &id, &size);
        if (r < 0)
                return reterr_printf(reterr, r, "%s: %s: cannot store it: %s", s->path, q->name, strerror(-r));
        if (q->check && size != q->expected_size)
                return size_mismatch(s, q, size, reterr);
        if (q->check && !object_id_equal(&id, &q->expected)) {
                char want[OBJECT_ID_HEX_SIZE], got[OBJECT_ID_HEX_SIZE];
                return reterr_printf(reterr, -EBADMSG, "%s: blob sha256:%s (%s): its bytes hash to sha256:%s", s->path,
                            object_id_to_hex(&q->expected, want), q->what, object_id_to_hex(&id, got));
        }
        q->id = id;
        q->size = size;
        memcpy(q->magic, magic, sizeof q->magic);
        return 0;
}

static int store_buffer(ImageSource *s, BlobWriter *w, ImageBlobRequest *q, const void *p, size_t n,
                        char **reterr) {
        uint8_t magic[8] = {};
        memcpy(magic, p, MIN(n, sizeof magic));
        if (q->check && n != q->expected_size)
                return size_mismatch(s, q, n, reterr);
        int r = blob_writer_write(w, p, n);
        if (r < 0)
                return reterr_printf(reterr, r, "%s: %s: cannot store it: %s", s->path, q->name, strerror(-r));
        s->bytes += n;
        import_progress(s->bytes);
        return finish(s, w, q, magic, reterr);
}

static int store_from_dir(ImageSource *s, BlobWriter *w, ImageBlobRequest *q, uint8_t *buf, char **reterr) {
        _cleanup_close_ int fd = -1;
        uint64_t size;
        int r = open_in_dir(s, q->name, &fd, &size);
        if (r < 0)
                return missing(s, q, r, reterr);
        if (q->check && size != q->expected_size)
                return size_mismatch(s, q, size, reterr);
        uint8_t magic[8] = {};
        uint64_t done = 0;
        for (;;) {
                ssize_t n = read(fd, buf, READ_BUFFER);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return reterr_printf(reterr, -errno, "%s: %s: %s", s->path, q->name, strerror(errno));
                if (n == 0)
                        break;
                if (done < sizeof magic)
                        memcpy(magic + done, buf, MIN((size_t) n, sizeof magic - (size_t) done));
                r = blob_writer_write(w, buf, (size_t) n);
                if (r < 0)
                        return reterr_printf(reterr, r, "%s: %s: cannot store it: %s", s->path, q->name, strerror(-r));
                done += (uint64_t) n;
                s->bytes += (uint64_t) n;
                import_progress(s->bytes);
        }
        return finish(s, w, q, magic, reterr);
}

typedef struct TarPass {
        ImageSource *s;
        BlobWriter *w;
        ImageBlobRequest *reqs;
        size_t n;
        size_t *entry;          /* per request: its tar entry, or SIZE_MAX when already stored */
        uint8_t *buf;
        char **reterr;
} TarPass;

static int tar_entry_store(size_t index, TarStream *ts, void *u) {
        TarPass *p = u;
        ImageSource *s = p->s;
        ImageBlobRequest *first = NULL;
        for (size_t k = 0; k < p->n && !first; k++)
                if (p->entry[k] == index)
                        first = &p->reqs[k];
        if (!first)
                return 0;
        uint8_t magic[8] = {};
        uint64_t done = 0;
        for (;;) {
                ssize_t n = tar_stream_read(ts, p->buf, READ_BUFFER);
                if (n < 0) {
                        blob_writer_reset(p->w);
                        return (int) n;
                }
                if (n == 0)
                        break;
                if (done < sizeof magic)
                        memcpy(magic + done, p->buf, MIN((size_t) n, sizeof magic - (size_t) done));
                int r = blob_writer_write(p->w, p->buf, (size_t) n);
                if (r < 0)
                        return reterr_printf(p->reterr, r, "%s: %s: cannot store it: %s", s->path, first->name, strerror(-r));
                done += (uint64_t) n;
                s->bytes += (uint64_t) n;
                import_progress(s->bytes);
        }
        int r = finish(s, p->w, first, magic, p->reterr);
        if (r < 0)
                return r;
        /* Other requests for the same entry (a layer twice, links). */
        for (size_t k = 0; k < p->n; k++) {
                ImageBlobRequest *q = &p->reqs[k];
                if (p->entry[k] != index || q == first)
                        continue;
                if (q->check && q->expected_size != first->size)
                        return size_mismatch(s, q, first->size, p->reterr);
                if (q->check && !object_id_equal(&q->expected, &first->id)) {
                        char want[OBJECT_ID_HEX_SIZE], got[OBJECT_ID_HEX_SIZE];
                        return reterr_printf(p->reterr, -EBADMSG, "%s: blob sha256:%s (%s): its bytes hash to sha256:%s",
                                    s->path, object_id_to_hex(&q->expected, want), q->what,
                                    object_id_to_hex(&first->id, got));
                }
                q->id = first->id;
                q->size = first->size;
                memcpy(q->magic, first->magic, sizeof q->magic);
        }
        return 0;
}

static int store_from_tar(ImageSource *s, BlobWriter *w, ImageBlobRequest *reqs, size_t n, uint8_t *buf,
                          char **reterr) {
        size_t n_entries = tar_reader_n_entries(s->tar);
        _cleanup_free_ size_t *entry = calloc(n ? n : 1, sizeof *entry);
        _cleanup_free_ bool *wanted = calloc(n_entries, sizeof *wanted);
        if (!entry || !wanted)
                return -ENOMEM;
        bool any = false;
        for (size_t k = 0; k < n; k++) {
                ImageBlobRequest *q = &reqs[k];
                size_t i;
                int r = tar_reader_find(s->tar, q->name, &i);
                if (r < 0)
                        return missing(s, q, r, reterr);
                const TarEntry *e = tar_reader_entry(s->tar, i);
                if (q->check && e->size != q->expected_size)
                        return size_mismatch(s, q, e->size, reterr);
                if (e->data) {
                        /* Kept from the first pass: no need to read it again. */
                        entry[k] = SIZE_MAX;
                        r = store_buffer(s, w, q, e->data, e->size, reterr);
                        if (r < 0)
                                return r;
                        continue;
                }
                entry[k] = i;
                wanted[i] = true;
                any = true;
        }
        if (!any)
                return 0;
        TarPass p = { s, w, reqs, n, entry, buf, reterr };
        return tar_reader_stream(s->tar, wanted, tar_entry_store, &p, reterr);
}

int image_source_store(ImageSource *s, BlobWriter *w, ImageBlobRequest *reqs, size_t n, char **reterr) {
        _cleanup_free_ uint8_t *buf = malloc(READ_BUFFER);
        if (!buf)
                return -ENOMEM;
        if (s->tar)
                return store_from_tar(s, w, reqs, n, buf, reterr);
        for (size_t k = 0; k < n; k++) {
                int r = store_from_dir(s, w, &reqs[k], buf, reterr);
                if (r < 0)
                        return r;
        }
        return 0;
}
