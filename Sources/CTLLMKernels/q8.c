// int8 weights with one f16 scale per row (the q8 embedding / LM head of a packed model): activation
// quantization per block of 128 (s_b = max|x|/127) and the scalar C mat-vec; the AVX2 and VNNI versions live
// beside the ternary kernels of the same level. y_r = scale_r · Σ_b s_b · Σ_{i∈b} w_ri q_i.
#include "tllm_kernels.h"
#include "ternary_internal.h"
#include <math.h>
#include <string.h>

void tllm_q8_prepare(size_t K, const float *x, int8_t *q, float *s, int32_t *qsum) {
    const size_t nB = (K + 127) / 128;
    memset(q, 0, nB * 128 + 64);
    for (size_t b = 0; b < nB; b++) {
        const size_t e0 = b * 128, e1 = e0 + 128 < K ? e0 + 128 : K;
        float amax = 0;
        for (size_t i = e0; i < e1; i++) { float v = fabsf(x[i]); amax = v > amax ? v : amax; }
        const float inv = amax > 0 ? 127.0f / amax : 0.0f;
        int32_t sum = 0;
        for (size_t i = e0; i < e1; i++) {
            int v = (int)lrintf(x[i] * inv);
            v = v > 127 ? 127 : (v < -127 ? -127 : v);
            q[i] = (int8_t)v;
            sum += v;
        }
        s[b] = amax / 127.0f;
        qsum[b] = sum;
    }
}

void tllm_q8_matvec(int level, size_t K, const int8_t *w, const uint16_t *scale, size_t row0, size_t row1,
                    const int8_t *q, const float *s, const int32_t *qsum, float *y) {
    if (level >= 2) { tllm__q8_matvec_vnni(K, w, scale, row0, row1, q, s, qsum, y); return; }
    if (level == 1) { tllm__q8_matvec_avx2(K, w, scale, row0, row1, q, s, qsum, y); return; }
    const size_t nB = (K + 127) / 128;
    for (size_t r = row0; r < row1; r++) {
        const int8_t *wr = w + r * K;
        float acc = 0;
        for (size_t b = 0; b < nB; b++) {
            int32_t t = 0;
            for (size_t i = b * 128; i < b * 128 + 128 && i < K; i++) t += wr[i] * q[i];
            acc += (float)t * s[b];
        }
        y[r] = acc * tllm_h2f(scale[r]);
    }
}

void tllm_q8_matmul(int level, size_t K, const int8_t *w, const uint16_t *scale, size_t row0, size_t row1,
                    const int8_t *q, size_t qstride, const float *s, const int32_t *qsum, size_t sstride, size_t T,
                    float *y, size_t ldy) {
    if (level >= 2) { tllm__q8_matmul_vnni(K, w, scale, row0, row1, q, qstride, s, qsum, sstride, T, y, ldy); return; }
    for (size_t t = 0; t < T; t++)
        tllm_q8_matvec(level, K, w, scale, row0, row1, q + t * qstride, s + t * sstride, qsum + t * sstride, y + t * ldy);
}
