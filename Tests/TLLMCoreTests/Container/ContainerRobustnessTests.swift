// Both container readers on damaged input: every truncation point of a small container, thousands of seeded
// random byte flips (plain and gzip), and hand-made tar headers that claim absurd sizes. The only acceptable
// outcomes are success or a TLLMError, never a crash or a huge allocation.

import Foundation
import Testing
@testable import TLLMCore

@Suite struct ContainerRobustnessTests {
    /// Reads everything with both readers (streaming with verification, mapped with verify()).
    static func readBoth(_ bytes: [UInt8]) -> (streaming: Bool, mapped: Bool) {
        let s = endsCleanly {
            let r = try ContainerReader(bytes: bytes, name: "fuzz.tllm")
            _ = try r.readAll()
        }
        let m = endsCleanly {
            let c = try mappedContainer(bytes, name: "fuzz.tllm")
            for t in c.tensors { _ = t.bytes.count }
            for f in c.fileNames { _ = c.file(named: f) }
            try c.verify()
        }
        return (s, m)
    }

    @Test func everyTruncationFailsCleanly() throws {
        let full = try Fixture.smallContainer()
        var accepted = 0
        for n in 0..<full.count {
            let cut = Array(full[0..<n])
            let r = Self.readBoth(cut)
            #expect(r.streaming && r.mapped, "truncated at \(n) of \(full.count)")
            // Only cuts inside the end-of-archive blocks may still read as a whole container.
            if (try? ContainerReader(bytes: cut, name: "t").readAll()) != nil { accepted += 1 }
        }
        #expect(accepted <= 1024)
        let r = Self.readBoth(full)
        #expect(r.streaming && r.mapped)
    }

    @Test func randomByteFlipsFailCleanly() throws {
        let full = try Fixture.smallContainer()
        var rng = TestRNG(seed: 42)
        for trial in 0..<3000 {
            var b = full
            // Mostly in headers and the manifest (where parsers live), sometimes anywhere.
            let hot = min(b.count, trial % 2 == 0 ? 4096 : b.count)
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                b[Int.random(in: 0..<hot, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            let r = Self.readBoth(b)
            #expect(r.streaming && r.mapped, "trial \(trial)")
        }
    }

    @Test func randomByteFlipsInACompressedContainer() throws {
        let full = try Fixture.smallContainer(compression: .gzip)
        var rng = TestRNG(seed: 43)
        for trial in 0..<400 {
            var b = full
            b[Int.random(in: 0..<b.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
            let r = Self.readBoth(b)
            #expect(r.streaming && r.mapped, "trial \(trial)")
        }
    }

    @Test func absurdSizesDoNotAllocate() throws {
        // manifest.json claiming 8 GiB - 1 (octal), 2^62 (base-256) and 2^50 (pax size record).
        let pax = Array("25 size=1125899906842624\n".utf8)
        let archives: [[UInt8]] = [
            ustarHeader(name: "manifest.json", size: (1 << 33) - 1) + [UInt8](repeating: 0, count: 1024),
            ustarHeader(name: "manifest.json", size: 1 << 62) + [UInt8](repeating: 0, count: 1024),
            ustarHeader(name: "PaxHeader/manifest.json", size: pax.count, type: UInt8(ascii: "x")) + padded(pax)
                + ustarHeader(name: "manifest.json", size: 1) + [UInt8](repeating: 0, count: 1024),
        ]
        for a in archives {
            let r = Self.readBoth(a)
            #expect(r.streaming && r.mapped)
            expectError("") { _ = try ContainerReader(bytes: a, name: "huge.tllm") }
            expectError("extends past the end") { _ = try mappedContainer(a, name: "huge.tllm") }
        }
        expectError("over the limit") { _ = try ContainerReader(bytes: archives[0], name: "huge.tllm") }
    }

    @Test func hugeTensorInTheManifestIsRefusedBeforeAllocating() throws {
        // A manifest promising a 4 TiB tensor, and a member header that agrees with it.
        let m = Manifest(kind: .float, producer: "t", tensors: [ManifestTensor(name: "w", dtype: .f32, shape: [1 << 40])])
        let text = m.encoded()
        let archive = ustarHeader(name: "manifest.json", size: text.count) + padded(text)
            + ustarHeader(name: "tensors/w", size: 4 << 40) + [UInt8](repeating: 0, count: 1024)
        expectError("memory") { _ = try ContainerReader(bytes: archive, name: "big.tllm").next() }
        expectError("extends past the end") { _ = try mappedContainer(archive, name: "big.tllm") }
        // A size that disagrees with the manifest is caught by the size check.
        let wrong = ustarHeader(name: "manifest.json", size: text.count) + padded(text)
            + ustarHeader(name: "tensors/w", size: 8) + padded([1, 2, 3, 4, 5, 6, 7, 8]) + [UInt8](repeating: 0, count: 1024)
        expectError("needs 4398046511104") { _ = try ContainerReader(bytes: wrong, name: "big.tllm").next() }
        expectError("needs 4398046511104") { _ = try mappedContainer(wrong, name: "big.tllm") }
    }

    @Test func notAContainer() throws {
        let text = Array("hello\n".utf8)
        let tar = ustarHeader(name: "README", size: text.count) + padded(text) + [UInt8](repeating: 0, count: 1024)
        expectError("not a tllm container (first member is README)") { _ = try ContainerReader(bytes: tar, name: "x.tar") }
        expectError("not a tllm container (first member is README)") { _ = try mappedContainer(tar, name: "x.tar") }
        expectError("") { _ = try ContainerReader(bytes: Array("just text, not an archive".utf8), name: "x.txt") }
        expectError("checksum") { _ = try mappedContainer(padded(Array("just text, not an archive".utf8)), name: "x.txt") }
        expectError("empty archive") { _ = try mappedContainer([], name: "empty") }
    }
}
