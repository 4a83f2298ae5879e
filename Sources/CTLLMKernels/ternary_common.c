// Ternary kernels, the level-independent part: CPU detection, the per-unit lane tables, int8 quantization of an
// activation vector per block (s_b = max|x|/127, q = round(x/s_b)), the scalar C kernels (level 0, also the
// fallback on CPUs without AVX2), row decode/encode, and the dispatch to ternary_avx2.c / ternary_vnni.c.
// y_r = Σ_b α_{g(b)} s_b Σ_{i∈b} u_i q_i + Σ_g (γ_g xs_g − α_g c_g), u = T + 1 (so Σ u q = Σ T q + Σ q).
#include "tllm_kernels.h"
#include "ternary_internal.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

int tllm_cpu_level(void) {
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    if (avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vnni"))
        return __builtin_cpu_supports("gfni") ? 3 : 2;
    return avx2 ? 1 : 0;
}

int tllm_unit_bytes(int level) { return level >= 1 ? 32 : 0; }

int tllm_units(const tllm_tgeom *g, int level) {
    int W = tllm_unit_bytes(level);
    return W ? (g->t2_bytes + W - 1) / W : 0;
}

void tllm_tplan_init(const tllm_tgeom *g, int level, int32_t *ubase, int32_t *uidx) {
    int W = tllm_unit_bytes(level), units = tllm_units(g, level), bpb = g->chunk / 4, lanes = W / 4;
    for (int u = 0; u < units; u++) {
        int b0 = u * W;
        ubase[u] = b0 / bpb;
        for (int l = 0; l < lanes; l++) uidx[u * lanes + l] = (b0 + 4 * l) / bpb - ubase[u];
    }
}

/// Block quantization into qn, s, c, xs (scalar; the SIMD levels have their own with identical rounding).
static void quantize_scalar(const tllm_tgeom *g, const float *x, tllm_tact *a) {
    const int K = g->k, G = g->group, nG = g->groups, gp = g->gp, C = g->chunk, nb = g->blocks / g->groups;
    memset(a->qn, 0, (size_t)nG * gp + 64);
    for (int gi = 0; gi < nG; gi++) {
        const int k0 = gi * G, len = K - k0 < G ? K - k0 : G;
        float xsum = 0, cg = 0;
        for (int bi = 0; bi < nb; bi++) {
            const int e0 = bi * C, e1 = e0 + C < len ? e0 + C : len;
            const float *xb = x + k0;
            float amax = 0;
            for (int i = e0; i < e1; i++) { float v = fabsf(xb[i]); amax = v > amax ? v : amax; }
            const float s = amax / 127.0f, inv = amax > 0 ? 127.0f / amax : 0.0f;
            int8_t *q = a->qn + (size_t)gi * gp;
            int qsum = 0;
            for (int i = e0; i < e1; i++) {
                int v = (int)lrintf(xb[i] * inv);
                v = v > 127 ? 127 : (v < -127 ? -127 : v);
                q[i] = (int8_t)v;
                qsum += v;
                xsum += xb[i];
            }
            a->s[gi * nb + bi] = s;
            cg += s * (float)qsum;
        }
        a->c[gi] = cg;
        a->xs[gi] = xsum;
    }
}

void tllm_tact_prepare(const tllm_tgeom *g, int level, const float *x, tllm_tact *a) {
    const int nG = g->groups, C = g->chunk;
    if (level >= 2) tllm__quantize_vnni(g, x, a);
    else if (level == 1) tllm__quantize_avx2(g, x, a);
    else quantize_scalar(g, x, a);
    for (int i = 0; i < 16; i++) { a->s[g->blocks + i] = 0; a->c[nG + i] = 0; a->xs[nG + i] = 0; }
    // The 2-bit coded part in kernel order: unit u (W bytes of packed weights), plane n (bits 2n..2n+1) reads
    // its W activations from qk[u*4W + n*W ...]: byte b of the part, block b / (C/4), holds the slot
    // block*C + n*C/4 + b % (C/4) in plane n. Runs of C/4 bytes are contiguous in qn.
    const int W = tllm_unit_bytes(level);
    if (!W) return;
    const int units = tllm_units(g, level), bpb = C / 4;
    for (int u = 0; u < units; u++) {
        for (int n = 0; n < 4; n++) {
            int8_t *dst = a->qk + (size_t)u * 4 * W + n * W;
            int j = 0;
            while (j < W) {
                const int b = u * W + j;
                if (b >= g->t2_bytes) { memset(dst + j, 0, W - j); break; }
                const int blk = b / bpb, jj = b % bpb;
                int run = bpb - jj;
                if (run > W - j) run = W - j;
                if (run > g->t2_bytes - b) run = g->t2_bytes - b;
                memcpy(dst + j, a->qn + (size_t)(g->t2_block0 + blk) * C + n * bpb + jj, run);
                j += run;
            }
        }
    }
}

// MARK: rows as u = T + 1 per slot

void tllm_ternary_decode_row(const tllm_tgeom *g, const uint8_t *w, uint8_t *u) {
    const int gp = g->gp, C = g->chunk, bpb = C / 4;
    for (int s = 0; s < g->supers; s++) {
        const uint8_t *sb = w + (size_t)s * gp;
        for (int j = 0; j < gp; j++)
            for (int n = 0; n < 5; n++) u[(size_t)(5 * s + n) * gp + j] = (uint8_t)tllm_t1_digit(sb[j], n);
    }
    const uint8_t *p = w + g->t2_offset;
    for (int b = 0; b < g->t2_bytes / bpb; b++) {
        uint8_t *ub = u + (size_t)(g->t2_block0 + b) * C;
        for (int j = 0; j < bpb; j++)
            for (int n = 0; n < 4; n++) ub[n * bpb + j] = (p[b * bpb + j] >> (2 * n)) & 3;
    }
}

void tllm_ternary_encode_row(const tllm_tgeom *g, const uint8_t *u, uint8_t *w) {
    const int gp = g->gp, C = g->chunk, bpb = C / 4;
    memset(w, 0x55, g->row_bytes);
    for (int s = 0; s < g->supers; s++) {
        for (int j = 0; j < gp; j++) {
            unsigned v = 0;
            for (int n = 0; n < 5; n++) v = v * 3 + u[(size_t)(5 * s + n) * gp + j];
            w[(size_t)s * gp + j] = (uint8_t)((v * 256 + 242) / 243);  // ⌈256 v / 243⌉
        }
    }
    uint8_t *p = w + g->t2_offset;
    for (int b = 0; b < g->t2_bytes / bpb; b++) {
        const uint8_t *ub = u + (size_t)(g->t2_block0 + b) * C;
        for (int j = 0; j < bpb; j++)
            p[b * bpb + j] = (uint8_t)(ub[j] | ub[bpb + j] << 2 | ub[2 * bpb + j] << 4 | ub[3 * bpb + j] << 6);
    }
}

void tllm_t1_to_t2_rows(const tllm_tgeom *g1, const tllm_tgeom *g2, int level, const uint8_t *w1, size_t rows, uint8_t *w2) {
    if (level >= 1 && tllm__t1_to_t2_avx2(g1, g2, w1, rows, w2)) return;
    uint8_t *u = malloc((size_t)g1->groups * g1->gp);
    for (size_t r = 0; r < rows; r++) {
        tllm_ternary_decode_row(g1, w1 + r * g1->row_bytes, u);
        tllm_ternary_encode_row(g2, u, w2 + r * g2->row_bytes);
    }
    free(u);
}

// MARK: scalar kernels (level 0)

static float row_scalar(const tllm_tgeom *g, const uint8_t *w, const uint16_t *ar, const uint16_t *gr,
                        const tllm_tact *a) {
    const int gp = g->gp, C = g->chunk, bpb = C / 4, nb = g->blocks / g->groups;
    float acc = 0;
    for (int s = 0; s < g->supers; s++) {
        const uint8_t *sb = w + (size_t)s * gp;
        for (int n = 0; n < 5; n++) {
            const int gi = 5 * s + n;
            const int8_t *q = a->qn + (size_t)gi * gp;
            for (int bi = 0; bi < nb; bi++) {
                int isum = 0;
                for (int j = bi * C; j < bi * C + C; j++) isum += tllm_t1_digit(sb[j], n) * q[j];
                acc += tllm_h2f(ar[gi]) * a->s[gi * nb + bi] * (float)isum;
            }
        }
    }
    const uint8_t *p = w + g->t2_offset;
    for (int b = 0; b < g->t2_bytes / bpb; b++) {
        const int blk = g->t2_block0 + b;
        const int8_t *q = a->qn + (size_t)blk * C;
        int isum = 0;
        for (int j = 0; j < bpb; j++) {
            const uint8_t v = p[b * bpb + j];
            for (int n = 0; n < 4; n++) isum += ((v >> (2 * n)) & 3) * q[n * bpb + j];
        }
        acc += tllm_h2f(ar[blk / nb]) * a->s[blk] * (float)isum;
    }
    return acc + tllm_row_correction_scalar(g, ar, gr, a);
}

void tllm_ternary_matvec(const tllm_tgeom *g, int level, const uint8_t *w, const uint16_t *alpha,
                         const uint16_t *gamma, size_t row0, size_t row1, const tllm_tact *a,
                         const int32_t *ubase, const int32_t *uidx, float *scratch, float *y) {
    if (level >= 2) { tllm__matvec_vnni(g, level >= 3, w, alpha, gamma, row0, row1, a, ubase, uidx, scratch, y); return; }
    if (level == 1) { tllm__matvec_avx2(g, w, alpha, gamma, row0, row1, a, ubase, uidx, scratch, y); return; }
    for (size_t r = row0; r < row1; r++)
        y[r] = row_scalar(g, w + r * g->row_bytes, alpha + r * g->groups, gamma + r * g->groups, a);
}

void tllm_t2_matmul(const tllm_tgeom *g, int level, const uint8_t *w, const uint16_t *alpha, const uint16_t *gamma,
                    size_t rows, const tllm_tact *acts, size_t T, const int32_t *ubase, const int32_t *uidx,
                    float *scratch, float *y, size_t ldy) {
    if (level >= 2) { tllm__t2_matmul_vnni(g, w, alpha, gamma, rows, acts, T, ubase, uidx, scratch, y, ldy); return; }
    if (level == 1) { tllm__t2_matmul_avx2(g, w, alpha, gamma, rows, acts, T, ubase, uidx, scratch, y, ldy); return; }
    for (size_t t = 0; t < T; t++)
        for (size_t r = 0; r < rows; r++)
            y[t * ldy + r] = row_scalar(g, w + r * g->row_bytes, alpha + r * g->groups, gamma + r * g->groups, &acts[t]);
}
