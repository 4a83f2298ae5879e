// GGUF writer round trips: every metadata value type (nested arrays, NaN payloads, extreme integers) and
// F32/F16/BF16 (+ a quantized) tensor through GGUFWriter → GGUFFile; metadata through the typed JSON text form
// and back into a byte-identical GGUF; zoo-F32.gguf and a quantized zoo file rewritten byte for byte.

import Foundation
import Testing
@testable import TLLMCore

@Suite struct GGUFWriterTests {
    /// One value of every type, including the awkward ones.
    static let everyValue: [(String, GGUFValue)] = [
        ("general.architecture", .string("llama")),
        ("t.u8", .u8(255)), ("t.i8", .i8(-128)), ("t.u16", .u16(65535)), ("t.i16", .i16(-32768)),
        ("t.u32", .u32(.max)), ("t.i32", .i32(.min)), ("t.u64", .u64(.max)), ("t.u64.small", .u64(5)),
        ("t.i64", .i64(.min)), ("t.f32", .f32(0.1)), ("t.f32.neg0", .f32(-0.0)),
        ("t.f32.sub", .f32(Float(bitPattern: 1))), ("t.f32.nan", .f32(Float(bitPattern: 0x7FC0_1234))),
        ("t.f32.inf", .f32(-.infinity)), ("t.f32.max", .f32(.greatestFiniteMagnitude)),
        ("t.f64", .f64(1.0 / 3.0)), ("t.f64.nan", .f64(Double(bitPattern: 0xFFF8_0000_0000_0001))),
        ("t.bool", .bool(true)), ("t.bool.f", .bool(false)), ("t.str.empty", .string("")),
        ("t.str", .string("▁héllo 😀 \"quoted\"\n\t\\")),
        ("t.arr.u8", .array(elem: .u8, [.u8(0), .u8(255)])), ("t.arr.i8", .array(elem: .i8, [.i8(-1)])),
        ("t.arr.u16", .array(elem: .u16, [.u16(1)])), ("t.arr.i16", .array(elem: .i16, [.i16(-2)])),
        ("t.arr.u32", .array(elem: .u32, [.u32(3)])), ("t.arr.i32", .array(elem: .i32, [.i32(-4), .i32(5)])),
        ("t.arr.u64", .array(elem: .u64, [.u64(.max), .u64(0)])), ("t.arr.i64", .array(elem: .i64, [.i64(.max)])),
        ("t.arr.f32", .array(elem: .f32, [.f32(-1.5), .f32(.nan), .f32(Float(bitPattern: 0x0001_1170)), .f32(3.4e38)])),
        ("t.arr.f64", .array(elem: .f64, [.f64(-0.0), .f64(.infinity), .f64(Double.leastNonzeroMagnitude)])),
        ("t.arr.bool", .array(elem: .bool, [.bool(true), .bool(false)])),
        ("t.arr.str", .array(elem: .string, [.string("a"), .string(""), .string("<0x0A>")])),
        ("t.arr.empty", .array(elem: .f32, [])),
        ("t.arr.nested", .array(elem: .array, [
            .array(elem: .i32, [.i32(1), .i32(2)]),
            .array(elem: .string, []),
            .array(elem: .array, [.array(elem: .string, [.string("deep")])]),
        ])),
    ]

    static let tensorF32 = (0..<15).map { Float($0) * 0.25 - 1.5 }
    static let tensorF16: [UInt16] = [0x0000, 0x8000, 0x0001, 0x3C00, 0xFBFF, 0x7C00, 0x7E01]  // 0, -0, subnormal, 1, -max, inf, nan
    static let tensorBF16: [UInt16] = (0..<16).map { floatToBF16(Float($0) - 7.5) }
    static let tensorQ8: [UInt8] = (0..<68).map { UInt8(truncatingIfNeeded: $0 &* 37) }

    /// Writes everyValue and four tensors with GGUFWriter; returns the file's bytes.
    static func writeSample(to path: String, metadata: [(String, GGUFValue)] = everyValue) throws -> [UInt8] {
        let out = try AtomicOutput(path: path)
        let w = try GGUFWriter(output: out, metadata: metadata, tensors: [
            (name: "a.f32", ne: [5, 3], type: .F32), (name: "b.f16", ne: [7], type: .F16),
            (name: "c.bf16", ne: [2, 2, 2, 2], type: .BF16), (name: "d.q8", ne: [32, 2], type: .Q8_0),
        ])
        try tensorF32.withUnsafeBytes { try w.write(tensorData: $0) }
        try tensorF16.withUnsafeBytes { try w.write(tensorData: $0) }
        try tensorBF16.withUnsafeBytes { try w.write(tensorData: $0) }
        #expect(throws: TLLMError.self) { try w.finish() }
        try tensorQ8.withUnsafeBytes { try w.write(tensorData: $0) }
        try w.finish()
        #expect(throws: TLLMError.self) { try [UInt8](repeating: 0, count: 4).withUnsafeBytes { try w.write(tensorData: $0) } }
        try out.commit()
        return [UInt8](FileManager.default.contents(atPath: path)!)
    }

    @Test func everyValueTypeAndTensorTypeRoundTrips() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let p = dir.appendingPathComponent("all.gguf").path
        let bytes = try Self.writeSample(to: p)
        let g = try GGUFFile(path: p)
        #expect(g.version == 3 && g.alignment == 32 && g.dataStart % 32 == 0)
        #expect(g.metadata.map(\.0) == Self.everyValue.map(\.0))
        for ((k, a), (_, b)) in zip(g.metadata, Self.everyValue) { #expect(a == b, "\(k): \(a) vs \(b)") }
        #expect(g.tensors.map(\.name) == ["a.f32", "b.f16", "c.bf16", "d.q8"])
        #expect(g.tensors.map(\.ne) == [[5, 3], [7], [2, 2, 2, 2], [32, 2]])
        #expect(g.tensors.map(\.type) == [.F32, .F16, .BF16, .Q8_0])
        #expect(g.tensors.allSatisfy { $0.offset % 32 == 0 })
        #expect(bytes.count == g.dataStart + g.tensors.last!.offset + 96)  // 68 bytes padded to 96

        let raw = g.tensors.map { Array(g.rawBytes($0)) }
        #expect(raw[0] == Self.tensorF32.withUnsafeBytes { Array($0) })
        #expect(raw[1] == Self.tensorF16.withUnsafeBytes { Array($0) })
        #expect(raw[2] == Self.tensorBF16.withUnsafeBytes { Array($0) })
        #expect(raw[3] == Self.tensorQ8)
        let a = try g.tensor(g.tensors[0]), b = try g.tensor(g.tensors[1]), c = try g.tensor(g.tensors[2], name: "renamed")
        #expect(a.dtype == .f32 && a.shape == [3, 5] && a.floats() == Self.tensorF32)
        #expect(b.dtype == .f16 && b.shape == [7])
        #expect(c.dtype == .bf16 && c.shape == [2, 2, 2, 2] && c.name == "renamed")
        let f16 = try g.floats(g.tensors[1])
        #expect(f16[0] == 0 && f16[1].sign == .minus && f16[2] == Float(Float16(bitPattern: 1)) && f16[3] == 1)
        #expect(f16[4] == -65504 && f16[5] == .infinity && f16[6].isNaN)
        #expect(try g.floats(g.tensors[2]) == Self.tensorBF16.map(bf16ToFloat))
        let q = try g.tensor(g.tensors[3])
        #expect(q.dtype == .f32 && q.shape == [2, 32])
    }

    @Test func typedJSONRoundTripIsExact() throws {
        let j = GGUFValue.typedJSON(Self.everyValue)
        let text = j.text()
        let back = try GGUFValue.metadata(typedJSON: try JSON.parse(text, file: "meta.json"), file: "meta.json")
        #expect(back.map(\.0) == Self.everyValue.map(\.0))
        for ((k, a), (_, b)) in zip(back, Self.everyValue) { #expect(a == b, "\(k): \(a) vs \(b)") }
        // The form is the documented one, and floats print short.
        #expect(j["t.u32"] == .object([("type", "u32"), ("value", .int(Int64(UInt32.max)))]))
        #expect(j["t.u64"]?["value"] == .string("18446744073709551615"))
        #expect(j["t.f32.nan"]?["value"] == .string("0x7fc01234"))
        #expect(j["t.arr.f32"]?["elem"] == .string("f32"))
        #expect(j["t.f32"]?["value"] == .double(0.1))

        // Through JSON text and a second writer: the GGUF is byte-identical.
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let first = try Self.writeSample(to: dir.appendingPathComponent("1.gguf").path)
        let second = try Self.writeSample(to: dir.appendingPathComponent("2.gguf").path, metadata: back)
        #expect(first == second)

        // Random f32 bit patterns survive the typed text form.
        var rng = TestRNG(seed: 42)
        let floats = (0..<20000).map { _ in GGUFValue.f32(Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()))) }
        let arr = GGUFValue.array(elem: .f32, floats)
        let again = try GGUFValue(typedJSON: try JSON.parse(arr.typedJSON.text(pretty: false), file: "f"))
        #expect(again == arr)
    }

    @Test func typedJSONRejectsBadValues() throws {
        for bad in [#"{"type":"u8","value":256}"#, #"{"type":"i8","value":"x"}"#, #"{"type":"nope","value":1}"#,
                    #"{"type":"array","value":[1]}"#, #"{"type":"array","elem":"bool","value":[1]}"#,
                    #"{"type":"str","value":5}"#, #"{"type":"f32","value":"0x1"}"#, #"{"value":1}"#] {
            #expect(throws: TLLMError.self) { try GGUFValue(typedJSON: try JSON.parse(bad, file: "b"), file: "b") }
        }
    }

    @Test func writerRejectsBadInput() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        func attempt(_ meta: [(String, GGUFValue)], _ tensors: [(name: String, ne: [Int], type: GGMLType)]) throws {
            _ = try GGUFWriter(output: try AtomicOutput(path: dir.appendingPathComponent("x.gguf").path), metadata: meta, tensors: tensors)
        }
        #expect(throws: TLLMError.self) { try attempt([("a", .u8(1)), ("a", .u8(2))], []) }
        #expect(throws: TLLMError.self) { try attempt([("a", .array(elem: .u8, [.i8(1)]))], []) }
        #expect(throws: TLLMError.self) { try attempt([("general.alignment", .u32(48))], []) }
        #expect(throws: TLLMError.self) { try attempt([], [(name: "t", ne: [33], type: .Q4_0)]) }
        #expect(throws: TLLMError.self) { try attempt([], [(name: "t", ne: [1, 1, 1, 1, 1], type: .F32)]) }
        #expect(throws: TLLMError.self) { try attempt([], [(name: "t", ne: [0], type: .F32)]) }
        #expect(throws: TLLMError.self) { try attempt([], [(name: "t", ne: [1], type: .F32), (name: "t", ne: [1], type: .F32)]) }
        // A wrong-sized tensor is refused.
        let w = try GGUFWriter(output: try AtomicOutput(path: dir.appendingPathComponent("y.gguf").path), metadata: [],
                               tensors: [(name: "t", ne: [4], type: .F32)])
        #expect(throws: TLLMError.self) { try [Float](repeating: 0, count: 3).withUnsafeBytes { try w.write(tensorData: $0) } }
    }

    @Test func customAlignmentIsUsed() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let p = dir.appendingPathComponent("a64.gguf").path
        _ = try Self.writeSample(to: p, metadata: [("general.alignment", .u32(64))] + Self.everyValue)
        let g = try GGUFFile(path: p)
        #expect(g.alignment == 64 && g.dataStart % 64 == 0 && g.tensors.allSatisfy { $0.offset % 64 == 0 })
        #expect(try g.floats(g.tensors[0]) == Self.tensorF32)
    }

    /// Reads `name` and writes its metadata and tensors back with GGUFWriter.
    static func rewrite(_ src: String, to dst: String) throws -> (GGUFFile, GGUFFile) {
        let g = try GGUFFile(path: src)
        let out = try AtomicOutput(path: dst)
        let w = try GGUFWriter(output: out, metadata: g.metadata, tensors: g.tensors.map { (name: $0.name, ne: $0.ne, type: $0.type) })
        for t in g.tensors { try w.write(tensorData: g.rawBytes(t)) }
        try w.finish()
        try out.commit()
        return (g, try GGUFFile(path: dst))
    }

    @Test(.enabled(if: SharedData.available), arguments: ["zoo-F32.gguf", "zoo-Q4_K_S.gguf", "zoo-TQ1_0.gguf"])
    func zooFileRewritesIdentically(_ name: String) throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = "\(SharedData.zoo)/\(name)", dst = dir.appendingPathComponent(name).path
        let (a, b) = try Self.rewrite(src, to: dst)
        #expect(b.metadata.count == a.metadata.count)
        for ((k, x), (k2, y)) in zip(a.metadata, b.metadata) { #expect(k == k2 && x == y) }
        #expect(b.tensors == a.tensors)
        for (x, y) in zip(a.tensors, b.tensors) { #expect(Array(a.rawBytes(x)) == Array(b.rawBytes(y)), "\(x.name)") }
        // gguf-py wrote these files with the same layout, so the whole file is identical.
        let same = FileManager.default.contentsEqual(atPath: src, andPath: dst)
        #expect(same)
        GGUFReferenceTests.log("GGUF rewrite \(name): \(a.tensors.count) tensors, whole file byte-identical: \(same)")
    }
}
