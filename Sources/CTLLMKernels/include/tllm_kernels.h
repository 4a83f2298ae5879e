// Small C kernels where Swift cannot reach the hardware's speed (SWIFT-NOTES §4): x86 intrinsics with
// per-function target attributes and run-time dispatch, so the binary still runs on any x86-64 CPU.
#ifndef TLLM_KERNELS_H
#define TLLM_KERNELS_H
#include <stddef.h>
#include <stdint.h>

/// 1 when the CPU has the SHA extensions (SHA-NI), else 0.
int tllm_cpu_has_sha(void);

/// SHA-256 compression of `blocks` 64-byte blocks into `state` (8 words, big-endian word order as FIPS 180-4)
/// with the SHA-NI instructions. Call only when tllm_cpu_has_sha() is 1.
void tllm_sha256_blocks_ni(uint32_t state[8], const uint8_t *data, size_t blocks);

#endif
