// Ternary kernels for AVX-512 VNNI (vpdpbusd: u8 × s8 → i32) on 256-bit registers (AVX512VL): in streaming,
// 32-byte units read memory faster than 64-byte ones on Zen 4 (39–41 vs 28–31 Gw/s at 4096², same hot speed).
// t2: a unit is 128 weights, four 2-bit planes dotted with kernel-ordered activations, 8 i32 lanes scaled by
// α·s of their block. t1: digit n = ⌊3·mₙ/256⌋, mₙ = 3ⁿ·byte mod 256, so Σ dₙ q = (3·Σ mₙ q − Σ mₙ₊₁ q)/256
// exactly: two vpdpbusd and two byte adds per plane, no decode.
#include "tllm_kernels.h"
#include "ternary_internal.h"
#include <immintrin.h>

/// Bytes ahead of the current unit that the mat-vec prefetches (decode streams the weights once).
#define TLLM_PREFETCH 2048

#define TV __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,fma,f16c")))

/// Block quantization (see tllm_tact_prepare): masked 16-float steps, round to nearest even as lrintf.
TV void tllm__quantize_vnni(const tllm_tgeom *g, const float *x, tllm_tact *a) {
    const int K = g->k, G = g->group, nG = g->groups, gp = g->gp, C = g->chunk, nb = g->blocks / g->groups;
    const __m512 signmask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7FFFFFFF));
    for (int gi = 0; gi < nG; gi++) {
        const int k0 = gi * G, len = K - k0 < G ? K - k0 : G;
        int8_t *q = a->qn + (size_t)gi * gp;
        const float *xg = x + k0;
        __m512 xsum = _mm512_setzero_ps();
        float cg = 0;
        for (int bi = 0; bi < nb; bi++) {
            const int e0 = bi * C, e1 = e0 + C < len ? e0 + C : len;
            __m512 amax = _mm512_setzero_ps();
            for (int i = e0; i < e1; i += 16) {
                const __mmask16 m = e1 - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (e1 - i)) - 1);
                const __m512 v = _mm512_maskz_loadu_ps(m, xg + i);
                amax = _mm512_max_ps(amax, _mm512_and_ps(v, signmask));
                xsum = _mm512_add_ps(xsum, v);
            }
            const float am = e1 > e0 ? _mm512_reduce_max_ps(amax) : 0.0f;
            const __m512 inv = _mm512_set1_ps(am > 0 ? 127.0f / am : 0.0f);
            const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
            __m512i qs = _mm512_setzero_si512();
            for (int i = e0; i < e1; i += 16) {
                const __mmask16 m = e1 - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (e1 - i)) - 1);
                __m512i iv = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, xg + i), inv));
                iv = _mm512_max_epi32(lo, _mm512_min_epi32(hi, iv));
                qs = _mm512_add_epi32(qs, iv);
                _mm512_mask_cvtepi32_storeu_epi8(q + i, m, iv);
            }
            const float s = am / 127.0f;
            a->s[gi * nb + bi] = s;
            cg += s * (float)_mm512_reduce_add_epi32(qs);
        }
        for (int i = len; i < gp; i++) q[i] = 0;
        a->c[gi] = cg;
        a->xs[gi] = _mm512_reduce_add_ps(xsum);
    }
    _mm512_storeu_si512(a->qn + (size_t)nG * gp, _mm512_setzero_si512());
}

/// Where the block scales of groups of nb > 1 blocks come from, 16 blocks at a time: chunk j (blocks 16j …) reads the
/// ≤ 16 groups from g0[j] on and lane l takes group g0[j] + idx[j][l]. The same for every row of a matrix, so it is
/// made once per product (a division per block in each row made groups of 256 and more run at ~60% of the speed of
/// groups of 128).
#define TLLM_SPREAD_CHUNKS 16
typedef struct {
    int chunks;
    int g0[TLLM_SPREAD_CHUNKS];
    __m512i idx[TLLM_SPREAD_CHUNKS];
} spread_plan;

/// The plan for nG groups of nB / nG blocks; returns 0 when nB needs more than TLLM_SPREAD_CHUNKS chunks.
TV static int spread_plan_init(int nG, int nB, spread_plan *p) {
    const int nb = nB / nG;
    p->chunks = (nB + 15) / 16;
    if (p->chunks > TLLM_SPREAD_CHUNKS) return 0;
    for (int j = 0; j < p->chunks; j++) {
        int32_t l[16];
        p->g0[j] = 16 * j / nb;
        for (int i = 0; i < 16; i++) l[i] = 16 * j + i < nB ? (16 * j + i) / nb - p->g0[j] : 0;
        p->idx[j] = _mm512_loadu_si512(l);
    }
    return 1;
}

/// out[b] = α_{g(b)}·s_b (s NULL: α_{g(b)} alone) for b < nB by the plan, or by a division per block without one;
/// out holds nB + 16 floats.
TV static inline void alpha_spread(const spread_plan *p, const uint16_t *ar, const float *s, int nG, int nB, float *out) {
    if (!p) {
        const int nb = nB / nG;
        for (int b = 0; b < nB; b++) out[b] = _cvtsh_ss(ar[b / nb]) * (s ? s[b] : 1.0f);
        return;
    }
    for (int j = 0; j < p->chunks; j++) {
        const int b = 16 * j, g0 = p->g0[j], ng = nG - g0 < 16 ? nG - g0 : 16;
        const __mmask16 m = nB - b >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (nB - b)) - 1);
        __m512 v = _mm512_permutexvar_ps(p->idx[j], _mm512_cvtph_ps(_mm256_maskz_loadu_epi16((__mmask16)((1u << ng) - 1), ar + g0)));
        v = s ? _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, s + b)) : _mm512_maskz_mov_ps(m, v);
        _mm512_storeu_ps(out + b, v);  // whole (zeros past nB; out has 16 floats of room): a masked store is not
                                       // forwarded to the kernel's scalar loads of it
    }
}

/// The 16 lanes of v folded into 8 (their sum is v's): a row's correction joins its dot products' accumulator, one
/// horizontal sum per row (and token) instead of two. Zen 4, alternating with two sums: pp512 +1-4% in 3 of 3
/// rounds, decode a tie.
TV static inline __m256 fold8(__m512 v) { return _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1)); }

/// Groups of one block (nB = nG; matvec_spread takes the others): fills wsc[b] = α_b·s_b (zeros past nB) and
/// returns Σ_g γ_g xs_g − α_g c_g in 8 lanes.
TV static __m256 prologue(const tllm_tgeom *g, const uint16_t *ar, const uint16_t *gr, const float *s,
                         const float *c, const float *xs, float *wsc) {
    const int nG = g->groups, nB = g->blocks;
    __m512 corr = _mm512_setzero_ps();
    for (int i = 0; i < nG; i += 16) {
        const __mmask16 m = nG - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (nG - i)) - 1);
        const __m512 al = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, ar + i));
        const __m512 ga = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, gr + i));
        corr = _mm512_fmadd_ps(ga, _mm512_loadu_ps(xs + i), corr);
        corr = _mm512_fnmadd_ps(al, _mm512_loadu_ps(c + i), corr);
        _mm512_storeu_ps(wsc + i, _mm512_mul_ps(al, _mm512_loadu_ps(s + i)));
    }
    _mm512_storeu_ps(wsc + nB, _mm512_setzero_ps());
    return fold8(corr);
}

/// The four planes dotted in one chain (the prompt product: four tokens' units in flight give the parallelism).
TV static inline __m256i t2_unit_chain(__m256i p0, __m256i p1, __m256i p2, __m256i p3, const int8_t *q) {
    __m256i s = _mm256_dpbusd_epi32(_mm256_setzero_si256(), p0, _mm256_loadu_si256((const __m256i *)q));
    s = _mm256_dpbusd_epi32(s, p1, _mm256_loadu_si256((const __m256i *)(q + 32)));
    s = _mm256_dpbusd_epi32(s, p2, _mm256_loadu_si256((const __m256i *)(q + 64)));
    s = _mm256_dpbusd_epi32(s, p3, _mm256_loadu_si256((const __m256i *)(q + 96)));
    return s;
}

/// The four planes of 32 packed bytes dotted with 128 kernel-ordered activations (decode). Two chains of two vpdpbusd
/// each rather than one of four: the unit's latency halves, and streaming decode keeps more units in flight.
TV static inline __m256i t2_unit(__m256i p0, __m256i p1, __m256i p2, __m256i p3, const int8_t *q) {
    const __m256i z = _mm256_setzero_si256();
    __m256i s = _mm256_dpbusd_epi32(z, p0, _mm256_loadu_si256((const __m256i *)q));
    __m256i t = _mm256_dpbusd_epi32(z, p1, _mm256_loadu_si256((const __m256i *)(q + 32)));
    s = _mm256_dpbusd_epi32(s, p2, _mm256_loadu_si256((const __m256i *)(q + 64)));
    t = _mm256_dpbusd_epi32(t, p3, _mm256_loadu_si256((const __m256i *)(q + 96)));
    return _mm256_add_epi32(s, t);
}

#define T2_PLANES(b)                                                                                  \
    const __m256i m3 = _mm256_set1_epi8(3);                                                           \
    const __m256i p0 = _mm256_and_si256(b, m3), p1 = _mm256_and_si256(_mm256_srli_epi16(b, 2), m3);  \
    const __m256i p2 = _mm256_and_si256(_mm256_srli_epi16(b, 4), m3), p3 = _mm256_and_si256(_mm256_srli_epi16(b, 6), m3)

/// The four 2-bit planes by GF(2) affine maps (one instruction per plane instead of a shift and a mask): output
/// bits 0 and 1 of each byte are its bits 2k and 2k + 1 (matrix rows 7 and 6).
#define T2_PLANES_GFNI(b)                                                                                        \
    const __m256i p0 = _mm256_gf2p8affine_epi64_epi8(b, _mm256_set1_epi64x(0x0102000000000000LL), 0);        \
    const __m256i p1 = _mm256_gf2p8affine_epi64_epi8(b, _mm256_set1_epi64x(0x0408000000000000LL), 0);        \
    const __m256i p2 = _mm256_gf2p8affine_epi64_epi8(b, _mm256_set1_epi64x(0x1020000000000000LL), 0);        \
    const __m256i p3 = _mm256_gf2p8affine_epi64_epi8(b, _mm256_set1_epi64x((long long)0x4080000000000000ULL), 0)

#define TVG __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,fma,f16c,gfni")))

TV static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/// The scale vector of unit v when blocks are 128 slots (unit v is block v: a broadcast) and when they are 64 (unit v
/// is blocks 2v, 2v + 1: lanes 0-3 and 4-7, a constant permutation instead of tllm_tplan_init's lane table).
#define T2_SCALE128(p, v) _mm256_broadcast_ss((p) + (v))
#define T2_SCALE64(p, v) _mm256_permutexvar_ps(_mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1), _mm256_loadu_ps((p) + 2 * (v)))

/// One unit of the fixed-block cases into accv; PLANES(b) declares the planes p0..p3 of the unit's 32 bytes.
#define T2_FIXED_UNIT(PLANES, SCALE, off, accv)                                                      \
    do {                                                                                            \
        const __m256i b = _mm256_loadu_si256((const __m256i *)(w + 32 * (u + (off))));             \
        PLANES(b);                                                                                  \
        accv = _mm256_fmadd_ps(_mm256_cvtepi32_ps(t2_unit(p0, p1, p2, p3, qk + 128 * (u + (off)))), \
                               SCALE(wsc, u + (off)), accv);                                        \
    } while (0)
/// The loop of the fixed-block cases: two units per step into two accumulators (which split the fma chain).
#define T2_FIXED(PLANES, SCALE)                                                 \
    __m256 acc = init, acc1 = _mm256_setzero_ps();                            \
    int u = 0;                                                                \
    for (; u + 2 <= units; u += 2) {                                          \
        _mm_prefetch((const char *)(w + 32 * u + TLLM_PREFETCH), _MM_HINT_T0); \
        T2_FIXED_UNIT(PLANES, SCALE, 0, acc);                                 \
        T2_FIXED_UNIT(PLANES, SCALE, 1, acc1);                                \
    }                                                                         \
    if (u < units) T2_FIXED_UNIT(PLANES, SCALE, 0, acc);                      \
    return hsum8(_mm256_add_ps(acc, acc1))

/// Σ over the 2-bit coded part of wsc-scaled unit dots. Units may read past its end into the row's padding
/// (rows are whole multiples of 32 bytes from a 32-byte multiple offset); the activations there are 0.
/// `chunk`: blocks of 128 or 64 slots take T2_FIXED; other block sizes the lane table.
TV static float t2_part(const uint8_t *w, const int8_t *qk, const float *wsc, const int32_t *ubase,
                        const int32_t *uidx, int units, int chunk, __m256 init) {
    if (chunk == 128) { T2_FIXED(T2_PLANES, T2_SCALE128); }
    if (chunk == 64) { T2_FIXED(T2_PLANES, T2_SCALE64); }
    __m256 acc = init;
    for (int u = 0; u < units; u++) {
        if ((u & 1) == 0) _mm_prefetch((const char *)(w + 32 * u + TLLM_PREFETCH), _MM_HINT_T0);
        const __m256i b = _mm256_loadu_si256((const __m256i *)(w + 32 * u));
        T2_PLANES(b);
        const __m256i s = t2_unit(p0, p1, p2, p3, qk + 128 * u);
        const __m256 sc = _mm256_permutexvar_ps(_mm256_loadu_si256((const __m256i *)(uidx + 8 * u)), _mm256_loadu_ps(wsc + ubase[u]));
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), sc, acc);
    }
    return hsum8(acc);
}

/// t2_part's blocks of 128 with the planes from GFNI (level 3: 3 fewer vector operations per unit; decode on the
/// synthetic 0.5 B model, 2 threads, alternating with the shift-and-mask planes: t2 head t2 211/271/234 vs
/// 210/248/232 tok/s, t2 head q4 194/188/206 vs 165/166/168). Blocks of 64 keep the shift-and-mask planes: with
/// GFNI their streaming mat-vec measured 80-96 Gw/s against 96-100 (5632 × 2048, 2 threads).
TVG static float t2_part_gfni128(const uint8_t *w, const int8_t *qk, const float *wsc, int units, __m256 init) {
    T2_FIXED(T2_PLANES_GFNI, T2_SCALE128);
}

#define T1_PLANE(n)                                                                    \
    do {                                                                               \
        const __m256i m2 = _mm256_add_epi8(m, _mm256_add_epi8(m, m));                  \
        const __m256i a = _mm256_loadu_si256((const __m256i *)(q + (n) * gp));         \
        A##n = _mm256_dpbusd_epi32(A##n, m, a);                                        \
        B##n = _mm256_dpbusd_epi32(B##n, m2, a);                                       \
        m = m2;                                                                        \
        TLLM_OPAQUE(m);                                                                \
    } while (0)
#define T1_FLUSH(n)                                                                                        \
    acc##n = _mm256_fmadd_ps(                                                                              \
        _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_add_epi32(A##n, _mm256_add_epi32(A##n, A##n)), B##n)), \
        _mm256_set1_ps(wsc[(5 * s + (n)) * nb + bi]), acc##n)

/// Σ over the t1 superblocks (5 groups in gp bytes each); one float accumulator per plane, so the five flushes
/// of a block are not one chain of dependent fmas.
TV static float t1_supers(const tllm_tgeom *g, const uint8_t *w, const int8_t *qn, const float *wsc) {
    const int gp = g->gp, C = g->chunk, nb = g->blocks / g->groups;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0, acc4 = acc0;
    for (int s = 0; s < g->supers; s++) {
        const uint8_t *sb = w + (size_t)s * gp;
        for (int bi = 0; bi < nb; bi++) {
            __m256i A0 = _mm256_setzero_si256(), A1 = A0, A2 = A0, A3 = A0, A4 = A0;
            __m256i B0 = A0, B1 = A0, B2 = A0, B3 = A0, B4 = A0;
            for (int o = bi * C; o < bi * C + C; o += 32) {
                if ((o & 63) == 0) _mm_prefetch((const char *)(sb + o + TLLM_PREFETCH), _MM_HINT_T0);
                __m256i m = _mm256_loadu_si256((const __m256i *)(sb + o));
                const int8_t *q = qn + (size_t)5 * s * gp + o;
                T1_PLANE(0); T1_PLANE(1); T1_PLANE(2); T1_PLANE(3); T1_PLANE(4);
            }
            T1_FLUSH(0); T1_FLUSH(1); T1_FLUSH(2); T1_FLUSH(3); T1_FLUSH(4);
        }
    }
    const __m256 acc = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)), acc4);
    return hsum8(acc) * (1.0f / 256.0f);
}

/// Σ_g γ_g xs_g − α_g c_g in 8 lanes.
TV static __m256 correction8(int nG, const uint16_t *ar, const uint16_t *gr, const tllm_tact *a) {
    __m512 corr = _mm512_setzero_ps();
    for (int i = 0; i < nG; i += 16) {
        const __mmask16 m = nG - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (nG - i)) - 1);
        corr = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, gr + i)), _mm512_loadu_ps(a->xs + i), corr);
        corr = _mm512_fnmadd_ps(_mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, ar + i)), _mm512_loadu_ps(a->c + i), corr);
    }
    return fold8(corr);
}

/// Rows [row0, row1): `spread` (groups of several blocks) takes the block scales from alpha_spread, a separate loop
/// so that the one-block-per-group rows keep their code as it was (a call in it cost them ~3% in cache).
#define T2_MATVEC_ROWS(spread)                                                                                     \
    for (size_t r = row0; r < row1; r++) {                                                                        \
        const uint8_t *wr = w + r * g->row_bytes;                                                                  \
        __m256 corr;                                                                                               \
        tllm_prefetch_qparams(alpha, gamma, r, row0, row1, nG);                                                    \
        if (spread) {                                                                                              \
            alpha_spread(plan, alpha + r * nG, a->s, nG, g->blocks, wsc);                                          \
            _mm512_storeu_ps(wsc + g->blocks, _mm512_setzero_ps());                                                \
            corr = correction8(nG, alpha + r * nG, gamma + r * nG, a);                                             \
        } else corr = prologue(g, alpha + r * nG, gamma + r * nG, a->s, a->c, a->xs, wsc);                         \
        const float t1 = g->supers ? t1_supers(g, wr, a->qn, wsc) : 0.0f;                                         \
        const uint8_t *w2 = wr + g->t2_offset;                                                                     \
        const float *ws = wsc + g->t2_block0;                                                                      \
        if (gfni && g->chunk == 128) y[r] = t1 + t2_part_gfni128(w2, a->qk, ws, units, corr);                      \
        else y[r] = t1 + t2_part(w2, a->qk, ws, ubase, uidx, units, g->chunk, corr);                               \
    }

TV __attribute__((noinline)) static void matvec_spread(const tllm_tgeom *g, int gfni, const uint8_t *w, const uint16_t *alpha,
                                                       const uint16_t *gamma, size_t row0, size_t row1, const tllm_tact *a,
                                                       const int32_t *ubase, const int32_t *uidx, float *wsc, float *y) {
    const int units = tllm_units(g, 2), nG = g->groups;
    spread_plan sp;
    const spread_plan *plan = spread_plan_init(nG, g->blocks, &sp) ? &sp : NULL;
    T2_MATVEC_ROWS(1)
}

TV void tllm__matvec_vnni(const tllm_tgeom *g, int gfni, const uint8_t *w, const uint16_t *alpha, const uint16_t *gamma,
                          size_t row0, size_t row1, const tllm_tact *a, const int32_t *ubase, const int32_t *uidx,
                          float *wsc, float *y) {
    if (g->blocks != g->groups) { matvec_spread(g, gfni, w, alpha, gamma, row0, row1, a, ubase, uidx, wsc, y); return; }
    const int units = tllm_units(g, 2), nG = g->groups;
    const spread_plan *plan = NULL;
    (void)plan;
    T2_MATVEC_ROWS(0)
}

/// α_{g(b)} per block for one row (zeros past nB); `plan` for groups of several blocks (NULL: a division per block).
TV static void alpha_blocks(const tllm_tgeom *g, const spread_plan *plan, const uint16_t *ar, float *ab) {
    const int nG = g->groups, nB = g->blocks;
    if (nB == nG)
        for (int b = 0; b < nB; b += 16) {
            const __mmask16 m = nB - b >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (nB - b)) - 1);
            _mm512_mask_storeu_ps(ab + b, m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, ar + b)));
        }
    else alpha_spread(plan, ar, NULL, nG, nB, ab);
    _mm512_storeu_ps(ab + nB, _mm512_setzero_ps());
}


/// The prompt product for blocks of 128 or 64 slots (T2_SCALE128 / T2_SCALE64): tokens in tiles of 8, the scales
/// of a unit without lane tables (α once per unit, s once per token), two vpdpbusd chains per unit. Defines a
/// function returning the tokens done (a multiple of 8); `ab` holds α per block for each row (alpha_blocks).
#define T2_MATMUL8(NAME, SCALE)                                                                                          \
    TV static size_t NAME(const tllm_tgeom *g, const uint8_t *w, const uint16_t *alpha, const uint16_t *gamma,          \
                          size_t rows, const tllm_tact *acts, size_t T, const float *ab0, float *y, size_t ldy) {      \
        const int units = tllm_units(g, 2), nG = g->groups, nB = g->blocks;                                            \
        const size_t T8 = T / 8 * 8;                                                                                   \
        for (size_t t0 = 0; t0 < T8; t0 += 8) {                                                                        \
            const tllm_tact *A = &acts[t0];                                                                            \
            for (size_t r = 0; r < rows; r++) {                                                                        \
                const uint8_t *wr = w + r * g->row_bytes;                                                              \
                const float *ab = ab0 + r * (nB + 16);                                                                 \
                __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;        \
                for (int u = 0; u < units; u++) {                                                                      \
                    const __m256i b = _mm256_loadu_si256((const __m256i *)(wr + 32 * u));                              \
                    T2_PLANES(b);                                                                                      \
                    const __m256 al = SCALE(ab, u);                                                                    \
                    T2_MM8_TOK(0, SCALE); T2_MM8_TOK(1, SCALE); T2_MM8_TOK(2, SCALE); T2_MM8_TOK(3, SCALE);            \
                    T2_MM8_TOK(4, SCALE); T2_MM8_TOK(5, SCALE); T2_MM8_TOK(6, SCALE); T2_MM8_TOK(7, SCALE);            \
                }                                                                                                      \
                const uint16_t *ar = alpha + r * nG, *gr = gamma + r * nG;                                             \
                float *yr = y + t0 * ldy + r;                                                                          \
                yr[0] = hsum8(_mm256_add_ps(c0, correction8(nG, ar, gr, &A[0])));                                      \
                yr[ldy] = hsum8(_mm256_add_ps(c1, correction8(nG, ar, gr, &A[1])));                                    \
                yr[2 * ldy] = hsum8(_mm256_add_ps(c2, correction8(nG, ar, gr, &A[2])));                                \
                yr[3 * ldy] = hsum8(_mm256_add_ps(c3, correction8(nG, ar, gr, &A[3])));                                \
                yr[4 * ldy] = hsum8(_mm256_add_ps(c4, correction8(nG, ar, gr, &A[4])));                                \
                yr[5 * ldy] = hsum8(_mm256_add_ps(c5, correction8(nG, ar, gr, &A[5])));                                \
                yr[6 * ldy] = hsum8(_mm256_add_ps(c6, correction8(nG, ar, gr, &A[6])));                                \
                yr[7 * ldy] = hsum8(_mm256_add_ps(c7, correction8(nG, ar, gr, &A[7])));                                \
            }                                                                                                          \
        }                                                                                                              \
        return T8;                                                                                                     \
    }
#define T2_MM8_TOK(j, SCALE)                                                                                 \
    do {                                                                                                     \
        const __m256i s = t2_unit(p0, p1, p2, p3, A[j].qk + 128 * u);                                       \
        c##j = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(al, SCALE(A[j].s, u)), c##j);            \
    } while (0)
T2_MATMUL8(t2_matmul8_b128, T2_SCALE128)
T2_MATMUL8(t2_matmul8_b64, T2_SCALE64)

/// Prompt product: tokens in tiles of 4, each unit of weights decoded once per tile; rows inner so that a
/// tile's activations stay in L1 while the rows stream from L2 (tiles of 8 for blocks of 128 and 64).
TV void tllm__t2_matmul_vnni(const tllm_tgeom *g, const uint8_t *w, const uint16_t *alpha, const uint16_t *gamma,
                             size_t rows, const tllm_tact *acts, size_t T, const int32_t *ubase, const int32_t *uidx,
                             float *scratch, float *y, size_t ldy) {
    const int units = tllm_units(g, 2), nG = g->groups, nB = g->blocks;
    spread_plan sp;
    const spread_plan *plan = nB != nG && spread_plan_init(nG, nB, &sp) ? &sp : NULL;
    for (size_t r = 0; r < rows; r++) alpha_blocks(g, plan, alpha + r * nG, scratch + r * (nB + 16));
    const size_t done = g->chunk == 128 ? t2_matmul8_b128(g, w, alpha, gamma, rows, acts, T, scratch, y, ldy)
                        : g->chunk == 64 ? t2_matmul8_b64(g, w, alpha, gamma, rows, acts, T, scratch, y, ldy) : 0;
    for (size_t t0 = done; t0 < T; t0 += 4) {
        const size_t nt = T - t0 < 4 ? T - t0 : 4;
        const tllm_tact *A0 = &acts[t0], *A1 = &acts[t0 + (nt > 1)], *A2 = &acts[t0 + (nt > 2 ? 2 : 0)],
                        *A3 = &acts[t0 + (nt > 3 ? 3 : 0)];
        for (size_t r = 0; r < rows; r++) {
            const uint8_t *wr = w + r * g->row_bytes;
            const float *ab = scratch + r * (nB + 16);
            __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
            for (int u = 0; u < units; u++) {
                const __m256i b = _mm256_loadu_si256((const __m256i *)(wr + 32 * u));
                T2_PLANES(b);
                const __m256i idx = _mm256_loadu_si256((const __m256i *)(uidx + 8 * u));
                const __m256 al = _mm256_permutexvar_ps(idx, _mm256_loadu_ps(ab + ubase[u]));
#define TOK(A, cacc)                                                                              \
    do {                                                                                          \
        const __m256i s = t2_unit_chain(p0, p1, p2, p3, (A)->qk + 128 * u);                       \
        const __m256 sl = _mm256_permutexvar_ps(idx, _mm256_loadu_ps((A)->s + ubase[u]));         \
        cacc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(al, sl), cacc);               \
    } while (0)
                TOK(A0, c0);
                if (nt > 1) TOK(A1, c1);
                if (nt > 2) TOK(A2, c2);
                if (nt > 3) TOK(A3, c3);
#undef TOK
            }
            const uint16_t *ar = alpha + r * nG, *gr = gamma + r * nG;
            y[t0 * ldy + r] = hsum8(_mm256_add_ps(c0, correction8(nG, ar, gr, A0)));
            if (nt > 1) y[(t0 + 1) * ldy + r] = hsum8(_mm256_add_ps(c1, correction8(nG, ar, gr, A1)));
            if (nt > 2) y[(t0 + 2) * ldy + r] = hsum8(_mm256_add_ps(c2, correction8(nG, ar, gr, A2)));
            if (nt > 3) y[(t0 + 3) * ldy + r] = hsum8(_mm256_add_ps(c3, correction8(nG, ar, gr, A3)));
        }
    }
}

/// q8 rows: (w + 128) as u8 against q, then minus 128·Σ_b s_b·Σq_b (the same for every row); blocks of 128.
TV void tllm__q8_matvec_vnni(size_t K, const int8_t *w, const uint16_t *scale, size_t row0, size_t row1,
                             const int8_t *q, const float *s, const int32_t *qsum, float *y) {
    const __m256i bias = _mm256_set1_epi8((char)0x80);
    const size_t nB = (K + 127) / 128, full = K / 32;
    float k0 = 0;
    for (size_t b = 0; b < nB; b++) k0 += 128.0f * (float)qsum[b] * s[b];
    for (size_t r = row0; r < row1; r++) {
        const int8_t *wr = w + r * K;
        __m256 acc = _mm256_setzero_ps();
        for (size_t c0 = 0; c0 < full; c0 += 4) {  // 32-byte chunks, four per block of 128
            __m256i is = _mm256_setzero_si256(), is1 = is;  // two chains of vpdpbusd (see t2_unit)
            _mm_prefetch((const char *)(wr + 32 * c0 + TLLM_PREFETCH), _MM_HINT_T0);
            _mm_prefetch((const char *)(wr + 32 * c0 + 64 + TLLM_PREFETCH), _MM_HINT_T0);
            for (size_t c = c0; c < c0 + 4 && c < full; c++) {
                const __m256i d = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(wr + 32 * c)), bias);
                const __m256i qv = _mm256_loadu_si256((const __m256i *)(q + 32 * c));
                if (c & 1) is1 = _mm256_dpbusd_epi32(is1, d, qv); else is = _mm256_dpbusd_epi32(is, d, qv);
            }
            acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(is, is1)), _mm256_set1_ps(s[c0 / 4]), acc);
        }
        if (K % 32) {  // the tail: masked-off bytes become 0x80 after the xor; q is 0 there, so they add nothing
            const __m256i wv = _mm256_maskz_loadu_epi8((__mmask32)((1u << (K % 32)) - 1), wr + 32 * full);
            const __m256i is = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_xor_si256(wv, bias),
                                                   _mm256_loadu_si256((const __m256i *)(q + 32 * full)));
            acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is), _mm256_set1_ps(s[full / 4]), acc);
        }
        y[r] = (hsum8(acc) - k0) * _cvtsh_ss(scale[r]);
    }
}

/// q8 for several vectors: per row, 4 vectors at a time share each 32-byte load of the row (K % 32 tails and
/// the last partial tile go through the mat-vec).
TV void tllm__q8_matmul_vnni(size_t K, const int8_t *w, const uint16_t *scale, size_t row0, size_t row1, const int8_t *q,
                             size_t qstride, const float *s, const int32_t *qsum, size_t sstride, size_t T, float *y, size_t ldy) {
    const __m256i bias = _mm256_set1_epi8((char)0x80);
    const size_t nB = (K + 127) / 128, full = K / 32, T4 = K % 32 ? 0 : T / 4 * 4;
    for (size_t t0 = 0; t0 < T4; t0 += 4) {
        float k0[4] = {0, 0, 0, 0};
        for (int j = 0; j < 4; j++)
            for (size_t b = 0; b < nB; b++) k0[j] += 128.0f * (float)qsum[(t0 + j) * sstride + b] * s[(t0 + j) * sstride + b];
        const int8_t *q0 = q + t0 * qstride, *q1 = q0 + qstride, *q2 = q1 + qstride, *q3 = q2 + qstride;
        const float *s0 = s + t0 * sstride, *s1 = s0 + sstride, *s2 = s1 + sstride, *s3 = s2 + sstride;
        for (size_t r = row0; r < row1; r++) {
            const int8_t *wr = w + r * K;
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            for (size_t c0 = 0; c0 < full; c0 += 4) {
                __m256i i0 = _mm256_setzero_si256(), i1 = i0, i2 = i0, i3 = i0;
                for (size_t c = c0; c < c0 + 4 && c < full; c++) {
                    const __m256i wv = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(wr + 32 * c)), bias);
                    i0 = _mm256_dpbusd_epi32(i0, wv, _mm256_loadu_si256((const __m256i *)(q0 + 32 * c)));
                    i1 = _mm256_dpbusd_epi32(i1, wv, _mm256_loadu_si256((const __m256i *)(q1 + 32 * c)));
                    i2 = _mm256_dpbusd_epi32(i2, wv, _mm256_loadu_si256((const __m256i *)(q2 + 32 * c)));
                    i3 = _mm256_dpbusd_epi32(i3, wv, _mm256_loadu_si256((const __m256i *)(q3 + 32 * c)));
                }
                a0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i0), _mm256_set1_ps(s0[c0 / 4]), a0);
                a1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i1), _mm256_set1_ps(s1[c0 / 4]), a1);
                a2 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i2), _mm256_set1_ps(s2[c0 / 4]), a2);
                a3 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i3), _mm256_set1_ps(s3[c0 / 4]), a3);
            }
            const float sc = _cvtsh_ss(scale[r]);
            y[t0 * ldy + r] = (hsum8(a0) - k0[0]) * sc;
            y[(t0 + 1) * ldy + r] = (hsum8(a1) - k0[1]) * sc;
            y[(t0 + 2) * ldy + r] = (hsum8(a2) - k0[2]) * sc;
            y[(t0 + 3) * ldy + r] = (hsum8(a3) - k0[3]) * sc;
        }
    }
    for (size_t t = T4; t < T; t++)
        tllm__q8_matvec_vnni(K, w, scale, row0, row1, q + t * qstride, s + t * sstride, qsum + t * sstride, y + t * ldy);
}
