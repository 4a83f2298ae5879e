// Packed ternary layouts (DESIGN §10) as a traits table, and the geometry of one packed row: where each code
// T ∈ {−1, 0, +1} of a row of K inputs (groups of G, the last one possibly shorter) lives in the row's bytes.
// The byte and bit order below is the file format of `N.t2` / `N.t1` in a packed container; it must not change
// without a new container version. Kernels: Kernels/ and Sources/CTLLMKernels/ternary_*.c.
//
// Slots. Every group is padded with zero codes to Gp = G rounded up to a multiple of 32 slots (G = min(G, K));
// column k of group g = k / G is slot g·Gp + k mod G. Slots are cut into blocks of C = 128 slots when
// Gp % 128 == 0, else C = Gp (one block per group); a block never spans two groups, and the kernels quantize the
// activations per block. Codes are stored as u = T + 1 ∈ {0, 1, 2}; padding slots hold u = 1 (T = 0).
//
// t2 (4 trits a byte, 2 + 32/G bits per weight). Block b takes C/4 bytes at byte offset b·C/4; bits 2n..2n+1
// (n = 0..3, least significant first) of its byte j hold slot b·C + n·C/4 + j. With C = 128: byte j holds slots
// j, j+32, j+64, j+96, so one 32-byte load gives four contiguous 32-slot planes (SWIFT-NOTES §4).
//
// t1 (5 trits a byte, 1.6 + 32/G bits per weight). The groups are taken five at a time: superblock s (groups
// 5s … 5s+4) takes Gp bytes at offset s·Gp, and its byte j holds slot j of each of the five groups as
// v = Σₙ uₙ·3^(4−n) (n = 0 is group 5s), stored as ⌈256·v / 243⌉; digit n comes back as
// ((byte·3ⁿ) mod 256)·3 >> 8 (the TQ1_0 trick of ggml). The last nG mod 5 groups follow in the t2 block
// format above (they cannot fill a superblock), starting at byte ⌊nG/5⌋·Gp.
//
// Both: the row's bytes are padded with 0x55 to a multiple of 32; rows follow each other with no gap.

import CTLLMKernels

/// The two packings of ternary codes.
public enum PackedLayout: String, CaseIterable, Sendable {
    case t2, t1

    public var traits: PackedLayoutTraits { PackedLayoutTraits.table.first { $0.layout == self }! }
}

/// What distinguishes the layouts, one row per layout (the tests loop over `table`).
public struct PackedLayoutTraits: Sendable {
    public let layout: PackedLayout
    /// Codes per byte in the bulk of a row.
    public let tritsPerByte: Int
    /// Nominal storage bits per code, without scales and padding.
    public let bitsPerCode: Double
    /// The layout's tag in tllm_tgeom.layout.
    let tag: Int32

    public static let table: [PackedLayoutTraits] = [
        PackedLayoutTraits(layout: .t2, tritsPerByte: 4, bitsPerCode: 2, tag: 2),
        PackedLayoutTraits(layout: .t1, tritsPerByte: 5, bitsPerCode: 1.6, tag: 1),
    ]

    /// Nominal bits per weight with f16 α and γ per group of G: bitsPerCode + 32/G.
    public func nominalBitsPerWeight(groupSize G: Int) -> Double { bitsPerCode + 32 / Double(G) }
}

/// Where the codes of one row go in a layout (see the file comment); the same for every row of a matrix.
public struct PackedGeometry: Hashable, Sendable {
    public let layout: PackedLayout
    /// K: inputs per row.
    public let cols: Int
    /// G, at most K.
    public let groupSize: Int
    /// nG = ⌈K/G⌉.
    public let groups: Int
    /// Gp: slots per group, G rounded up to a multiple of 32.
    public let paddedGroup: Int
    /// C: slots per block (128 when Gp % 128 == 0, else Gp).
    public let blockSize: Int
    /// nB = nG·Gp/C.
    public let blocks: Int
    /// Bytes of one packed row (a multiple of 32).
    public let rowBytes: Int
    /// t1: ⌊nG/5⌋ superblocks; t2: 0.
    public let superblocks: Int
    /// The 2-bit coded part of a row: first byte, byte count, first block.
    public let t2Offset: Int, t2Bytes: Int, t2FirstBlock: Int

    public init(layout: PackedLayout, cols K: Int, groupSize: Int) {
        precondition(K > 0, "a packed row needs at least one column")
        let G = groupSize <= 0 || groupSize >= K ? K : groupSize
        self.layout = layout
        cols = K
        self.groupSize = G
        groups = (K + G - 1) / G
        paddedGroup = (G + 31) / 32 * 32
        blockSize = paddedGroup % 128 == 0 ? 128 : paddedGroup
        blocks = groups * (paddedGroup / blockSize)
        superblocks = layout == .t1 ? groups / 5 : 0
        t2Offset = superblocks * paddedGroup
        t2FirstBlock = 5 * superblocks * (paddedGroup / blockSize)
        t2Bytes = (blocks - t2FirstBlock) * blockSize / 4
        rowBytes = (t2Offset + t2Bytes + 31) / 32 * 32
    }

    /// Slots of a row (nG·Gp).
    public var slots: Int { groups * paddedGroup }

    /// Blocks per group.
    public var blocksPerGroup: Int { paddedGroup / blockSize }

    /// The slot of column k.
    @inline(__always)
    public func slot(ofColumn k: Int) -> Int { (k / groupSize) * paddedGroup + k % groupSize }

    /// Columns of group g.
    public func columns(ofGroup g: Int) -> Range<Int> { (g * groupSize)..<min(cols, (g + 1) * groupSize) }

    /// The geometry as the C kernels take it.
    var c: tllm_tgeom {
        tllm_tgeom(layout: layout.traits.tag, k: Int32(cols), group: Int32(groupSize), groups: Int32(groups),
                   gp: Int32(paddedGroup), chunk: Int32(blockSize), blocks: Int32(blocks), row_bytes: Int32(rowBytes),
                   supers: Int32(superblocks), t2_offset: Int32(t2Offset), t2_bytes: Int32(t2Bytes),
                   t2_block0: Int32(t2FirstBlock))
    }

    /// The same K and G in the other layout.
    public func with(layout l: PackedLayout) -> PackedGeometry { PackedGeometry(layout: l, cols: cols, groupSize: groupSize) }

    // MARK: one row

    /// Packs one row of codes (K values in {−1, 0, +1}) into `rowBytes` bytes at `dst`.
    public func pack(codes: UnsafePointer<Int8>, into dst: UnsafeMutablePointer<UInt8>) {
        var u = [UInt8](repeating: 1, count: slots)
        for k in 0..<cols { u[slot(ofColumn: k)] = UInt8(truncatingIfNeeded: Int(codes[k]) + 1) }
        var g = c
        u.withUnsafeBufferPointer { tllm_ternary_encode_row(&g, $0.baseAddress!, dst) }
    }

    /// The K codes of one packed row.
    public func unpack(row: UnsafePointer<UInt8>, into codes: UnsafeMutablePointer<Int8>) {
        var u = [UInt8](repeating: 0, count: slots)
        var g = c
        u.withUnsafeMutableBufferPointer { tllm_ternary_decode_row(&g, row, $0.baseAddress!) }
        for k in 0..<cols { codes[k] = Int8(u[slot(ofColumn: k)]) - 1 }
    }

    /// Packed bytes of a [rows × K] matrix plus its f16 α and γ, and the bits per weight that makes.
    public func storage(rows: Int) -> (bytes: Int, bitsPerWeight: Double) {
        let b = rows * (rowBytes + 4 * groups)
        return (b, Double(8 * b) / Double(rows * cols))
    }
}
