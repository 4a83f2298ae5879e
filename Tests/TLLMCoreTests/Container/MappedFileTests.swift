// MappedFile: a file read into memory (tllm-gen --no-mmap) holds the bytes of its mapping, in a region aligned to
// 2 MiB (where transparent huge pages can back it); an empty file and a missing one behave as when mapped.

import Foundation
import Testing
@testable import TLLMCore

@Suite("IO: mapped file and in-memory read")
struct MappedFileTests {
    @Test(arguments: [1, 4095, (3 << 20) + 1234])
    func inMemoryHoldsTheMappedBytes(_ size: Int) throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("f.bin").path
        var rng = TestRNG(UInt64(size))
        let data = Data((0..<size).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        try data.write(to: URL(fileURLWithPath: path))
        let mapped = try MappedFile(path: path, inMemory: false), read = try MappedFile(path: path, inMemory: true)
        #expect(read.bytes.count == size && mapped.bytes.count == size)
        #expect(Data(read.bytes) == data && Data(mapped.bytes) == data)
        #expect(Int(bitPattern: read.bytes.baseAddress) % (1 << 21) == 0, "not 2 MiB-aligned")
        read.release(read.bytes)  // a no-op in memory (it would zero anonymous pages)
        #expect(Data(read.bytes) == data)
    }

    @Test func emptyAndMissingFiles() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("empty").path
        FileManager.default.createFile(atPath: path, contents: Data())
        #expect(try MappedFile(path: path, inMemory: true).bytes.count == 0)
        #expect(throws: TLLMError.self) { try MappedFile(path: dir.appendingPathComponent("missing").path, inMemory: true) }
    }
}
