// The built tllm-calib binary on stories260K: the same tokens from plain, compressed, tar, JSON Lines and stdin
// inputs (and the same as the core tokenizer + CalibSequences give), byte-identical reruns, --generate, and
// bad inputs (missing field, empty text, model/calib mismatch) as one-line errors with no output left.

import Foundation
import Testing
@testable import TLLMCore

@Suite(.enabled(if: Tool.available && SharedData.available)) struct CalibToolTests {
    /// The first paragraphs of calib.txt (about 8 kB).
    static func sampleText() throws -> String {
        let all = try String(contentsOfFile: SharedData.path("data/tinystories/calib.txt"), encoding: .utf8)
        let end = all.range(of: "\n\n", range: all.index(all.startIndex, offsetBy: 8000)..<all.endIndex)!.upperBound
        return String(all[..<end])
    }

    static let common = ["--seq-len", "64", "--samples", "6", "--holdout", "0.2", "--layers", "0", "--seed", "3", "-q", "--threads", "1"]

    static func tokens(_ path: String) throws -> [Int32] { try CalibData(path: path).tokens() }

    @Test func everyInputFormGivesTheSameTokens() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = SharedData.stories + "/hf"
        let text = try Self.sampleText()
        let txt = dir.appendingPathComponent("s.txt")
        try Data(text.utf8).write(to: txt)
        let out = dir.appendingPathComponent("plain.tllm").path
        let r = try Tool.run("tllm-calib", [model, txt.path, "-o", out] + Self.common)
        #expect(r.status == 0, "\(r.stderr)")
        let ref = try Self.tokens(out)
        // The core computes the same sequences.
        let tok = try loadTokenizer(forModel: model)
        let stream = CalibSequences.tokenStream([TextDocument(source: "", text: text)], tokenizer: tok)
        let seqs = try CalibSequences.fromText(stream, seqLen: 64, samples: 6, holdout: 0.2, seed: 3, bos: 1, source: "")
        let split = try CalibData(path: out).split()
        #expect(ref == seqs.tokens && split == [0, 0, 0, 0, 0, 1])

        for (tool, ext) in [("gzip", "gz"), ("zstd", "zst"), ("xz", "xz")] { try shell([tool, "-k", "-q", txt.path]); _ = ext }
        try shell(["tar", "czf", "s.tar.gz", "s.txt"], cwd: dir)
        let jsonl = dir.appendingPathComponent("s.jsonl")
        try Data((JSON.object([("id", 1), ("text", .string(text))]).text(pretty: false) + "\n").utf8).write(to: jsonl)
        for (input, extra) in [("s.txt.gz", [String]()), ("s.txt.zst", []), ("s.txt.xz", []), ("s.tar.gz", []), ("s.jsonl", ["--field", "text"])] {
            let o = dir.appendingPathComponent(input + ".calib.tllm").path
            let r = try Tool.run("tllm-calib", [model, dir.appendingPathComponent(input).path, "-o", o] + Self.common + extra)
            #expect(r.status == 0, "\(input): \(r.stderr)")
            #expect(try Self.tokens(o) == ref, "\(input)")
        }
        let o = dir.appendingPathComponent("stdin.tllm").path
        let s = try Tool.run("tllm-calib", [model, "-", "-o", o] + Self.common, stdin: txt)
        #expect(s.status == 0, "\(s.stderr)")
        #expect(try Self.tokens(o) == ref)
        // A seeded rerun is byte for byte the same file.
        let again = dir.appendingPathComponent("again.tllm").path
        _ = try Tool.run("tllm-calib", [model, txt.path, "-o", again] + Self.common)
        #expect(try Data(contentsOf: URL(fileURLWithPath: again)) == Data(contentsOf: URL(fileURLWithPath: out)))
    }

    @Test func generateAloneAndMixed() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = SharedData.stories + "/hf"
        let gen = dir.appendingPathComponent("gen.tllm").path
        let r = try Tool.run("tllm-calib", [model, "--generate", "3", "--seq-len", "24", "--layers", "none", "-o", gen, "--seed", "9"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("3 sequences of 24 tokens (2 train, 1 held out; 3 generated)"))
        #expect(r.stderr.contains("top outlier channels") && r.stderr.contains("block 4 mlp.down_proj"))
        let c = try CalibData(path: gen)
        #expect(c.container.tensor(named: "origin")!.floats() == [1, 1, 1] && c.hidden(0) == nil)
        #expect(c.tokens().enumerated().allSatisfy { $0.offset % 24 != 0 || $0.element == 1 })
        let txt = dir.appendingPathComponent("s.txt")
        try Data(try Self.sampleText().utf8).write(to: txt)
        let mixed = dir.appendingPathComponent("mixed.tllm").path
        let m = try Tool.run("tllm-calib", [model, txt.path, "--generate", "2", "--seq-len", "24", "--samples", "4", "--layers", "none", "-o", mixed, "-q"])
        #expect(m.status == 0, "\(m.stderr)")
        #expect(try CalibData(path: mixed).container.tensor(named: "origin")!.floats() == [0, 0, 0, 0, 1, 1])
    }

    @Test func badInputsAreOneLineErrorsWithNoOutput() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = SharedData.stories + "/hf"
        let out = dir.appendingPathComponent("c.tllm").path
        let jsonl = dir.appendingPathComponent("d.jsonl")
        try Data("{\"body\": \"Once upon a time\"}\n".utf8).write(to: jsonl)
        let r1 = try Tool.run("tllm-calib", [model, jsonl.path, "--field", "text", "-o", out])
        #expect(r1.status == 1 && r1.stderr == "tllm-calib: error: \(jsonl.path): line 1: no field \"text\"\n", "\(r1.stderr)")
        let empty = dir.appendingPathComponent("empty.txt")
        try Data("\n  \n".utf8).write(to: empty)
        let r2 = try Tool.run("tllm-calib", [model, empty.path, "-o", out])
        #expect(r2.status == 1 && r2.stderr == "tllm-calib: error: \(empty.path): no text (the input is empty)\n", "\(r2.stderr)")
        let short = dir.appendingPathComponent("short.txt")
        try Data("Once upon a time there was a cat.".utf8).write(to: short)
        let r3 = try Tool.run("tllm-calib", [model, short.path, "-o", out, "--seq-len", "256"])
        #expect(r3.status == 1 && r3.stderr.contains("one sequence of --seq-len 256 needs 255"), "\(r3.stderr)")
        #expect(try Tool.run("tllm-calib", [model, "-o", out]).status == 2)
        #expect(!FileManager.default.fileExists(atPath: out))
        // A calibration of stories260K given to tllm-ternarize with another model.
        let calib = dir.appendingPathComponent("stories.calib.tllm").path
        let txt = dir.appendingPathComponent("s.txt")
        try Data(try Self.sampleText().utf8).write(to: txt)
        #expect(try Tool.run("tllm-calib", [model, txt.path, "-o", calib] + Self.common).status == 0)
        let float = try TernaryFixtures.floatContainer(in: dir)
        let t = dir.appendingPathComponent("t.tllm").path
        let r4 = try Tool.run("tllm-ternarize", [float, "-o", t, "--calib", calib])
        #expect(r4.status == 1 && r4.stderr.hasPrefix("tllm-ternarize: error: \(calib): was captured from a different model than \(float)"), "\(r4.stderr)")
        #expect(r4.stderr.split(separator: "\n").count == 1 && !FileManager.default.fileExists(atPath: t))
    }
}
