// Shared row ranges for the row-parallel kernels (tllm_kernels.h): one compare-and-swap per piece taken.
#include "tllm_kernels.h"

int tllm_range_take_front(uint64_t *r, uint32_t n, uint32_t *lo, uint32_t *hi) {
    uint64_t cur = __atomic_load_n(r, __ATOMIC_ACQUIRE);
    for (;;) {
        const uint32_t a = (uint32_t)cur, b = (uint32_t)(cur >> 32);
        if (a >= b) return 0;
        const uint32_t e = b - a > n ? a + n : b;
        if (__atomic_compare_exchange_n(r, &cur, tllm_range_make(e, b), 1, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            *lo = a;
            *hi = e;
            return 1;
        }
    }
}

int tllm_range_take_back(uint64_t *r, uint32_t n, uint32_t *lo, uint32_t *hi) {
    uint64_t cur = __atomic_load_n(r, __ATOMIC_ACQUIRE);
    for (;;) {
        const uint32_t a = (uint32_t)cur, b = (uint32_t)(cur >> 32);
        if (a >= b) return 0;
        const uint32_t s = b - a > n ? b - n : a;
        if (__atomic_compare_exchange_n(r, &cur, tllm_range_make(a, s), 1, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            *lo = s;
            *hi = b;
            return 1;
        }
    }
}
