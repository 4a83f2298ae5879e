// tllm-gen --tokenize / --detokenize as a user runs them, against llama.cpp's ids for stories260K; --perplexity with
// --kl-base.

import Foundation
import Testing
@testable import TLLMCore

@Suite(.enabled(if: Tool.available && SharedData.available)) struct GenToolTests {
    @Test(arguments: ["stories260K-F32.gguf", "hf"])
    func tokenizeCalibMatchesLlamaCpp(model: String) throws {
        let golden = try JSON.parse(contentsOf: SharedData.stories + "/golden/ppl_calib.json")
        let r = try Tool.run("tllm-gen", ["--model", SharedData.stories + "/" + model, "--tokenize",
                                          "--file", SharedData.path("data/tinystories/calib.txt")])
        #expect(r.status == 0, "\(r.stderr)")
        let ids = String(decoding: r.stdout, as: UTF8.self).split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        #expect(ids.count == golden["n_tokens_including_leading_bos"]?.int)
        #expect(Array(ids.prefix(32)) == golden["first_32_token_ids"]?.array?.compactMap(\.int))
        #expect(Array(ids.suffix(8)) == golden["last_8_token_ids"]?.array?.compactMap(\.int))
    }

    @Test func tokenizeThenDetokenizeThroughAContainer() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let c = dir.appendingPathComponent("m.tllm").path
        _ = try convertModel(input: SharedData.stories + "/hf", output: c, dtype: nil, quiet: true)
        let text = "Once upon a time, Lily saw a 🐶 in the park.\nThe end."
        let input = dir.appendingPathComponent("in.txt")
        try Data(text.utf8).write(to: input)
        let ids = try Tool.run("tllm-gen", ["-m", c, "--tokenize", "-f", input.path])
        #expect(String(decoding: ids.stdout, as: UTF8.self).hasPrefix("1 403 407 261 378 "))
        let noBos = try Tool.run("tllm-gen", ["-m", c, "--tokenize", "-f", input.path, "--no-bos"])
        #expect(String(decoding: noBos.stdout, as: UTF8.self).hasPrefix("403 407 261 378 "))
        let idsFile = dir.appendingPathComponent("ids.txt")
        try ids.stdout.write(to: idsFile)
        let back = try Tool.run("tllm-gen", ["-m", c, "--detokenize"], stdin: idsFile)
        #expect(String(decoding: back.stdout, as: UTF8.self) == text)
        // A word that is not an id is a one-line error.
        try Data("1 2 banana".utf8).write(to: idsFile)
        let bad = try Tool.run("tllm-gen", ["-m", c, "--detokenize", "-f", idsFile.path])
        #expect(bad.status == 1 && bad.stderr.hasPrefix("tllm-gen: error: \(idsFile.path): word 3"))
    }

    /// --kl-base: the f32 model against itself is 0 with every top token the same; its f16 rounding against the f32
    /// model is a little above 0, and the PPL line is the one --perplexity prints alone.
    @Test func klBaseAgainstTheFloatModel() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = dir.appendingPathComponent("t.txt")
        let calib = try String(contentsOfFile: SharedData.path("data/tinystories/calib.txt"), encoding: .utf8)
        try Data(calib.prefix(6000).utf8).write(to: text)
        let gguf = SharedData.stories + "/stories260K-F32.gguf"
        let same = try Tool.run("tllm-gen", ["-m", gguf, "--perplexity", text.path, "--ctx", "128", "--kl-base", gguf, "--json", "-q"])
        #expect(same.status == 0, "\(same.stderr)")
        let j = try JSON.parse(String(decoding: same.stdout, as: UTF8.self), file: "stdout")
        #expect(j["mean_kld"]?.double == 0 && j["same_top"]?.double == 1 && j["ppl_ratio"]?.double == 1)
        let f16 = try Tool.run("tllm-gen", ["-m", gguf, "--dtype", "f16", "--perplexity", text.path, "--ctx", "128", "--kl-base", gguf, "-q"])
        let plain = try Tool.run("tllm-gen", ["-m", gguf, "--dtype", "f16", "--perplexity", text.path, "--ctx", "128", "-q"])
        let lines = String(decoding: f16.stdout, as: UTF8.self).split(separator: "\n")
        #expect(f16.status == 0 && lines.count == 6, "\(f16.stderr)")
        #expect(lines.first == String(decoding: plain.stdout, as: UTF8.self).split(separator: "\n").first)
        let kld = lines.first { $0.hasPrefix("mean KLD = ") }.flatMap { Double($0.dropFirst(11).split(separator: " ")[0]) }
        #expect(kld.map { $0 > 0 && $0 < 1e-3 } == true, "\(lines)")
        let bad = try Tool.run("tllm-gen", ["-m", gguf, "--kl-base", gguf])
        #expect(bad.status != 0 && bad.stderr.contains("--kl-base goes with --perplexity"))
    }
}
