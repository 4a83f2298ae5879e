// Which implementation of the packed kernels runs: the scalar C loops, AVX2 (vpmaddubsw), AVX-512 VNNI
// (vpdpbusd) or VNNI with GFNI (the t2 mat-vec's planes by vgf2p8affineqb), detected once with
// __builtin_cpu_supports (SWIFT-NOTES §4). The binary runs on any x86-64; the tests run every level the CPU has
// against the Swift reference. TLLM_KERNEL_LEVEL=0|1|2|3 caps the level.

import CTLLMKernels
import Foundation

public enum KernelLevel: Int, CaseIterable, Comparable, Sendable, CustomStringConvertible {
    case scalar = 0, avx2 = 1, vnni = 2, vnniGFNI = 3

    /// What this CPU runs (capped by $TLLM_KERNEL_LEVEL when set).
    public static let best: KernelLevel = {
        let cpu = KernelLevel(rawValue: Int(tllm_cpu_level())) ?? .scalar
        if let s = ProcessInfo.processInfo.environment["TLLM_KERNEL_LEVEL"], let v = Int(s), let cap = KernelLevel(rawValue: v) {
            return min(cap, cpu)
        }
        return cpu
    }()

    /// Every level this CPU can run, lowest first.
    public static var supported: [KernelLevel] {
        let cpu = KernelLevel(rawValue: Int(tllm_cpu_level())) ?? .scalar
        return allCases.filter { $0 <= cpu }
    }

    public static func < (a: KernelLevel, b: KernelLevel) -> Bool { a.rawValue < b.rawValue }

    public var description: String { ["scalar", "avx2", "avx512-vnni", "avx512-vnni+gfni"][rawValue] }

    var c: Int32 { Int32(rawValue) }
}
