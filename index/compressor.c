/* SPDX-License-Identifier: Apache-2.0 */
#include "compressor.h"

#include <zstd.h>

struct Compressor {
        ZSTD_CCtx *cctx;
        void *buf;
        size_t buf_size;
};

Compressor *compressor_new(int level) {
        Compressor *c = calloc(1, sizeof *c);
        if (!c)
                return NULL;
        c->cctx = ZSTD_createCCtx();
        if (!c->cctx)
                return compressor_free(c);
        ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_compressionLevel, level);
        return c;
}

Compressor *compressor_free(Compressor *c) {
        if (!c)
                return NULL;
        ZSTD_freeCCtx(c->cctx);
        free(c->buf);
        free(c);
        return NULL;
}

int compressor_run(Compressor *c, const void *p, size_t n, const void **ret, size_t *ret_size) {
        if (n < 64)
                return 0;
        size_t bound = ZSTD_compressBound(n);
        if (bound > c->buf_size) {
                void *b = realloc(c->buf, bound);
                if (!b)
                        return -ENOMEM;
                c->buf = b;
                c->buf_size = bound;
        }
        size_t k = ZSTD_compress2(c->cctx, c->buf, bound, p, n);
        if (ZSTD_isError(k))
                return -EIO;
        if (k >= n - n / 32)
                return 0;
        *ret = c->buf;
        *ret_size = k;
        return 1;
}
