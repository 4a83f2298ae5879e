// The conventions every tool shares (DESIGN §11, issue 8): a shared flag has the same names in every tool that has
// it (-o/--output, -t/--threads, -q/--quiet, --seed, --json, --verify), every tool reading a container can --verify
// it, and a data error is one stderr line `<tool>: error: <file>: <what>` with exit status 1 and no output left.

import Foundation
import Testing
@testable import TLLMCore

@Suite(.enabled(if: Tool.available)) struct ToolConventionsTests {
    static let tools = ["tllm-convert", "tllm-calib", "tllm-ternarize", "tllm-distill", "tllm-pack", "tllm-gen"]
    /// Short name of each shared flag (nil: long only).
    static let shared: [String: String?] = ["output": "o", "threads": "t", "quiet": "q", "seed": nil, "json": nil, "verify": nil]
    /// Gaps left to the tool's owner (reported, not yet fixed there).
    static let knownGaps: Set<String> = []

    /// long name → short names, of the visible arguments of `tool`.
    static func flags(_ tool: String) throws -> [String: [String]] {
        let dump = try Tool.run(tool, ["--experimental-dump-help"])
        let j = try dump.stdout.withUnsafeBytes { try JSON.parse($0, file: "\(tool) dump-help") }
        var out: [String: [String]] = [:]
        for a in j["command"]?["arguments"]?.array ?? [] where a["shouldDisplay"]?.bool != false {
            let names = a["names"]?.array ?? []
            guard let long = names.first(where: { $0["kind"]?.string == "long" })?["name"]?.string else { continue }
            out[long] = names.filter { $0["kind"]?.string == "short" }.compactMap { $0["name"]?.string }
        }
        return out
    }

    @Test(arguments: ToolConventionsTests.tools)
    func sharedFlagsHaveTheSameNames(tool: String) throws {
        let f = try Self.flags(tool)
        #expect(f["quiet"] != nil && f["version"] != nil && f["help"] != nil, "\(tool) lacks --quiet, --version or --help")
        #expect(f["verify"] != nil, "\(tool) has no --verify")  // every tool reads a container and can check it first
        for (long, short) in Self.shared {
            guard let s = f[long], !Self.knownGaps.contains("\(tool) --\(long)") else { continue }
            #expect(s == (short.map { [$0] } ?? []), "\(tool) --\(long) has short names \(s), the others \(short ?? "none")")
        }
    }

    @Test func aMissingFileIsOneLineNamingTheToolAndTheFile() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let missing = dir.appendingPathComponent("missing.tllm").path
        let out = dir.appendingPathComponent("out.tllm").path
        var runs: [(String, [String])] = [
            ("tllm-convert", [missing, "-o", out]), ("tllm-calib", [missing, "/dev/null", "-o", out]), ("tllm-ternarize", [missing, "-o", out]),
            ("tllm-distill", ["--student", missing, "--calib", missing, "-o", out, "--loss", "kd=0"]), ("tllm-pack", [missing, "-o", out]),
            ("tllm-gen", ["-m", missing, "-p", "x"]),
        ]
        if SharedData.available {  // a real model, a missing text
            let gguf = SharedData.stories + "/stories260K-F32.gguf"
            runs += [("tllm-calib", [gguf, missing, "-o", out]), ("tllm-gen", ["-m", gguf, "--perplexity", missing])]
        }
        for (tool, args) in runs {
            let r = try Tool.run(tool, args)
            #expect(r.status == 1 && r.stderr == "\(tool): error: \(missing): no such file or directory\n", "\(tool): \(r.stderr)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty, "nothing is left behind")
    }

    @Test func verifyFindsAFlippedByteAndNamesTheFile() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let float = try TernaryFixtures.floatContainer(in: dir)
        let ternary = dir.appendingPathComponent("t.tllm").path
        #expect(try Tool.run("tllm-ternarize", [float, "-o", ternary, "--group", "16", "-q"]).status == 0)
        func corrupt(_ path: String) throws {
            let c = try openContainer(path)
            let m = try #require(c.members.first { $0.name.hasPrefix("tensors/") })
            let h = try FileHandle(forUpdating: URL(fileURLWithPath: path))
            defer { try? h.close() }
            try h.seek(toOffset: UInt64(m.offset))
            let b = try #require(try h.read(upToCount: 1))
            try h.seek(toOffset: UInt64(m.offset))
            try h.write(contentsOf: Data([b[0] ^ 1]))
        }
        try corrupt(float)
        try corrupt(ternary)
        let out = dir.appendingPathComponent("out").path
        for (tool, args, file) in [("tllm-convert", [float, "-o", out + ".tllm"], float), ("tllm-calib", [float, "/dev/null", "-o", out + ".tllm"], float),
                                   ("tllm-ternarize", [float, "-o", out + ".tllm"], float), ("tllm-pack", [ternary, "-o", out + ".tpk"], ternary),
                                   ("tllm-gen", ["-m", float, "-p", "x"], float),
                                   ("tllm-distill", ["--student", ternary, "--calib", float, "-o", out + ".tllm", "--loss", "kd=0"], ternary)] {
            let r = try Tool.run(tool, args + ["--verify"])
            #expect(r.status == 1 && r.stderr.hasPrefix("\(tool): error: \(file): checksum mismatch for tensors/"), "\(tool): \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1)
        }
        #expect(!FileManager.default.fileExists(atPath: out + ".tllm") && !FileManager.default.fileExists(atPath: out + ".tpk"))
    }
}
