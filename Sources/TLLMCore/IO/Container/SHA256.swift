// SHA-256 (FIPS 180-4), incremental: SHA-NI instructions where the CPU has them (C kernel), plain Swift otherwise; for the container's SHA256SUMS member (DESIGN §2).
// 64-byte blocks, eight 32-bit words of state, 64 rounds per block; the message schedule (with the round
// constants added) lives on the stack and the rounds are unrolled eight at a time (no allocation per block).
// Usage: `var h = SHA256(); h.update(bytes); let hex = h.finalizeHex()` or `SHA256.hex(of: bytes)`.

import CTLLMKernels

public struct SHA256: Sendable {
    private var h0: UInt32 = 0x6a09_e667, h1: UInt32 = 0xbb67_ae85, h2: UInt32 = 0x3c6e_f372, h3: UInt32 = 0xa54f_f53a
    private var h4: UInt32 = 0x510e_527f, h5: UInt32 = 0x9b05_688c, h6: UInt32 = 0x1f83_d9ab, h7: UInt32 = 0x5be0_cd19
    /// Pending bytes of a partial block (at most 63 are kept here between updates).
    private var pending = [UInt8](repeating: 0, count: 64)
    private var pendingCount = 0
    /// Total message length in bytes.
    private var length: UInt64 = 0

    public init() {}

    /// Adds `data` to the message.
    public mutating func update(_ data: UnsafeRawBufferPointer) {
        guard var p = data.baseAddress, data.count > 0 else { return }
        var left = data.count
        length &+= UInt64(left)
        if pendingCount > 0 {
            let take = min(64 - pendingCount, left)
            let at = pendingCount
            pending.withUnsafeMutableBytes { $0.baseAddress!.advanced(by: at).copyMemory(from: p, byteCount: take) }
            pendingCount += take
            p += take
            left -= take
            guard pendingCount == 64 else { return }
            pending.withUnsafeBytes { compress($0.baseAddress!, blocks: 1) }
            pendingCount = 0
        }
        let blocks = left / 64
        if blocks > 0 {
            compress(p, blocks: blocks)
            p += blocks * 64
            left -= blocks * 64
        }
        if left > 0 {
            pending.withUnsafeMutableBytes { $0.baseAddress!.copyMemory(from: p, byteCount: left) }
            pendingCount = left
        }
    }

    public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    /// The 32-byte digest. The hasher is spent afterwards (start a new one for another message).
    public mutating func finalize() -> [UInt8] {
        let bits = length &* 8
        var tail = [UInt8](repeating: 0, count: pendingCount < 56 ? 64 : 128)
        for i in 0..<pendingCount { tail[i] = pending[i] }
        tail[pendingCount] = 0x80
        for i in 0..<8 { tail[tail.count - 1 - i] = UInt8(truncatingIfNeeded: bits >> (8 * UInt64(i))) }
        tail.withUnsafeBytes { compress($0.baseAddress!, blocks: $0.count / 64) }
        pendingCount = 0
        var out = [UInt8]()
        out.reserveCapacity(32)
        for w in [h0, h1, h2, h3, h4, h5, h6, h7] {
            out += [UInt8(w >> 24), UInt8(truncatingIfNeeded: w >> 16), UInt8(truncatingIfNeeded: w >> 8), UInt8(truncatingIfNeeded: w)]
        }
        return out
    }

    /// The digest as 64 lowercase hex digits (the hasher is spent afterwards).
    public mutating func finalizeHex() -> String { SHA256.hexString(finalize()) }

    /// The digest of `data` as 64 lowercase hex digits.
    public static func hex(of data: UnsafeRawBufferPointer) -> String {
        var h = SHA256()
        h.update(data)
        return h.finalizeHex()
    }

    public static func hex(of bytes: [UInt8]) -> String { bytes.withUnsafeBytes { hex(of: $0) } }

    // MARK: compression function

    private static let k: [UInt32] = [
        0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
        0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
        0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
        0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
        0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
        0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
        0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
        0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
    ]

    @inline(__always) private static func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 &- n)) }

    /// One round: updates d and h (the caller rotates the roles of a…h between rounds). `bc` holds b ^ c on
    /// entry and a ^ b (the next round's b ^ c) on exit, so Maj costs three operations.
    @inline(__always)
    private static func round(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: inout UInt32, _ e: UInt32, _ f: UInt32,
                              _ g: UInt32, _ h: inout UInt32, _ kw: UInt32, _ bc: inout UInt32) {
        let t1 = h &+ (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) &+ (g ^ (e & (f ^ g))) &+ kw
        let ab = a ^ b
        let t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) &+ (b ^ (ab & bc))
        bc = ab
        d = d &+ t1
        h = t1 &+ t2
    }

    /// Set to use the portable Swift rounds even where SHA-NI exists (tests compare the two).
    var portable = false

    /// Whether the CPU's SHA extensions do the compression (C kernel in CTLLMKernels).
    static let hasSHANI = tllm_cpu_has_sha() != 0

    /// Processes `blocks` 64-byte blocks at `p`.
    private mutating func compress(_ p: UnsafeRawPointer, blocks: Int) {
        if SHA256.hasSHANI && !portable {
            var st: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) = (h0, h1, h2, h3, h4, h5, h6, h7)
            withUnsafeMutableBytes(of: &st) {
                tllm_sha256_blocks_ni($0.baseAddress!.assumingMemoryBound(to: UInt32.self), p.assumingMemoryBound(to: UInt8.self), blocks)
            }
            (h0, h1, h2, h3, h4, h5, h6, h7) = st
            return
        }
        compressPortable(p, blocks: blocks)
    }

    /// The portable Swift compression (the reference the SHA-NI path is tested against).
    mutating func compressPortable(_ p: UnsafeRawPointer, blocks: Int) {
        SHA256.k.withUnsafeBufferPointer { kb in
            let k = kb.baseAddress!
            withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 128) { wb in
                // x: the message schedule W[0..<64]; w: W[t] + k[t], what each round adds.
                let x = wb.baseAddress!, w = x + 64
                for blk in 0..<blocks {
                    let base = p + blk * 64
                    for i in 0..<16 {
                        x[i] = UInt32(bigEndian: base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))
                        w[i] = x[i] &+ k[i]
                    }
                    for j in 16..<64 {
                        let w15 = x[j - 15], w2 = x[j - 2]
                        let s0 = SHA256.rotr(w15, 7) ^ SHA256.rotr(w15, 18) ^ (w15 >> 3)
                        let s1 = SHA256.rotr(w2, 17) ^ SHA256.rotr(w2, 19) ^ (w2 >> 10)
                        x[j] = x[j - 16] &+ s0 &+ x[j - 7] &+ s1
                        w[j] = x[j] &+ k[j]
                    }
                    var a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7
                    var bc = b ^ c
                    var t = 0
                    while t < 64 {
                        SHA256.round(a, b, c, &d, e, f, g, &h, w[t], &bc)
                        SHA256.round(h, a, b, &c, d, e, f, &g, w[t + 1], &bc)
                        SHA256.round(g, h, a, &b, c, d, e, &f, w[t + 2], &bc)
                        SHA256.round(f, g, h, &a, b, c, d, &e, w[t + 3], &bc)
                        SHA256.round(e, f, g, &h, a, b, c, &d, w[t + 4], &bc)
                        SHA256.round(d, e, f, &g, h, a, b, &c, w[t + 5], &bc)
                        SHA256.round(c, d, e, &f, g, h, a, &b, w[t + 6], &bc)
                        SHA256.round(b, c, d, &e, f, g, h, &a, w[t + 7], &bc)
                        t += 8
                    }
                    h0 = h0 &+ a; h1 = h1 &+ b; h2 = h2 &+ c; h3 = h3 &+ d
                    h4 = h4 &+ e; h5 = h5 &+ f; h6 = h6 &+ g; h7 = h7 &+ h
                }
            }
        }
    }
}

extension SHA256 {
    /// Lowercase hex digits of `bytes`.
    public static func hexString(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }
}

/// The SHA256SUMS member in `sha256sum -c` format: one line `<64 hex>  <member path>` per member.
public enum SHA256Sums {
    public static func format(_ sums: [(hex: String, name: String)]) -> [UInt8] {
        Array(sums.map { "\($0.hex)  \($0.name)\n" }.joined().utf8)
    }

    /// Parses the lines (a "*" binary marker is accepted); every line must be well formed, names unique.
    public static func parse(_ bytes: UnsafeRawBufferPointer, file: String) throws -> [(hex: String, name: String)] {
        var out: [(hex: String, name: String)] = []
        var seen = Set<String>()
        var lineNo = 0
        for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNo += 1
            if line.isEmpty { continue }
            let l = Array(line)
            func bad(_ why: String) -> TLLMError { TLLMError(file, "SHA256SUMS line \(lineNo): \(why)") }
            guard l.count > 66, l[64] == UInt8(ascii: " "), l[65] == UInt8(ascii: " ") || l[65] == UInt8(ascii: "*") else {
                throw bad("expected \"<64 hex digits>  <name>\"")
            }
            var hex = [UInt8]()
            for c in l[0..<64] {
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"): hex.append(c)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): hex.append(c + 32)
                default: throw bad("not a hex digest")
                }
            }
            guard let name = String(validating: l[66...], as: UTF8.self) else { throw bad("name is not UTF-8") }
            guard seen.insert(name).inserted else { throw bad("\(name) is listed twice") }
            out.append((String(decoding: hex, as: UTF8.self), name))
        }
        return out
    }

    /// Checks `actual` (every member but SHA256SUMS, with its digest) against the parsed list.
    static func verify(_ listed: [(hex: String, name: String)], _ actual: [(hex: String, name: String)], file: String) throws {
        var want: [String: String] = [:]
        for s in listed { want[s.name] = s.hex }
        for a in actual {
            guard let h = want.removeValue(forKey: a.name) else { throw TLLMError(file, "SHA256SUMS has no line for \(a.name)") }
            guard h == a.hex else { throw TLLMError(file, "checksum mismatch for \(a.name)") }
        }
        if let extra = want.keys.sorted().first { throw TLLMError(file, "SHA256SUMS lists \(extra), which is not in the container") }
    }
}
