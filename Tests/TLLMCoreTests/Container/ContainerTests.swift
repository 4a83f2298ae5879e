// Round trips of the tllm container (DESIGN §2): every dtype and odd shapes through a file, each compression,
// a pipe and /bin/cat; the mmap reader's in-place tensors at 512-byte offsets; GNU tar and sha256sum on the
// result; version and writer-misuse errors leave no file behind; equal input gives byte-identical files.

import Foundation
import Testing
@testable import TLLMCore

@Suite struct ContainerTests {
    @Test func roundTripThroughAFile() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("m.tllm").path
        let ts = Fixture.tensors()
        try Fixture.write(path, ts)

        let r = try ContainerReader(path: path)
        #expect(r.manifest == Fixture.manifest(ts))
        #expect(r.files.map(\.name) == Fixture.files.map(\.name))
        #expect(r.files.map(\.bytes) == Fixture.files.map(\.bytes))
        #expect(r.file(named: "tokenizer.json") == Fixture.files[0].bytes)
        Fixture.expectSame(try r.readAll(), ts)
        #expect(try r.next() == nil)

        let m = try openContainer(path)
        #expect(m.manifest == r.manifest)
        #expect(m.fileNames == Fixture.files.map(\.name))
        #expect(m.file(named: "source/tokenizer_config.json") == Fixture.files[1].bytes)
        Fixture.expectSame(m.tensors, ts)
        try m.verify()
        let base = m.bytes.baseAddress!
        for t in m.tensors where t.bytes.count > 0 {
            let off = t.bytes.baseAddress! - base
            #expect(off % 512 == 0, "\(t.name) at offset \(off)")
        }
        #expect(m.tensor(named: "tokens")?.shape == [4, 1])
        #expect(m.manifest.tensor(named: "tokens")?.extra == .object([("layout", "t2")]))
        #expect(m.tensor(named: "nope") == nil)
        // Borrowed tensors keep the mapping alive after the container is gone.
        let t = try MappedContainer(path: path).tensor(named: "lm_head.weight")!
        #expect(Array(t.bytes) == Array(ts.last!.bytes))
    }

    @Test(arguments: [("gz", [UInt8]([0x1F, 0x8B])), ("zst", [0x28, 0xB5, 0x2F, 0xFD]), ("xz", [0xFD, 0x37, 0x7A, 0x58])])
    func roundTripCompressed(suffix: String, magic: [UInt8]) throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("m.tllm.\(suffix)").path
        let ts = Fixture.tensors()
        try Fixture.write(path, ts)
        let raw = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(Array(raw.prefix(magic.count)) == magic)
        if suffix == "gz" { #expect(Array(raw[4..<8]) == [0, 0, 0, 0], "gzip header mtime must be 0 (reproducible output)") }
        let r = try ContainerReader(path: path)
        #expect(r.files.count == 2)
        Fixture.expectSame(try r.readAll(), ts)
        let m = try openContainer(path)
        Fixture.expectSame(m.tensors, ts)
        try m.verify()
        expectError("compressed") { _ = try MappedContainer(path: path) }
    }

    @Test func roundTripThroughAPipe() throws {
        let ts = Fixture.tensors()
        for compression in [ContainerCompression.none, .zstd] {
            let pipe = Pipe()
            let wfd = pipe.fileHandleForWriting.fileDescriptor
            let done = DispatchSemaphore(value: 0)
            let writeError = ErrorBox()
            DispatchQueue.global().async {
                do {
                    let w = try ContainerWriter(fd: wfd, name: "pipe", manifest: Fixture.manifest(ts), files: Fixture.files,
                                                compression: compression)
                    for t in ts { try w.write(t) }
                    try w.finish()
                } catch { writeError.error = error }
                try? pipe.fileHandleForWriting.close()
                done.signal()
            }
            let r = try ContainerReader(fd: pipe.fileHandleForReading.fileDescriptor, name: "pipe")
            Fixture.expectSame(try r.readAll(), ts)
            done.wait()
            #expect(writeError.error == nil)
        }
    }

    @Test func readsFromCatAndOpensFromAPipe() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("m.tllm.gz").path
        let ts = Fixture.tensors()
        try Fixture.write(path, ts)
        for mapped in [false, true] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/cat")
            p.arguments = [path]
            let pipe = Pipe()
            p.standardOutput = pipe
            try p.run()
            let fd = pipe.fileHandleForReading.fileDescriptor
            if mapped {
                let m = try openContainer(fd: fd, name: "-")
                Fixture.expectSame(m.tensors, ts)
                try m.verify()
            } else {
                Fixture.expectSame(try ContainerReader(fd: fd, name: "-").readAll(), ts)
            }
            p.waitUntilExit()
        }
    }

    @Test func gnuTarListsAndSha256sumVerifies() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let ts = Fixture.tensors()
        for name in ["m.tllm", "m.tllm.gz"] {
            let path = dir.appendingPathComponent(name).path
            try Fixture.write(path, ts)
            let list = try runTool("/usr/bin/tar", ["tvf", path])
            #expect(list.status == 0)
            let names = list.out.split(separator: "\n").map { String($0.split(separator: " ", omittingEmptySubsequences: true).last!) }
            #expect(names == ["manifest.json"] + Fixture.files.map(\.name) + ts.map { "tensors/\($0.name)" } + ["SHA256SUMS"])
            #expect(list.out.hasPrefix("-rw-r--r--"))
            let out = dir.appendingPathComponent("x-\(name)")
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
            #expect(try runTool("/usr/bin/tar", ["xf", path, "-C", out.path]).status == 0)
            let check = try runTool("/usr/bin/sha256sum", ["-c", "SHA256SUMS"], cwd: out)
            #expect(check.status == 0)
            #expect(check.out.split(separator: "\n").count == 1 + Fixture.files.count + ts.count)
            let extracted = try Data(contentsOf: out.appendingPathComponent("tensors/lm_head.weight"))
            #expect(Array(extracted) == Array(ts.last!.bytes))
        }
    }

    @Test func sameInputGivesIdenticalFiles() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let ts = Fixture.tensors()
        for suffix in ["", ".gz", ".zst", ".xz"] {
            let a = dir.appendingPathComponent("a.tllm\(suffix)"), b = dir.appendingPathComponent("b.tllm\(suffix)")
            try Fixture.write(a.path, ts)
            try Fixture.write(b.path, ts)
            #expect(try Data(contentsOf: a) == Data(contentsOf: b), "suffix \(suffix)")
        }
        // A descriptor (pipe, stdout) gets the same bytes as a file: no padding to a full tar block.
        let viaFD = dir.appendingPathComponent("fd.tllm")
        let fd = open(viaFD.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        #expect(fd >= 0)
        let w = try ContainerWriter(fd: fd, name: "fd", manifest: Fixture.manifest(ts), files: Fixture.files)
        for t in ts { try w.write(t) }
        try w.finish()
        close(fd)
        #expect(try Data(contentsOf: viaFD) == Data(contentsOf: dir.appendingPathComponent("a.tllm")))
    }

    @Test func newerVersionIsRejectedWithAHint() throws {
        var bytes = try Fixture.smallContainer()
        let from = Array("\"version\": 1,".utf8), to = Array("\"version\": 2,".utf8)
        let i = (0...(bytes.count - from.count)).first { Array(bytes[$0..<$0 + from.count]) == from }!
        bytes.replaceSubrange(i..<i + from.count, with: to)
        let hint = "container version 2 is newer than this tllm (reads version 1); upgrade tllm"
        expectError(hint) { _ = try ContainerReader(bytes: bytes, name: "v2.tllm") }
        expectError(hint) { _ = try mappedContainer(bytes) }
    }

    @Test func writerMisuseFailsAndLeavesNoFile() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("m.tllm").path
        let ts = Fixture.tensors(large: false)
        let m = Fixture.manifest(ts)

        var w = try ContainerWriter(path: path, manifest: m, files: Fixture.files)
        expectError("written out of order: expected \(ts[0].name)") { try w.write(ts[1]) }
        expectError("already finished or failed") { try w.finish() }
        #expect(listing(dir).isEmpty)

        w = try ContainerWriter(path: path, manifest: m)
        try w.write(ts[0])
        let wrongShape = Tensor(name: ts[1].name, dtype: ts[1].dtype, shape: [1, 7], storage: ts[1].storage)
        expectError("manifest says f16 [7]") { try w.write(wrongShape) }
        #expect(listing(dir).isEmpty)

        w = try ContainerWriter(path: path, manifest: m)
        try w.write(ts[0])
        expectError("finished after 1 of \(ts.count) tensors") { try w.finish() }
        #expect(listing(dir).isEmpty)

        do {
            let dropped = try ContainerWriter(path: path, manifest: m, files: Fixture.files)
            try dropped.write(ts[0])
            #expect(listing(dir).count == 1)  // the temporary file, until the writer goes away
        }
        #expect(listing(dir).isEmpty)

        expectError("reserved") { _ = try ContainerWriter(path: path, manifest: m, files: [("SHA256SUMS", [])]) }
        expectError("must not contain") { _ = try ContainerWriter(path: path, manifest: m, files: [("a/../b", [])]) }
        expectError("given twice") { _ = try ContainerWriter(path: path, manifest: m, files: Fixture.files + Fixture.files) }
        #expect(listing(dir).isEmpty)
    }

    @Test func corruptDataByteFailsTheChecksum() throws {
        var bytes = try Fixture.smallContainer()
        let m = try mappedContainer(bytes)
        let member = m.member(named: "tensors/tokens")!
        bytes[member.offset + 3] ^= 0x10
        expectError("checksum mismatch for tensors/tokens") { _ = try ContainerReader(bytes: bytes, name: "c.tllm").readAll() }
        let bad = try mappedContainer(bytes)
        expectError("checksum mismatch for tensors/tokens") { try bad.verify() }
        // Without verification the damaged bytes come through unnoticed (that is what --verify is for).
        #expect(try ContainerReader(bytes: bytes, name: "c.tllm", verify: false).readAll().count == 8)
    }

    @Test func manifestValidation() throws {
        let good = Fixture.manifest(Fixture.tensors(large: false))
        #expect(try Manifest(json: good.toJSON(), file: "m") == good)
        #expect(try good.encoded().withUnsafeBytes { try Manifest(bytes: $0, file: "m") } == good)
        func mutated(_ f: (inout JSON) -> Void) -> JSON { var j = good.toJSON(); f(&j); return j }
        func tensor0(_ key: String, _ v: JSON) -> JSON {
            mutated { j in
                var ts = j["tensors"]!.array!
                ts[0].set(key, v)
                j.set("tensors", .array(ts))
            }
        }
        let cases: [(JSON, String)] = [
            (.array([]), "not a JSON object"),
            (mutated { $0.set("format", "gguf") }, "format is \"gguf\""),
            (mutated { $0.set("version", 0) }, "invalid version 0"),
            (mutated { $0.set("version", "1") }, "non-integer \"version\""),
            (mutated { $0.set("kind", "fp8") }, "unknown kind \"fp8\""),
            (mutated { $0.set("producer", 3) }, "\"producer\""),
            (mutated { $0.set("config", 3) }, "\"config\" is not an object"),
            (mutated { $0.set("metadata", []) }, "\"metadata\" is not an object"),
            (tensor0("dtype", "f64"), "unknown dtype \"f64\""),
            (tensor0("shape", [-1]), "not a non-negative integer"),
            (tensor0("shape", [.int(Int64.max), 2]), "overflows the byte count"),
            (tensor0("member", "../etc/passwd"), "must not contain"),
            (tensor0("member", "/abs"), "relative"),
            (tensor0("member", "a//b"), "empty path component"),
            (tensor0("member", "a\nb"), "printable ASCII"),
            (tensor0("member", "manifest.json"), "reserved"),
            (tensor0("member", "tensors/tokens"), "used by two tensors"),
            (tensor0("name", "tokens"), "listed twice"),
        ]
        for (j, text) in cases { expectError(text) { _ = try Manifest(json: j, file: "m.tllm") } }
    }
}

/// An error handed back from a writer thread.
private final class ErrorBox: @unchecked Sendable { var error: Error? }
