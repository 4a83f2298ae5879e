// GGUF reader and dequantizers against independent references: every tensor of every quant-zoo and stories260K
// GGUF must equal gguf-py's dequantization in the `.ref.safetensors` beside it exactly (max |diff| = 0, compared
// as floats so -0 == 0), and stories260K-F32.gguf's header and metadata must read as llama.cpp wrote them.
// The per-file, per-type maximum differences are printed to stderr so a run can be quoted.

import Foundation
import Testing
@testable import TLLMCore

@Suite struct GGUFReferenceTests {
    /// Every GGUF in the two reference folders that has a `.ref.safetensors` beside it.
    static let referencePairs: [String] = {
        guard SharedData.available else { return [] }
        var out: [String] = []
        for dir in [SharedData.zoo, SharedData.path("models/stories260K/quant")] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
            for n in names.sorted() where n.hasSuffix(".gguf") {
                let ref = String(n.dropLast(5)) + ".ref.safetensors"
                if names.contains(ref) { out.append("\(dir)/\(n)") }
            }
        }
        return out
    }()

    static func log(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

    @Test(.enabled(if: SharedData.available))
    func referenceFilesAreAllThere() {
        // 15 quant-zoo references (zoo-F32 is its own) and 7 stories260K ones.
        #expect(Self.referencePairs.count == 22)
    }

    @Test(.enabled(if: SharedData.available), arguments: referencePairs)
    func dequantizationMatchesGGUFPyExactly(_ path: String) throws {
        let g = try GGUFFile(path: path)
        let ref = try SafetensorsFile(path: String(path.dropLast(5)) + ".ref.safetensors")
        #expect(g.tensors.count == ref.entries.count)
        var maxDiff: [GGMLType: Float] = [:], elements: [GGMLType: Int] = [:]
        let t0 = Date()
        for info in g.tensors {
            let ours = try g.floats(info)
            guard let e = ref.entry(info.name) else { Issue.record("\(info.name) missing from reference"); continue }
            let theirs = ref.tensor(e).floats()
            #expect(e.shape == info.shape, "\(info.name): shape \(info.shape) vs reference \(e.shape)")
            #expect(ours.count == theirs.count)
            var m: Float = 0, bitDiffs = 0
            for (a, b) in zip(ours, theirs) {
                let d = a == b ? 0 : (a.isNaN || b.isNaN ? Float.infinity : abs(a - b))
                m = max(m, d)
                if a.bitPattern != b.bitPattern { bitDiffs += 1 }
            }
            #expect(m == 0, "\(info.name) (\(info.type.name)): max |diff| \(m)")
            // Stricter, and true for ggml too: the same bits, -0.0 included.
            #expect(bitDiffs == 0, "\(info.name) (\(info.type.name)): \(bitDiffs) elements differ in bits")
            maxDiff[info.type] = max(maxDiff[info.type] ?? 0, m)
            elements[info.type, default: 0] += ours.count

            // tensor(): row-major shape; F32/F16/BF16 kept as stored, the rest f32; same values either way.
            let t = try g.tensor(info)
            #expect(t.shape == info.shape && t.dtype == (info.type.dtype ?? .f32))
            #expect(t.floats() == ours || ours.contains(where: \.isNaN))
        }
        let ms = Int(Date().timeIntervalSince(t0) * 1000)
        let summary = maxDiff.keys.sorted { $0.rawValue < $1.rawValue }
            .map { "\($0.name) max|diff| \(maxDiff[$0]!) (\(elements[$0]!) elements)" }.joined(separator: ", ")
        Self.log("GGUF reference \((path as NSString).lastPathComponent): \(summary); \(ms) ms")
    }

    @Test(.enabled(if: SharedData.available))
    func stories260KF32Header() throws {
        let g = try GGUFFile(path: SharedData.path("models/stories260K/stories260K-F32.gguf"))
        #expect(g.version == 3)
        #expect(g.alignment == 32 && g.dataStart % 32 == 0)
        #expect(g.value("general.architecture")?.string == "llama")
        #expect(g.value("llama.embedding_length") == .u32(64))
        #expect(g.value("llama.block_count")?.int == 5)
        #expect(g.value("llama.attention.layer_norm_rms_epsilon")?.double == Double(Float(1e-5)))
        let tokens = g.value("tokenizer.ggml.tokens")
        #expect(tokens?.array?.count == 512)
        if case let .array(elem, a)? = tokens { #expect(elem == .string && a[1] == .string("<s>")) }
        if case let .array(elem, a)? = g.value("tokenizer.ggml.scores") { #expect(elem == .f32 && a.count == 512) }
        #expect(g.value("tokenizer.ggml.bos_token_id")?.int == 1)
        #expect(g.metadata.count == 19)

        #expect(g.tensors.count == 48)
        let blocks = Set(g.tensors.compactMap { $0.name.hasPrefix("blk.") ? $0.name.split(separator: ".")[1] : nil })
        #expect(blocks == ["0", "1", "2", "3", "4"])
        #expect(g.tensors.allSatisfy { $0.type == .F32 })
        let emb = try #require(g.info("token_embd.weight"))
        #expect(emb.ne == [64, 512] && emb.shape == [512, 64] && emb.byteSize == 64 * 512 * 4)
        let down = try #require(g.info("blk.0.ffn_down.weight"))
        #expect(down.ne == [172, 64])
        let t = try g.tensor(emb)
        #expect(t.dtype == .f32 && t.shape == [512, 64])
        #expect(t.floats() == (try g.floats(emb)))

        // Plain JSON view for printing.
        #expect(g.value("llama.embedding_length")?.json == .int(64))
        #expect(g.value("tokenizer.ggml.tokens")?.json.array?[2] == .string("</s>"))
    }

    @Test func traitsTableCoversEveryType() throws {
        for t in GGMLType.allCases {
            #expect(GGMLType(name: t.name) == t)
            #expect(t.blockSize == 1 || t.blockSize == 32 || t.blockSize == QK_K)
            #expect(t.byteSize(ne: [t.blockSize * 2, 3]) == 6 * t.typeSize)
            #expect(t.byteSize(ne: [t.blockSize + 1]) == nil || t.blockSize == 1)
        }
        let supported: [GGMLType] = [.F32, .F16, .BF16, .Q8_0, .Q4_0, .Q4_1, .Q5_0, .Q5_1, .Q2_K, .Q3_K, .Q4_K, .Q5_K,
                                     .Q6_K, .TQ1_0, .TQ2_0, .IQ4_NL, .I8, .I16, .I32]
        #expect(Set(GGMLType.allCases.filter(\.canDequantize)) == Set(supported))
        // Any bytes dequantize without trapping (overflow checks are on in debug builds).
        var rng = TestRNG(seed: 7)
        for t in supported {
            let nBlocks = 3
            let bytes = (0..<(nBlocks * t.typeSize)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            var out = [Float](repeating: .nan, count: nBlocks * t.blockSize)
            bytes.withUnsafeBytes { src in
                out.withUnsafeMutableBufferPointer { t.traits.dequantize!(src.baseAddress!, $0.baseAddress!, nBlocks) }
            }
            #expect(out.count == nBlocks * t.blockSize)
        }
    }

    @Test func ternaryBlocksDecodeToTheirTrits() {
        // TQ2_0: a block whose 2-bit codes are all 2 (0b10) with d = 0.5 gives 0.5 everywhere.
        var tq2 = [UInt8](repeating: 0b1010_1010, count: 64) + [0x00, 0x38]  // f16 0.5 = 0x3800
        var out = [Float](repeating: 0, count: 256)
        tq2.withUnsafeMutableBytes { src in out.withUnsafeMutableBufferPointer { dequantizeTQ2_0(src.baseAddress!, $0.baseAddress!, 1) } }
        #expect(out.allSatisfy { $0 == 0.5 })
        // TQ1_0: byte 0 holds trits (2, 0, 1, 1, 1) as ceil(value · 256 / 243) with value = 2·81 + 0·27 + 1·9 + 1·3 + 1.
        var tq1 = [UInt8](repeating: 0, count: 54)
        tq1[0] = UInt8((175 * 256 + 242) / 243)
        tq1[52] = 0x00; tq1[53] = 0x3C  // d = 1
        tq1.withUnsafeMutableBytes { src in out.withUnsafeMutableBufferPointer { dequantizeTQ1_0(src.baseAddress!, $0.baseAddress!, 1) } }
        #expect([out[0], out[32], out[64], out[96], out[128]] == [1, -1, 0, 0, 0])
    }
}

