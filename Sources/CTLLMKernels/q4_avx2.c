// q4 kernels for AVX2 (format: q4.c). Per superblock, the 8 nibble registers (4 low, 4 high) go through
// vpmaddubsw against the kernel-ordered activations; the eight i16 results are summed before one vpmaddwd
// (each pair at most 2·15·127 = 3810, all eight 30480 < 32767: no saturation), leaving block j's dot in i32
// lane j, then scaled in float: acc += d · (sv·dot − cv).
#include "tllm_kernels.h"
#include "ternary_internal.h"
#include <immintrin.h>

#define TA __attribute__((target("avx2,fma,f16c")))

/// Bytes ahead of the current superblock that the mat-vec prefetches (decode streams the weights once).
#define TLLM_PREFETCH 2048

TA static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/// The 8 nibble registers of one superblock (128 bytes at w): n[2r] low, n[2r + 1] high nibbles of register r,
/// the order of the activation registers.
TA static inline void unpack(const uint8_t *w, __m256i n[8]) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int r = 0; r < 4; r++) {
        const __m256i b = _mm256_loadu_si256((const __m256i *)(w + 32 * r));
        n[2 * r] = _mm256_and_si256(b, m4);
        n[2 * r + 1] = _mm256_and_si256(_mm256_srli_epi16(b, 4), m4);
    }
}

/// Block dots of one superblock: lane j = Σ_{i∈j} u_i q_i.
TA static inline __m256i dot8(const __m256i n[8], const int8_t *q) {
    __m256i s = _mm256_maddubs_epi16(n[0], _mm256_loadu_si256((const __m256i *)q));
    for (int k = 1; k < 8; k++) s = _mm256_add_epi16(s, _mm256_maddubs_epi16(n[k], _mm256_loadu_si256((const __m256i *)(q + 32 * k))));
    return _mm256_madd_epi16(s, _mm256_set1_epi16(1));
}

/// acc + d · (sv·dot − cv) for one superblock's 8 blocks.
TA static inline __m256 scale8(__m256 acc, __m256i dot, const uint16_t *d, const float *sv, const float *cv) {
    const __m256 dv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)d));
    const __m256 t = _mm256_fmsub_ps(_mm256_cvtepi32_ps(dot), _mm256_loadu_ps(sv), _mm256_loadu_ps(cv));
    return _mm256_fmadd_ps(dv, t, acc);
}

TA void tllm__q4_matvec_avx2(size_t K, const uint8_t *w, const uint16_t *d, size_t row0, size_t row1,
                             const int8_t *qk, const float *sv, const float *cv, float *y) {
    const size_t nS = (K + 255) / 256;
    for (size_t r = row0; r < row1; r++) {
        const uint8_t *wr = w + r * nS * 128;
        const uint16_t *dr = d + r * nS * 8;
        __m256 acc = _mm256_setzero_ps();
        for (size_t m = 0; m < nS; m++) {
            _mm_prefetch((const char *)(wr + 128 * m + TLLM_PREFETCH), _MM_HINT_T0);
            _mm_prefetch((const char *)(wr + 128 * m + 64 + TLLM_PREFETCH), _MM_HINT_T0);
            if ((m & 3) == 0) _mm_prefetch((const char *)(dr + 8 * m) + TLLM_PREFETCH / 8, _MM_HINT_T0);  // the scales' stream
            __m256i n[8];
            unpack(wr + 128 * m, n);
            acc = scale8(acc, dot8(n, qk + 256 * m), dr + 8 * m, sv + 8 * m, cv + 8 * m);
        }
        y[r] = hsum8(acc);
    }
}

/// Several vectors: tokens in tiles of 4, each superblock of a row unpacked once per tile.
TA void tllm__q4_matmul_avx2(size_t K, const uint8_t *w, const uint16_t *d, size_t row0, size_t row1, const int8_t *qk,
                             size_t qstride, const float *sv, const float *cv, size_t sstride, size_t T, float *y, size_t ldy) {
    const size_t nS = (K + 255) / 256;
    for (size_t t0 = 0; t0 < T; t0 += 4) {
        const size_t nt = T - t0 < 4 ? T - t0 : 4;
        for (size_t r = row0; r < row1; r++) {
            const uint8_t *wr = w + r * nS * 128;
            const uint16_t *dr = d + r * nS * 8;
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            for (size_t m = 0; m < nS; m++) {
                __m256i n[8];
                unpack(wr + 128 * m, n);
#define TOK(t, acc) acc = scale8(acc, dot8(n, qk + (t0 + t) * qstride + 256 * m), dr + 8 * m, sv + (t0 + t) * sstride + 8 * m, \
                                 cv + (t0 + t) * sstride + 8 * m)
                TOK(0, a0);
                if (nt > 1) TOK(1, a1);
                if (nt > 2) TOK(2, a2);
                if (nt > 3) TOK(3, a3);
#undef TOK
            }
            const float acc[4] = {hsum8(a0), hsum8(a1), hsum8(a2), hsum8(a3)};
            for (size_t t = 0; t < nt; t++) y[(t0 + t) * ldy + r] = acc[t];
        }
    }
}
