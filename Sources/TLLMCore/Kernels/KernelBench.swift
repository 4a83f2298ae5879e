// Throughput of the packed kernels in G weights/s (or G multiply-adds/s for the prompt kernel), the numbers
// behind SWIFT-NOTES §4 and the targets: `hot` repeats one matrix (it stays in L2/L3), `stream` cycles
// through enough copies to exceed the last-level cache, as decode does. Random codes; not a test, a measurement.
// Also the q8 and q4 mat-vec of the embedding / LM head (G weights/s and GB/s read).

import Foundation

public struct KernelBenchResult: Sendable {
    public var layout: PackedLayout, level: KernelLevel, threads: Int
    public var rows: Int, cols: Int, group: Int
    public var hot: Double, stream: Double
    /// Prompt kernel (T tokens at once), G multiply-adds/s.
    public var matmul: Double
    public var line: String {
        String(format: "%@ %@ %d×%d G=%d %dT: mat-vec hot %.1f Gw/s, stream %.1f Gw/s; mat-mat %.1f GMAC/s",
               layout.rawValue, level.description, rows, cols, group, threads, hot, stream, matmul)
    }
}

/// Best of `repetitions` timings of `body` (seconds).
func bestTime(_ repetitions: Int, _ body: () -> Void) -> Double {
    var best = Double.infinity
    for _ in 0..<repetitions {
        let t0 = DispatchTime.now().uptimeNanoseconds
        body()
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }
    return best
}

public func benchmarkTernaryKernels(rows N: Int, cols K: Int, group G: Int = 128, layout: PackedLayout, level: KernelLevel = .best,
                                    threads: Int, streamBytes: Int = 256 << 20, promptTokens: Int = 64) throws -> KernelBenchResult
{
    var rng = SeededRNG(seed: 7)
    let geo = PackedGeometry(layout: layout, cols: K, groupSize: G)
    let codes = (0..<(N * K)).map { _ in Int8(Int(rng.next() % 3) - 1) }
    let alpha = [Float](repeating: 0.05, count: N * geo.groups), gamma = [Float](repeating: 0.001, count: N * geo.groups)
    let p = try packTernaryWeight(name: "w", codes: codeTensor(codes, N, K), alpha: Tensor(name: "a", shape: [N, geo.groups], floats: alpha),
                                  gamma: Tensor(name: "g", shape: [N, geo.groups], floats: gamma), groupSize: G, layout: layout)
    let m = try PackedTernaryMatrix(name: "w", packed: p[0], alpha: p[1], gamma: p[2], geometry: geo)
    var mats: [PackedTernaryMatrix] = [m]
    for _ in 1..<max(2, streamBytes / m.byteCount) {  // distinct memory for each copy
        func copy(_ t: Tensor) -> Tensor { Tensor(name: t.name, dtype: t.dtype, shape: t.shape, storage: TensorStorage(copying: t.bytes)) }
        mats.append(try PackedTernaryMatrix(name: "w", packed: copy(p[0]), alpha: copy(p[1]), gamma: copy(p[2]), geometry: geo))
    }
    let pool = WorkerPool(threads: threads)
    let x = (0..<K).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 }
    let a = TernaryActivations(geometry: geo, level: level)
    let y = UnsafeMutablePointer<Float>.allocate(capacity: N * max(1, promptTokens))
    defer { y.deallocate() }
    let weights = Double(N * K)
    let hotReps = max(10, Int(2e9 / weights))
    let hot = bestTime(3) {
        for _ in 0..<hotReps { a.prepare(x); ternaryMatvec(m, a, y, pool: pool) }
    }
    let stream = bestTime(3) {
        for w in mats { a.prepare(x); ternaryMatvec(w, a, y, pool: pool) }
    }
    var mm = 0.0
    if promptTokens > 0 {
        let X = (0..<(promptTokens * K)).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 }
        let acts = TernaryActivations(geometry: geo.with(layout: .t2), level: level, capacity: promptTokens)
        let t = bestTime(3) { ternaryMatmul(X, promptTokens, m, y, pool: pool, level: level, acts: acts) }
        mm = weights * Double(promptTokens) / t / 1e9
    }
    return KernelBenchResult(layout: layout, level: level, threads: threads, rows: N, cols: K, group: G,
                             hot: weights * Double(hotReps) / hot / 1e9, stream: weights * Double(mats.count) / stream / 1e9, matmul: mm)
}

/// The embedding / LM head kernels (q8, q4) at one level: mat-vec in G weights/s and the bytes it reads in GB/s.
public struct HeadKernelBenchResult: Sendable {
    public var format: PackedFloatFormat, level: KernelLevel, threads: Int
    public var rows: Int, cols: Int
    /// Bytes one mat-vec reads (codes and scales).
    public var bytes: Int
    public var hot: Double, stream: Double
    public var line: String {
        let gbPerGw = Double(bytes) / Double(rows * cols)
        return String(format: "%@ head %@ %d×%d %dT: mat-vec hot %.1f Gw/s (%.1f GB/s), stream %.1f Gw/s (%.1f GB/s)",
                      format.rawValue, level.description, rows, cols, threads, hot, hot * gbPerGw, stream, stream * gbPerGw)
    }
}

/// Mat-vec of a q8 or q4 matrix of random weights (activation quantization included, as in decode).
public func benchmarkHeadKernels(rows N: Int, cols K: Int, format: PackedFloatFormat, level: KernelLevel = .best, threads: Int,
                                 streamBytes: Int = 256 << 20) throws -> HeadKernelBenchResult
{
    var rng = SeededRNG(seed: 7)
    let w = Tensor(name: "w", shape: [N, K], floats: (0..<(N * K)).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 })
    func copy(_ t: Tensor) -> Tensor { Tensor(name: t.name, dtype: t.dtype, shape: t.shape, storage: TensorStorage(copying: t.bytes)) }
    let pool = WorkerPool(threads: threads)
    let x = (0..<K).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 }
    let y = UnsafeMutablePointer<Float>.allocate(capacity: N)
    defer { y.deallocate() }
    var run: [() -> Void] = [], bytes = 0
    switch format {
    case .q8:
        let t = quantizeQ8(name: "w", w), a = Q8Activations(cols: K)
        bytes = try Q8Matrix(name: "w", q8: t[0], scale: t[1]).byteCount
        for _ in 0..<max(2, streamBytes / bytes) {  // distinct memory for each copy
            let m = try Q8Matrix(name: "w", q8: copy(t[0]), scale: copy(t[1]))
            run.append { a.prepare(x); q8Matvec(m, a, y, pool: pool, level: level) }
        }
    case .q4:
        let t = quantizeQ4(name: "w", w), a = Q4Activations(cols: K)
        bytes = try Q4Matrix(name: "w", q4: t[0], scale: t[1], cols: K).byteCount
        for _ in 0..<max(2, streamBytes / bytes) {
            let m = try Q4Matrix(name: "w", q4: copy(t[0]), scale: copy(t[1]), cols: K)
            run.append { a.prepare(x); q4Matvec(m, a, y, pool: pool, level: level) }
        }
    case .f16, .t2:
        throw TLLMError("", "benchmarkHeadKernels measures q8 and q4, not \(format.rawValue)")
    }
    let weights = Double(N * K), hotReps = max(10, Int(2e9 / weights))
    let hot = bestTime(3) { for _ in 0..<hotReps { run[0]() } }
    let stream = bestTime(3) { for r in run { r() } }
    return HeadKernelBenchResult(format: format, level: level, threads: threads, rows: N, cols: K, bytes: bytes,
                                 hot: weights * Double(hotReps) / hot / 1e9, stream: weights * Double(run.count) / stream / 1e9)
}

private func codeTensor(_ codes: [Int8], _ N: Int, _ K: Int) -> Tensor {
    let s = TensorStorage(count: codes.count)
    codes.withUnsafeBytes { s.mutableBytes.copyMemory(from: $0) }
    return Tensor(name: "c", dtype: .i8, shape: [N, K], storage: s)
}
