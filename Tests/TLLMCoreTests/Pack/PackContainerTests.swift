// tllm-pack end to end on seeded random ternary containers (tiny configs with ragged groups of 24): the packed
// manifest (no latent weights, N.t2|N.t1 with its extra, f16 α/γ, embedding and head formats f16, q8 and q4
// incl. a tied head in its own format), --unpack reproducing codes exactly, α, γ to f16 rounding and q8 / q4
// matrices dequantized, the size summary, and the executable: streaming through stdin/stdout, --json, usage errors.

import Foundation
import Testing
@testable import TLLMCore

@Suite("Pack: containers")
struct PackContainerTests {
    static let G = 24

    static func ternary(_ dir: URL, tied: Bool = false, head: Bool = false) throws -> String {
        let p = dir.appendingPathComponent("m.t.tllm").path
        try writeSyntheticTernaryContainer(config: TinyModel.config(tied: tied), path: p, groupSize: G, seed: 11,
                                           ternarizeHead: head, files: [("tokenizer.json", Array("{}\n".utf8))])
        return p
    }

    @Test(arguments: PackedLayout.allCases)
    func packAndUnpackRoundTrip(_ layout: PackedLayout) throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = try Self.ternary(dir)
        let out = dir.appendingPathComponent("m.tpk").path
        let s = try packModel(input: src, output: out, options: PackOptions(layout: layout, quiet: true))
        let input = try ContainerReader(path: src).readAll()
        let byName = Dictionary(uniqueKeysWithValues: input.map { ($0.name, $0) })
        let packed = try openContainer(out)
        #expect(packed.manifest.kind == .packed)
        #expect(packed.file(named: "tokenizer.json") == Array("{}\n".utf8))
        #expect(packed.manifest.metadata["ternary"]?["group_size"]?.int == Self.G)
        #expect(packed.manifest.metadata["pack"]?["layout"]?.string == layout.rawValue)
        let names = packed.manifest.tensors.map(\.name)
        let q = "model.layers.0.self_attn.q_proj.weight"
        #expect(!names.contains(q) && !names.contains(q + ".codes"))
        #expect(names.contains(q + "." + layout.rawValue))
        #expect(packed.tensor(named: "model.embed_tokens.weight")?.dtype == .f16)
        #expect(packed.tensor(named: "lm_head.weight")?.dtype == .f16)
        #expect(packed.tensor(named: "model.norm.weight")?.dtype == .f32)
        // Linear bits per weight: the geometry's bytes over the weights.
        var bytes = 0, params = 0
        for (n, sh) in TensorNames.expected(for: TinyModel.config()) where TernaryNames.isLinear(n, shape: sh) {
            bytes += PackedGeometry(layout: layout, cols: sh[1], groupSize: Self.G).storage(rows: sh[0]).bytes
            params += sh[0] * sh[1]
        }
        #expect(s.linearBytes == bytes && s.linearParameters == params && s.linearWeights == 14)
        #expect(s.fileBytes == (try FileManager.default.attributesOfItem(atPath: out)[.size] as? NSNumber)?.intValue)
        // Unpack: codes exact, α and γ the f16 values, latent = α·T + γ.
        let back = dir.appendingPathComponent("back.t.tllm").path
        try unpackModel(input: out, output: back, quiet: true)
        let r = try ContainerReader(path: back)
        #expect(r.manifest.kind == .ternary)
        #expect(try r.manifest.ternaryEntries(file: back).count == 14)
        for t in try r.readAll() {
            if t.name.hasSuffix(".codes") {
                #expect(t.bytes.elementsEqual(byName[t.name]!.bytes), "\(t.name)")
            } else if t.name.hasSuffix(".alpha") || t.name.hasSuffix(".gamma") {
                #expect(t.floats() == byName[t.name]!.floats().map { Float(Float16($0)) }, "\(t.name)")
            } else if t.name.hasPrefix("model.embed") || t.name == "lm_head.weight" {
                #expect(t.floats() == byName[t.name]!.floats().map { Float(Float16($0)) })
            } else if byName[t.name + ".codes"] == nil {
                #expect(t.floats() == byName[t.name]!.floats(), "\(t.name)")
            }
        }
    }

    @Test func q8FormatsAndTiedHead() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = try Self.ternary(dir, tied: true)
        let out = dir.appendingPathComponent("m.tpk").path
        let s = try packModel(input: src, output: out, options: PackOptions(layout: .t1, embed: .f16, head: .q8, quiet: true))
        let c = try openContainer(out)
        #expect(c.tensor(named: "model.embed_tokens.weight")?.dtype == .f16)
        #expect(c.tensor(named: "lm_head.weight.q8")?.dtype == .i8)
        #expect(c.tensor(named: "lm_head.weight.scale")?.shape == [48])
        #expect(s.headBytes == 48 * 32 + 48 * 2)
        // Same format for both: the tied head is not stored twice.
        let out2 = dir.appendingPathComponent("m2.tpk").path
        let s2 = try packModel(input: src, output: out2, options: PackOptions(embed: .q8, head: .q8, quiet: true))
        #expect(try openContainer(out2).manifest.tensors.filter { $0.name.hasPrefix("lm_head") }.isEmpty)
        #expect(s2.headBytes == 0 && s2.embedBytes == 48 * 32 + 48 * 2)
        let back = dir.appendingPathComponent("b.t.tllm").path
        try unpackModel(input: out, output: back, quiet: true)
        #expect(try ContainerReader(path: back).manifest.tensor(named: "lm_head.weight") == nil)
    }

    @Test func q4FormatsUnpackAndTiedHead() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = try Self.ternary(dir)
        let input = try ContainerReader(path: src).readAll()
        let byName = Dictionary(uniqueKeysWithValues: input.map { ($0.name, $0) })
        let out = dir.appendingPathComponent("m.tpk").path
        let s = try packModel(input: src, output: out, options: PackOptions(embed: .q4, head: .q4, quiet: true))
        let c = try openContainer(out)
        for n in ["model.embed_tokens.weight", "lm_head.weight"] {
            // C = 32: one superblock of 256 per row (128 bytes, 8 scales), 7 of its 8 blocks padding.
            let e = try #require(c.manifest.tensor(named: n + ".q4"))
            #expect(e.dtype == .u8 && e.shape == [48, 128] && e.extra?["k"]?.int == 32)
            #expect(c.manifest.tensor(named: n + ".scale")?.shape == [48, 8])
            #expect(c.tensor(named: n) == nil)
            let q = quantizeQ4(name: n, byName[n]!)
            #expect(Array(c.tensor(named: n + ".q4")!.bytes) == Array(q[0].bytes) && Array(c.tensor(named: n + ".scale")!.bytes) == Array(q[1].bytes))
        }
        #expect(s.embed == .q4 && s.head == .q4)
        #expect(s.embedBytes == 48 * 144 && s.headBytes == 48 * 144)
        #expect(s.embedBitsPerWeight == 36 && s.headBitsPerWeight == 36)  // 4.5 bits over K rounded up to 256
        #expect(PackedNames.q4Entries("h", rows: 32000, cols: 2048).reduce(0) { $0 + $1.byteCount } == 36_864_000)  // 4.5 bits
        #expect(c.manifest.metadata["pack"]?["embed"]?.string == "q4")
        // --unpack: the q4 matrices as d·(u − 8) in f32.
        let back = dir.appendingPathComponent("back.t.tllm").path
        try unpackModel(input: out, output: back, quiet: true)
        let unpacked = Dictionary(uniqueKeysWithValues: try ContainerReader(path: back).readAll().map { ($0.name, $0) })
        for n in ["model.embed_tokens.weight", "lm_head.weight"] {
            let want = dequantizeQ4(name: n, q4: c.tensor(named: n + ".q4")!, scale: c.tensor(named: n + ".scale")!, cols: 32)
            #expect(unpacked[n]?.dtype == .f32 && unpacked[n]?.shape == [48, 32])
            #expect(unpacked[n]?.floats() == want.floats(), "\(n)")
        }
        // Tied: an f16 embedding with a q4 head stores the head on its own; q4 for both stores it once.
        let tied = try Self.ternary(dir, tied: true)
        let out2 = dir.appendingPathComponent("t.tpk").path
        let s2 = try packModel(input: tied, output: out2, options: PackOptions(layout: .t1, embed: .f16, head: .q4, quiet: true))
        let c2 = try openContainer(out2)
        #expect(c2.tensor(named: "model.embed_tokens.weight")?.dtype == .f16)
        #expect(c2.tensor(named: "lm_head.weight.q4")?.shape == [48, 128])
        #expect(s2.headBytes == 48 * 144 && s2.embedBytes == 48 * 32 * 2)
        let out3 = dir.appendingPathComponent("t3.tpk").path
        let s3 = try packModel(input: tied, output: out3, options: PackOptions(embed: .q4, head: .q4, quiet: true))
        #expect(try openContainer(out3).manifest.tensors.filter { $0.name.hasPrefix("lm_head") }.isEmpty)
        #expect(s3.headBytes == 0 && s3.headBitsPerWeight == 0)
        let back2 = dir.appendingPathComponent("b2.t.tllm").path
        try unpackModel(input: out2, output: back2, quiet: true)
        #expect(try ContainerReader(path: back2).manifest.tensor(named: "lm_head.weight") == nil)
    }

    @Test func ternaryHead() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let plain = try Self.ternary(dir)
        #expect(throws: TLLMError.self) {
            try packModel(input: plain, output: dir.appendingPathComponent("x.tpk").path, options: PackOptions(head: .t2, quiet: true))
        }
        let src = dir.appendingPathComponent("h.t.tllm").path
        try writeSyntheticTernaryContainer(config: TinyModel.config(), path: src, groupSize: Self.G, ternarizeHead: true)
        let out = dir.appendingPathComponent("h.tpk").path
        try packModel(input: src, output: out, options: PackOptions(layout: .t1, quiet: true))  // head defaults to t2
        let c = try openContainer(out)
        #expect(c.manifest.tensor(named: "lm_head.weight.t2")?.extra?["layout"]?.string == "t2")
        #expect(c.manifest.tensor(named: "model.layers.0.mlp.up_proj.weight.t1") != nil)
        // A ternarized head written as q8 is Ŵ = α·T + γ quantized.
        let out2 = dir.appendingPathComponent("h2.tpk").path
        try packModel(input: src, output: out2, options: PackOptions(head: .q8, quiet: true))
        let c2 = try openContainer(out2)
        let hq = dequantizeQ8(name: "h", q8: c2.tensor(named: "lm_head.weight.q8")!, scale: c2.tensor(named: "lm_head.weight.scale")!).floats()
        let t = try ContainerReader(path: src).readAll()
        let ref = t.first { $0.name == "lm_head.weight" }!.floats()
        let sc = c2.tensor(named: "lm_head.weight.scale")!.floats()
        for i in 0..<ref.count { #expect(abs(hq[i] - ref[i]) <= sc[i / 32] * 0.51) }
        // And as q4: within a block's |d| (d/2, or |d| on the side clamped to +7).
        let out3 = dir.appendingPathComponent("h3.tpk").path
        try packModel(input: src, output: out3, options: PackOptions(head: .q4, quiet: true))
        let c3 = try openContainer(out3)
        let h4 = dequantizeQ4(name: "h", q4: c3.tensor(named: "lm_head.weight.q4")!, scale: c3.tensor(named: "lm_head.weight.scale")!, cols: 32).floats()
        let d4 = c3.tensor(named: "lm_head.weight.scale")!.floats()  // [48, 8]: block 0 of each row is the row
        for i in 0..<ref.count { #expect(abs(h4[i] - ref[i]) <= abs(d4[i / 32 * 8]) * 1.001) }
    }

    @Test(.enabled(if: Tool.available)) func executableStreamsAndReports() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = try Self.ternary(dir)
        let piped = dir.appendingPathComponent("p.tpk")
        let r = try Tool.run("tllm-pack", ["-", "-", "--layout", "t1", "-q"], stdin: URL(fileURLWithPath: src), stdoutTo: piped)
        #expect(r.status == 0, "\(r.stderr)")
        let file = dir.appendingPathComponent("f.tpk").path
        let j = try Tool.run("tllm-pack", [src, "-o", file, "--layout", "t1", "--json"])
        #expect(j.status == 0, "\(j.stderr)")
        let js = try JSON.parse(String(decoding: j.stdout, as: UTF8.self), file: "stdout")
        #expect(js["layout"]?.string == "t1" && js["linear_weights"]?.int == 14)
        #expect(js["file_bytes"]?.int == (try Data(contentsOf: URL(fileURLWithPath: file))).count)
        #expect(j.stderr.contains("bits/weight"))
        #expect(try Data(contentsOf: piped) == Data(contentsOf: URL(fileURLWithPath: file)), "stdin/stdout gives the same bytes")
        let q4 = try Tool.run("tllm-pack", [src, "-o", dir.appendingPathComponent("q4.tpk").path, "--embed", "q4", "--head", "q4", "--json"])
        #expect(q4.status == 0, "\(q4.stderr)")
        let j4 = try JSON.parse(String(decoding: q4.stdout, as: UTF8.self), file: "stdout")
        #expect(j4["embed"]?.string == "q4" && j4["head"]?.string == "q4" && j4["head_bits_per_weight"]?.double == 36)
        #expect(try Tool.run("tllm-pack", [src, "-o", dir.appendingPathComponent("t2.tpk").path, "--embed", "t2"]).status == 2)
        let u = try Tool.run("tllm-pack", ["--unpack", file, "-o", dir.appendingPathComponent("u.tllm").path, "-q"])
        #expect(u.status == 0, "\(u.stderr)")
        #expect(try Tool.run("tllm-pack", [src]).status == 2)
        #expect(try Tool.run("tllm-pack", [src, "-", "--json"]).status == 2)
        let bad = try Tool.run("tllm-pack", [file, "-o", dir.appendingPathComponent("x.tpk").path])
        #expect(bad.status == 1 && bad.stderr.hasPrefix("tllm-pack: error: "))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("x.tpk").path))
    }
}
