// The six built tools end to end on stories260K, as a user runs them (issue 8): convert (GGUF) → calib → ternarize →
// distill → pack → gen through files, and convert | ternarize | pack through pipes. Every step must exit 0 and write
// a container of the expected kind whose checksums verify; the packed model must score the perplexity of the
// ternary container it was packed from (within 0.5%: α and γ become f16); the same seed must give the same bytes on
// a second run; and a pipe must give the bytes the files give. Small settings keep it to seconds.

import Foundation
import Testing
@testable import TLLMCore

@Suite(.enabled(if: SharedData.available && Tool.available)) struct PipelineIntegrationTests {
    static var gguf: String { SharedData.stories + "/stories260K-F32.gguf" }

    /// Writes the first 80% of calib.txt (to the end of the next blank line) as fit.txt and the rest as heldout.txt,
    /// the cut of scripts/split-text.sh.
    static func splitText(into dir: URL) throws -> (fit: URL, heldout: URL) {
        let text = [UInt8](try Data(contentsOf: URL(fileURLWithPath: SharedData.path("data/tinystories/calib.txt"))))
        let cut = text.count * 80 / 100
        var end = cut + 1
        while end < text.count && !(text[end] == 10 && text[end - 1] == 10) { end += 1 }
        let fit = dir.appendingPathComponent("fit.txt"), heldout = dir.appendingPathComponent("heldout.txt")
        try Data(text[..<(end + 1)]).write(to: fit)
        try Data(text[(end + 1)...]).write(to: heldout)
        return (fit, heldout)
    }

    /// Runs `tool args` and expects exit status 0.
    @discardableResult
    static func step(_ tool: String, _ args: [String]) throws -> ToolResult {
        let r = try Tool.run(tool, args)
        #expect(r.status == 0, "\(tool) \(args.joined(separator: " ")) exited with \(r.status): \(r.stderr)")
        return r
    }

    /// Expects `path` to be a container of `kind` whose SHA256SUMS verify.
    static func expectContainer(_ path: URL, _ kind: ContainerKind) throws {
        let c = try openContainer(path.path)
        #expect(c.manifest.kind == kind, "\(path.lastPathComponent) is \(c.manifest.kind.rawValue), expected \(kind.rawValue)")
        #expect(c.manifest.format == "tllm")
        try c.verify()
    }

    /// SHA-256 of every tensor of a container, by name (what two containers must share when only the input names
    /// in their manifests differ, e.g. a text read from stdin).
    static func tensorDigests(_ path: URL) throws -> [String: String] {
        let c = try openContainer(path.path)
        return Dictionary(uniqueKeysWithValues: c.tensors.map { ($0.name, SHA256.hex(of: $0.bytes)) })
    }

    static func perplexity(_ model: URL, _ text: URL, _ more: [String] = []) throws -> Double {
        let r = try step("tllm-gen", ["-m", model.path, "--perplexity", text.path, "--ctx", "256", "--threads", "2", "--json", "-q"] + more)
        let j = try r.stdout.withUnsafeBytes { try JSON.parse($0, file: "tllm-gen --json") }
        return try #require(j["ppl"]?.double)
    }

    /// The file pipeline in `dir`; returns the outputs (name → file) and the greedy sample.
    static func runFiles(in dir: URL, fit: URL) throws -> (files: [String: URL], sample: String) {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        func f(_ n: String) -> URL { dir.appendingPathComponent(n) }
        try step("tllm-convert", [gguf, "-o", f("m.tllm").path, "-q"])
        try step("tllm-calib", [f("m.tllm").path, fit.path, "-o", f("m.calib.tllm").path, "--samples", "32", "--seed", "7",
                                "--threads", "2", "-q"])
        try step("tllm-ternarize", [f("m.tllm").path, "-o", f("m.t.tllm").path, "--group", "64", "--calib", f("m.calib.tllm").path,
                                    "--threads", "2", "-q"])
        try step("tllm-distill", ["--teacher", f("m.tllm").path, "--student", f("m.t.tllm").path, "--calib", f("m.calib.tllm").path,
                                  "-o", f("m.off.tllm").path, "--steps", "10", "--batch", "2", "--seed", "7", "--threads", "2", "-q"])
        let pack = try step("tllm-pack", [f("m.off.tllm").path, "-o", f("m.off.tpk").path, "--json", "-q"])
        let summary = try pack.stdout.withUnsafeBytes { try JSON.parse($0, file: "tllm-pack --json") }
        #expect(summary["layout"]?.string == "t2" && summary["linear_weights"]?.int == 35)
        #expect(summary["file_bytes"]?.int == (try FileManager.default.attributesOfItem(atPath: f("m.off.tpk").path)[.size] as? NSNumber)?.intValue)
        let gen = try step("tllm-gen", ["-m", f("m.off.tpk").path, "-p", "Once upon a time", "-n", "24", "--temp", "0",
                                        "--threads", "2", "-q"])
        return (["m.tllm": f("m.tllm"), "m.calib.tllm": f("m.calib.tllm"), "m.t.tllm": f("m.t.tllm"),
                 "m.off.tllm": f("m.off.tllm"), "m.off.tpk": f("m.off.tpk")],
                String(decoding: gen.stdout, as: UTF8.self))
    }

    @Test func filesEndToEndAreValidDeterministicAndPackedKeepsThePerplexity() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (fit, heldout) = try Self.splitText(into: dir)
        var a = try Self.runFiles(in: dir.appendingPathComponent("run"), fit: fit)
        let kinds: [String: ContainerKind] = ["m.tllm": .float, "m.calib.tllm": .calib, "m.t.tllm": .ternary,
                                              "m.off.tllm": .ternary, "m.off.tpk": .packed]
        for (name, kind) in kinds { try Self.expectContainer(try #require(a.files[name]), kind) }
        #expect(a.sample.count > 20, "greedy sample: \(a.sample)")

        let float = try Self.perplexity(a.files["m.tllm"]!, heldout)
        let fitted = try Self.perplexity(a.files["m.t.tllm"]!, heldout)
        let distilled = try Self.perplexity(a.files["m.off.tllm"]!, heldout)
        let packed = try Self.perplexity(a.files["m.off.tpk"]!, heldout)
        #expect(abs(packed / distilled - 1) < 0.005, "packed \(packed) vs its ternary container \(distilled)")
        #expect(try Self.perplexity(a.files["m.off.tpk"]!, heldout, ["--no-mmap"]) == packed, "read into memory vs mapped")
        #expect(float < distilled && distilled < fitted, "float \(float), DLT + OFF \(distilled), DLT \(fitted)")

        // Same seeds, same bytes: every step again, under the same paths (the manifests record the inputs' names).
        try FileManager.default.moveItem(at: dir.appendingPathComponent("run"), to: dir.appendingPathComponent("a"))
        let b = try Self.runFiles(in: dir.appendingPathComponent("run"), fit: fit)
        a.files = a.files.mapValues { dir.appendingPathComponent("a").appendingPathComponent($0.lastPathComponent) }
        for name in kinds.keys.sorted() {
            #expect(try Data(contentsOf: a.files[name]!) == Data(contentsOf: b.files[name]!), "\(name) differs between two runs")
        }
        #expect(a.sample == b.sample)
    }

    @Test func pipesGiveTheBytesOfFiles() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (fit, _) = try Self.splitText(into: dir)
        let g = Self.gguf
        try Self.step("tllm-convert", [g, "-o", dir.appendingPathComponent("m.tllm").path, "-q"])
        try Self.step("tllm-ternarize", ["m.tllm", "m.t.tllm"].map { dir.appendingPathComponent($0).path } + ["-q"])
        try Self.step("tllm-pack", ["m.t.tllm", "m.tpk"].map { dir.appendingPathComponent($0).path } + ["-q"])
        try Self.step("tllm-calib", [dir.appendingPathComponent("m.tllm").path, fit.path, "-o", dir.appendingPathComponent("c.tllm").path,
                                     "--samples", "32", "--layers", "none", "-q"])
        try Self.step("tllm-ternarize", ["m.tllm", "m.t64.tllm"].map { dir.appendingPathComponent($0).path }
                      + ["--group", "64", "--calib", dir.appendingPathComponent("c.tllm").path, "-q"])
        try Self.step("tllm-pack", ["m.t64.tllm", "m.t64.tpk"].map { dir.appendingPathComponent($0).path } + ["-q"])

        // The README's pipe, as typed; then with calibration data and the text on stdin.
        let r = try Tool.shell("""
            tllm-convert '\(g)' - | tllm-ternarize - - | tllm-pack - pipe.tpk
            tllm-convert '\(g)' - -q | tllm-ternarize - - --group 64 --calib c.tllm -q | tllm-pack - - -q > pipe64.tpk
            tllm-calib m.tllm - -o - --samples 32 --layers none -q < fit.txt > c-stdin.tllm
            """, in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("tllm-pack: - → pipe.tpk"), "\(r.stderr)")
        try Self.expectContainer(dir.appendingPathComponent("pipe.tpk"), .packed)
        for (piped, file) in [("pipe.tpk", "m.tpk"), ("pipe64.tpk", "m.t64.tpk")] {
            #expect(try Data(contentsOf: dir.appendingPathComponent(piped)) == Data(contentsOf: dir.appendingPathComponent(file)),
                    "\(piped) differs from \(file)")
        }
        try Self.expectContainer(dir.appendingPathComponent("c-stdin.tllm"), .calib)
        #expect(try Self.tensorDigests(dir.appendingPathComponent("c-stdin.tllm")) == Self.tensorDigests(dir.appendingPathComponent("c.tllm")),
                "calibration from stdin differs from calibration from the file")

        // A failing first stage fails the pipeline, names the tool and the file, and leaves no output.
        let bad = try Tool.shell("tllm-convert missing.gguf - | tllm-ternarize - - -q | tllm-pack - bad.tpk -q", in: dir)
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("tllm-convert: error: missing.gguf: no such file or directory"), "\(bad.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("bad.tpk").path))
    }
}
