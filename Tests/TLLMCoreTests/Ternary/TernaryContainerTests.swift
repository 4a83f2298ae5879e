// The ternary container of tllm-ternarize (TernaryContainer.swift) and its reader TernarySource: layout and
// names exactly as decided, latent weights untouched, Ŵ = α·T + γ back through TernarySource, FloatModel on a
// ternary container, byte-identical output for any thread count, --skip and --dtype, refit with a calib.

import Foundation
import Testing
@testable import TLLMCore

struct TernaryContainerTests {
    @Test func layoutMetadataAndLatentWeights() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let float = try TernaryFixtures.floatContainer(in: dir)
        let out = dir.appendingPathComponent("t.tllm").path
        var o = TernarizeOptions()
        o.groupSize = 16
        o.skip = ["model.layers.1.mlp.*"]
        let r = try ternarizeModel(input: float, output: out, options: o)
        #expect(r.reports.count == 14 - 3 && r.skipped.count == 3)

        let f = try openContainer(float), t = try openContainer(out)
        #expect(t.manifest.kind == .ternary && t.manifest.config == f.manifest.config)
        let meta = try #require(t.manifest.metadata["ternary"])
        #expect(meta["group_size"]?.int == 16 && meta["init"]?.string == "dlt" && meta["refit"]?.string == "none")
        #expect(meta["skipped"]?.array?.compactMap(\.string) == ["model.layers.1.mlp.gate_proj.weight", "model.layers.1.mlp.up_proj.weight",
                                                                 "model.layers.1.mlp.down_proj.weight"])
        #expect(meta["report"]?.array?.count == 11)
        #expect(t.fileNames == f.fileNames)
        var expected: [String] = []
        for m in f.manifest.tensors {
            expected.append(m.name)
            if TernaryNames.isLinear(m.name, shape: m.shape), !m.name.hasPrefix("model.layers.1.mlp.") {
                expected += [m.name + ".codes", m.name + ".alpha", m.name + ".gamma"]
            }
        }
        #expect(t.manifest.tensors.map(\.name) == expected)
        let entries = try t.manifest.ternaryEntries(file: out)
        #expect(entries.count == 11)
        for e in entries {
            let w = try #require(f.tensor(named: e.name)), latent = try #require(t.tensor(named: e.name))
            #expect(latent.dtype == .f32 && latent.floats() == w.floats(), "latent \(e.name) must be the float weight")
            let codes = try #require(t.manifest.tensor(named: e.name + ".codes"))
            #expect(codes.dtype == .i8 && codes.shape == w.shape && codes.extra?["group_size"]?.int == 16)
            let nG = (e.cols + 15) / 16
            for s in [".alpha", ".gamma"] {
                let m = try #require(t.manifest.tensor(named: e.name + s))
                #expect(m.dtype == .f32 && m.shape == [e.rows, nG])
            }
            // The stored weight is what DLTQuantizer gives for that matrix.
            let (tw, _) = DLTQuantizer(method: .dlt, groupSize: 16).quantize(w.floats(), rows: e.rows, cols: e.cols)
            #expect(t.tensor(named: e.name + ".codes")!.bytes.elementsEqual(tw.codes.map { UInt8(bitPattern: $0) }))
            #expect(t.tensor(named: e.name + ".alpha")!.floats() == tw.alpha && t.tensor(named: e.name + ".gamma")!.floats() == tw.gamma)
        }
        for m in f.manifest.tensors where !entries.contains(where: { $0.name == m.name }) {
            #expect(t.tensor(named: m.name)!.bytes.elementsEqual(f.tensor(named: m.name)!.bytes), "\(m.name) must pass through")
        }
    }

    @Test func ternarySourceYieldsDequantizedWeightsAndRuns() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let float = try TernaryFixtures.floatContainer(in: dir)
        let out = dir.appendingPathComponent("t.tllm.zst").path  // compressed: the streaming reader copes
        var o = TernarizeOptions()
        o.groupSize = 16
        try ternarizeModel(input: float, output: out, options: o)
        let fs = try openModel(float)
        let ts = try TernarySource(path: out)
        #expect(ts.tensorInfos.map(\.name) == fs.tensorInfos.map(\.name))
        #expect(ts.tensorInfos.map(\.shape) == fs.tensorInfos.map(\.shape))
        #expect(ts.config == fs.config && ts.entries.count == 14)
        let mapped = try openContainer(out)
        var n = 0
        while let t = try ts.nextTensor() {
            if let e = ts.entries.first(where: { $0.name == t.name }) {
                let tw = try TernaryWeight(name: e.name, codes: mapped.tensor(named: e.name + ".codes")!, alpha: mapped.tensor(named: e.name + ".alpha")!,
                                           gamma: mapped.tensor(named: e.name + ".gamma")!, groupSize: e.groupSize)
                #expect(t.floats() == tw.dequantizedTensor(name: e.name).floats())
                n += 1
            }
        }
        #expect(n == 14)
        let latent = try TernarySource(path: out, weights: .latent)
        let reference = try FloatModel(source: try openModel(float))
        let fromLatent = try FloatModel(source: latent)
        let tokens: [Int32] = [1, 5, 9, 30, 2, 17, 44, 3]
        #expect(try fromLatent.forward(tokens: tokens) == reference.forward(tokens: tokens))
        let ternary = try FloatModel(source: try TernarySource(path: out), threads: 2)
        let z = try ternary.forward(tokens: tokens), zf = try reference.forward(tokens: tokens)
        #expect(z.allSatisfy { $0.isFinite } && z != zf)
    }

    @Test func outputIsByteIdenticalForAnyThreadCount() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let float = try TernaryFixtures.floatContainer(in: dir)
        let calib = dir.appendingPathComponent("c.tllm").path
        try TernaryFixtures.calib(model: float, to: calib)
        var bytes: [Data] = []
        for threads in [1, 3, 1] {
            let out = dir.appendingPathComponent("t\(bytes.count).tllm").path
            var o = TernarizeOptions()
            o.groupSize = 16
            o.calib = calib
            o.threads = threads
            try ternarizeModel(input: float, output: out, options: o)
            bytes.append(try Data(contentsOf: URL(fileURLWithPath: out)))
        }
        #expect(bytes[0] == bytes[1] && bytes[1] == bytes[2])
        // Refitting a ternary container starts from its latent weights: the same file as from the float model.
        let again = dir.appendingPathComponent("again.tllm").path
        var o = TernarizeOptions()
        o.groupSize = 16
        o.calib = calib
        try ternarizeModel(input: dir.appendingPathComponent("t0.tllm").path, output: again, options: o)
        #expect(try Data(contentsOf: URL(fileURLWithPath: again)) == bytes[0])
    }

    @Test func refitWithCalibLowersTheOutputErrorOfEveryLayer() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let float = try TernaryFixtures.floatContainer(in: dir)
        for (xtxMax, mode) in [(4096, "xtx"), (0, "diag")] {
            let calib = dir.appendingPathComponent("c\(xtxMax).tllm").path
            try TernaryFixtures.calib(model: float, to: calib, xtxMax: xtxMax)
            var o = TernarizeOptions()
            o.groupSize = 16
            o.calib = calib
            let r = try ternarizeModel(input: float, output: dir.appendingPathComponent("r\(xtxMax).tllm").path, options: o)
            #expect(r.metadata["refit"]?.string == "calib" && r.reports.count == 14)
            for l in r.reports {
                let (a, b) = (try #require(l.outputErrorInit), try #require(l.outputErrorRefit))
                #expect(b <= a, "\(l.name): refit raised the output error \(a) → \(b)")
                #expect(l.refitMode == mode)
            }
            #expect(r.reports.contains { $0.outputErrorRefit! < $0.outputErrorInit! * 0.99 })
        }
    }

    @Test func floatDTypeFlagAndPerRowGroups() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let float = try TernaryFixtures.floatContainer(in: dir)
        let out = dir.appendingPathComponent("t.tllm").path
        var o = TernarizeOptions()
        o.groupSize = 0
        o.method = .absmean
        o.floatDType = .f16
        let r = try ternarizeModel(input: float, output: out, options: o)
        #expect(r.metadata["group_size"]?.int == 0 && r.metadata["init"]?.string == "absmean")
        let t = try openContainer(out)
        for m in t.manifest.tensors {
            if m.name.hasSuffix(".codes") {
                #expect(m.extra?["group_size"]?.int == m.shape[1])  // per row: G = K
            } else if t.manifest.tensor(named: m.name + ".codes") != nil || m.name.hasSuffix(".alpha") || m.name.hasSuffix(".gamma") {
                #expect(m.dtype == .f32)
            } else {
                #expect(m.dtype == .f16, "\(m.name)")
            }
        }
        for e in try t.manifest.ternaryEntries(file: out) {
            #expect(t.manifest.tensor(named: e.name + ".alpha")!.shape == [e.rows, 1])
            #expect(t.tensor(named: e.name + ".gamma")!.floats().allSatisfy { $0 == 0 })  // absmean has no shift
        }
    }

    @Test func badInputsGiveClearErrorsAndNoOutput() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let float = try TernaryFixtures.floatContainer(in: dir)
        // A calibration captured from another architecture.
        var other = TinyModel.config()
        other.intermediateSize = 48
        let otherFloat = try TernaryFixtures.floatContainer(in: dir, seed: 2, config: other)
        let calib = dir.appendingPathComponent("other.calib.tllm").path
        try TernaryFixtures.calib(model: otherFloat, to: calib)
        let out = dir.appendingPathComponent("t.tllm").path
        var o = TernarizeOptions()
        o.calib = calib
        #expect {
            try ternarizeModel(input: float, output: out, options: o)
        } throws: { e in
            (e as? TLLMError)?.description.contains("was captured from a different model") == true
                && (e as? TLLMError)?.description.contains("intermediate_size") == true
        }
        #expect(!FileManager.default.fileExists(atPath: out))
        // A float container given as calibration.
        o.calib = float
        #expect(throws: TLLMError.self) { try ternarizeModel(input: float, output: out, options: o) }
        #expect(!FileManager.default.fileExists(atPath: out))
        // TernarySource on a float container, and a code that is not a trit.
        #expect(throws: TLLMError.self) { try TernarySource(path: float) }
        let bad = [UInt8(1), 2].withUnsafeBytes { Tensor(name: "c", dtype: .i8, shape: [1, 2], storage: TensorStorage(copying: $0)) }
        #expect {
            try TernaryWeight(name: "w", codes: bad, alpha: Tensor(name: "a", shape: [1, 1], floats: [1]),
                              gamma: Tensor(name: "g", shape: [1, 1], floats: [0]), groupSize: 2)
        } throws: { ($0 as? TLLMError)?.message.contains("code 2 at row 0, column 1") == true }
    }
}
