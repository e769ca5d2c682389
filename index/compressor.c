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

int zstd_decompress_exact(const void *z, size_t zsize, size_t raw, uint8_t **ret) {
        ZSTD_DCtx *d = ZSTD_createDCtx();
        if (!d)
                return -ENOMEM;
        _cleanup_free_ uint8_t *buf = NULL;
        uint8_t empty;
        ZSTD_inBuffer in = { z, zsize, 0 };
        ZSTD_outBuffer out = { &empty, 0, 0 };
        size_t last_in = SIZE_MAX, last_out = SIZE_MAX;
        int r = -EBADMSG;
        for (;;) {
                if (out.pos == out.size && out.size < raw) {
                        size_t a = MIN(raw, MAX(out.size * 2, (size_t) 1 << 20));
                        uint8_t *p = realloc(buf, a);
                        if (!p) {
                                r = -ENOMEM;
                                break;
                        }
                        buf = p;
                        out.dst = buf;
                        out.size = a;
                }
                size_t k = ZSTD_decompressStream(d, &out, &in);
                if (ZSTD_isError(k))
                        break;
                if (k == 0) {
                        /* The frame is whole: nothing may follow it. */
                        if (in.pos == in.size && out.pos == raw)
                                r = 0;
                        break;
                }
                /* No progress: truncated, or more than raw bytes. */
                if (in.pos == last_in && out.pos == last_out)
                        break;
                last_in = in.pos;
                last_out = out.pos;
        }
        ZSTD_freeDCtx(d);
        if (r < 0)
                return r;
        *ret = buf ? TAKE_PTR(buf) : malloc(1);
        return *ret ? 0 : -ENOMEM;
}
