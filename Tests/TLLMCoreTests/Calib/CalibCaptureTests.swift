// Calibration capture on the seeded tiny model: forwardCapturing agrees bit for bit with FloatModel.forward, and
// the calib container holds exactly the documented tensors, with XᵀX, Σx², max|x| and the hidden states equal to
// what the test recomputes from the captured inputs of the train sequences alone.

import Foundation
import Testing
@testable import TLLMCore

struct CalibCaptureTests {
    @Test func captureForwardMatchesForwardBitForBit() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        for arch in ["llama", "qwen2"] {
            let c = TinyModel.config(arch: arch, tied: arch == "llama")
            let m = try FloatModel(source: try openModel(try TernaryFixtures.floatContainer(in: dir, seed: 3, config: c)), threads: 2)
            let tokens: [Int32] = [1, 7, 19, 33, 2, 40, 11, 5, 5, 9]
            var a: [[Float]] = [], b: [[Float]] = []
            var sites: [(Int, CalibSite, Int)] = []
            let z = try m.forward(tokens: tokens, logitsFrom: 3) { _, h in a.append(Array(h)) }
            let z2 = try m.forwardCapturing(tokens: tokens, logitsFrom: 3, linearInput: { l, s, x in sites.append((l, s, x.count)) }) { _, h in
                b.append(Array(h))
            }
            #expect(a == b && z == z2, "\(arch)")
            let T = tokens.count
            #expect(sites.map(\.0) == [0, 0, 0, 0, 1, 1, 1, 1] && sites.map(\.1) == CalibSite.allCases + CalibSite.allCases)
            #expect(sites.map(\.2) == [T * c.hiddenSize, T * c.qDim, T * c.hiddenSize, T * c.intermediateSize, T * c.hiddenSize,
                                       T * c.qDim, T * c.hiddenSize, T * c.intermediateSize])
        }
    }

    @Test func calibContainerHoldsTheDocumentedStatistics() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let c = TernaryFixtures.config()
        let float = try TernaryFixtures.floatContainer(in: dir)
        let path = dir.appendingPathComponent("c.tllm").path
        let xtxMax = 32  // the down input (K = 40) gets Σx² and max|x| only
        let summary = try TernaryFixtures.calib(model: float, to: path, n: 5, seqLen: 12, xtxMax: xtxMax, hiddenLayers: [1])
        #expect(summary.sequences == 5 && summary.train == 4 && summary.tokensTrain == 48)
        let seqs = TernaryFixtures.sequences(5, seqLen: 12)

        // Recompute everything from the captured inputs of the 4 train sequences.
        let m = try FloatModel(source: try openModel(float), threads: 1)
        var xtx: [String: [Double]] = [:], sumsq: [String: [Double]] = [:], absmax: [String: [Float]] = [:]
        var block = [[Float]](repeating: [Float](repeating: 0, count: c.hiddenSize), count: c.numLayers)
        var hidden: [Float] = []
        for i in 0..<5 {
            try m.forwardCapturing(tokens: Array(seqs.sequence(i)), linearInput: { l, s, x in
                guard i < 4 else { return }
                let K = s.width(c), T = x.count / K, key = s.name(layer: l)
                var h = xtx[key] ?? [Double](repeating: 0, count: K * K), q = sumsq[key] ?? [Double](repeating: 0, count: K)
                var a = absmax[key] ?? [Float](repeating: 0, count: K)
                for t in 0..<T {
                    for p in 0..<K {
                        q[p] += Double(x[t * K + p]) * Double(x[t * K + p])
                        a[p] = max(a[p], abs(x[t * K + p]))
                        for r in 0..<K { h[p * K + r] += Double(x[t * K + p]) * Double(x[t * K + r]) }
                    }
                }
                xtx[key] = h; sumsq[key] = q; absmax[key] = a
            }) { l, h in
                if i < 4 { for k in 0..<h.count { block[l][k % c.hiddenSize] = max(block[l][k % c.hiddenSize], abs(h[k])) } }
                if l == 1 { hidden += Array(h) }
            }
        }

        let cd = try CalibData(path: path)
        #expect(cd.samples == 5 && cd.seqLen == 12 && cd.config == c)
        #expect(cd.tokens() == seqs.tokens && cd.split() == [0, 0, 0, 0, 1])
        #expect(cd.metadata["tokens_train"]?.int == 48 && cd.metadata["hidden_layers"]?.array?.count == 1)
        let names = cd.container.manifest.tensors.map(\.name)
        #expect(names == CalibNames.manifestTensors(config: c, samples: 5, seqLen: 12, hiddenLayers: [1], xtxMax: xtxMax).map(\.name))
        #expect(Array(names.prefix(4)) == ["tokens", "split", "origin", "hidden.1"])
        #expect(names.contains("xtx.model.layers.0.self_attn.qkv") && !names.contains("xtx.model.layers.0.mlp.down_proj"))
        #expect(names.contains("sumsq.model.layers.1.mlp.down_proj") && names.contains("absmax.block.1"))
        #expect(cd.hidden(0) == nil)
        let h1 = try #require(cd.hidden(1))
        #expect(h1.shape == [5, 12, c.hiddenSize] && h1.floats() == hidden.map { Float(Float16($0)) })
        for l in 0..<c.numLayers {
            #expect(cd.container.tensor(named: CalibNames.blockAbsmax(l))!.floats() == block[l])
            for s in CalibSite.allCases {
                let key = s.name(layer: l), K = s.width(c)
                let mom = try #require(try cd.moments(forLinear: "model.layers.\(l).\(s == .qkv ? "self_attn.k_proj" : s == .gateUp ? "mlp.up_proj" : s.rawValue).weight"))
                #expect(mom.cols == K && (mom.xtx != nil) == (K <= xtxMax))
                for p in 0..<K { #expect(abs(Double(mom.sumsq[p]) - sumsq[key]![p]) <= 1e-5 * sumsq[key]![p] + 1e-6) }
                #expect(cd.container.tensor(named: CalibNames.absmax(l, s))!.floats() == absmax[key]!)
                if let x = mom.xtx {
                    let ref = xtx[key]!
                    let scale = ref.map(abs).max()!
                    for p in 0..<(K * K) { #expect(abs(Double(x[p]) - ref[p]) <= 1e-5 * scale) }
                    for p in 0..<K { for r in 0..<K { #expect(x[p * K + r] == x[r * K + p]) } }
                }
            }
        }
        #expect(try cd.moments(forLinear: "model.embed_tokens.weight") == nil)
    }
}
