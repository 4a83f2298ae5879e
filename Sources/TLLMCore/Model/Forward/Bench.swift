// Speed measurement of the float forward pass in the shape of llama-bench: prompt processing (one batched
// forward of P tokens) and generation (N decode steps) in tokens/s over several repetitions, plus the memory
// read bandwidth of the machine, so decode can be stated as a fraction of its bandwidth bound
// (weight bytes read per token ÷ bandwidth). `tllm-gen --bench` prints these.

import Foundation

public struct ForwardBenchResult: Sendable {
    public var promptTokens: Int
    public var generatedTokens: Int
    /// tokens/s of each repetition.
    public var promptRates: [Double]
    public var generationRates: [Double]
    public var weightBytesPerToken: Int

    public static func median(_ x: [Double]) -> Double {
        let s = x.sorted()
        guard !s.isEmpty else { return 0 }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// Sample standard deviation (0 for fewer than two samples).
    public static func spread(_ x: [Double]) -> Double {
        guard x.count > 1 else { return 0 }
        let m = x.reduce(0, +) / Double(x.count)
        return (x.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(x.count - 1)).squareRoot()
    }
}

extension FloatModel {
    /// Times `repetitions` runs of: a batched forward of `promptTokens` tokens (skipped when 0) and `genTokens`
    /// decode steps after a 1-token prefix (skipped when 0). Token ids are seeded random; one untimed warm-up
    /// run first.
    public func benchmark(promptTokens: Int, genTokens: Int, repetitions: Int = 3, seed: UInt64 = 1) throws -> ForwardBenchResult {
        var rng = SeededRNG(seed: seed)
        let V = UInt64(config.vocabSize)
        func ids(_ n: Int) -> [Int32] { (0..<n).map { _ in Int32(rng.next() % V) } }
        var pp: [Double] = [], tg: [Double] = []
        for rep in 0...max(1, repetitions) {
            if promptTokens > 0 {
                let toks = ids(promptTokens)
                let t0 = DispatchTime.now().uptimeNanoseconds
                _ = try forward(tokens: toks, logitsFrom: promptTokens - 1)
                let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
                if rep > 0 { pp.append(Double(promptTokens) / dt) }
            }
            if genTokens > 0 {
                let cache = makeCache(capacity: genTokens + 1)
                let toks = ids(genTokens + 1)
                _ = try stepInPlace(token: toks[0], position: 0, cache: cache)
                let t0 = DispatchTime.now().uptimeNanoseconds
                for i in 1...genTokens { _ = try stepInPlace(token: toks[i], position: i, cache: cache) }
                let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
                if rep > 0 { tg.append(Double(genTokens) / dt) }
            }
        }
        return ForwardBenchResult(promptTokens: promptTokens, generatedTokens: genTokens, promptRates: pp,
                                  generationRates: tg, weightBytesPerToken: weightBytesPerToken)
    }
}

/// Keeps a benchmark's result alive: a store the optimizer cannot remove.
@inline(never) func benchSink(_ x: Float) { benchSinkValue += x }
nonisolated(unsafe) var benchSinkValue: Float = 0

/// Memory bandwidth in bytes/s: `read` sums a buffer of `bytes` with `threads` threads (what a mat-vec does),
/// `copy` is memcpy (bytes copied, each read once and written once). Best of `repetitions`.
public func measureMemoryBandwidth(bytes: Int = 1 << 30, threads: Int = FloatModel.defaultThreads,
                                   repetitions: Int = 8) -> (read: Double, copy: Double)
{
    let n = bytes / 4
    let a = UnsafeMutablePointer<Float>.allocate(capacity: n), b = UnsafeMutablePointer<Float>.allocate(capacity: n)
    defer { a.deallocate(); b.deallocate() }
    a.initialize(repeating: 1, count: n)
    b.initialize(repeating: 0, count: n)
    let pool = WorkerPool(threads: threads)
    pool.run { _ in }  // start the workers before timing
    var bestRead = 0.0, bestCopy = 0.0
    let sums = UnsafeMutablePointer<Float>.allocate(capacity: threads)
    defer { sums.deallocate() }
    for _ in 0..<repetitions {
        let t0 = DispatchTime.now().uptimeNanoseconds
        pool.run { i in
            let per = (n / threads) & ~63
            let lo = i * per, hi = i == threads - 1 ? n : lo + per
            var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
            let raw = UnsafeRawPointer(a)
            var k = lo
            while k + 32 <= hi {
                a0 += raw.loadUnaligned(fromByteOffset: 4 * k, as: SIMD8<Float>.self)
                a1 += raw.loadUnaligned(fromByteOffset: 4 * k + 32, as: SIMD8<Float>.self)
                a2 += raw.loadUnaligned(fromByteOffset: 4 * k + 64, as: SIMD8<Float>.self)
                a3 += raw.loadUnaligned(fromByteOffset: 4 * k + 96, as: SIMD8<Float>.self)
                k += 32
            }
            sums[i] = ((a0 + a1) + (a2 + a3)).sum()
        }
        let t1 = DispatchTime.now().uptimeNanoseconds
        pool.forRanges(n, align: 16) { r in
            (b + r.lowerBound).update(from: a + r.lowerBound, count: r.count)
        }
        let t2 = DispatchTime.now().uptimeNanoseconds
        // the sums and the copy must be observable, or the optimizer may drop loads it can prove unused (a build
        // without -enable-testing reported 55 GB/s where a C loop measures 34)
        var s: Float = b[n / 2]
        for i in 0..<threads { s += sums[i] }
        benchSink(s)
        bestRead = max(bestRead, Double(bytes) / (Double(t1 - t0) / 1e9))
        bestCopy = max(bestCopy, Double(bytes) / (Double(t2 - t1) / 1e9))
    }
    return (bestRead, bestCopy)
}
