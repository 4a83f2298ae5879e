// The packed layouts against their documented byte and bit order: exact pack/unpack round trips at every test
// shape (ragged groups, G not a multiple of 32, G = K), the t1 digit decoding for all 243 byte values, row
// sizes and bits per weight, and the tensor-level pack/unpack (codes exact, α and γ to f16 rounding).

import Foundation
import CTLLMKernels
import Testing
@testable import TLLMCore

@Suite("Pack: layouts")
struct PackLayoutTests {
    @Test(arguments: PackedLayout.allCases)
    func roundTripIsExact(_ layout: PackedLayout) throws {
        for (i, s) in PackTestData.shapes.enumerated() {
            let w = PackTestData.weight(rows: s.rows, cols: s.cols, group: s.group, seed: UInt64(10 + i))
            let m = try PackTestData.matrix(w, layout)
            #expect(m.geometry.rowBytes % 32 == 0)
            var same = true
            for r in 0..<w.rows where m.codes(row: r) != Array(w.codes[(r * w.cols)..<((r + 1) * w.cols)]) { same = false }
            #expect(same, "\(layout) \(s): codes must round-trip exactly")
        }
    }

    @Test func t1RepacksAsT2Exactly() throws {
        // The prompt kernel re-packs t1 rows as t2 (SIMD for blocks of 128, scalar otherwise): byte-identical.
        for (i, s) in PackTestData.shapes.enumerated() {
            let w = PackTestData.weight(rows: s.rows, cols: s.cols, group: s.group, seed: UInt64(40 + i))
            let m1 = try PackTestData.matrix(w, .t1), m2 = try PackTestData.matrix(w, .t2)
            var g1 = m1.geometry.c, g2 = m2.geometry.c
            for level in KernelLevel.supported {
                var out = [UInt8](repeating: 0, count: s.rows * m2.geometry.rowBytes)
                tllm_t1_to_t2_rows(&g1, &g2, level.c, m1.packed, s.rows, &out)
                #expect(out.elementsEqual(UnsafeBufferPointer(start: m2.packed, count: out.count)), "\(s) \(level)")
            }
        }
    }

    @Test func t1DigitsDecodeEveryByteValue() {
        // Five groups of 32 (one superblock, no tail): slot j of group n gets digit n of v = j + 32·(…).
        let geo = PackedGeometry(layout: .t1, cols: 160, groupSize: 32)
        #expect(geo.superblocks == 1 && geo.t2Bytes == 0 && geo.rowBytes == 32)
        for base in stride(from: 0, to: 243, by: 32) {
            var codes = [Int8](repeating: 0, count: 160)
            for j in 0..<32 {
                var v = min(242, base + j)
                for n in (0..<5).reversed() {
                    codes[n * 32 + j] = Int8(v % 3) - 1
                    v /= 3
                }
            }
            var row = [UInt8](repeating: 0, count: 32)
            codes.withUnsafeBufferPointer { c in row.withUnsafeMutableBufferPointer { geo.pack(codes: c.baseAddress!, into: $0.baseAddress!) } }
            for j in 0..<32 {  // the stored byte is ⌈256·v/243⌉
                let v = min(242, base + j)
                #expect(Int(row[j]) == (v * 256 + 242) / 243)
            }
            var back = [Int8](repeating: 9, count: 160)
            row.withUnsafeBufferPointer { r in back.withUnsafeMutableBufferPointer { geo.unpack(row: r.baseAddress!, into: $0.baseAddress!) } }
            #expect(back == codes)
        }
    }

    @Test func t2BitOrderIsAsDocumented() {
        // K = 128, G = 128: byte j holds slots j, j+32, j+64, j+96 in bits 0-1, 2-3, 4-5, 6-7, as u = T + 1.
        let geo = PackedGeometry(layout: .t2, cols: 128, groupSize: 128)
        var codes = [Int8](repeating: 0, count: 128)
        codes[33] = 1  // byte 1, bits 2-3 → u = 2
        codes[96] = -1  // byte 0, bits 6-7 → u = 0
        var row = [UInt8](repeating: 0, count: geo.rowBytes)
        codes.withUnsafeBufferPointer { c in row.withUnsafeMutableBufferPointer { geo.pack(codes: c.baseAddress!, into: $0.baseAddress!) } }
        #expect(row[0] == 0b00_01_01_01)
        #expect(row[1] == 0b01_01_10_01)
        #expect(row[2..<32].allSatisfy { $0 == 0x55 })
    }

    @Test func sizesAndBitsPerWeight() {
        let t2 = PackedGeometry(layout: .t2, cols: 2048, groupSize: 128), t1 = t2.with(layout: .t1)
        #expect(t2.rowBytes == 512 && t2.blocks == 16)
        #expect(t1.superblocks == 3 && t1.t2Offset == 384 && t1.t2Bytes == 32 && t1.rowBytes == 416)
        #expect(abs(t2.storage(rows: 10).bitsPerWeight - 2.25) < 1e-9)
        #expect(abs(t1.storage(rows: 10).bitsPerWeight - (416.0 * 8 + 32 * 16) / 2048) < 1e-9)
        let ffn = PackedGeometry(layout: .t1, cols: 5632, groupSize: 128)  // 44 groups: 8 superblocks + 4
        #expect(ffn.rowBytes == 8 * 128 + 4 * 32)
        let ragged = PackedGeometry(layout: .t2, cols: 172, groupSize: 128)
        #expect(ragged.groups == 2 && ragged.paddedGroup == 128 && ragged.slot(ofColumn: 171) == 128 + 43)
        let odd = PackedGeometry(layout: .t2, cols: 300, groupSize: 300)
        #expect(odd.paddedGroup == 320 && odd.blockSize == 320 && odd.blocks == 1 && odd.rowBytes == 96)
        for tr in PackedLayoutTraits.table {
            #expect(tr.nominalBitsPerWeight(groupSize: 128) == tr.bitsPerCode + 0.25)
        }
    }

    @Test(arguments: PackedLayout.allCases)
    func tensorPackUnpack(_ layout: PackedLayout) throws {
        let w = PackTestData.weight(rows: 6, cols: 172, group: 64, seed: 77)
        let c = TensorStorage(count: w.codes.count)
        w.codes.withUnsafeBytes { c.mutableBytes.copyMemory(from: $0) }
        let codes = Tensor(name: "n.codes", dtype: .i8, shape: [6, 172], storage: c)
        let alpha = Tensor(name: "n.alpha", shape: [6, 3], floats: w.alpha), gamma = Tensor(name: "n.gamma", shape: [6, 3], floats: w.gamma)
        let packed = try packTernaryWeight(name: "n", codes: codes, alpha: alpha, gamma: gamma, groupSize: 64, layout: layout)
        #expect(packed.map(\.name) == ["n.\(layout.rawValue)", "n.alpha", "n.gamma"])
        #expect(packed[1].dtype == .f16 && packed[2].dtype == .f16)
        let entries = PackedNames.entries("n", rows: 6, geometry: PackedGeometry(layout: layout, cols: 172, groupSize: 64))
        #expect(entries.map(\.shape) == packed.map(\.shape))
        let geo = try PackedNames.geometry(of: entries[0], file: "")
        let back = unpackTernaryWeight(name: "n", packed: packed[0], geometry: geo, alpha: packed[1], gamma: packed[2])
        #expect(back[0].bytes.elementsEqual(codes.bytes))
        #expect(back[1].floats() == w.alpha.map { Float(Float16($0)) })
        #expect(back[2].floats() == w.gamma.map { Float(Float16($0)) })
        // A code outside {−1, 0, 1} is refused with its position.
        c.mutableBytes[5] = 2
        #expect(throws: TLLMError.self) {
            try packTernaryWeight(name: "n", codes: codes, alpha: alpha, gamma: gamma, groupSize: 64, layout: layout)
        }
    }

    @Test func q8RoundTrip() {
        var rng = TestRNG(5)
        let w = Tensor(name: "e", shape: [7, 45], floats: rng.floats(7 * 45, scale: 1))
        let q = quantizeQ8(name: "e", w)
        #expect(q.map(\.name) == ["e.q8", "e.scale"])
        let d = dequantizeQ8(name: "e", q8: q[0], scale: q[1]).floats(), f = w.floats(), s = q[1].floats()
        for i in 0..<f.count { #expect(abs(d[i] - f[i]) <= s[i / 45] * 0.5001 + 1e-6) }
    }
}
