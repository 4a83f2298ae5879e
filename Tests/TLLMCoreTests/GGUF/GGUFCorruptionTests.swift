// The GGUF reader on untrusted bytes: every truncation of a small valid file throws a TLLMError, seeded random
// byte flips parse or throw (never trap, and what parses dequantizes), and hand-made headers with absurd counts,
// lengths, dimensions and offsets throw an error whose message names the problem — before any allocation.

import Foundation
import Testing
@testable import TLLMCore

/// Little-endian byte builder for hand-made GGUF headers.
struct GGUFBytes {
    var b: [UInt8] = []
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { b.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { b.append(contentsOf: $0) } }
    mutating func str(_ s: String) { u64(UInt64(s.utf8.count)); b.append(contentsOf: s.utf8) }
    mutating func pad(_ n: Int) { b.append(contentsOf: [UInt8](repeating: 0, count: n)) }

    /// "GGUF", version, counts.
    static func header(version: UInt32 = 3, tensors: UInt64, kv: UInt64) -> GGUFBytes {
        var g = GGUFBytes()
        g.b = Array("GGUF".utf8)
        g.u32(version); g.u64(tensors); g.u64(kv)
        return g
    }

    /// A header with one tensor info `name` (ne, type id, offset); `data` bytes of data follow the aligned start.
    static func oneTensor(ne: [UInt64], type: UInt32 = 0, offset: UInt64 = 0, data: Int = 0, name: String = "blk.3.attn_q.weight") -> [UInt8] {
        var g = header(tensors: 1, kv: 0)
        g.str(name); g.u32(UInt32(ne.count)); for d in ne { g.u64(d) }
        g.u32(type); g.u64(offset)
        g.pad((32 - g.b.count % 32) % 32 + data)
        return g.b
    }
}

@Suite struct GGUFCorruptionTests {
    static func parse(_ bytes: [UInt8]) throws -> GGUFFile {
        try bytes.withUnsafeBytes { try GGUFFile(file: MappedFile(path: "bad.gguf", copying: $0)) }
    }

    /// Parses and touches everything: metadata, JSON forms, every tensor dequantized.
    static func parseAndUse(_ bytes: [UInt8]) throws {
        let g = try parse(bytes)
        _ = GGUFValue.typedJSON(g.metadata).text()
        for t in g.tensors where t.type.canDequantize { _ = try g.tensor(t).floats() }
    }

    static func expectError(_ bytes: [UInt8], _ needle: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try parse(bytes)
            Issue.record("parsed; expected an error about \"\(needle)\"", sourceLocation: sourceLocation)
        } catch let e as TLLMError {
            #expect(e.message.contains(needle), "message: \(e.message)", sourceLocation: sourceLocation)
            #expect(e.file == "bad.gguf", sourceLocation: sourceLocation)
        } catch {
            Issue.record("not a TLLMError: \(error)", sourceLocation: sourceLocation)
        }
    }

    /// A small valid file: some metadata (incl. nested arrays) and F32, F16, Q8_0, Q4_K, TQ1_0 tensors of random bytes.
    static let sample: [UInt8] = {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let p = dir.appendingPathComponent("s.gguf").path
        let out = try! AtomicOutput(path: p)
        let tensors: [(name: String, ne: [Int], type: GGMLType)] = [
            (name: "a", ne: [3, 2], type: .F32), (name: "b", ne: [5], type: .F16), (name: "c", ne: [32], type: .Q8_0),
            (name: "d", ne: [256], type: .Q4_K), (name: "e", ne: [256], type: .TQ1_0),
        ]
        let meta: [(String, GGUFValue)] = [
            ("general.architecture", .string("llama")), ("llama.block_count", .u32(1)),
            ("tokenizer.ggml.tokens", .array(elem: .string, [.string("<unk>"), .string("▁a")])),
            ("x.nested", .array(elem: .array, [.array(elem: .f32, [.f32(1)]), .array(elem: .bool, [.bool(true)])])),
        ]
        let w = try! GGUFWriter(output: out, metadata: meta, tensors: tensors)
        var rng = TestRNG(seed: 1)
        for t in tensors {
            let n = t.type.byteSize(ne: t.ne)!
            try! (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }.withUnsafeBytes { try w.write(tensorData: $0) }
        }
        try! w.finish()
        try! out.commit()
        return [UInt8](FileManager.default.contents(atPath: p)!)
    }()

    @Test func everyTruncationThrows() throws {
        let bytes = Self.sample
        let g = try Self.parse(bytes)
        let end = g.dataStart + g.tensors.map { $0.offset + $0.byteSize }.max()!
        for n in 0..<end {
            #expect(throws: TLLMError.self, "truncated to \(n) bytes") { try Self.parse(Array(bytes[0..<n])) }
        }
        // Only the zero padding after the last tensor may be cut (llama.cpp and gguf-py accept that too).
        for n in end...bytes.count { _ = try Self.parse(Array(bytes[0..<n])) }
    }

    @Test func randomByteFlipsNeverCrash() throws {
        var rng = TestRNG(seed: 2025)
        var parsed = 0, failed = 0
        for i in 0..<4000 {
            var b = Self.sample
            // Mostly the header (where the counts live), sometimes anywhere.
            let limit = i % 4 == 0 ? b.count : min(b.count, 400)
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                let at = Int(rng.next() % UInt64(limit))
                b[at] = i % 3 == 0 ? UInt8(truncatingIfNeeded: rng.next()) : b[at] ^ (1 << UInt8(rng.next() % 8))
            }
            do { try Self.parseAndUse(b); parsed += 1 } catch is TLLMError { failed += 1 }
        }
        #expect(parsed + failed == 4000)
        GGUFReferenceTests.log("GGUF fuzz: 4000 flipped files, \(parsed) parsed, \(failed) rejected with TLLMError")
    }

    @Test func absurdHeadersAreRejectedWithAReason() {
        var g = GGUFBytes.header(tensors: 1 << 62, kv: 0); g.pad(16)
        Self.expectError(g.b, "tensor count 4611686018427387904")
        g = GGUFBytes.header(tensors: 0, kv: UInt64.max); g.pad(16)
        Self.expectError(g.b, "metadata count")
        g = GGUFBytes.header(tensors: 0, kv: 1); g.u64(1 << 63); g.pad(16)
        Self.expectError(g.b, "string length 9223372036854775808")
        g = GGUFBytes.header(tensors: 0, kv: 1); g.str("k"); g.u32(8); g.u64(UInt64.max); g.pad(16)
        Self.expectError(g.b, "string length 18446744073709551615")
        g = GGUFBytes.header(tensors: 0, kv: 1); g.str("k"); g.u32(9); g.u32(4); g.u64(1 << 60); g.pad(16)
        Self.expectError(g.b, "array count 1152921504606846976")
        g = GGUFBytes.header(tensors: 0, kv: 1); g.str("k"); g.u32(13); g.pad(16)
        Self.expectError(g.b, "unknown GGUF value type 13")
        g = GGUFBytes.header(tensors: 0, kv: 1); g.str("k"); g.u32(9); g.u32(77); g.u64(0); g.pad(16)
        Self.expectError(g.b, "unknown GGUF value type 77")
        g = GGUFBytes.header(tensors: 0, kv: 1); g.str("k"); g.u32(7); g.b.append(2); g.pad(16)
        Self.expectError(g.b, "bool value 2")
        g = GGUFBytes.header(tensors: 0, kv: 1); g.str("deep"); g.u32(9)
        for _ in 0..<20 { g.u32(9); g.u64(1) }
        g.pad(16)
        Self.expectError(g.b, "nested more than 16 deep")
        g = GGUFBytes.header(tensors: 0, kv: 2); g.str("k"); g.u32(4); g.u32(1); g.str("k"); g.u32(4); g.u32(2)
        Self.expectError(g.b, "duplicate metadata key k")
        g = GGUFBytes.header(tensors: 0, kv: 1); g.str("general.alignment"); g.u32(4); g.u32(48)
        Self.expectError(g.b, "general.alignment 48 is not a power of two")
        g = GGUFBytes.header(tensors: 0, kv: 1); g.str("k"); g.u32(8); g.u64(2); g.b += [0xC3, 0x28]
        Self.expectError(g.b, "not valid UTF-8")

        Self.expectError(GGUFBytes.oneTensor(ne: Array(repeating: 1, count: 100)), "100 dimensions")
        Self.expectError(GGUFBytes.oneTensor(ne: [1 << 32, 1 << 32, 1 << 32, 1]), "overflows")
        Self.expectError(GGUFBytes.oneTensor(ne: [8, 0]), "dimension 0")
        Self.expectError(GGUFBytes.oneTensor(ne: [1 << 63]), "dimension 9223372036854775808")
        Self.expectError(GGUFBytes.oneTensor(ne: [8, 4]), "tensor blk.3.attn_q.weight extends past end of file")
        Self.expectError(GGUFBytes.oneTensor(ne: [8], offset: 1 << 40, data: 32), "extends past end of file")
        Self.expectError(GGUFBytes.oneTensor(ne: [8], offset: 4, data: 64), "offset 4 is not a multiple of the alignment 32")
        Self.expectError(GGUFBytes.oneTensor(ne: [8], type: 99, data: 32), "unknown ggml type id 99")
        Self.expectError(GGUFBytes.oneTensor(ne: [8], type: 4, data: 32), "unknown ggml type id 4")
        Self.expectError(GGUFBytes.oneTensor(ne: [33], type: 2, data: 64), "not a multiple of the Q4_0 block size 32")

        // Two tensors: same name; overlapping data.
        for (second, needle) in [("t", "duplicate tensor name t"), ("u", "tensors t and u overlap")] {
            var h = GGUFBytes.header(tensors: 2, kv: 0)
            h.str("t"); h.u32(1); h.u64(16); h.u32(0); h.u64(0)
            h.str(second); h.u32(1); h.u64(16); h.u32(0); h.u64(32)
            h.pad((32 - h.b.count % 32) % 32 + 128)
            Self.expectError(h.b, needle)
        }

        var bad = GGUFBytes.header(tensors: 0, kv: 0); bad.b[3] = UInt8(ascii: "X")
        Self.expectError(bad.b, "not a GGUF file")
        Self.expectError(GGUFBytes.header(version: 1, tensors: 0, kv: 0).b, "GGUF version 1 is not supported")
        Self.expectError(GGUFBytes.header(version: 99, tensors: 0, kv: 0).b, "unsupported GGUF version 99")
        Self.expectError(GGUFBytes.header(version: 0x0300_0000, tensors: 0, kv: 0).b, "big-endian")
        Self.expectError([], "not a GGUF file")
        Self.expectError(Array("GGUF".utf8), "truncated")

        // The minimal valid files: no tensors, and v2.
        #expect(throws: Never.self) { try Self.parse(GGUFBytes.header(tensors: 0, kv: 0).b) }
        #expect(throws: Never.self) { try Self.parse(GGUFBytes.header(version: 2, tensors: 0, kv: 0).b) }
        let ok = GGUFBytes.oneTensor(ne: [8, 4], data: 128)
        #expect(throws: Never.self) { _ = try Self.parse(ok).floats(Self.parse(ok).tensors[0]) }
    }

    @Test func undequantizableTypeIsNamed() throws {
        let g = try Self.parse(GGUFBytes.oneTensor(ne: [256], type: 16, data: 96))  // IQ2_XXS: 66 bytes
        #expect(g.tensors[0].type == .IQ2_XXS)
        do { _ = try g.floats(g.tensors[0]); Issue.record("dequantized IQ2_XXS") } catch let e as TLLMError {
            #expect(e.message.contains("IQ2_XXS"))
        }
    }
}
