// Helpers for the forward-pass tests: a float32 .npy reader (header parsed here, no numpy), the committed
// fixtures of scripts/reference/forward_ref.py, and max-|Δ| comparisons.

import Foundation
@testable import TLLMCore

enum ForwardFixtures {
    /// Tests/TLLMCoreTests/Fixtures/forward
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/forward")

    static func path(_ rel: String) -> String { dir.appendingPathComponent(rel).path }

    static let golden: JSON = try! JSON.parse(contentsOf: path("golden.json"))

    static let modelNames = ["qwen2-llama3", "llama-linear-tied"]

    static func ints(_ j: JSON?) -> [Int32] { (j?.array ?? []).map { Int32($0.int!) } }

    /// Long tests run in optimized builds, and in debug builds only with TLLM_SLOW_TESTS set.
    static var slowTestsEnabled: Bool {
        #if DEBUG
        return ProcessInfo.processInfo.environment["TLLM_SLOW_TESTS"] != nil
        #else
        return true
        #endif
    }

    static var verbose: Bool { ProcessInfo.processInfo.environment["TLLM_VERBOSE"] != nil }

    /// Prints a measured number when TLLM_VERBOSE is set (for reports; the tests assert regardless).
    static func note(_ s: String) {
        if verbose { FileHandle.standardError.write(Data("[forward] \(s)\n".utf8)) }
    }
}

/// A float32 little-endian C-order .npy file: (shape, values).
func readNPY(_ path: String) throws -> (shape: [Int], values: [Float]) {
    let d = try Data(contentsOf: URL(fileURLWithPath: path))
    let b = [UInt8](d)
    guard b.count >= 10, b[0] == 0x93, Array(b[1..<6]) == Array("NUMPY".utf8) else { throw TLLMError(path, "not a .npy file") }
    let major = b[6]
    let (hlen, hstart): (Int, Int) = major == 1 ? (Int(b[8]) | Int(b[9]) << 8, 10)
        : (Int(b[8]) | Int(b[9]) << 8 | Int(b[10]) << 16 | Int(b[11]) << 24, 12)
    guard hstart + hlen <= b.count, let header = String(bytes: b[hstart..<(hstart + hlen)], encoding: .ascii) else {
        throw TLLMError(path, "bad .npy header")
    }
    guard header.contains("'descr': '<f4'"), header.contains("'fortran_order': False") else {
        throw TLLMError(path, "expected little-endian float32 in C order, header \(header)")
    }
    guard let open = header.range(of: "'shape': ("), let close = header[open.upperBound...].firstIndex(of: ")") else {
        throw TLLMError(path, "no shape in header")
    }
    let shape = header[open.upperBound..<close].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    let n = shape.reduce(1, *)
    let start = hstart + hlen
    guard b.count == start + 4 * n else { throw TLLMError(path, "size \(b.count) does not match shape \(shape)") }
    var values = [Float](repeating: 0, count: n)
    values.withUnsafeMutableBytes { $0.copyBytes(from: b[start...]) }
    return (shape, values)
}

func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "sizes \(a.count) and \(b.count) differ")
    var m: Float = 0
    for i in 0..<a.count { m = max(m, abs(a[i] - b[i])) }
    return a.contains(where: { $0.isNaN }) ? .nan : m
}

/// max |a − b| / max(1, max |b|) — a relative comparison for values of any scale.
func maxRelDiff(_ a: [Float], _ b: [Float]) -> Float {
    let scale = max(1, b.map(abs).max() ?? 0)
    return maxAbsDiff(a, b) / scale
}
