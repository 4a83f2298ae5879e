// Private to the C target: the per-level entry points behind the dispatching functions of tllm_kernels.h, and
// small helpers shared by the ternary kernel files (f16 → f32 without F16C, the t1 digit table).
#ifndef TLLM_TERNARY_INTERNAL_H
#define TLLM_TERNARY_INTERNAL_H
#include "tllm_kernels.h"

/// IEEE binary16 → binary32, exact (portable; the SIMD files use F16C).
static inline float tllm_h2f(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1F, m = h & 0x3FF, bits;
    if (e == 0) {
        if (m == 0) { bits = sign; }
        else {  // subnormal: normalize
            e = 113;
            while ((m & 0x400) == 0) { m <<= 1; e--; }
            bits = sign | (e << 23) | ((m & 0x3FF) << 13);
        }
    } else if (e == 31) {
        bits = sign | 0x7F800000 | (m << 13);
    } else {
        bits = sign | ((e + 112) << 23) | (m << 13);
    }
    union { uint32_t u; float f; } v = {bits};
    return v.f;
}

/// Digit n (0 = most significant) of a t1 byte: ((byte * 3^n) mod 256) * 3 >> 8, in {0, 1, 2}.
static inline int tllm_t1_digit(uint8_t byte, int n) {
    static const uint8_t pow3[5] = {1, 3, 9, 27, 81};
    return ((uint8_t)(byte * pow3[n]) * 3) >> 8;
}

/// Block quantization of x into a->qn (all slots written, padding 0), a->s, a->c, a->xs (nG, nB entries).
void tllm__quantize_avx2(const tllm_tgeom *g, const float *x, tllm_tact *a);
void tllm__quantize_vnni(const tllm_tgeom *g, const float *x, tllm_tact *a);
/// t1 → t2 for blocks of 128 (g1->chunk == 128); returns 0 (doing nothing) for other geometries.
int tllm__t1_to_t2_avx2(const tllm_tgeom *g1, const tllm_tgeom *g2, const uint8_t *w1, size_t rows, uint8_t *w2);
/// Hides a vector from the optimizer: without it clang folds the t1 chain m ← 3m (two byte adds) into
/// m·3ⁿ and emits widening 16-bit multiplies (vpmovzxbw, vpmullw, vpmovwb), halving t1's speed.
#define TLLM_OPAQUE(v) __asm__("" : "+x"(v))

void tllm__matvec_avx2(const tllm_tgeom *g, const uint8_t *w, const uint16_t *alpha, const uint16_t *gamma,
                       size_t row0, size_t row1, const tllm_tact *a, const int32_t *ubase, const int32_t *uidx,
                       float *scratch, float *y);
void tllm__matvec_vnni(const tllm_tgeom *g, int gfni, const uint8_t *w, const uint16_t *alpha, const uint16_t *gamma,
                       size_t row0, size_t row1, const tllm_tact *a, const int32_t *ubase, const int32_t *uidx,
                       float *scratch, float *y);
void tllm__t2_matmul_avx2(const tllm_tgeom *g, const uint8_t *w, const uint16_t *alpha, const uint16_t *gamma,
                          size_t rows, const tllm_tact *acts, size_t T, const int32_t *ubase, const int32_t *uidx,
                          float *scratch, float *y, size_t ldy);
void tllm__t2_matmul_vnni(const tllm_tgeom *g, const uint8_t *w, const uint16_t *alpha, const uint16_t *gamma,
                          size_t rows, const tllm_tact *acts, size_t T, const int32_t *ubase, const int32_t *uidx,
                          float *scratch, float *y, size_t ldy);
void tllm__q8_matvec_avx2(size_t K, const int8_t *w, const uint16_t *scale, size_t row0, size_t row1,
                          const int8_t *q, const float *s, const int32_t *qsum, float *y);
void tllm__q8_matmul_vnni(size_t K, const int8_t *w, const uint16_t *scale, size_t row0, size_t row1, const int8_t *q,
                          size_t qstride, const float *s, const int32_t *qsum, size_t sstride, size_t T, float *y, size_t ldy);
void tllm__q8_matvec_vnni(size_t K, const int8_t *w, const uint16_t *scale, size_t row0, size_t row1,
                          const int8_t *q, const float *s, const int32_t *qsum, float *y);
void tllm__q4_matvec_avx2(size_t K, const uint8_t *w, const uint16_t *d, size_t row0, size_t row1,
                          const int8_t *qk, const float *sv, const float *cv, float *y);
void tllm__q4_matvec_vnni(size_t K, const uint8_t *w, const uint16_t *d, size_t row0, size_t row1,
                          const int8_t *qk, const float *sv, const float *cv, float *y);
void tllm__q4_matmul_avx2(size_t K, const uint8_t *w, const uint16_t *d, size_t row0, size_t row1, const int8_t *qk,
                          size_t qstride, const float *sv, const float *cv, size_t sstride, size_t T, float *y, size_t ldy);
void tllm__q4_matmul_vnni(size_t K, const uint8_t *w, const uint16_t *d, size_t row0, size_t row1, const int8_t *qk,
                          size_t qstride, const float *sv, const float *cv, size_t sstride, size_t T, float *y, size_t ldy);

/// Rows ahead whose α and γ the mat-vec prefetches. They are arrays apart from the packed codes, a row's worth is
/// 2·groups bytes, and the hardware prefetcher missed them: in a decode profile (Zen 4, t2 head t2) two thirds of
/// the row prologue's samples, 12% of all, sat on their loads.
#define TLLM_QPARAM_AHEAD 8
/// Called for each row r of [row0, row1): at row0 also the rows before row0 + AHEAD (a thread's piece of rows starts
/// anywhere).
static inline void tllm_prefetch_qparams(const uint16_t *alpha, const uint16_t *gamma, size_t r, size_t row0, size_t row1,
                                         int nG) {
    for (size_t p = r == row0 ? r : r + TLLM_QPARAM_AHEAD; p <= r + TLLM_QPARAM_AHEAD && p < row1; p++) {
        const size_t o = p * (size_t)nG;
        __builtin_prefetch(alpha + o);
        __builtin_prefetch(gamma + o);
        __builtin_prefetch(alpha + o + nG - 1);
        __builtin_prefetch(gamma + o + nG - 1);
    }
}

/// Σ_g γ_g·xs_g − α_g·c_g for one row (the shift term and the u = T + 1 offset correction), scalar.
static inline float tllm_row_correction_scalar(const tllm_tgeom *g, const uint16_t *ar, const uint16_t *gr,
                                               const tllm_tact *a) {
    float corr = 0;
    for (int i = 0; i < g->groups; i++) corr += tllm_h2f(gr[i]) * a->xs[i] - tllm_h2f(ar[i]) * a->c[i];
    return corr;
}
#endif
