/* SPDX-License-Identifier: Apache-2.0 */
#include "compressor.h"

#include <math.h>
#include <zstd.h>

struct Compressor {
        ZSTD_CCtx *cctx;
        void *buf;
        size_t buf_size;
};

Compressor *compressor_new(CompressorKind kind) {
        Compressor *c = calloc(1, sizeof *c);
        if (!c)
                return NULL;
        c->cctx = ZSTD_createCCtx();
        if (!c->cctx)
                return compressor_free(c);
        /* Parameters and their measurements: compressor.h. */
        if (kind == COMPRESSOR_BULK) {
                ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_compressionLevel, 1);
                ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_hashLog, 13);
        } else
                ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_compressionLevel, 6);
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

/* Whether n bytes look like noise: compressed or encrypted data that zstd
 * would spend its time on only to give back. Reads SAMPLES slices of
 * SAMPLE_LEN bytes spread over the input and estimates their byte entropy;
 * uniform noise measures about 7.91 bits per byte from 2048 samples, text
 * 4.5-5.5, machine code 5.5-6.5. Above 7.8 bits no order-0 coder can save
 * the 1/32 we ask for; repeats over longer distances in noise are rare
 * enough to lose. The test costs about 2 us a chunk; a failed zstd on
 * 64 KiB of noise about 16 us (10% of the CPU of adding a random file). */
#define SAMPLES 8
#define SAMPLE_LEN 256
bool compressor_looks_incompressible(const void *data, size_t n) {
        const uint8_t *p = data;
        if (n < 4 * SAMPLES * SAMPLE_LEN)
                return false;
        unsigned counts[256] = {};
        size_t step = (n - SAMPLE_LEN) / (SAMPLES - 1);
        for (size_t i = 0; i < SAMPLES; i++)
                for (size_t k = 0; k < SAMPLE_LEN; k++)
                        counts[p[i * step + k]]++;
        const double total = SAMPLES * SAMPLE_LEN;
        double bits = 0;
        for (size_t b = 0; b < 256; b++)
                if (counts[b])
                        bits -= counts[b] / total * log2(counts[b] / total);
        return bits > 7.8;
}

int compressor_run(Compressor *c, const void *p, size_t n, const void **ret, size_t *ret_size) {
        if (n < 64 || compressor_looks_incompressible(p, n))
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
