// Fixtures for the container tests: a small model-like set of tensors of every dtype (including
// empty and scalar shapes and a name long enough to need a pax header), helpers to write and read whole
// containers, to run external tools, and a hand-made ustar header builder for malformed archives.

import Foundation
import Testing
@testable import TLLMCore

enum Fixture {
    /// A tensor of random bytes (any bit pattern is a valid value for the round trip).
    static func tensor(_ name: String, _ dtype: DType, _ shape: [Int], _ rng: inout TestRNG) -> Tensor {
        let s = TensorStorage(count: byteCount(shape, dtype)!)
        let b = s.mutableBytes
        for i in 0..<b.count { b[i] = UInt8.random(in: 0...255, using: &rng) }
        return Tensor(name: name, dtype: dtype, shape: shape, storage: s)
    }

    /// Tensors of every dtype; `large` adds one of about 300 kB (crosses libarchive's block size).
    static func tensors(seed: UInt64 = 1, large: Bool = true) -> [Tensor] {
        var rng = TestRNG(seed: seed)
        var ts = [
            tensor("model.embed_tokens.weight", .f32, [3, 5], &rng),
            tensor("model.layers.0.self_attn.q_proj.weight", .f16, [7], &rng),
            tensor("model.layers.0.mlp.down_proj.weight", .bf16, [2, 3, 4], &rng),
            tensor("empty", .i8, [0], &rng),
            tensor("empty2d", .f16, [4, 0], &rng),
            tensor("scalar", .u8, [], &rng),
            tensor("tokens", .i32, [4, 1], &rng),
            tensor("model.layers.0." + String(repeating: "long_name.", count: 12) + "weight", .f32, [2, 2], &rng),
        ]
        if large { ts.append(tensor("lm_head.weight", .f32, [300, 257], &rng)) }
        return ts
    }

    static let files: [(name: String, bytes: [UInt8])] = [
        ("tokenizer.json", Array(#"{"model": {"type": "BPE"}}"#.utf8)),
        ("source/tokenizer_config.json", Array(#"{"bos_token": "<s>"}"#.utf8)),
    ]

    static func manifest(_ ts: [Tensor], kind: ContainerKind = .float) -> Manifest {
        Manifest(kind: kind, producer: "tllm-test 0", config: .object([("hidden_size", 5), ("rope_theta", 10000.5)]),
                 tensors: ts.map { ManifestTensor($0, extra: $0.name == "tokens" ? .object([("layout", "t2")]) : nil) },
                 metadata: .object([("note", "fixture")]))
    }

    /// Writes a whole container to `path` (compression from the suffix unless given).
    static func write(_ path: String, _ ts: [Tensor], compression: ContainerCompression? = nil) throws {
        let w = try ContainerWriter(path: path, manifest: manifest(ts), files: files, compression: compression)
        for t in ts { try w.write(t) }
        try w.finish()
    }

    /// The bytes of a small uncompressed container (for truncation and fuzzing).
    static func smallContainer(compression: ContainerCompression = .none) throws -> [UInt8] {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let p = dir.appendingPathComponent("small.tllm").path
        try write(p, tensors(seed: 7, large: false), compression: compression)
        return Array(try Data(contentsOf: URL(fileURLWithPath: p)))
    }

    /// Checks that `got` equals `want` in name, dtype, shape and bytes.
    static func expectSame(_ got: [Tensor], _ want: [Tensor]) {
        #expect(got.count == want.count)
        for (g, w) in zip(got, want) {
            #expect(g.name == w.name)
            #expect(g.dtype == w.dtype)
            #expect(g.shape == w.shape)
            #expect(Array(g.bytes) == Array(w.bytes), "bytes of \(w.name)")
        }
    }
}

/// Runs `body`, expecting a TLLMError whose description contains `text`.
func expectError(_ text: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected an error containing \"\(text)\"", sourceLocation: sourceLocation)
    } catch let e as TLLMError {
        #expect(text.isEmpty || e.description.contains(text), "error was: \(e.description)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected a TLLMError, got \(error)", sourceLocation: sourceLocation)
    }
}

/// True when `body` succeeds or throws a TLLMError (anything else is a bug; a crash ends the test run).
func endsCleanly(_ body: () throws -> Void) -> Bool {
    do { try body(); return true } catch is TLLMError { return true } catch { return false }
}

/// Runs an external tool; returns its exit status and standard output.
func runTool(_ exe: String, _ args: [String], cwd: URL? = nil) throws -> (status: Int32, out: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exe)
    p.arguments = args
    if let cwd { p.currentDirectoryURL = cwd }
    let pipe = Pipe()
    p.standardOutput = pipe
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// Files in `dir` (to check that failed writes leave nothing, temporaries included).
func listing(_ dir: URL) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted()
}

/// A ustar header block for a hand-made archive; sizes of 8 GiB and more use GNU base-256.
func ustarHeader(name: String, size: Int, type: UInt8 = UInt8(ascii: "0")) -> [UInt8] {
    var h = [UInt8](repeating: 0, count: 512)
    func put(_ s: String, _ at: Int) { for (i, c) in s.utf8.enumerated() { h[at + i] = c } }
    put(name, 0)
    put("0000644", 100); put("0000000", 108); put("0000000", 116)
    if size < 1 << 33 {
        let o = String(size, radix: 8)
        put(String(repeating: "0", count: 11 - o.count) + o, 124)
    } else {
        h[124] = 0x80
        for i in 0..<8 { h[135 - i] = UInt8(truncatingIfNeeded: size >> (8 * i)) }
    }
    put("00000000000", 136)
    h[156] = type
    put("ustar", 257); put("00", 263)
    for i in 148..<156 { h[i] = 0x20 }
    let sum = h.reduce(0) { $0 + Int($1) }
    put(String(format: "%06o", sum), 148)
    h[154] = 0
    return h
}

/// `bytes` padded with zeros to a multiple of 512.
func padded(_ bytes: [UInt8]) -> [UInt8] { bytes + [UInt8](repeating: 0, count: (512 - bytes.count % 512) % 512) }

/// A MappedContainer over bytes in memory, decompressed if needed (as openContainer does for stdin).
func mappedContainer(_ bytes: [UInt8], name: String = "mem.tllm") throws -> MappedContainer {
    let b = HeapBuffer(name: name)
    try bytes.withUnsafeBytes { try b.append($0) }
    return try openContainer(buffer: b)
}
