// q4 kernels for AVX-512 VNNI on 256-bit registers (format: q4.c; 32-byte loads as the ternary VNNI kernels).
// Per superblock, 8 vpdpbusd (nibbles u as u8 against the kernel-ordered s8 activations) in two chains, low and
// high nibbles, leave block j's dot in i32 lane j; then acc += d · (sv·dot − cv) in float.
#include "tllm_kernels.h"
#include "ternary_internal.h"
#include <immintrin.h>

#define TV __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,fma,f16c")))

/// Bytes ahead of the current superblock that the mat-vec prefetches (decode streams the weights once).
#define TLLM_PREFETCH 2048

TV static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/// The 8 nibble registers of one superblock (128 bytes at w): n[2r] low, n[2r + 1] high nibbles of register r,
/// the order of the activation registers.
TV static inline void unpack(const uint8_t *w, __m256i n[8]) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int r = 0; r < 4; r++) {
        const __m256i b = _mm256_loadu_si256((const __m256i *)(w + 32 * r));
        n[2 * r] = _mm256_and_si256(b, m4);
        n[2 * r + 1] = _mm256_and_si256(_mm256_srli_epi16(b, 4), m4);
    }
}

/// Block dots of one superblock: lane j = Σ_{i∈j} u_i q_i (four chains of two vpdpbusd: with two chains of four
/// the kernel was latency-bound, slower than the AVX2 one).
TV static inline __m256i dot8(const __m256i n[8], const int8_t *q) {
    const __m256i z = _mm256_setzero_si256();
#define QA(i) _mm256_loadu_si256((const __m256i *)(q + 32 * (i)))
    __m256i s0 = _mm256_dpbusd_epi32(z, n[0], QA(0)), s1 = _mm256_dpbusd_epi32(z, n[1], QA(1));
    __m256i s2 = _mm256_dpbusd_epi32(z, n[2], QA(2)), s3 = _mm256_dpbusd_epi32(z, n[3], QA(3));
    s0 = _mm256_dpbusd_epi32(s0, n[4], QA(4));
    s1 = _mm256_dpbusd_epi32(s1, n[5], QA(5));
    s2 = _mm256_dpbusd_epi32(s2, n[6], QA(6));
    s3 = _mm256_dpbusd_epi32(s3, n[7], QA(7));
#undef QA
    return _mm256_add_epi32(_mm256_add_epi32(s0, s1), _mm256_add_epi32(s2, s3));
}

/// acc + d · (sv·dot − cv) for one superblock's 8 blocks.
TV static inline __m256 scale8(__m256 acc, __m256i dot, const uint16_t *d, const float *sv, const float *cv) {
    const __m256 dv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)d));
    const __m256 t = _mm256_fmsub_ps(_mm256_cvtepi32_ps(dot), _mm256_loadu_ps(sv), _mm256_loadu_ps(cv));
    return _mm256_fmadd_ps(dv, t, acc);
}

TV void tllm__q4_matvec_vnni(size_t K, const uint8_t *w, const uint16_t *d, size_t row0, size_t row1,
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
TV void tllm__q4_matmul_vnni(size_t K, const uint8_t *w, const uint16_t *d, size_t row0, size_t row1, const int8_t *qk,
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
