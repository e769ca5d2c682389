/* SPDX-License-Identifier: Apache-2.0 */
/* tree_decode() on any bytes. A tree's id is the SHA-256 of its encoding,
 * so the encoding must be canonical: whatever decodes must encode back to
 * exactly the same bytes, or two encodings would name one directory. */
#include "fuzz-util.h"
#include "tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(tree_freep) Tree *t = NULL;
        if (tree_decode(data, size, &t) < 0)
                return 0;

        _cleanup_free_ void *enc = NULL;
        size_t n;
        FUZZ_SETUP(tree_encode(t, &enc, &n));
        FUZZ_CHECK(n == size);
        FUZZ_CHECK(memcmp(enc, data, size) == 0);

        for (size_t i = 0; i < t->n_entries; i++) {
                const TreeEntry *e = &t->entries[i];
                FUZZ_CHECK(tree_name_valid(e->name));
                FUZZ_CHECK(tree_find(t, e->name) == e);
                (void) tree_entry_kind_to_string(e->kind);
        }
        (void) tree_total_size(t);
        return 0;
}
