// Accumulators of the calibration statistics over the train sequences (DESIGN §9): per block l and input site S
// (CalibFormat.swift) Σ x xᵀ [K × K] (sgemm with β = 1, output rows split over the pool; only for K ≤ xtxMax),
// Σ x² and max |x| per channel [K], and max |h| per channel of each block output [C]; memory: the accumulators
// alone. Then tllm-calib's summary: counts, bytes, and the top outlier channels (max |x| × the median channel).

import COpenBLAS
import Foundation

final class SiteAccumulator {
    let K: Int
    /// Σ x xᵀ [K × K] when captured.
    let xtx: UnsafeMutablePointer<Float>?
    var sumsq: [Double]
    var absmax: [Float]

    init(K: Int, full: Bool) {
        self.K = K
        xtx = full ? UnsafeMutablePointer<Float>.allocate(capacity: K * K) : nil
        xtx?.initialize(repeating: 0, count: K * K)
        sumsq = [Double](repeating: 0, count: K)
        absmax = [Float](repeating: 0, count: K)
    }

    deinit { xtx?.deallocate() }

    /// Adds X [T × K].
    func add(_ x: UnsafeBufferPointer<Float>, pool: WorkerPool) {
        let T = x.count / K, K = self.K, p = x.baseAddress!
        if let c = xtx {
            pool.forRanges(K, align: 16, parallel: T * K * K >= 1 << 18) { r in
                // C[r, :] += X[:, r]ᵀ · X
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(r.count), Int32(K), Int32(T), 1, p + r.lowerBound,
                            Int32(K), p, Int32(K), 1, c + r.lowerBound * K, Int32(K))
            }
        }
        for t in 0..<T {
            let row = p + t * K
            for k in 0..<K {
                let v = row[k]
                sumsq[k] += Double(v) * Double(v)
                absmax[k] = max(absmax[k], abs(v))
            }
        }
    }

    /// XᵀX made exactly symmetric (the two halves come from different sgemm blocks).
    func symmetricXTX() -> [Float]? {
        guard let c = xtx else { return nil }
        var out = [Float](repeating: 0, count: K * K)
        for i in 0..<K {
            for j in 0..<K { out[i * K + j] = i == j ? c[i * K + i] : (c[i * K + j] + c[j * K + i]) * 0.5 }
        }
        return out
    }
}

public final class CalibStatistics {
    public let config: ModelConfig
    public let xtxMax: Int
    /// [layer][site] in CalibSite.allCases order.
    let sites: [[SiteAccumulator]]
    /// Per block: max |h| per channel of its output [C].
    var blockAbsmax: [[Float]]
    /// Train tokens accumulated.
    public private(set) var tokens = 0
    let pool: WorkerPool

    public init(config c: ModelConfig, xtxMax: Int, pool: WorkerPool) {
        config = c
        self.xtxMax = xtxMax
        self.pool = pool
        sites = (0..<c.numLayers).map { _ in CalibSite.allCases.map { SiteAccumulator(K: $0.width(c), full: $0.width(c) <= xtxMax) } }
        blockAbsmax = Array(repeating: [Float](repeating: 0, count: c.hiddenSize), count: c.numLayers)
    }

    /// Adds the input of `site` in block `layer` for one sequence (X [T × K]).
    public func add(layer: Int, site: CalibSite, _ x: UnsafeBufferPointer<Float>) {
        let i = CalibSite.allCases.firstIndex(of: site)!
        sites[layer][i].add(x, pool: pool)
    }

    /// Adds block `layer`'s output [T × C]; counts T tokens once per sequence (on the last block).
    public func addBlock(layer: Int, _ h: UnsafeBufferPointer<Float>) {
        let C = config.hiddenSize
        for t in 0..<(h.count / C) {
            for k in 0..<C { blockAbsmax[layer][k] = max(blockAbsmax[layer][k], abs(h[t * C + k])) }
        }
        if layer == config.numLayers - 1 { tokens += h.count / C }
    }

    /// The statistics tensors in manifest order (CalibNames.manifestTensors after the hidden states).
    public func tensors() -> [Tensor] {
        var out: [Tensor] = []
        for l in 0..<config.numLayers {
            for (i, s) in CalibSite.allCases.enumerated() {
                let a = sites[l][i], K = a.K
                if let x = a.symmetricXTX() { out.append(Tensor(name: CalibNames.xtx(l, s), shape: [K, K], floats: x)) }
                out.append(Tensor(name: CalibNames.sumsq(l, s), shape: [K], floats: a.sumsq.map { Float($0) }))
                out.append(Tensor(name: CalibNames.absmax(l, s), shape: [K], floats: a.absmax))
            }
            out.append(Tensor(name: CalibNames.blockAbsmax(l), shape: [config.hiddenSize], floats: blockAbsmax[l]))
        }
        return out
    }

    /// Per-channel max |x| of (layer, site), for the outlier summary.
    func absmax(layer: Int, site: CalibSite) -> [Float] { sites[layer][CalibSite.allCases.firstIndex(of: site)!].absmax }
}

// MARK: - summary

public struct OutlierChannels: Equatable, Sendable {
    public var layer: Int
    /// "output" (the block's output) or a CalibSite raw value.
    public var site: String
    /// (channel, max |x|), largest first.
    public var top: [(channel: Int, absmax: Float)]
    public var median: Float

    public static func == (a: OutlierChannels, b: OutlierChannels) -> Bool {
        a.layer == b.layer && a.site == b.site && a.median == b.median
            && a.top.map(\.channel) == b.top.map(\.channel) && a.top.map(\.absmax) == b.top.map(\.absmax)
    }

    /// The `k` largest of `absmax` and the median.
    public init(layer: Int, site: String, absmax: [Float], k: Int = 3) {
        self.layer = layer
        self.site = site
        let order = absmax.indices.sorted { absmax[$0] > absmax[$1] || (absmax[$0] == absmax[$1] && $0 < $1) }
        top = order.prefix(k).map { ($0, absmax[$0]) }
        let s = absmax.sorted()
        median = s.isEmpty ? 0 : (s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2)
    }
}

public struct CalibSummary: Sendable {
    public var sequences: Int
    public var train: Int
    public var generated: Int
    public var seqLen: Int
    public var tokensTrain: Int
    public var bytesWritten: Int
    public var output: String
    public var outliers: [OutlierChannels]

    static func outliers(_ s: CalibStatistics) -> [OutlierChannels] {
        var out: [OutlierChannels] = []
        for l in 0..<s.config.numLayers {
            out.append(OutlierChannels(layer: l, site: "output", absmax: s.blockAbsmax[l]))
            for site in CalibSite.allCases { out.append(OutlierChannels(layer: l, site: site.rawValue, absmax: s.absmax(layer: l, site: site))) }
        }
        return out
    }

    /// The lines printed on stderr (each prefixed with the tool name by the caller).
    public func text() -> String {
        var s = "\(sequences) sequences of \(seqLen) tokens (\(train) train, \(sequences - train) held out; \(generated) generated); "
        s += "statistics over \(tokensTrain) train tokens\n"
        s += "wrote \(output) (\(Progress.format(Double(bytesWritten), "B")))\n"
        s += "top outlier channels (max |x| over train tokens, × the median channel):\n"
        for o in outliers {
            let label = "block \(o.layer) \(o.site)"
            let chans = o.top.map { c in
                String(format: "ch %d %.3g (%.1f×)", c.channel, Double(c.absmax), o.median > 0 ? Double(c.absmax / o.median) : 0)
            }
            s += "  " + label.padding(toLength: max(label.count, 26), withPad: " ", startingAt: 0) + chans.joined(separator: ", ") + "\n"
        }
        return s
    }

    /// The same facts for `tllm-calib --json`.
    public func toJSON() -> JSON {
        let o: [JSON] = outliers.map { o in
            .object([("layer", JSON(o.layer)), ("site", .string(o.site)), ("median_absmax", .double(Double(o.median))),
                     ("top", .array(o.top.map { .object([("channel", JSON($0.channel)), ("absmax", .double(Double($0.absmax)))]) }))])
        }
        return .object([("output", .string(output)), ("bytes", JSON(bytesWritten)), ("sequences", JSON(sequences)),
                        ("train", JSON(train)), ("heldout", JSON(sequences - train)), ("generated", JSON(generated)),
                        ("seq_len", JSON(seqLen)), ("train_tokens", JSON(tokensTrain)), ("outliers", .array(o))])
    }
}
