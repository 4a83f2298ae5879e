// Small C kernels where Swift cannot reach the hardware's speed (SWIFT-NOTES §4): x86 intrinsics with
// per-function target attributes and run-time dispatch, so the binary still runs on any x86-64 CPU.
#ifndef TLLM_KERNELS_H
#define TLLM_KERNELS_H
#include <stddef.h>
#include <stdint.h>

/// A spin-wait hint (x86 pause; a no-op elsewhere): the worker pool's busy-wait loops call it between polls.
static inline void tllm_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/// 1 when the CPU has the SHA extensions (SHA-NI), else 0.
int tllm_cpu_has_sha(void);

/// SHA-256 compression of `blocks` 64-byte blocks into `state` (8 words, big-endian word order as FIPS 180-4)
/// with the SHA-NI instructions. Call only when tllm_cpu_has_sha() is 1.
void tllm_sha256_blocks_ni(uint32_t state[8], const uint8_t *data, size_t blocks);

// ---- Ternary weights (TLLMCore/Pack, TLLMCore/Kernels) -------------------------------------------------------
// Packed rows (byte and bit order: TLLMCore/Pack/PackedLayout.swift), activations quantized to int8 per block,
// integer dot products: scalar C, AVX2 (vpmaddubsw/vpmaddwd) and AVX-512 VNNI (vpdpbusd), picked by `level`.

/// Best kernel level this CPU runs: 0 scalar C, 1 AVX2 (+FMA, F16C), 2 AVX-512 VNNI (F, BW, VL, DQ, VNNI),
/// 3 the same with GFNI (the t2 mat-vec takes its 2-bit planes from vgf2p8affineqb).
int tllm_cpu_level(void);

/// Geometry of one packed ternary row (all counts in elements, "slots" or bytes as named).
typedef struct {
    int32_t layout;     // 2 = t2, 1 = t1
    int32_t k;          // K: inputs per row
    int32_t group;      // G (<= K)
    int32_t groups;     // nG = ceil(K / G)
    int32_t gp;         // slots per group: G rounded up to a multiple of 32
    int32_t chunk;      // C: slots per block (128 when gp % 128 == 0, else gp)
    int32_t blocks;     // nB = nG * gp / C
    int32_t row_bytes;  // bytes per packed row (a multiple of 32)
    int32_t supers;     // t1: superblocks of 5 groups, gp bytes each (t2: 0)
    int32_t t2_offset;  // first byte of the 2-bit coded part (t2: 0; t1: supers * gp)
    int32_t t2_bytes;   // bytes of the 2-bit coded part (its blocks, C / 4 bytes each)
    int32_t t2_block0;  // first block of the 2-bit coded part (t1: 5 * supers * gp / C)
} tllm_tgeom;

/// One activation vector x [K] quantized for a geometry (tllm_tact_prepare). Sizes (elements):
/// qn: nG*gp + 64; qk: units*4*W (W = tllm_unit_bytes(level); none at level 0); s: nB + 16; c, xs: nG + 16.
typedef struct {
    int8_t *qn;  // natural slot order: q = round(x / s_b), 0 in padding slots
    int8_t *qk;  // the 2-bit coded part's q in kernel order (see tllm_tact_prepare)
    float *s;    // s_b = max |x| / 127 over block b (0 past the last block)
    float *c;    // per group: sum over its blocks of s_b * (sum of q in b)
    float *xs;   // per group: sum of x (float)
} tllm_tact;

/// Bytes per SIMD unit of the 2-bit kernels at `level`: 0 (scalar), 32 (AVX2 and VNNI, both on ymm).
int tllm_unit_bytes(int level);
/// Units covering the 2-bit coded part of a row at `level`.
int tllm_units(const tllm_tgeom *g, int level);
/// Per unit: the first block its bytes touch (ubase) and, per 32-bit lane, the block offset from it (uidx,
/// W/4 entries per unit). Depends on geometry and level only.
void tllm_tplan_init(const tllm_tgeom *g, int level, int32_t *ubase, int32_t *uidx);
/// Quantizes x [K] into `a` (buffers sized as documented on tllm_tact).
void tllm_tact_prepare(const tllm_tgeom *g, int level, const float *x, tllm_tact *a);

/// y[r] for rows [row0, row1) of packed weights w (row_bytes apart) with f16 alpha, gamma [rows x nG].
/// scratch: nB + 16 floats private to the caller's thread.
void tllm_ternary_matvec(const tllm_tgeom *g, int level, const uint8_t *w, const uint16_t *alpha,
                         const uint16_t *gamma, size_t row0, size_t row1, const tllm_tact *a,
                         const int32_t *ubase, const int32_t *uidx, float *scratch, float *y);

/// Y[t * ldy + r] for rows [0, rows) of a t2 matrix (w, alpha, gamma point at its first row) and tokens
/// [0, T) (acts[t]); each unit of weights is decoded once for 4 tokens. scratch: rows * (nB + 16) + 4 * nB floats.
void tllm_t2_matmul(const tllm_tgeom *g, int level, const uint8_t *w, const uint16_t *alpha, const uint16_t *gamma,
                    size_t rows, const tllm_tact *acts, size_t T, const int32_t *ubase, const int32_t *uidx,
                    float *scratch, float *y, size_t ldy);

/// Codes of one packed row as u = T + 1 per slot (nG * gp bytes, padding slots 1).
void tllm_ternary_decode_row(const tllm_tgeom *g, const uint8_t *w, uint8_t *u);
/// Packs u = T + 1 per slot (nG * gp bytes) into one row of geometry g (row_bytes bytes, padding 0x55).
void tllm_ternary_encode_row(const tllm_tgeom *g, const uint8_t *u, uint8_t *w);
/// Re-packs rows [0, rows) of a t1 matrix (geometry g1) as t2 rows (geometry g2 of the same K and G).
void tllm_t1_to_t2_rows(const tllm_tgeom *g1, const tllm_tgeom *g2, int level, const uint8_t *w1, size_t rows, uint8_t *w2);

// ---- int8 weights with a per-row f16 scale (q8 embedding / LM head) -----------------------------------------

/// Quantizes x [K] per block of 128: q [roundup(K, 128) + 64] (zeros past K), s and qsum [ceil(K/128)].
void tllm_q8_prepare(size_t K, const float *x, int8_t *q, float *s, int32_t *qsum);
/// y[r] = scale_r * sum_b s_b * sum_{i in b} w_ri q_i for rows [row0, row1) of w [rows x K] (i8).
void tllm_q8_matvec(int level, size_t K, const int8_t *w, const uint16_t *scale, size_t row0, size_t row1,
                    const int8_t *q, const float *s, const int32_t *qsum, float *y);
/// Y[t * ldy + r] for rows [row0, row1) and T prepared vectors (vector t at q + t * qstride, s / qsum +
/// t * sstride); each 32-byte chunk of weights is loaded once for 4 vectors.
void tllm_q8_matmul(int level, size_t K, const int8_t *w, const uint16_t *scale, size_t row0, size_t row1,
                    const int8_t *q, size_t qstride, const float *s, const int32_t *qsum, size_t sstride, size_t T,
                    float *y, size_t ldy);

// ---- Shared row ranges (WorkerPool: the row-parallel mat-vec) -------------------------------------------------
// A range of rows [lo, hi) in one 64-bit word (lo in the low half). Its owner takes pieces from the front and other
// threads take them from the back once their own range is done, so each thread streams its own rows in order and
// only the last pieces move to whichever thread is free first.

static inline uint64_t tllm_range_make(uint32_t lo, uint32_t hi) { return (uint64_t)lo | ((uint64_t)hi << 32); }
/// Takes up to n rows from the front of *r; returns 0 when the range is empty, else 1 with the piece in lo, hi.
int tllm_range_take_front(uint64_t *r, uint32_t n, uint32_t *lo, uint32_t *hi);
/// Takes up to n rows from the back of *r, as tllm_range_take_front.
int tllm_range_take_back(uint64_t *r, uint32_t n, uint32_t *lo, uint32_t *hi);

// ---- 4-bit weights in blocks of 32 with an f16 scale each (q4 embedding / LM head; format: q4.c) ------------

/// Quantizes x [K] per block of 128 as tllm_q8_prepare and lays it out in the weights' kernel order, per
/// superblock m of 256: qk [256] (the activation registers of the low and high nibbles of weight register
/// r = 0…3 at 64r and 64r + 32; zeros past K), sv [8] (s_b of block j's block of 128) and cv [8]
/// (8·sv_j·Σ_{i∈j} q_i). Sizes: qk nS·256 bytes, sv and cv nS·8 floats, nS = ⌈K/256⌉.
void tllm_q4_prepare(size_t K, const float *x, int8_t *qk, float *sv, float *cv);
/// y[r] = Σ_m Σ_j d_rmj·(sv_j·Σ_{i∈j} u_ri q_i − cv_j) for rows [row0, row1) of w [rows × nS·128] (u8) with
/// d [rows × nS·8] (f16).
void tllm_q4_matvec(int level, size_t K, const uint8_t *w, const uint16_t *d, size_t row0, size_t row1,
                    const int8_t *qk, const float *sv, const float *cv, float *y);
/// Y[t * ldy + r] for rows [row0, row1) and T prepared vectors (vector t at qk + t * qstride, sv / cv +
/// t * sstride); each superblock of a row is unpacked once for 4 vectors.
void tllm_q4_matmul(int level, size_t K, const uint8_t *w, const uint16_t *d, size_t row0, size_t row1,
                    const int8_t *qk, size_t qstride, const float *sv, const float *cv, size_t sstride, size_t T,
                    float *y, size_t ldy);

// ---- Decode attention (TLLMCore/Ops/Attention.swift): one query against L cached positions ------------------
// Level 0 scalar C, ≥ 1 AVX2 + FMA. Row j of k (v) starts at k + j·ks (v + j·vs); D floats are read from each.

/// s[j] = scale · Σ_d q[d]·k_j[d] for j < L.
void tllm_attn_scores(int level, const float *q, const float *k, size_t ks, int L, int D, float scale, float *s);
/// o[d] = Σ_{j<L} p[j]·v_j[d] for d < D.
void tllm_attn_mix(int level, const float *p, const float *v, size_t vs, int L, int D, float *o);

#endif
