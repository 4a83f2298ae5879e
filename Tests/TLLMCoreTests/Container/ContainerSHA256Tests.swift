// SHA-256 against the FIPS 180-2 example vectors, against itself when fed in pieces split anywhere,
// and against coreutils' sha256sum on a random file; plus the SHA256SUMS line format.

import Foundation
import Testing
@testable import TLLMCore

@Suite struct ContainerSHA256Tests {
    @Test func fipsVectors() {
        #expect(SHA256.hex(of: []) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(of: Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(of: Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // One million 'a', fed in uneven pieces.
        var h = SHA256()
        let a = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        var off = 0, step = 1
        while off < a.count {
            let n = min(step, a.count - off)
            a[off..<off + n].withUnsafeBytes { h.update($0) }
            off += n
            step = step % 997 + 13
        }
        #expect(h.finalizeHex() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func incrementalEqualsOneShot() {
        var rng = TestRNG(seed: 3)
        let msg = (0..<300).map { _ in UInt8.random(in: 0...255, using: &rng) }
        for len in [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 300] {
            let m = Array(msg[0..<len])
            let whole = SHA256.hex(of: m)
            for cut in stride(from: 0, through: len, by: max(1, len / 17)) {
                var h = SHA256()
                h.update(Array(m[0..<cut]))
                h.update(Array(m[cut...]))
                #expect(h.finalizeHex() == whole, "len \(len) cut \(cut)")
            }
        }
    }

    @Test func agreesWithSha256sum() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        var rng = TestRNG(seed: 11)
        let bytes = (0..<(3 << 20) + 777).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let url = dir.appendingPathComponent("random.bin")
        try Data(bytes).write(to: url)
        let out = try runTool("/usr/bin/sha256sum", [url.path])
        #expect(out.status == 0)
        #expect(String(out.out.prefix(64)) == SHA256.hex(of: bytes))
    }

    @Test func checksumFileFormat() throws {
        let text = SHA256Sums.format([(String(repeating: "ab", count: 32), "tensors/x"), (String(repeating: "0", count: 64), "a b")])
        #expect(String(decoding: text, as: UTF8.self) == String(repeating: "ab", count: 32) + "  tensors/x\n" + String(repeating: "0", count: 64) + "  a b\n")
        let parsed = try text.withUnsafeBytes { try SHA256Sums.parse($0, file: "S") }
        #expect(parsed.map(\.name) == ["tensors/x", "a b"])
        let upper = Array((String(repeating: "AB", count: 32) + " *x\n").utf8)
        #expect(try upper.withUnsafeBytes { try SHA256Sums.parse($0, file: "S") }.first?.hex == String(repeating: "ab", count: 32))
        for bad in ["abc  x\n", String(repeating: "g", count: 64) + "  x\n", String(repeating: "0", count: 64) + " x\n",
                    String(repeating: "0", count: 64) + "  x\n" + String(repeating: "1", count: 64) + "  x\n"] {
            expectError("SHA256SUMS line") { _ = try Array(bad.utf8).withUnsafeBytes { try SHA256Sums.parse($0, file: "S") } }
        }
    }
}

@Suite struct ContainerSHA256AccelerationTests {
    @Test func shaNIPathEqualsPortableSwift() {
        var rng = TestRNG(99)
        for size in [0, 1, 55, 56, 63, 64, 65, 127, 128, 1000, 4096, 100_003] {
            let data = (0..<size).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            var fast = SHA256(), slow = SHA256()
            slow.portable = true
            // Uneven pieces exercise the partial-block buffering of both paths.
            var i = 0
            while i < size {
                let n = min(size - i, 1 + Int(rng.next() % 300))
                data[i..<i + n].withUnsafeBytes { fast.update($0); slow.update($0) }
                i += n
            }
            #expect(fast.finalizeHex() == slow.finalizeHex(), "size \(size)")
        }
    }
}
