// Encoding speed on calib.txt (MB/s) for the stories260K tokenizer from GGUF (llama.cpp's score merges) and
// from tokenizer.json (rank merges), and for the byte-level fixture (LLaMA-3 pipeline). Manual only: set
// TLLM_TOKENIZER_BENCH=1 and build in release, e.g.
//   swift test -c release -Xswiftc -enable-testing --filter TokenizerBenchmark

import Foundation
import Testing
@testable import TLLMCore

@Suite struct TokenizerBenchmarkTests {
    static let enabled = ProcessInfo.processInfo.environment["TLLM_TOKENIZER_BENCH"] != nil && SharedData.available

    static func rate(_ name: String, _ t: Tokenizer, _ text: String, runs: Int = 5) -> Double {
        var best = Double.infinity
        var n = 0
        for _ in 0..<runs {
            let t0 = Date()
            n = t.encode(text).count
            best = min(best, Date().timeIntervalSince(t0))
        }
        let mbs = Double(text.utf8.count) / 1e6 / best
        FileHandle.standardError.write(Data(String(format: "tokenizer bench %@: %d ids, best of %d %.1f ms, %.2f MB/s\n",
                                                   name, n, runs, best * 1000, mbs).utf8))
        return mbs
    }

    @Test(.enabled(if: enabled))
    func encodeSpeedOnCalib() throws {
        let text = try TokenizerStoriesTests.calibText()
        #expect(Self.rate("stories260K gguf (spm)", try TokenizerStoriesTests.gguf(), text) > 0)
        #expect(Self.rate("stories260K tokenizer.json (bpe)", try TokenizerStoriesTests.hf(), text) > 0)
        #expect(Self.rate("byte-level llama3 fixture", try TokenizerFixtures.hf("llama3"), text) > 0)
        let t = try TokenizerStoriesTests.gguf(), ids = t.encode(text)
        let t0 = Date()
        let back = t.decode(ids)
        FileHandle.standardError.write(Data(String(format: "tokenizer bench decode: %.1f ms\n", Date().timeIntervalSince(t0) * 1000).utf8))
        #expect(back == text)
    }
}
