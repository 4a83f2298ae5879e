import Foundation
import Testing
@testable import TLLMCore

@Suite struct SafetensorsTests {
    /// A small valid safetensors file's bytes.
    static func smallFile() throws -> [UInt8] {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let p = dir.appendingPathComponent("a.safetensors").path
        let out = try AtomicOutput(path: p)
        let ts = [Tensor(name: "w", shape: [2, 3], floats: [1, 2, 3, 4, 5, 6]),
                  Tensor(name: "b", shape: [3], floats: [-1, 0, 1]).converted(to: .bf16)]
        let w = try SafetensorsWriter(output: out, tensors: ts.map { TensorInfo(name: $0.name, dtype: $0.dtype, shape: $0.shape) },
                                      metadata: [("format", "pt")])
        for t in ts { try w.write(t) }
        try w.finish()
        try out.commit()
        return [UInt8](FileManager.default.contents(atPath: p)!)
    }

    static func parse(_ bytes: [UInt8]) throws -> SafetensorsFile {
        try bytes.withUnsafeBytes { try SafetensorsFile(file: MappedFile(path: "x.safetensors", copying: $0)) }
    }

    @Test func writerOutputReadsBack() throws {
        let f = try Self.parse(try Self.smallFile())
        #expect(f.entries.map(\.name) == ["w", "b"])
        #expect(try f.tensor(named: "w").floats() == [1, 2, 3, 4, 5, 6])
        #expect(try f.tensor(named: "b").floats() == [-1, 0, 1])
        #expect(f.metadata.first?.1 == "pt")
        #expect(f.dataStart % 8 == 0)
    }

    @Test func everyTruncationIsAnError() throws {
        let bytes = try Self.smallFile()
        for n in 0..<bytes.count {
            #expect(throws: TLLMError.self) { try Self.parse(Array(bytes[0..<n])) }
        }
    }

    @Test func randomByteFlipsNeverCrash() throws {
        let bytes = try Self.smallFile()
        var rng = TestRNG(7)
        var parsed = 0, rejected = 0
        for _ in 0..<3000 {
            var b = bytes
            for _ in 0..<(1 + Int(rng.next() % 3)) {
                b[Int(rng.next() % UInt64(b.count))] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
            }
            do { _ = try Self.parse(b); parsed += 1 } catch is TLLMError { rejected += 1 }
        }
        #expect(parsed + rejected == 3000)
        #expect(rejected > 0)
    }

    static func withHeader(_ json: String, data: Int = 0) -> [UInt8] {
        var h = Array(json.utf8)
        var out: [UInt8] = []
        withUnsafeBytes(of: UInt64(h.count).littleEndian) { out += $0 }
        out += h
        h = [UInt8](repeating: 0, count: data)
        return out + h
    }

    @Test(arguments: [
        (#"{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}"#, 4, "past end of file"),
        (#"{"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}"#, 8, "8 bytes of data for shape"),
        (#"{"w": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]}}"#, 8, "unsupported dtype F64"),
        (#"{"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}"#, 8, "reversed"),
        (#"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}"#, 12, "overlap"),
        (#"{"w": {"dtype": "F32", "shape": [4611686018427387904, 4], "data_offsets": [0, 8]}}"#, 8, "bytes of data for shape"),
        (#"{"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 8]}}"#, 8, "bad shape"),
        (#"{"w": "#, 8, "malformed JSON"),
        (#"[1, 2]"#, 0, "not a JSON object"),
    ])
    func badHeadersAreNamed(json: String, data: Int, expected: String) throws {
        do {
            _ = try Self.parse(Self.withHeader(json, data: data))
            Issue.record("accepted a bad header: \(json)")
        } catch let e as TLLMError {
            #expect(e.description.contains(expected), "\(e)")
            #expect(e.description.hasPrefix("x.safetensors: "))
        }
    }

    @Test func absurdHeaderLengthDoesNotAllocate() throws {
        var b: [UInt8] = []
        withUnsafeBytes(of: UInt64.max.littleEndian) { b += $0 }
        b += Array("{}".utf8)
        #expect(throws: TLLMError.self) { try Self.parse(b) }
    }
}
