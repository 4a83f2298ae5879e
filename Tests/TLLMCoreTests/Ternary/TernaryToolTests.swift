// The built tllm-ternarize binary: files and pipes give the same bytes, --json, exit status 2 for usage errors
// and 1 with one stderr line (and no output file) for bad data.

import Foundation
import Testing
@testable import TLLMCore

@Suite(.enabled(if: Tool.available)) struct TernaryToolTests {
    @Test func filesAndPipesGiveTheSameContainer() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let float = try TernaryFixtures.floatContainer(in: dir)
        let a = dir.appendingPathComponent("a.tllm"), b = dir.appendingPathComponent("b.tllm")
        let r1 = try Tool.run("tllm-ternarize", [float, "-o", a.path, "--group", "16", "--threads", "2"])
        #expect(r1.status == 0, "\(r1.stderr)")
        #expect(r1.stderr.contains("0.self_attn.q_proj") && r1.stderr.contains("14 weights ternarized"))
        let r2 = try Tool.run("tllm-ternarize", ["-", "-", "--group", "16", "--quiet"], stdin: URL(fileURLWithPath: float), stdoutTo: b)
        #expect(r2.status == 0 && r2.stderr.isEmpty, "\(r2.stderr)")
        #expect(try Data(contentsOf: a) == Data(contentsOf: b))
        let j = try Tool.run("tllm-ternarize", [float, "-o", dir.appendingPathComponent("c.tllm").path, "--init", "twn", "--group", "row", "--json", "-q"])
        let meta = try j.stdout.withUnsafeBytes { try JSON.parse($0, file: "stdout") }
        #expect(meta["init"]?.string == "twn" && meta["group_size"]?.int == 0 && meta["report"]?.array?.count == 14)
        #expect(meta["report"]?.array?.first?["weight_error"]?.double ?? 0 > 0)
    }

    @Test func usageAndDataErrors() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let float = try TernaryFixtures.floatContainer(in: dir)
        let out = dir.appendingPathComponent("t.tllm").path
        for args in [[float], [float, "-o", out, "--group", "0"], [float, "-o", out, "--init", "bitnet"], [float, "-", "--json"],
                     [float, "-o", out, "--dtype", "i8"]] {
            #expect(try Tool.run("tllm-ternarize", args).status == 2, "\(args)")
        }
        let missing = dir.appendingPathComponent("none.tllm").path
        let r = try Tool.run("tllm-ternarize", [missing, "-o", out])
        #expect(r.status == 1 && r.stderr == "tllm-ternarize: error: \(missing): no such file or directory\n")
        try Data("not a model at all, just some text".utf8).write(to: URL(fileURLWithPath: missing))
        let r2 = try Tool.run("tllm-ternarize", [missing, "-o", out, "--calib", float])
        #expect(r2.status == 1 && r2.stderr.hasPrefix("tllm-ternarize: error: ") && r2.stderr.split(separator: "\n").count == 1)
        let r3 = try Tool.run("tllm-ternarize", [float, "-o", out, "--calib", float])
        #expect(r3.status == 1 && r3.stderr.contains("needs a calibration container"), "\(r3.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).allSatisfy { !$0.hasPrefix(".") }, "no temporary left")
    }
}
