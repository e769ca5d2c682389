/* SPDX-License-Identifier: Apache-2.0 */
#include "chunker.h"

#include <assert.h>

#include "macro.h"

/* FastCDC (Xia et al., USENIX ATC 2016).
 *
 * A gear hash rolls over the data, h = (h << 1) + gear[byte]. Because of
 * the shift, bit k of h depends only on the last k + 1 bytes, so the top
 * bits see a 64-byte window; we cut after a byte when the top bits of h are
 * all zero. Normalized chunking (level 2): between min and avg the test
 * needs log2(avg) + 2 zero bits (cuts are rare), after avg only
 * log2(avg) - 2 (cuts are likely), which pulls chunk sizes towards avg
 * and leaves few chunks cut at max.
 *
 * Unlike the paper, the hash is warmed over the 64 bytes before min, so
 * whether a position passes a given mask depends only on the 64 bytes
 * ending there, never on where the chunk started. That keeps cuts after an edit
 * aligned with the old ones as early as possible.
 *
 * Measured on one core of a 2-vCPU AMD EPYC VM, gcc 12 -O2, chunking an
 * mmap'd, page-cached file start to end (best of 3). Throughput counts all
 * input bytes, including the min bytes per chunk that are skipped unhashed:
 *
 *   input                            params  throughput  avg chunk   cut at max
 *   tar of /usr/lib (first 512 MiB)  FINE    4.9 GB/s     149.0 KiB     6/3519
 *                                    COARSE  6.6 GB/s     619.0 KiB    25/847
 *   tar of /usr/share (512 MiB)      FINE    4.6 GB/s     158.2 KiB    25/3315
 *                                    COARSE  6.3 GB/s     639.4 KiB    40/820
 *   random (1024 MiB)                FINE    4.6 GB/s     145.7 KiB     0/7195
 *                                    COARSE  6.6 GB/s     608.6 KiB    28/1723
 *
 * (The scripts/bench inputs.) FINE was 16/64/256 KiB until zstd level 1
 * took over the bulk of the data: 128 KiB pieces win back most of what
 * level 1 loses against level 3 (compressor.h).
 *
 * COARSE, for data already compressed, was 1/2/4 MiB. Those chunks cost
 * the least to hash and index, but an edit to a compressed file (a member
 * of a zip or jar, bytes spliced into a .gz) re-stores everything from the
 * edit to the next cut, 2-3 MiB on average. scripts/bench's two trees
 * (A, then a copy with some large files edited), isle total:
 *
 *   COARSE 1/2/4 MiB              117.6 MiB   (borg zstd,3: 116.1 MiB)
 *   COARSE 512 KiB/1/2 MiB        114.9 MiB
 *   COARSE 256/512 KiB/1 MiB      113.0 MiB
 *   COARSE = FINE                 108.1 MiB
 *
 * 256/512/1024 KiB adds nothing measurable to a 1 GiB random add (1.27-
 * 1.38 s against 1.23-1.42 s) and still keeps compressed data in chunks
 * 4x the size of FINE ones, so a layer or an archive stays a few thousand
 * index entries per GiB; since raw chunks are read by the page
 * (pack-format.h), large ones no longer cost a random reader anything.
 *
 * Chunks average about 1.15-1.2x avg: with min = avg / 4 the skipped prefix
 * adds more than the loose mask after avg takes away.
 */

/* Cut-test strictness: the strict mask has NORMALIZATION more bits than
 * log2(avg), the loose one NORMALIZATION fewer. */
#define NORMALIZATION 2U
/* Bytes the hash sees: bit 63 of h depends on the last 64 bytes. */
#define WINDOW 64U

const ChunkerParams CHUNKER_FINE = {
        .min = 32U * 1024U,
        .avg = 128U * 1024U,
        .max = 512U * 1024U,
};

const ChunkerParams CHUNKER_TREE = {
        .min = 1U * 1024U,
        .avg = 4U * 1024U,
        .max = 16U * 1024U,
};

const ChunkerParams CHUNKER_COARSE = {
        .min = 256U * 1024U,
        .avg = 512U * 1024U,
        .max = 1024U * 1024U,
};

/* 256 splitmix64 outputs from the seed 0x69736c6520676561 ("isle gea").
 * Changing any entry changes every cut, and with it every chunk id in
 * existing stores: never edit. */
static const uint64_t gear[256] = {
        UINT64_C(0x0ff43afe4d6fc039), UINT64_C(0x67e9e87f63beba25),
        UINT64_C(0xa61a260e4841d926), UINT64_C(0xd4540d776ab27569),
        UINT64_C(0xdf44091b8bced995), UINT64_C(0x462b5f21b6ac7b36),
        UINT64_C(0x2b62fe7ee433052b), UINT64_C(0x9f6b2402c34ee8e8),
        UINT64_C(0xaa11157c2e956d32), UINT64_C(0xc4dc466c15274b14),
        UINT64_C(0x9e6cac5d52af2622), UINT64_C(0x38c85ce60582e232),
        UINT64_C(0xc7c872332d95fa94), UINT64_C(0x6be2862931627a8c),
        UINT64_C(0x745d5bcd705de1e8), UINT64_C(0xeb2d2abe762d9e19),
        UINT64_C(0xca01844cde0c5dbf), UINT64_C(0xda725dc1354634a2),
        UINT64_C(0x87fe82b5b6ac2cd5), UINT64_C(0x99675ba12270446d),
        UINT64_C(0x21c17f93bdd8a940), UINT64_C(0xb34103804370e875),
        UINT64_C(0x6fe30e02a7b196ed), UINT64_C(0x65ce2cdc68f57eff),
        UINT64_C(0xb650b4beb6f7e45a), UINT64_C(0x59e9bb4a05a660a2),
        UINT64_C(0x4d7695cd56e5899d), UINT64_C(0x6ff0a0ba625d09c9),
        UINT64_C(0x6075d6945cd0c3b2), UINT64_C(0x70588b0bf7953582),
        UINT64_C(0x4267b2dadd9fe654), UINT64_C(0xba45d21e3c5f9d26),
        UINT64_C(0x2a1d1a2c3fcb74f1), UINT64_C(0x7fb579f98d158fef),
        UINT64_C(0xc02a0902201c4a9e), UINT64_C(0x9d6cde77367d3b29),
        UINT64_C(0x68998549c0f32b57), UINT64_C(0xa77c446e5d999a84),
        UINT64_C(0x78ba166fe200dd48), UINT64_C(0xbd0adff4de41f4e6),
        UINT64_C(0x8cba3d3097794fde), UINT64_C(0x803303555cd80809),
        UINT64_C(0xeea9571579bac5c2), UINT64_C(0xc02e2f8a4a27a717),
        UINT64_C(0xe9add2c81b1812eb), UINT64_C(0xa2dcc8091ac985cc),
        UINT64_C(0x538314332b024ede), UINT64_C(0xb4d7890a4f6c190c),
        UINT64_C(0x1b54dcb4c70a6b9e), UINT64_C(0x20ffdbae88e3118d),
        UINT64_C(0x35ecb37c9e0d455b), UINT64_C(0x59b756256b0f61d7),
        UINT64_C(0xdd68e470dfa80211), UINT64_C(0x9247fddcef87459c),
        UINT64_C(0xbcea0e51b3c7290f), UINT64_C(0x2ff90c8839e3f174),
        UINT64_C(0x4de7e3ede365ae0b), UINT64_C(0x0330b6283247586e),
        UINT64_C(0x5835cb08a221b312), UINT64_C(0xe2d030ebd7f8c192),
        UINT64_C(0x6740fbaf1560135f), UINT64_C(0x565bc5fd82f63ba3),
        UINT64_C(0x0aed6c3f5ca44ecd), UINT64_C(0xb3fa03f5d23006d8),
        UINT64_C(0xa6331d43f14274c7), UINT64_C(0xf00db726bb14d42d),
        UINT64_C(0x87102f1fc8012ea8), UINT64_C(0x25bd1e832892aea0),
        UINT64_C(0xed7842f554d4a6dc), UINT64_C(0x7c6ef1ac3817710f),
        UINT64_C(0x9f23dc51d2294cba), UINT64_C(0x390b7e8453b94702),
        UINT64_C(0x33c839034250864b), UINT64_C(0xe15477ea35eb0974),
        UINT64_C(0x33ff20781b52f1a7), UINT64_C(0x981675aeb1c58254),
        UINT64_C(0x9bed1eeb7c99cc6d), UINT64_C(0x52d040c9aba62205),
        UINT64_C(0x6900eb4fd1faf7b9), UINT64_C(0xe90e447cf21c8fbe),
        UINT64_C(0xd611e05706bbf944), UINT64_C(0xfaa28db0e215284b),
        UINT64_C(0x82c2677c151fc58e), UINT64_C(0x7c4370179b97eb9e),
        UINT64_C(0x30035123b0517cb4), UINT64_C(0x74e622af4a7658b6),
        UINT64_C(0x917330fa4382a86c), UINT64_C(0x4d70952e56a82514),
        UINT64_C(0x11059a591306f04b), UINT64_C(0xc2ae70cc55804d5d),
        UINT64_C(0x2b22aaf0a4dc7419), UINT64_C(0xe48395f8158c6d21),
        UINT64_C(0x4b37735406dd3921), UINT64_C(0x9dc7b03d39c48f25),
        UINT64_C(0x111ec60f67f430b7), UINT64_C(0x79e81037a2837c64),
        UINT64_C(0xea209b14cc50a2b8), UINT64_C(0x04c420c240927128),
        UINT64_C(0xe9ddc8530750df6e), UINT64_C(0x3fc3e40770575563),
        UINT64_C(0x3ff2b110700edbab), UINT64_C(0x626d91658c52c264),
        UINT64_C(0x91a27565fb2b3227), UINT64_C(0xf60b9a75602ce8bd),
        UINT64_C(0x59061ef4c5df103e), UINT64_C(0xe1b9e844fe73322f),
        UINT64_C(0x06b9ec2dd1e99628), UINT64_C(0xf6de96f5a93f2021),
        UINT64_C(0xda0ac5b2595e0443), UINT64_C(0x0eeac3dfdf43c1a6),
        UINT64_C(0x86cbe131bfe62fbf), UINT64_C(0x09c75c3627306ca0),
        UINT64_C(0xb03df3887d5a5be9), UINT64_C(0x18ddfd9dc7f2d46f),
        UINT64_C(0x39669e3369010a94), UINT64_C(0x6c9629e06df4e9a1),
        UINT64_C(0x98ae6a11f439bcb0), UINT64_C(0x1cae943b91eac3a6),
        UINT64_C(0xee8778ce8a4c1cbc), UINT64_C(0xb6bfbf6590ca9cfe),
        UINT64_C(0xe7445c465f22350b), UINT64_C(0x0d9857586e046dd4),
        UINT64_C(0xdf7642694d673971), UINT64_C(0xed8ec085e4217cdb),
        UINT64_C(0x9c63bc7e4ffbc2b9), UINT64_C(0x5d735454a4fe15b0),
        UINT64_C(0xf9775fbf7e8f1feb), UINT64_C(0xe4aca7a3424c1e59),
        UINT64_C(0xb1fe24491481e756), UINT64_C(0x84c5b7bfd09fdc06),
        UINT64_C(0xb75cc093ec32de8a), UINT64_C(0x7e3965729af8937e),
        UINT64_C(0x215e911ffbbf60a4), UINT64_C(0x72cca93fd95bc46d),
        UINT64_C(0x5ca013226cb4482f), UINT64_C(0xbb7e3bc14103667b),
        UINT64_C(0x68dcb3e4e69f172c), UINT64_C(0x9da9a59c5c2826ad),
        UINT64_C(0xd6e34f3bc75a1a17), UINT64_C(0x72e626757960593a),
        UINT64_C(0x0e835a4cdfab6b2c), UINT64_C(0xb4ace1c539a340c7),
        UINT64_C(0x4a94f6810e20341f), UINT64_C(0x9d184517189730b2),
        UINT64_C(0xfa8a55a3319561b5), UINT64_C(0x8fbbb75422f054ca),
        UINT64_C(0xef2357f315f20275), UINT64_C(0x708497ac28fd5baf),
        UINT64_C(0x3eef0c27bb39d13b), UINT64_C(0x2cd3b01a07d75a54),
        UINT64_C(0xad7b51f9fc1851e1), UINT64_C(0x41164bc28bfc8845),
        UINT64_C(0xcc57f31594debb2d), UINT64_C(0x3747077595432707),
        UINT64_C(0x64c7a6a7c94652a7), UINT64_C(0x66461642fb48d717),
        UINT64_C(0x8786f9423a66c5bf), UINT64_C(0x71b89d77ce086b9e),
        UINT64_C(0x70df39d77dc9cfab), UINT64_C(0x43a9577e81ee6cb4),
        UINT64_C(0xaf8d4dbcd00a13d8), UINT64_C(0xfd15c5c77084ef31),
        UINT64_C(0x3da7ca4b8b34b90d), UINT64_C(0x2da855c29cf4bf23),
        UINT64_C(0xb5a9eff0ef63743c), UINT64_C(0xe12e297ae20a12a8),
        UINT64_C(0x40002cad689fb006), UINT64_C(0xfd615ef3e89ef912),
        UINT64_C(0xadc09958a84f8bc2), UINT64_C(0x3e575fbdc5aac658),
        UINT64_C(0x464567a60a06b5c9), UINT64_C(0x5eee140d5f0d8f5a),
        UINT64_C(0x7104231de706ecbd), UINT64_C(0x6a0f9296cb36313d),
        UINT64_C(0x80602201a13b51b1), UINT64_C(0x5007763263906440),
        UINT64_C(0x7773e74d9246f53c), UINT64_C(0x87070e45977c68a9),
        UINT64_C(0xc50546b6a220e335), UINT64_C(0x2ce051f34f0d8e7f),
        UINT64_C(0x1e9f1e4827292de2), UINT64_C(0xdba523d13af90c16),
        UINT64_C(0xe85451ff48bd34b9), UINT64_C(0xa256392829ed944a),
        UINT64_C(0x160eb56cee431c0a), UINT64_C(0x10566ee40fbdd539),
        UINT64_C(0x23f030c84507926a), UINT64_C(0x780554ca027bd200),
        UINT64_C(0xfbf6383d8af035d3), UINT64_C(0xe0e0b93d575d4577),
        UINT64_C(0xa9f8bd4ab12669e3), UINT64_C(0x43b89344bb05f4ea),
        UINT64_C(0x8338eedf2505f116), UINT64_C(0x4b897e7654ceeee7),
        UINT64_C(0x9d72431681422cfb), UINT64_C(0x90b33f98783ecc70),
        UINT64_C(0x82b6144066ffaeec), UINT64_C(0x19ab464516b45806),
        UINT64_C(0x5844864f1cd4bfd8), UINT64_C(0xd9c5b7a0c720065a),
        UINT64_C(0x6cb88c75096c1843), UINT64_C(0x9165431d814f5d46),
        UINT64_C(0xf45f0bc9fb21034b), UINT64_C(0x1ebe34f77d1a76fd),
        UINT64_C(0xf80b67c4965100c0), UINT64_C(0x22b2e46c296f4a88),
        UINT64_C(0x4e79d36d4cb6e54a), UINT64_C(0xe7bf3c085b60cdd1),
        UINT64_C(0xaad0a96d33f23912), UINT64_C(0x4e76038bdae8ca58),
        UINT64_C(0xba90b079fef59131), UINT64_C(0x62119d793caaf7f1),
        UINT64_C(0x0fa939206b88eab2), UINT64_C(0xab178a522337bafe),
        UINT64_C(0x6a10382e76152a74), UINT64_C(0x6e127ee25b7d9834),
        UINT64_C(0xbeaa37896f0576d0), UINT64_C(0xb2386fc8eac02504),
        UINT64_C(0xc0fc8e503f4ac566), UINT64_C(0xe7b95dcea3acd763),
        UINT64_C(0xa4e2129861175cc5), UINT64_C(0xe9ed4ab3c3ec380d),
        UINT64_C(0xdaa872aa62006452), UINT64_C(0xaf891b7c9ade5c4c),
        UINT64_C(0x899286e2331349a7), UINT64_C(0xf59b671252acbefe),
        UINT64_C(0x2e5c17c9db243db5), UINT64_C(0xa3e6e56d15df4640),
        UINT64_C(0x6effebf4ed621384), UINT64_C(0x0851937dd2f693ef),
        UINT64_C(0xecad9ff27fdfb51f), UINT64_C(0x72869c59b59557bb),
        UINT64_C(0x5144d39ef8529d50), UINT64_C(0x795d164e67998132),
        UINT64_C(0xd908227de250ba60), UINT64_C(0xb9617f815b3cbf69),
        UINT64_C(0x1904a559d7212722), UINT64_C(0x0fe944ad2d6e2c2a),
        UINT64_C(0xcd5fbea42fc0a7df), UINT64_C(0xa310e617aa4d1bbf),
        UINT64_C(0x6eab3846848e878e), UINT64_C(0xe6bd4f6788d4ee32),
        UINT64_C(0xcf6bb5e0410b3c28), UINT64_C(0x72797c039e03aa53),
        UINT64_C(0x4175320e7b8324a3), UINT64_C(0x8b6399cd5f3d7956),
        UINT64_C(0xcd77645a33028e30), UINT64_C(0x0bc9b2007f3ee201),
        UINT64_C(0x4102385f1151d8c0), UINT64_C(0xa62f7e957e04e2ec),
        UINT64_C(0xae95edddb6afad67), UINT64_C(0xf00f590b934df706),
        UINT64_C(0x7cae0ba2b4d12b84), UINT64_C(0x719f986e1dfad85b),
        UINT64_C(0xcac2691ca7da1f9b), UINT64_C(0xb2b4d3616544556a),
};

/* All ones in the top `bits` bits. */
static inline uint64_t top_mask(unsigned bits) {
        return ~UINT64_C(0) << (64U - bits);
}

size_t chunker_next_cut(const ChunkerParams *params, const uint8_t *p, size_t n) {
        assert(params);
        assert(p || n == 0);
        assert(params->avg > 0 && (params->avg & (params->avg - 1)) == 0);
        assert(params->min < params->avg && params->avg < params->max);

        if (n <= params->min)
                return n;

        unsigned bits = (unsigned) __builtin_ctzll((unsigned long long) params->avg);
        assert(bits > NORMALIZATION && bits + NORMALIZATION < 64U);
        uint64_t mask_strict = top_mask(bits + NORMALIZATION);
        uint64_t mask_loose = top_mask(bits - NORMALIZATION);

        size_t i = params->min;
        size_t normal = MIN(params->avg, n);
        uint64_t h = 0;

        /* Warm up: the bytes before min feed the hash but are never cut
         * after. */
        for (size_t j = i > WINDOW ? i - WINDOW : 0; j < i; j++)
                h = (h << 1) + gear[p[j]];

        for (; i < normal; i++) {
                h = (h << 1) + gear[p[i]];
                if (_unlikely_(!(h & mask_strict)))
                        return i + 1;
        }

        for (; i < n; i++) {
                h = (h << 1) + gear[p[i]];
                if (_unlikely_(!(h & mask_loose)))
                        return i + 1;
        }

        return n;
}
