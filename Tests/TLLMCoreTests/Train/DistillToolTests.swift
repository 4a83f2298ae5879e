// The built tllm-distill binary: SIGINT writes a checkpoint and exits 130, kill -9 between checkpoints loses only
// the steps since the last one, and resuming either ends with the bytes of an uninterrupted run; usage errors exit
// 2, data errors exit 1 with one stderr line and no output file; --merge joins parts.

import Foundation
import Testing
@testable import TLLMCore

@Suite(.enabled(if: Tool.available)) struct DistillToolTests {
    func args(_ f: DistillFixture, _ out: String, steps: Int, extra: [String] = []) -> [String] {
        ["--teacher", f.teacher, "--student", f.student, "--calib", f.calib, "-o", f.dir.appendingPathComponent(out).path,
         "--steps", "\(steps)", "--batch", "3", "--lr", "0.005", "--threads", "2", "-q"] + extra
    }

    /// Starts the tool, waits until `ready()` holds, sends `signal`; returns the exit status.
    func interrupt(_ arguments: [String], signal sig: Int32, when ready: () -> Bool) throws -> Int32 {
        let p = Process()
        p.executableURL = Tool.binDir.appendingPathComponent("tllm-distill")
        p.arguments = arguments
        p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(120)
        while !ready() && p.isRunning && Date() < deadline { usleep(2000) }
        #expect(p.isRunning, "the run ended before it could be interrupted")
        kill(p.processIdentifier, sig)
        p.waitUntilExit()
        return p.terminationStatus
    }

    @Test func interruptedRunsResumeToTheSameBytes() throws {
        let f = try DistillFixture()
        defer { f.remove() }
        // 2 blocks × 300 warm-start steps, then 2400 end to end: the kill -9 comes after the checkpoint at step 400
        // (block 1's warm start), the SIGINT after 50 logged lines (block 0's)
        let steps = 2400, warm = ["--blockwise-steps", "300"]
        let ref = try Tool.run("tllm-distill", args(f, "ref.tllm", steps: steps, extra: warm))
        #expect(ref.status == 0, "\(ref.stderr)")
        let reference = try Data(contentsOf: f.dir.appendingPathComponent("ref.tllm"))

        // kill -9 between checkpoints (after the first one exists), then resume from it
        let ck = f.dir.appendingPathComponent("k.tllm.ckpt").path
        let a = args(f, "k.tllm", steps: steps, extra: warm + ["--checkpoint-every", "400"])
        let status = try interrupt(a, signal: SIGKILL) { FileManager.default.fileExists(atPath: ck) }
        #expect(status != 0 && FileManager.default.fileExists(atPath: ck))
        #expect(!FileManager.default.fileExists(atPath: f.dir.appendingPathComponent("k.tllm").path))
        let r = try Tool.run("tllm-distill", a + ["--resume", ck])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try Data(contentsOf: f.dir.appendingPathComponent("k.tllm")) == reference)

        // SIGINT: a checkpoint now, exit status 130, no output; resume
        let log = f.dir.appendingPathComponent("i.jsonl").path
        let b = args(f, "i.tllm", steps: steps, extra: warm + ["--log", log])
        let s2 = try interrupt(b, signal: SIGINT) {
            ((try? String(contentsOfFile: log, encoding: .utf8))?.split(separator: "\n").count ?? 0) > 50
        }
        #expect(s2 == 130)
        let ck2 = f.dir.appendingPathComponent("i.tllm.ckpt").path
        #expect(FileManager.default.fileExists(atPath: ck2))
        let r2 = try Tool.run("tllm-distill", b + ["--resume", ck2])
        #expect(r2.status == 0, "\(r2.stderr)")
        #expect(try Data(contentsOf: f.dir.appendingPathComponent("i.tllm")) == reference)
        // every step once, and the evaluations at the start, after the warm start and at the end
        #expect(try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").count == 600 + steps + 3)
    }

    @Test func usageAndDataErrors() throws {
        let f = try DistillFixture()
        defer { f.remove() }
        let out = f.dir.appendingPathComponent("o.tllm").path
        for a in [["--student", f.student, "-o", out], ["--calib", f.calib, "-o", out], args(f, "o.tllm", steps: 0),
                  args(f, "o.tllm", steps: 5, extra: ["--schedule", "step"]), args(f, "o.tllm", steps: 5, extra: ["--lr", "-1"]),
                  ["--student", f.student, "--calib", f.calib, "-o", out], ["--merge", "-o", out], [f.student, "-o", out]] {
            let r = try Tool.run("tllm-distill", a)
            #expect(r.status == 2, "\(a): \(r.stderr)")
        }
        let missing = f.dir.appendingPathComponent("none.tllm").path
        let r = try Tool.run("tllm-distill", ["--teacher", f.teacher, "--student", missing, "--calib", f.calib, "-o", out])
        #expect(r.status == 1 && r.stderr == "tllm-distill: error: \(missing): no such file or directory\n", "\(r.stderr)")
        // a float container where the student should be
        let r2 = try Tool.run("tllm-distill", ["--teacher", f.teacher, "--student", f.teacher, "--calib", f.calib, "-o", out])
        #expect(r2.status == 1 && r2.stderr.hasPrefix("tllm-distill: error: \(f.teacher): ") && r2.stderr.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test func blocksThroughTheToolMergeAndRun() throws {
        let f = try DistillFixture()
        defer { f.remove() }
        var parts: [String] = []
        for i in 0..<2 {
            let p = f.dir.appendingPathComponent("p\(i).tllm").path
            let r = try Tool.run("tllm-distill", ["--student", f.student, "--calib", f.calib, "--block", "\(i)", "-o", p, "--steps", "5",
                                                  "--batch", "3", "-q"])
            #expect(r.status == 0, "\(r.stderr)")
            parts.append(p)
        }
        let out = f.dir.appendingPathComponent("m.tllm").path
        let m = try Tool.run("tllm-distill", ["--merge"] + parts + ["-o", out, "--json"])
        #expect(m.status == 0, "\(m.stderr)")
        let j = try m.stdout.withUnsafeBytes { try JSON.parse($0, file: "stdout") }
        #expect(j["blocks"]?.array?.compactMap(\.int) == [0, 1])
        let g = try Tool.run("tllm-gen", ["-m", out, "--bench", "-p", "8", "-n", "4", "-r", "1"])
        #expect(g.status == 0, "\(g.stderr)")
    }
}
