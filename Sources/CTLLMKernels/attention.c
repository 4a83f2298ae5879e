// Decode attention's two products over the KV cache (TLLMCore/Ops/Attention.swift): the scores of one query
// against L cached keys, and the probability-weighted sum of L cached values. At level ≥ 1 (AVX2 + FMA) the
// scores take eight positions at a time in eight independent accumulators, reduced together by a hadd tree, and
// the sum keeps up to 64 output floats in registers across all positions; the scalar loops are the reference.
#include "tllm_kernels.h"
#include <immintrin.h>

#define TA __attribute__((target("avx2,fma")))

TA static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

TA static void scores_avx2(const float *q, const float *k, size_t ks, int L, int D, float scale, float *s) {
    const int D8 = D & ~7;
    const __m256 sc = _mm256_set1_ps(scale);
    int j = 0;
    for (; j + 8 <= L; j += 8) {
        const float *k0 = k + (size_t)j * ks;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int d = 0; d < D8; d += 8) {
            const __m256 qv = _mm256_loadu_ps(q + d);
            a0 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k0 + d), a0);
            a1 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k0 + ks + d), a1);
            a2 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k0 + 2 * ks + d), a2);
            a3 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k0 + 3 * ks + d), a3);
            a4 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k0 + 4 * ks + d), a4);
            a5 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k0 + 5 * ks + d), a5);
            a6 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k0 + 6 * ks + d), a6);
            a7 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k0 + 7 * ks + d), a7);
        }
        // [0..3 lo | 0..3 hi] and [4..7 lo | 4..7 hi] → position i's total in lane i.
        const __m256 u0 = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
        const __m256 u1 = _mm256_hadd_ps(_mm256_hadd_ps(a4, a5), _mm256_hadd_ps(a6, a7));
        __m256 t = _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
        if (D8 < D) {
            float tail[8];
            for (int i = 0; i < 8; i++) {
                float r = 0;
                for (int d = D8; d < D; d++) r += q[d] * k0[(size_t)i * ks + d];
                tail[i] = r;
            }
            t = _mm256_add_ps(t, _mm256_loadu_ps(tail));
        }
        _mm256_storeu_ps(s + j, _mm256_mul_ps(t, sc));
    }
    for (; j < L; j++) {
        const float *kj = k + (size_t)j * ks;
        __m256 a = _mm256_setzero_ps();
        for (int d = 0; d < D8; d += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), _mm256_loadu_ps(kj + d), a);
        float r = hsum8(a);
        for (int d = D8; d < D; d++) r += q[d] * kj[d];
        s[j] = r * scale;
    }
}

/// o[0..<8·NV] = Σ_j p[j]·v_j[0..<8·NV], NV vectors held in registers over all positions.
#define MIX_CHUNK(NV)                                                                                 \
    TA static void mix##NV(const float *p, const float *v, size_t vs, int L, float *o) {              \
        __m256 a[NV];                                                                                 \
        for (int i = 0; i < NV; i++) a[i] = _mm256_setzero_ps();                                     \
        for (int j = 0; j < L; j++) {                                                                 \
            const __m256 pj = _mm256_broadcast_ss(p + j);                                             \
            const float *vj = v + (size_t)j * vs;                                                     \
            for (int i = 0; i < NV; i++) a[i] = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vj + 8 * i), a[i]); \
        }                                                                                             \
        for (int i = 0; i < NV; i++) _mm256_storeu_ps(o + 8 * i, a[i]);                              \
    }
MIX_CHUNK(8)
MIX_CHUNK(4)
MIX_CHUNK(1)

TA static void mix_avx2(const float *p, const float *v, size_t vs, int L, int D, float *o) {
    int d = 0;
    for (; d + 64 <= D; d += 64) mix8(p, v + d, vs, L, o + d);
    for (; d + 32 <= D; d += 32) mix4(p, v + d, vs, L, o + d);
    for (; d + 8 <= D; d += 8) mix1(p, v + d, vs, L, o + d);
    for (; d < D; d++) {
        float r = 0;
        for (int j = 0; j < L; j++) r += p[j] * v[(size_t)j * vs + d];
        o[d] = r;
    }
}

void tllm_attn_scores(int level, const float *q, const float *k, size_t ks, int L, int D, float scale, float *s) {
    if (level >= 1) { scores_avx2(q, k, ks, L, D, scale, s); return; }
    for (int j = 0; j < L; j++) {
        float r = 0;
        for (int d = 0; d < D; d++) r += q[d] * k[(size_t)j * ks + d];
        s[j] = r * scale;
    }
}

void tllm_attn_mix(int level, const float *p, const float *v, size_t vs, int L, int D, float *o) {
    if (level >= 1) { mix_avx2(p, v, vs, L, D, o); return; }
    for (int d = 0; d < D; d++) o[d] = 0;
    for (int j = 0; j < L; j++)
        for (int d = 0; d < D; d++) o[d] += p[j] * v[(size_t)j * vs + d];
}
