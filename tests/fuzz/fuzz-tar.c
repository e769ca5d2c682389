/* SPDX-License-Identifier: Apache-2.0 */
/* The tar reader on any bytes (tar header checksums fixed up first):
 * tar_reader_open()'s scan, tar_reader_find() of every entry's name and
 * link target (symlinks, hardlinks, loops, escapes), and the second pass,
 * tar_reader_stream(), reading every entry to its end. What the first pass
 * kept in memory must be what the second one reads. */
#include "fuzz-util.h"
#include "image-source.h"
#include "tar-reader.h"

typedef struct Pass {
        TarReader *t;
        size_t next;
} Pass;

static int on_entry(size_t index, TarStream *s, void *userdata) {
        Pass *p = userdata;
        FUZZ_CHECK(index >= p->next && index < tar_reader_n_entries(p->t));
        p->next = index + 1;
        const TarEntry *e = tar_reader_entry(p->t, index);
        uint8_t buf[4096];
        uint64_t done = 0;
        for (;;) {
                ssize_t k = tar_stream_read(s, buf, sizeof buf);
                if (k < 0)
                        return (int) k;
                if (k == 0)
                        break;
                FUZZ_CHECK((size_t) k <= sizeof buf);
                if (e->data) {
                        FUZZ_CHECK(done + (uint64_t) k <= e->size);
                        FUZZ_CHECK(memcmp((uint8_t *) e->data + done, buf, (size_t) k) == 0);
                }
                done += (uint64_t) k;
        }
        if (e->data)
                FUZZ_CHECK(done == e->size);
        return 0;
}

static void find(TarReader *t, const char *name) {
        size_t i;
        if (tar_reader_find(t, name, &i) < 0)
                return;
        const TarEntry *e = tar_reader_entry(t, i);
        FUZZ_CHECK(e && e->type == TAR_ENTRY_FILE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ uint8_t *copy = memdup(data, size);
        FUZZ_CHECK(copy);
        fuzz_tar_fix_checksums(copy, size);
        const char *path;
        (void) fuzz_input_fd(copy, size, &path);

        _cleanup_(tar_reader_freep) TarReader *t = NULL;
        _cleanup_free_ char *err = NULL;
        if (tar_reader_open(path, IMAGE_JSON_MAX, &t, &err) < 0)
                return 0;
        size_t n = tar_reader_n_entries(t);
        FUZZ_CHECK(n > 0);
        for (size_t i = 0; i < n; i++) {
                const TarEntry *e = tar_reader_entry(t, i);
                FUZZ_CHECK(e && e->name);
                FUZZ_CHECK(e->name[0] != '/');
                find(t, e->name);
                if (e->link)
                        find(t, e->link);
        }
        find(t, "manifest.json");
        find(t, "index.json");

        _cleanup_free_ bool *wanted = malloc(n * sizeof *wanted);
        FUZZ_CHECK(wanted);
        for (size_t i = 0; i < n; i++)
                wanted[i] = true;
        Pass p = { .t = t };
        _cleanup_free_ char *err2 = NULL;
        (void) tar_reader_stream(t, wanted, on_entry, &p, &err2);
        return 0;
}
