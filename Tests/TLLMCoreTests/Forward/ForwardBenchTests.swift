// Manual speed harness (not a test of anything; skipped unless TLLM_BENCH_MODEL is set). Run in release:
//   TLLM_BENCH_MODEL=/path/to/hf-dir[:more] [TLLM_BENCH_STORAGE=f16] [TLLM_BENCH_THREADS=2] \
//   [TLLM_BENCH_PP=512] [TLLM_BENCH_TG=128] swift test -c release --filter ForwardBench
// Prints prompt and generation tokens/s (median ± sd) and generation as a fraction of the bandwidth bound.

import Foundation
import Testing
@testable import TLLMCore

@Suite("ForwardBench", .enabled(if: ProcessInfo.processInfo.environment["TLLM_BENCH_MODEL"] != nil))
struct ForwardBenchTests {
    @Test func bench() throws {
        let env = ProcessInfo.processInfo.environment
        let threads = Int(env["TLLM_BENCH_THREADS"] ?? "") ?? 2
        let pp = Int(env["TLLM_BENCH_PP"] ?? "") ?? 512, tg = Int(env["TLLM_BENCH_TG"] ?? "") ?? 128
        let reps = Int(env["TLLM_BENCH_REPS"] ?? "") ?? 3
        let storage = env["TLLM_BENCH_STORAGE"].flatMap { DType(rawValue: $0) }
        func say(_ s: String) { FileHandle.standardError.write(Data("[bench] \(s)\n".utf8)) }
        for path in env["TLLM_BENCH_MODEL"]!.split(separator: ":").map(String.init) {
            // Measured beside each model: on a shared machine the bound moves with the load.
            let bw = env["TLLM_BENCH_NOBW"] != nil ? (read: 1e12, copy: 1e12) : measureMemoryBandwidth(threads: threads)
            say(String(format: "memory: read %.1f GB/s, copy %.1f GB/s (%d threads)", bw.read / 1e9, bw.copy / 1e9, threads))
            let m = try FloatModel(source: try openModel(path), storage: storage, threads: threads)
            let ppN = min(pp, m.config.maxPositions), tgN = min(tg, m.config.maxPositions - 1)
            let r = try m.benchmark(promptTokens: ppN, genTokens: tgN, repetitions: reps)
            let g = ForwardBenchResult.median(r.generationRates)
            let bound = bw.read / Double(r.weightBytesPerToken)
            say(String(format: "%@ (%d params, %@, %.1f MB/token): pp%d %.1f ± %.1f t/s (best %.1f), tg%d %.2f ± %.2f t/s (best %.2f), bound %.2f t/s → median %.0f%%, best %.0f%%",
                       path, m.parameterCount, m.head.dtype.rawValue, Double(r.weightBytesPerToken) / 1e6,
                       ppN, ForwardBenchResult.median(r.promptRates), ForwardBenchResult.spread(r.promptRates), r.promptRates.max() ?? 0,
                       tgN, g, ForwardBenchResult.spread(r.generationRates), r.generationRates.max() ?? 0, bound,
                       100 * g / bound, 100 * (r.generationRates.max() ?? 0) / bound))
        }
    }
}

/// Mat-vec kernel choice (TLLM_BENCH_KERNELS=1): the SIMD kernel vs OpenBLAS sgemv on f32, rows split over the
/// pool in both cases, on matrices rotated through more memory than the caches hold (as in decode).
@Suite("ForwardBenchKernels", .enabled(if: ProcessInfo.processInfo.environment["TLLM_BENCH_KERNELS"] != nil))
struct ForwardBenchKernelTests {
    @Test func matvecVsSgemv() throws {
        func say(_ s: String) { FileHandle.standardError.write(Data("[bench] \(s)\n".utf8)) }
        for threads in [1, 2] {
            let pool = WorkerPool(threads: threads)
            for (N, K) in [(2048, 2048), (5632, 2048), (2048, 5632)] {
                let copies = max(2, (512 << 20) / (N * K * 4))
                var rng = TestRNG(1)
                let base = Tensor(name: "w", shape: [N, K], floats: rng.floats(N * K, scale: 1))
                for dtype in [DType.f32, .f16, .bf16] {
                    let ms = try (0..<copies).map { _ in try WeightMatrix(Tensor(name: "w", dtype: .f32, shape: [N, K], storage: TensorStorage(copying: base.bytes)).converted(to: dtype)) }
                    let x = rng.floats(K, scale: 1)
                    var y = [Float](repeating: 0, count: N)
                    let scratch = MatVecScratch()
                    func time(_ f: (WeightMatrix) -> Void) -> Double {
                        let reps = 3 * copies
                        let t0 = DispatchTime.now().uptimeNanoseconds
                        for r in 0..<reps { f(ms[r % copies]) }
                        return Double(reps) * Double(N * K) / (Double(DispatchTime.now().uptimeNanoseconds - t0))  // G weights/s
                    }
                    let simd = time { w in matvec(w, x, &y, pool: pool, scratch: scratch) }
                    var line = String(format: "%d threads %5d×%5d %@: SIMD %.2f Gw/s (%.1f GB/s)", threads, N, K, dtype.rawValue, simd, simd * Double(dtype.size))
                    if dtype == .f32 {
                        setBLASThreads(1)
                        let blas = time { w in
                            pool.forRanges(N, align: 16) { r in
                                x.withUnsafeBufferPointer { xp in
                                    y.withUnsafeMutableBufferPointer { yp in
                                        sgemvRows(w, r, xp.baseAddress!, yp.baseAddress!)
                                    }
                                }
                            }
                        }
                        line += String(format: ", sgemv %.2f Gw/s", blas)
                    }
                    say(line)
                }
            }
        }
    }

    /// Prefill GEMM: columns split over our pool with single-threaded sgemm vs OpenBLAS's own threads, alternating.
    @Test func gemmSplitVsBLASThreads() throws {
        func say(_ s: String) { FileHandle.standardError.write(Data("[bench] \(s)\n".utf8)) }
        let pool = WorkerPool(threads: 2)
        var rng = TestRNG(2)
        for (T, N, K) in [(512, 5632, 2048), (512, 2048, 5632), (512, 2048, 2048), (256, 64, 64), (256, 172, 64)] {
            for dtype in [DType.f32, .f16] {
                let w = try WeightMatrix(Tensor(name: "w", shape: [N, K], floats: rng.floats(N * K, scale: 1)).converted(to: dtype))
                let x = rng.floats(T * K, scale: 1)
                var y = [Float](repeating: 0, count: T * N)
                let reps = max(3, Int(2e10 / Double(2 * T * N * K)))
                var own: [Double] = [], blas: [Double] = []
                for _ in 0..<3 {
                    setBLASThreads(1)
                    var t0 = DispatchTime.now().uptimeNanoseconds
                    for _ in 0..<reps { matmul(x, T, w, &y, pool: pool) }
                    own.append(Double(reps * 2 * T * N * K) / Double(DispatchTime.now().uptimeNanoseconds - t0))
                    setBLASThreads(2)
                    t0 = DispatchTime.now().uptimeNanoseconds
                    for _ in 0..<reps { matmul(x, T, w, &y) }
                    blas.append(Double(reps * 2 * T * N * K) / Double(DispatchTime.now().uptimeNanoseconds - t0))
                }
                say(String(format: "gemm %d×%d×%d %@: pool split %.1f GFLOP/s, OpenBLAS threads %.1f GFLOP/s",
                           T, N, K, dtype.rawValue, own.max()!, blas.max()!))
            }
        }
        setBLASThreads(1)
    }
}
