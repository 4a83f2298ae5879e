// stories260K perplexity on ../shared/data/tinystories/calib.txt against llama.cpp's recorded values
// (golden/ppl_calib.json: 4.2412 ± 0.02576 at ctx 256, 4.2812 ± 0.0266 at ctx 512) within 0.1%: the whole file
// tokenized once with BOS by the core tokenizer (hf/tokenizer.json, llama.cpp's ids), llama-perplexity's chunks.
// 2 × 193,801 tokens: about 10 s in a release build, far too slow unoptimized (the SIMD loops run 100× slower), so
// a debug build skips it unless TLLM_SLOW_TESTS is set. Run: swift test -c release --filter ForwardCalib

import Foundation
import Testing
@testable import TLLMCore

@Suite("Forward: stories260K calib perplexity", .enabled(if: SharedData.available && ForwardFixtures.slowTestsEnabled))
struct ForwardCalibPerplexityTests {
    static func calibIDs() throws -> [Int32] {
        let dir = SharedData.stories + "/hf"
        let tok = try Tokenizer(hfTokenizerJSON: try JSON.parse(contentsOf: dir + "/tokenizer.json"),
                                config: try JSON.parse(contentsOf: dir + "/tokenizer_config.json"), file: dir + "/tokenizer.json")
        let text = try String(contentsOfFile: SharedData.path("data/tinystories/calib.txt"), encoding: .utf8)
        return tok.encode(text)
    }

    @Test(arguments: [(256, 4.2412, 757, 96139), (512, 4.2812, 378, 96390)])
    func matchesLlamaCpp(_ ctx: Int, _ ppl: Double, _ chunks: Int, _ scored: Int) throws {
        let ids = try Self.calibIDs()
        let golden = try JSON.parse(contentsOf: SharedData.stories + "/golden/ppl_calib.json")
        #expect(ids.count == golden["n_tokens_including_leading_bos"]!.int!)
        #expect(Array(ids.prefix(32)) == ForwardFixtures.ints(golden["first_32_token_ids"]))
        let m = try FloatModel(source: try openModel(SharedData.stories + "/hf"), threads: 2)
        let r = try m.perplexity(tokens: ids, context: ctx)
        ForwardFixtures.note("calib ctx \(ctx): PPL = \(r.ppl) +/- \(r.stderr), \(r.chunks) chunks, \(r.scored) scored")
        #expect(abs(r.ppl / ppl - 1) < 1e-3)
        #expect(r.chunks == chunks && r.scored == scored)
        let se = golden["results"]!["n_ctx_\(ctx)"]!["llama_cpp_stderr"]!.double!
        #expect(abs(r.stderr / se - 1) < 0.01)
    }
}
