// The issue-7 benchmark in one process: memory read bandwidth measured first, then for each model (a float
// container run as f16, or a packed .tpk) prompt processing (pp, one batch of P tokens) and decode (tg, N
// steps) in tokens/s, the weight bytes read per decoded token and the fraction of the bandwidth bound
// (bytes/token ÷ bandwidth = the fastest possible step) that decode reaches. Driven by scripts/pack/bench.sh.

import Foundation

public struct ModelSpeed: Sendable {
    public var name: String
    public var kind: String
    public var bytesPerToken: Int
    public var prompt: Double, promptSpread: Double
    public var decode: Double, decodeSpread: Double
    /// decode tokens/s × bytes per token ÷ bandwidth.
    public var boundFraction: Double

    public func line(promptTokens: Int, genTokens: Int) -> String {
        String(format: "%-28@ %-14@ %8.1f MB/token  pp%d %7.1f ± %5.1f t/s  tg%d %7.1f ± %5.1f t/s  %5.1f%% of bound",
               name as NSString, kind as NSString, Double(bytesPerToken) / 1e6, promptTokens, prompt, promptSpread,
               genTokens, decode, decodeSpread, 100 * boundFraction)
    }

    public func toJSON() -> JSON {
        .object([("model", .string(name)), ("kind", .string(kind)), ("bytes_per_token", JSON(bytesPerToken)),
                 ("pp_tokens_per_s", .double(prompt)), ("tg_tokens_per_s", .double(decode)),
                 ("fraction_of_bandwidth_bound", .double(boundFraction))])
    }
}

/// Runs the benchmark on every model of `paths`; `report` sees each result as it is measured.
public func benchmarkModels(paths: [String], threads: Int, promptTokens: Int = 512, genTokens: Int = 128, repetitions: Int = 3,
                            report: ((ModelSpeed) -> Void)? = nil) throws -> (bandwidth: Double, results: [ModelSpeed])
{
    let bw = measureMemoryBandwidth(bytes: 1 << 30, threads: threads).read
    var out: [ModelSpeed] = []
    for p in paths {
        let name = URL(fileURLWithPath: p).lastPathComponent
        let c = try openContainer(p)
        let r: ForwardBenchResult, kind: String
        if c.manifest.kind == .packed {
            let m = try PackedModel(container: c, threads: threads)
            let meta = c.manifest.metadata["pack"]
            kind = "\(meta?["layout"]?.string ?? "?")\(m.expandedT1 ? " as t2" : "") head \(meta?["head"]?.string ?? "?")"
            r = try m.benchmark(promptTokens: promptTokens, genTokens: genTokens, repetitions: repetitions)
        } else {
            let m = try FloatModel(source: ContainerSource(path: p), storage: .f16, threads: threads)
            kind = "float f16"
            r = try m.benchmark(promptTokens: promptTokens, genTokens: genTokens, repetitions: repetitions)
        }
        let tg = ForwardBenchResult.median(r.generationRates)
        let s = ModelSpeed(name: name, kind: kind, bytesPerToken: r.weightBytesPerToken,
                           prompt: ForwardBenchResult.median(r.promptRates), promptSpread: ForwardBenchResult.spread(r.promptRates),
                           decode: tg, decodeSpread: ForwardBenchResult.spread(r.generationRates),
                           boundFraction: tg * Double(r.weightBytesPerToken) / bw)
        report?(s)
        out.append(s)
    }
    return (bw, out)
}
