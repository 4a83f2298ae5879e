// Ternary kernels for AVX2 (vpmaddubsw: u8 × s8 pairs → i16, vpmaddwd → i32). t2: one 32-byte unit is 128
// weights, four 2-bit planes summed in i16 (at most 4·2·2·127 = 2032) then widened once. t1: digits decoded
// with two signed byte compares (d = [m ≥ 86] + [m ≥ 171], m_n = 3ⁿ·byte mod 256, advanced by byte adds),
// since vpmaddubsw cannot take the 0..255 multipliers of the VNNI trick without saturating.
#include "tllm_kernels.h"
#include "ternary_internal.h"
#include <immintrin.h>
#include <math.h>
#include <string.h>

#define TA __attribute__((target("avx2,fma,f16c")))

TA static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/// Block quantization (see tllm_tact_prepare): 8-float steps with a scalar tail, rounding as lrintf.
TA void tllm__quantize_avx2(const tllm_tgeom *g, const float *x, tllm_tact *a) {
    const int K = g->k, G = g->group, nG = g->groups, gp = g->gp, C = g->chunk, nb = g->blocks / g->groups;
    const __m256 signmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    for (int gi = 0; gi < nG; gi++) {
        const int k0 = gi * G, len = K - k0 < G ? K - k0 : G;
        int8_t *q = a->qn + (size_t)gi * gp;
        const float *xg = x + k0;
        float xsum = 0, cg = 0;
        for (int bi = 0; bi < nb; bi++) {
            const int e0 = bi * C, e1 = e0 + C < len ? e0 + C : len;
            __m256 amax = _mm256_setzero_ps(), xs = _mm256_setzero_ps();
            int i = e0;
            for (; i + 8 <= e1; i += 8) {
                const __m256 v = _mm256_loadu_ps(xg + i);
                amax = _mm256_max_ps(amax, _mm256_and_ps(v, signmask));
                xs = _mm256_add_ps(xs, v);
            }
            __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
            m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
            m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
            float am = _mm_cvtss_f32(m4);
            xsum += hsum8(xs);
            for (int j = i; j < e1; j++) { float v = fabsf(xg[j]); am = v > am ? v : am; xsum += xg[j]; }
            const float invs = am > 0 ? 127.0f / am : 0.0f;
            const __m256 inv = _mm256_set1_ps(invs);
            const __m256i lo = _mm256_set1_epi32(-127), hi = _mm256_set1_epi32(127);
            __m256i qs = _mm256_setzero_si256();
            int qsum = 0;
            for (i = e0; i + 8 <= e1; i += 8) {
                __m256i iv = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xg + i), inv));
                iv = _mm256_max_epi32(lo, _mm256_min_epi32(hi, iv));
                qs = _mm256_add_epi32(qs, iv);
                const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(iv), _mm256_extracti128_si256(iv, 1));
                _mm_storel_epi64((__m128i *)(q + i), _mm_packs_epi16(w16, w16));
            }
            for (; i < e1; i++) {
                int v = (int)lrintf(xg[i] * invs);
                v = v > 127 ? 127 : (v < -127 ? -127 : v);
                q[i] = (int8_t)v;
                qsum += v;
            }
            __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(qs), _mm256_extracti128_si256(qs, 1));
            s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
            s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
            qsum += _mm_cvtsi128_si32(s4);
            const float s = am / 127.0f;
            a->s[gi * nb + bi] = s;
            cg += s * (float)qsum;
        }
        for (int i = len; i < gp; i++) q[i] = 0;
        a->c[gi] = cg;
        a->xs[gi] = xsum;
    }
    memset(a->qn + (size_t)nG * gp, 0, 64);
}

/// Σ_g γ_g xs_g − α_g c_g for one row, as eight partial sums (lanes to be added) with the scalar tail in lane 0.
TA static __m256 correction8(int nG, const uint16_t *ar, const uint16_t *gr, const float *c, const float *xs) {
    __m256 corr = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= nG; i += 8) {
        corr = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(gr + i))), _mm256_loadu_ps(xs + i), corr);
        corr = _mm256_fnmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(ar + i))), _mm256_loadu_ps(c + i), corr);
    }
    float t = 0;
    for (; i < nG; i++) t += _cvtsh_ss(gr[i]) * xs[i] - _cvtsh_ss(ar[i]) * c[i];
    return _mm256_add_ps(corr, _mm256_setr_ps(t, 0, 0, 0, 0, 0, 0, 0));
}

/// Σ_g γ_g xs_g − α_g c_g for one row.
TA static float correction(int nG, const uint16_t *ar, const uint16_t *gr, const float *c, const float *xs) {
    return hsum8(correction8(nG, ar, gr, c, xs));
}

/// Where the block scales of groups of nb > 1 blocks come from, 8 blocks at a time (as the VNNI kernel's
/// spread_plan): chunk j reads the ≤ 4 groups from g0[j] on and lane l takes group g0[j] + idx[j][l]. Made once per
/// product instead of a division per block in every row.
#define TLLM_SPREAD_CHUNKS8 32
typedef struct {
    int chunks;
    int g0[TLLM_SPREAD_CHUNKS8];
    __m256i idx[TLLM_SPREAD_CHUNKS8];
} spread_plan8;

/// The plan for nG groups of nB / nG > 1 blocks; returns 0 when nB needs more than TLLM_SPREAD_CHUNKS8 chunks.
TA static int spread_plan8_init(int nG, int nB, spread_plan8 *p) {
    const int nb = nB / nG;
    p->chunks = (nB + 7) / 8;
    if (nb < 2 || p->chunks > TLLM_SPREAD_CHUNKS8) return 0;
    for (int j = 0; j < p->chunks; j++) {
        int32_t l[8];
        p->g0[j] = 8 * j / nb;
        for (int i = 0; i < 8; i++) l[i] = 8 * j + i < nB ? (8 * j + i) / nb - p->g0[j] : 0;
        p->idx[j] = _mm256_loadu_si256((const __m256i *)l);
    }
    return 1;
}

/// out[b] = α_{g(b)}·s_b (s NULL: α_{g(b)} alone) for b < nB by the plan (out holds nB + 8 floats; lanes past nB
/// get garbage the callers overwrite), or by a division per block without one.
TA static void alpha_spread(const spread_plan8 *p, const uint16_t *ar, const float *s, int nG, int nB, float *out) {
    if (!p) {
        const int nb = nB / nG;
        for (int b = 0; b < nB; b++) out[b] = _cvtsh_ss(ar[b / nb]) * (s ? s[b] : 1.0f);
        return;
    }
    for (int j = 0; j < p->chunks; j++) {
        const int b = 8 * j, g0 = p->g0[j], n = nG - g0;
        __m128i h = _mm_setzero_si128();  // the ≤ 4 groups of 8 blocks (nb ≥ 2), not read past the row's α
        switch (n >= 4 ? 4 : n) {
        case 4: h = _mm_insert_epi16(h, ar[g0 + 3], 3); /* fall through */
        case 3: h = _mm_insert_epi16(h, ar[g0 + 2], 2); /* fall through */
        case 2: h = _mm_insert_epi16(h, ar[g0 + 1], 1); /* fall through */
        default: h = _mm_insert_epi16(h, ar[g0], 0);
        }
        __m256 v = _mm256_permutevar8x32_ps(_mm256_cvtph_ps(h), p->idx[j]);
        if (s) v = _mm256_mul_ps(v, _mm256_loadu_ps(s + b));  // s holds nB + 16 floats (tllm_tact)
        _mm256_storeu_ps(out + b, v);
    }
}

/// wsc[b] = α_{g(b)}·s_b (zeros past nB).
TA static void block_scales(const tllm_tgeom *g, const spread_plan8 *plan, const uint16_t *ar, const float *s, float *wsc) {
    const int nG = g->groups, nB = g->blocks, nb = nB / nG;
    int b = 0;
    if (nb == 1)
        for (; b + 8 <= nB; b += 8)
            _mm256_storeu_ps(wsc + b, _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(ar + b))), _mm256_loadu_ps(s + b)));
    if (nb != 1) alpha_spread(plan, ar, s, nG, nB, wsc);
    else
        for (; b < nB; b++) wsc[b] = _cvtsh_ss(ar[b]) * s[b];
    _mm256_storeu_ps(wsc + nB, _mm256_setzero_ps());
    _mm256_storeu_ps(wsc + nB + 8, _mm256_setzero_ps());
}

/// The four planes' pair sums of one unit in i16 (each lane ≤ 4·2·2·127 = 2032 in magnitude).
TA static inline __m256i t2_planes_i16(__m256i p0, __m256i p1, __m256i p2, __m256i p3, const int8_t *q) {
    __m256i s = _mm256_maddubs_epi16(p0, _mm256_loadu_si256((const __m256i *)q));
    s = _mm256_add_epi16(s, _mm256_maddubs_epi16(p1, _mm256_loadu_si256((const __m256i *)(q + 32))));
    s = _mm256_add_epi16(s, _mm256_maddubs_epi16(p2, _mm256_loadu_si256((const __m256i *)(q + 64))));
    return _mm256_add_epi16(s, _mm256_maddubs_epi16(p3, _mm256_loadu_si256((const __m256i *)(q + 96))));
}

TA static inline __m256i t2_planes16(__m256i p0, __m256i p1, __m256i p2, __m256i p3, const int8_t *q) {
    return _mm256_madd_epi16(t2_planes_i16(p0, p1, p2, p3, q), _mm256_set1_epi16(1));
}

#define T2_PLANES(b)                                                                                  \
    const __m256i m3 = _mm256_set1_epi8(3);                                                           \
    const __m256i p0 = _mm256_and_si256(b, m3), p1 = _mm256_and_si256(_mm256_srli_epi16(b, 2), m3);  \
    const __m256i p2 = _mm256_and_si256(_mm256_srli_epi16(b, 4), m3), p3 = _mm256_and_si256(_mm256_srli_epi16(b, 6), m3)

/// Σ over the 2-bit coded part. Units may read past its end into the row's padding (rows are whole
/// multiples of 32 bytes from a 32-byte multiple offset); the activations there are 0.
TA static float t2_part(const uint8_t *w, const int8_t *qk, const float *wsc, const int32_t *ubase,
                        const int32_t *uidx, int units) {
    __m256 acc = _mm256_setzero_ps();
    for (int u = 0; u < units; u++) {
        if ((u & 1) == 0) _mm_prefetch((const char *)(w + 32 * u + 2048), _MM_HINT_T0);
        const __m256i b = _mm256_loadu_si256((const __m256i *)(w + 32 * u));
        T2_PLANES(b);
        const __m256i s = t2_planes16(p0, p1, p2, p3, qk + 128 * u);
        const __m256 sc = _mm256_permutevar8x32_ps(_mm256_loadu_ps(wsc + ubase[u]), _mm256_loadu_si256((const __m256i *)(uidx + 8 * u)));
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), sc, acc);
    }
    return hsum8(acc);
}

#define T2_UNIT(k)                                                                                    \
    __m256i s##k;                                                                                     \
    {                                                                                                 \
        const __m256i b = _mm256_loadu_si256((const __m256i *)(w + 32 * (u + k)));                    \
        T2_PLANES(b);                                                                                 \
        s##k = t2_planes16(p0, p1, p2, p3, qk + 128 * (u + k));                                      \
    }

/// t2_part for blocks of 128 slots (one unit = one block, so a unit's lanes share one scale): each unit's eight
/// lane sums are scaled by its block's scale sc[u] (α·s, broadcast from memory) into four float accumulators,
/// which cost less than reducing eight units' sums across lanes first (vphaddd is slow on Zen 3). Returns the
/// accumulators added to acc, lanes not yet summed.
TA static __m256 t2_part_c128(const uint8_t *w, const int8_t *qk, const float *sc, int units, __m256 acc) {
    __m256 a1 = _mm256_setzero_ps(), a2 = a1, a3 = a1;
    int u = 0;
    for (; u + 4 <= units; u += 4) {
        _mm_prefetch((const char *)(w + 32 * u + 2048), _MM_HINT_T0);
        _mm_prefetch((const char *)(w + 32 * u + 2048 + 64), _MM_HINT_T0);
        T2_UNIT(0) T2_UNIT(1) T2_UNIT(2) T2_UNIT(3)
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s0), _mm256_broadcast_ss(sc + u), acc);
        a1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s1), _mm256_broadcast_ss(sc + u + 1), a1);
        a2 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s2), _mm256_broadcast_ss(sc + u + 2), a2);
        a3 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s3), _mm256_broadcast_ss(sc + u + 3), a3);
    }
    for (; u < units; u++) {
        T2_UNIT(0)
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s0), _mm256_broadcast_ss(sc + u), acc);
    }
    return _mm256_add_ps(_mm256_add_ps(acc, a1), _mm256_add_ps(a2, a3));
}

#define T1_PLANE(n)                                                                                           \
    do {                                                                                                      \
        const __m256i d = _mm256_abs_epi8(_mm256_add_epi8(_mm256_cmpgt_epi8(mx, th1), _mm256_cmpgt_epi8(mx, th2))); \
        A##n = _mm256_add_epi16(A##n, _mm256_maddubs_epi16(d, _mm256_loadu_si256((const __m256i *)(q + (n) * gp)))); \
        mx = _mm256_add_epi8(mx, _mm256_add_epi8(mx, mx));                                                    \
        TLLM_OPAQUE(mx);                                                                                      \
    } while (0)
// A digit plane is summed in i16 over spans of at most 32 pieces of 32 bytes (a piece adds at most 2·2·127 to a
// lane: |Σ| ≤ 16256) and widened here, once per span.
#define T1_FLUSH(n) acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(A##n, ones)), _mm256_set1_ps(wsc[(5 * s + (n)) * nb + bi]), acc)

TA static float t1_supers(const tllm_tgeom *g, const uint8_t *w, const int8_t *qn, const float *wsc) {
    const int gp = g->gp, C = g->chunk, nb = g->blocks / g->groups;
    const __m256i flip = _mm256_set1_epi8((char)0x80), th1 = _mm256_set1_epi8((char)(85 ^ 0x80)),
                  th2 = _mm256_set1_epi8((char)(170 ^ 0x80)), ones = _mm256_set1_epi16(1);
    __m256 acc = _mm256_setzero_ps();
    for (int s = 0; s < g->supers; s++) {
        const uint8_t *sb = w + (size_t)s * gp;
        for (int bi = 0; bi < nb; bi++) {
            for (int o0 = bi * C; o0 < bi * C + C; o0 += 1024) {
                const int o1 = o0 + 1024 < bi * C + C ? o0 + 1024 : bi * C + C;
                __m256i A0 = _mm256_setzero_si256(), A1 = A0, A2 = A0, A3 = A0, A4 = A0;
                for (int o = o0; o < o1; o += 32) {
                    if ((o & 63) == 0) _mm_prefetch((const char *)(sb + o + 2048), _MM_HINT_T0);
                    // digit n reads m_n = 3ⁿ·byte mod 256 as signed, mx_n = m_n ^ 0x80; and mx_{n+1} = 3·mx_n mod 256
                    // too (3·(mx + 128) + 128 ≡ 3·mx), so one flip serves all five digits
                    __m256i mx = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(sb + o)), flip);
                    const int8_t *q = qn + (size_t)5 * s * gp + o;
                    T1_PLANE(0); T1_PLANE(1); T1_PLANE(2); T1_PLANE(3); T1_PLANE(4);
                }
                T1_FLUSH(0); T1_FLUSH(1); T1_FLUSH(2); T1_FLUSH(3); T1_FLUSH(4);
            }
        }
    }
    return hsum8(acc);
}

/// t1 superblocks → t2 blocks with C = 128: the 32-byte piece p of block bi of a superblock holds, in digit
/// n, slots bi·128 + 32p + j of group 5s + n, which is plane p of that group's t2 block bi: t2 byte j is
/// Σ_p digit_n(piece p, byte j) << 2p. Digits by the two compares of t1_supers; the t2-coded tail is copied.
TA int tllm__t1_to_t2_avx2(const tllm_tgeom *g1, const tllm_tgeom *g2, const uint8_t *w1, size_t rows, uint8_t *w2) {
    if (g1->chunk != 128) return 0;
    const int gp = g1->gp, nb = gp / 128;
    const __m256i flip = _mm256_set1_epi8((char)0x80), th1 = _mm256_set1_epi8((char)(85 ^ 0x80)),
                  th2 = _mm256_set1_epi8((char)(170 ^ 0x80));
    for (size_t r = 0; r < rows; r++) {
        const uint8_t *src = w1 + r * g1->row_bytes;
        uint8_t *dst = w2 + r * g2->row_bytes;
        for (int s = 0; s < g1->supers; s++) {
            for (int bi = 0; bi < nb; bi++) {
                __m256i out[5];
                for (int n = 0; n < 5; n++) out[n] = _mm256_setzero_si256();
                for (int p = 0; p < 4; p++) {
                    __m256i mx = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(src + (size_t)s * gp + bi * 128 + 32 * p)), flip);
                    for (int n = 0; n < 5; n++) {  // mx_{n+1} = 3·mx_n as in t1_supers
                        const __m256i d = _mm256_abs_epi8(_mm256_add_epi8(_mm256_cmpgt_epi8(mx, th1), _mm256_cmpgt_epi8(mx, th2)));
                        out[n] = _mm256_or_si256(out[n], _mm256_slli_epi16(d, 2 * p));  // d ≤ 2: no bits cross bytes
                        mx = _mm256_add_epi8(mx, _mm256_add_epi8(mx, mx));
                        TLLM_OPAQUE(mx);
                    }
                }
                for (int n = 0; n < 5; n++)  // group 5s+n, block bi: t2 bytes at ((5s+n)·nb + bi)·32
                    _mm256_storeu_si256((__m256i *)(dst + ((size_t)(5 * s + n) * nb + bi) * 32), out[n]);
            }
        }
        memcpy(dst + (size_t)g1->t2_block0 * 32, src + g1->t2_offset, g1->t2_bytes);
        memset(dst + (size_t)g2->t2_bytes, 0x55, g2->row_bytes - g2->t2_bytes);
    }
    return 1;
}

TA void tllm__matvec_avx2(const tllm_tgeom *g, const uint8_t *w, const uint16_t *alpha, const uint16_t *gamma,
                          size_t row0, size_t row1, const tllm_tact *a, const int32_t *ubase, const int32_t *uidx,
                          float *wsc, float *y) {
    const int units = tllm_units(g, 1), nG = g->groups;
    spread_plan8 sp;
    const spread_plan8 *plan = spread_plan8_init(nG, g->blocks, &sp) ? &sp : NULL;
    if (g->chunk == 128 && !g->supers) {  // t2 with blocks of 128: eight blocks scaled at a time
        for (size_t r = row0; r < row1; r++) {
            const uint8_t *wr = w + r * g->row_bytes;
            const uint16_t *ar = alpha + r * nG;
            tllm_prefetch_qparams(alpha, gamma, r, row0, row1, nG);
            block_scales(g, plan, ar, a->s, wsc);
            y[r] = hsum8(t2_part_c128(wr + g->t2_offset, a->qk, wsc, units, correction8(nG, ar, gamma + r * nG, a->c, a->xs)));
        }
        return;
    }
    for (size_t r = row0; r < row1; r++) {
        const uint8_t *wr = w + r * g->row_bytes;
        const uint16_t *ar = alpha + r * nG;
        tllm_prefetch_qparams(alpha, gamma, r, row0, row1, nG);
        block_scales(g, plan, ar, a->s, wsc);
        float acc = correction(nG, ar, gamma + r * nG, a->c, a->xs);
        if (g->supers) acc += t1_supers(g, wr, a->qn, wsc);
        acc += t2_part(wr + g->t2_offset, a->qk, wsc + g->t2_block0, ubase, uidx, units);
        y[r] = acc;
    }
}

TA void tllm__t2_matmul_avx2(const tllm_tgeom *g, const uint8_t *w, const uint16_t *alpha, const uint16_t *gamma,
                             size_t rows, const tllm_tact *acts, size_t T, const int32_t *ubase, const int32_t *uidx,
                             float *scratch, float *y, size_t ldy) {
    const int units = tllm_units(g, 1), nG = g->groups, nB = g->blocks, nb = nB / nG;
    spread_plan8 sp;
    const spread_plan8 *plan = spread_plan8_init(nG, nB, &sp) ? &sp : NULL;
    for (size_t r = 0; r < rows; r++) {
        float *ab = scratch + r * (nB + 16);
        if (nb != 1) alpha_spread(plan, alpha + r * nG, NULL, nG, nB, ab);
        else
            for (int b = 0; b < nB; b++) ab[b] = _cvtsh_ss(alpha[r * nG + b]);
        for (int b = nB; b < nB + 16; b++) ab[b] = 0;
    }
    size_t t0 = 0;
    if (g->chunk == 128) {
        // Blocks of 128 slots (one unit = one block): a block's sum over 128 weights fits in i16 (|Σ| ≤ 128·2·127),
        // so the four tokens' plane sums are reduced together by horizontal adds in i16 and scaled as one 4-vector,
        // instead of a widening, a lane permutation and a multiply-add per token and unit.
        float *st = scratch + rows * (nB + 16);  // st[4b + t] = s_b of token t0 + t (the caller leaves room)
        const __m256i ones = _mm256_set1_epi16(1);
        for (; t0 + 4 <= T; t0 += 4) {
            for (int b = 0; b < nB; b++)
                for (int t = 0; t < 4; t++) st[4 * b + t] = acts[t0 + t].s[b];
            const int8_t *q0 = acts[t0].qk, *q1 = acts[t0 + 1].qk, *q2 = acts[t0 + 2].qk, *q3 = acts[t0 + 3].qk;
            for (size_t r = 0; r < rows; r++) {
                const uint8_t *wr = w + r * g->row_bytes;
                const float *ab = scratch + r * (nB + 16);
                __m128 c = _mm_setzero_ps();
                for (int u = 0; u < units; u++) {
                    const __m256i b = _mm256_loadu_si256((const __m256i *)(wr + 32 * u));
                    T2_PLANES(b);
                    const __m256i h = _mm256_hadd_epi16(_mm256_hadd_epi16(t2_planes_i16(p0, p1, p2, p3, q0 + 128 * u),
                                                                          t2_planes_i16(p0, p1, p2, p3, q1 + 128 * u)),
                                                        _mm256_hadd_epi16(t2_planes_i16(p0, p1, p2, p3, q2 + 128 * u),
                                                                          t2_planes_i16(p0, p1, p2, p3, q3 + 128 * u)));
                    const __m256i s = _mm256_madd_epi16(h, ones);  // [t0..t3 | t0..t3], each half of the block
                    const __m128i v = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
                    c = _mm_fmadd_ps(_mm_cvtepi32_ps(v), _mm_mul_ps(_mm_loadu_ps(st + 4 * u), _mm_set1_ps(ab[u])), c);
                }
                float cs[4];
                _mm_storeu_ps(cs, c);
                for (int t = 0; t < 4; t++)
                    y[(t0 + t) * ldy + r] = cs[t] + correction(nG, alpha + r * nG, gamma + r * nG, acts[t0 + t].c, acts[t0 + t].xs);
            }
        }
    }
    for (; t0 < T; t0 += 4) {
        const size_t nt = T - t0 < 4 ? T - t0 : 4;
        for (size_t r = 0; r < rows; r++) {
            const uint8_t *wr = w + r * g->row_bytes;
            const float *ab = scratch + r * (nB + 16);
            __m256 c[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
            for (int u = 0; u < units; u++) {
                const __m256i b = _mm256_loadu_si256((const __m256i *)(wr + 32 * u));
                T2_PLANES(b);
                const __m256i idx = _mm256_loadu_si256((const __m256i *)(uidx + 8 * u));
                const __m256 al = _mm256_permutevar8x32_ps(_mm256_loadu_ps(ab + ubase[u]), idx);
                for (size_t t = 0; t < nt; t++) {
                    const __m256i s = t2_planes16(p0, p1, p2, p3, acts[t0 + t].qk + 128 * u);
                    const __m256 sl = _mm256_permutevar8x32_ps(_mm256_loadu_ps(acts[t0 + t].s + ubase[u]), idx);
                    c[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(al, sl), c[t]);
                }
            }
            for (size_t t = 0; t < nt; t++)
                y[(t0 + t) * ldy + r] = hsum8(c[t]) + correction(nG, alpha + r * nG, gamma + r * nG, acts[t0 + t].c, acts[t0 + t].xs);
        }
    }
}

/// q8 rows: vpmaddubsw(|w|, sign(q, w)) = w·q pairs (at most 2·127·127, no saturation).
TA void tllm__q8_matvec_avx2(size_t K, const int8_t *w, const uint16_t *scale, size_t row0, size_t row1,
                             const int8_t *q, const float *s, const int32_t *qsum, float *y) {
    (void)qsum;
    const size_t full = K / 32;
    const __m256i ones = _mm256_set1_epi16(1);
    for (size_t r = row0; r < row1; r++) {
        const int8_t *wr = w + r * K;
        __m256 acc = _mm256_setzero_ps();
        for (size_t c0 = 0; c0 < full; c0 += 4) {  // 32-byte chunks, four per block of 128
            __m256i is = _mm256_setzero_si256();
            for (size_t c = c0; c < c0 + 4 && c < full; c++) {
                const __m256i wv = _mm256_loadu_si256((const __m256i *)(wr + 32 * c));
                const __m256i qv = _mm256_loadu_si256((const __m256i *)(q + 32 * c));
                is = _mm256_add_epi32(is, _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(wv), _mm256_sign_epi8(qv, wv)), ones));
            }
            acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is), _mm256_set1_ps(s[c0 / 4]), acc);
        }
        float t = hsum8(acc);
        int tail = 0;
        for (size_t i = full * 32; i < K; i++) tail += wr[i] * q[i];
        if (K % 32) t += (float)tail * s[full / 4];
        y[r] = t * _cvtsh_ss(scale[r]);
    }
}
