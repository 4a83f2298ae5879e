// Runs the built tllm-convert binary (swift build puts it in .build/debug): exit codes, one-line errors, no
// output left behind on failure, pipes, reproducible output, and --help / man page documenting every flag.

import Foundation
import Testing
@testable import TLLMCore

@Suite(.enabled(if: Tool.available)) struct ConvertToolTests {
    @Test func usageErrorsExitWith2() throws {
        #expect(try Tool.run("tllm-convert", []).status == 2)
        #expect(try Tool.run("tllm-convert", ["x.gguf", "--dtype", "i8", "-o", "y.tllm"]).status == 2)
    }

    @Test func badInputGivesOneLineAndNoOutput() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cfg = TinyModel.config()
        let hf = try TinyModel.writeHF(cfg, to: dir.appendingPathComponent("hf"))
        let good = dir.appendingPathComponent("m.gguf").path
        _ = try convertModel(input: hf, output: good, dtype: nil, quiet: true)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        let cases: [(String, Data)] = [
            ("truncated.gguf", bytes.prefix(bytes.count - 100)),
            ("header-only.gguf", bytes.prefix(40)),
            ("badmagic.gguf", Data("GGUX".utf8) + bytes.dropFirst(4)),
            ("empty.gguf", Data()),
            ("text.gguf", Data("hello world, this is not a model at all".utf8)),
        ]
        for (name, data) in cases {
            let input = dir.appendingPathComponent(name)
            try data.write(to: input)
            let outDir = dir.appendingPathComponent("out-\(name)")
            try FileManager.default.createDirectory(at: outDir, withIntermediateDirectories: true)
            let r = try Tool.run("tllm-convert", [input.path, "-o", outDir.appendingPathComponent("x.tllm").path])
            #expect(r.status == 1, "\(name): exit \(r.status)")
            let lines = r.stderr.split(separator: "\n")
            #expect(lines.count == 1, "\(name): \(r.stderr)")
            #expect(r.stderr.hasPrefix("tllm-convert: error: \(input.path)"), "\(name): \(r.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: outDir.path).isEmpty, "\(name): output left behind")
        }
        let missing = try Tool.run("tllm-convert", [dir.appendingPathComponent("nope.gguf").path, "-o", dir.appendingPathComponent("x.tllm").path])
        #expect(missing.status == 1 && missing.stderr.contains("no such file"))
    }

    @Test func pipesAndReproducibility() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let hf = try TinyModel.writeHF(TinyModel.config(arch: "qwen2"), to: dir.appendingPathComponent("hf"))
        let a = dir.appendingPathComponent("a.tllm"), b = dir.appendingPathComponent("b.tllm")
        let piped = dir.appendingPathComponent("piped.tllm"), c = dir.appendingPathComponent("c.tllm")
        #expect(try Tool.run("tllm-convert", [hf, "-o", a.path, "-q"]).status == 0)
        #expect(try Tool.run("tllm-convert", [hf, b.path, "-q"]).status == 0)
        // Container to stdout, then a container from stdin.
        #expect(try Tool.run("tllm-convert", [hf, "-", "-q"], stdoutTo: piped).status == 0)
        #expect(try Tool.run("tllm-convert", ["-", "-o", c.path, "-q"], stdin: piped).status == 0)
        let da = try Data(contentsOf: a)
        #expect(da == (try Data(contentsOf: b)), "two runs differ")
        #expect(da == (try Data(contentsOf: piped)), "stdout output differs from the file output")
        #expect(da == (try Data(contentsOf: c)), "stdin → file differs")
    }

    @Test func inspectPrintsTableAndJSON() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let hf = try TinyModel.writeHF(TinyModel.config(), to: dir.appendingPathComponent("hf"))
        let r = try Tool.run("tllm-convert", ["--inspect", hf])
        #expect(r.status == 0)
        let text = String(decoding: r.stdout, as: UTF8.self)
        #expect(text.contains("architecture:  llama") && text.contains("model.layers.1.mlp.down_proj.weight"))
        let j = try Tool.run("tllm-convert", ["--inspect", hf, "--json"]).stdout.withUnsafeBytes { try JSON.parse($0, file: "json") }
        #expect(j["tensors"]?.array?.count == TensorNames.expected(for: TinyModel.config()).count)
        #expect(j["config"]?["num_layers"]?.int == 2)
    }
}
