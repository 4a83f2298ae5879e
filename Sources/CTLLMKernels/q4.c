// 4-bit weights in blocks of 32 with an f16 scale each (the q4 embedding / LM head of a packed model, Q4_0
// style): activation preparation, the scalar C mat-vec and the dispatch; AVX2 and VNNI versions in q4_avx2.c
// and q4_vnni.c. y_r = Σ_m Σ_j d_rmj · (sv_j·Σ_{i∈j} u_ri q_i − cv_j), u = w/d + 8 ∈ 0…15.
//
// Format of a q4 matrix X [rows × K] (TLLMCore/Pack/TernaryPacking.swift writes it):
// - X.q4 u8 [rows, nS·128], nS = ⌈K/256⌉ superblocks of 256 weights per row; X.scale f16 [rows, nS·8], one d per
//   block of 32 (block j of superblock m covers weights 256m + 32j … +31). d = (the block's element of largest
//   |w|) / −8, q = clamp(round(w/d), −8, 7) (q = 0 when d = 0), stored as u = q + 8; w ≈ d·(u − 8). Weights past K
//   have u = 8 and blocks wholly past K d = 0.
// - A superblock's 128 bytes are 4 registers of 32 (r = 0…3). Byte b of register r holds weight
//   32·(b/4) + 4r + b%4 in its low nibble and weight 32·(b/4) + 16 + 4r + b%4 in its high nibble, so 32-bit lane j
//   of every register belongs to block j, and one u8 × s8 dot product of a register's nibbles against
//   activations in the same order leaves block j's partial sum in lane j.
#include "tllm_kernels.h"
#include "ternary_internal.h"
#include <math.h>
#include <string.h>

void tllm_q4_prepare(size_t K, const float *x, int8_t *qk, float *sv, float *cv) {
    const size_t nS = (K + 255) / 256;
    memset(qk, 0, nS * 256);
    for (size_t b = 0; b < 2 * nS; b++) {  // blocks of 128: half a superblock
        const size_t e0 = b * 128, e1 = e0 + 128 < K ? e0 + 128 : K;
        float amax = 0;
        for (size_t i = e0; i < e1; i++) { float v = fabsf(x[i]); amax = v > amax ? v : amax; }
        const float inv = amax > 0 ? 127.0f / amax : 0.0f, s = amax / 127.0f;
        int32_t sum[4] = {0, 0, 0, 0};  // Σq of the block's four blocks of 32
        for (size_t i = e0; i < e1; i++) {
            int v = (int)lrintf(x[i] * inv);
            v = v > 127 ? 127 : (v < -127 ? -127 : v);
            const size_t m = i / 256, o = i % 256, j = o / 32, p = o % 32;
            // byte 4j + p%4 of register r = (p%16)/4, in the activations of the low (p < 16) or the high nibbles
            qk[256 * m + 64 * ((p % 16) / 4) + 32 * (p / 16) + 4 * j + p % 4] = (int8_t)v;
            sum[(i % 128) / 32] += v;
        }
        for (int jj = 0; jj < 4; jj++) {
            const size_t j = 4 * b + jj;  // = 8·(b/2) + 4·(b%2) + jj
            sv[j] = s;
            cv[j] = 8.0f * s * (float)sum[jj];
        }
    }
}

/// Rows [row0, row1) for one prepared vector, scalar.
static void q4_matvec_scalar(size_t K, const uint8_t *w, const uint16_t *d, size_t row0, size_t row1,
                             const int8_t *qk, const float *sv, const float *cv, float *y) {
    const size_t nS = (K + 255) / 256;
    for (size_t r = row0; r < row1; r++) {
        const uint8_t *wr = w + r * nS * 128;
        const uint16_t *dr = d + r * nS * 8;
        float acc = 0;
        for (size_t m = 0; m < nS; m++) {
            int32_t dot[8] = {0};
            for (int reg = 0; reg < 4; reg++) {
                const uint8_t *wb = wr + 128 * m + 32 * reg;
                const int8_t *lo = qk + 256 * m + 64 * reg, *hi = lo + 32;
                for (int b = 0; b < 32; b++) dot[b / 4] += (wb[b] & 15) * lo[b] + (wb[b] >> 4) * hi[b];
            }
            for (int j = 0; j < 8; j++) acc += tllm_h2f(dr[8 * m + j]) * (sv[8 * m + j] * (float)dot[j] - cv[8 * m + j]);
        }
        y[r] = acc;
    }
}

void tllm_q4_matvec(int level, size_t K, const uint8_t *w, const uint16_t *d, size_t row0, size_t row1,
                    const int8_t *qk, const float *sv, const float *cv, float *y) {
    if (level >= 2) { tllm__q4_matvec_vnni(K, w, d, row0, row1, qk, sv, cv, y); return; }
    if (level == 1) { tllm__q4_matvec_avx2(K, w, d, row0, row1, qk, sv, cv, y); return; }
    q4_matvec_scalar(K, w, d, row0, row1, qk, sv, cv, y);
}

void tllm_q4_matmul(int level, size_t K, const uint8_t *w, const uint16_t *d, size_t row0, size_t row1,
                    const int8_t *qk, size_t qstride, const float *sv, const float *cv, size_t sstride, size_t T,
                    float *y, size_t ldy) {
    if (level >= 2) { tllm__q4_matmul_vnni(K, w, d, row0, row1, qk, qstride, sv, cv, sstride, T, y, ldy); return; }
    if (level == 1) { tllm__q4_matmul_avx2(K, w, d, row0, row1, qk, qstride, sv, cv, sstride, T, y, ldy); return; }
    for (size_t t = 0; t < T; t++)
        q4_matvec_scalar(K, w, d, row0, row1, qk + t * qstride, sv + t * sstride, cv + t * sstride, y + t * ldy);
}
