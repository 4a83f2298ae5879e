// The numbers of issue 5, in-process (scripts/ternary/eval-ternary.sh does the same with the built tools):
// stories260K perplexity at ctx 256 on the last 20% of calib.txt for float and for absmean / twn / dlt (each
// also with the activation-aware refit) at G = 64 and per row, fitting and calibrating on the first 80% only.
// Slow in debug: run with TLLM_TERNARY_EVAL=<work dir> `swift test -c release --filter TernaryEvalTable`.

import Foundation
import Testing
@testable import TLLMCore

@Suite(.enabled(if: SharedData.available && ProcessInfo.processInfo.environment["TLLM_TERNARY_EVAL"] != nil))
struct TernaryEvalTable {
    /// calib.txt cut at the first blank line after 80% of its bytes: (fit part, evaluation part).
    static func split() throws -> (String, String) {
        let d = try Data(contentsOf: URL(fileURLWithPath: SharedData.path("data/tinystories/calib.txt")))
        let b = [UInt8](d)
        var i = b.count * 8 / 10
        while i + 1 < b.count, !(b[i] == 0x0A && b[i + 1] == 0x0A) { i += 1 }
        return (String(decoding: b[..<(i + 2)], as: UTF8.self), String(decoding: b[(i + 2)...], as: UTF8.self))
    }

    @Test func perplexityTable() throws {
        let work = URL(fileURLWithPath: ProcessInfo.processInfo.environment["TLLM_TERNARY_EVAL"]!)
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        func path(_ n: String) -> String { work.appendingPathComponent(n).path }
        let (fit, eval) = try Self.split()
        try Data(fit.utf8).write(to: URL(fileURLWithPath: path("fit.txt")))
        try Data(eval.utf8).write(to: URL(fileURLWithPath: path("eval.txt")))
        let float = path("stories260K.tllm")
        _ = try convertModel(input: SharedData.stories + "/hf", output: float, dtype: nil, quiet: true)
        var co = CalibOptions(model: float, inputs: [path("fit.txt")], output: path("calib.tllm"))
        co.layers = .none
        co.quiet = true
        let cs = try runCalibration(co)
        let tok = try loadTokenizer(forModel: float)
        let ids = tok.encode(eval)
        func ppl(_ src: ModelSource) throws -> PerplexityResult { try FloatModel(source: src).perplexity(tokens: ids, context: 256) }
        var models: [String: String] = [:]

        var rows: [(String, String, PerplexityResult, Double)] = [("float", "-", try ppl(try openModel(float)), 0)]
        for g in [64, 0] {
            for m in TernaryInit.allCases.reversed() {
                for refit in [false, true] {
                    var o = TernarizeOptions()
                    o.groupSize = g
                    o.method = m
                    o.calib = refit ? path("calib.tllm") : nil
                    let out = path("\(m.rawValue)\(refit ? "+refit" : "")-g\(g).tllm")
                    let r = try ternarizeModel(input: float, output: out, options: o)
                    let werr = r.reports.reduce(0) { $0 + $1.weightError } / Double(r.reports.count)
                    let key = m.rawValue + (refit ? "+refit" : "") + (g == 0 ? "/row" : "/\(g)")
                    models[key] = out
                    rows.append((m.rawValue + (refit ? "+refit" : ""), g == 0 ? "row" : "\(g)", try ppl(try TernarySource(path: out)), werr))
                }
            }
        }
        var table = "calib: \(cs.sequences) sequences of 256 (\(cs.train) train, \(cs.tokensTrain) tokens) from the first 80%;"
        table += " eval: \(ids.count) tokens, ctx 256\n\n| method | G | PPL | ± | mean ‖W−Ŵ‖/‖W‖ |\n|---|---|---|---|---|\n"
        for (m, g, p, w) in rows { table += String(format: "| %@ | %@ | %.3f | %.3f | %.4f |\n", m, g, p.ppl, p.stderr, w) }
        // Paired differences (same tokens) between neighbours of the expected ordering.
        table += "\npaired mean ΔNLL per scored token (a − b; < 0: a is better), ± its standard error:\n"
        for g in ["64", "row"] {
            for (a, b) in [("dlt+refit", "dlt"), ("dlt", "twn"), ("twn", "absmean")] {
                let d = try pairedDelta(models["\(a)/\(g)"]!, models["\(b)/\(g)"]!, ids)
                table += String(format: "  G=%@  %@ − %@: %+.4f ± %.4f\n", g, a, b, d.0, d.1)
            }
        }
        // Where dlt loses to twn per row: swap one projection type of the twn model for dlt's and measure.
        table += "\nper-row ablation: twn everywhere except one projection type fitted by dlt (PPL):\n"
        for proj in ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] {
            let p = try hybridPerplexity(base: models["twn/row"]!, swap: models["dlt/row"]!, proj: proj, ids)
            table += String(format: "  dlt %@: %.3f\n", proj, p)
        }
        try Data(table.utf8).write(to: URL(fileURLWithPath: path("table.md")))
        FileHandle.standardError.write(Data(table.utf8))
        // The float number is the one llama.cpp's protocol gives on this text; ternary ones must be finite.
        #expect(rows.allSatisfy { $0.2.ppl.isFinite && $0.2.ppl > 1 })
    }
}

/// Negative log-likelihood of every scored token (llama.cpp's protocol, as FloatModel.perplexity scores them).
func scoredNLL(_ m: FloatModel, _ ids: [Int32], context nCtx: Int = 256) throws -> [Double] {
    var out: [Double] = []
    let V = m.config.vocabSize
    _ = try perplexity(tokens: ids, context: nCtx, bos: 1, vocabSize: V) { chunk, first in
        let z = try m.forward(tokens: chunk, logitsFrom: first)
        z.withUnsafeBufferPointer { zp in
            for p in first..<(nCtx - 1) { out.append(-logSoftmaxAt(zp.baseAddress! + (p - first) * V, V, Int(chunk[p + 1]))) }
        }
        return z
    }
    return out
}

/// Mean and standard error of NLL(a) − NLL(b) over the same scored tokens.
func pairedDelta(_ a: String, _ b: String, _ ids: [Int32]) throws -> (Double, Double) {
    let x = try scoredNLL(try FloatModel(source: try TernarySource(path: a)), ids)
    let y = try scoredNLL(try FloatModel(source: try TernarySource(path: b)), ids)
    let d = zip(x, y).map { $0 - $1 }
    let mean = d.reduce(0, +) / Double(d.count)
    let v = d.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(d.count - 1)
    return (mean, (v / Double(d.count)).squareRoot())
}

/// Perplexity of the ternary model `base` with the weights of projection `proj` taken from `swap`.
func hybridPerplexity(base: String, swap: String, proj: String, _ ids: [Int32]) throws -> Double {
    let a = try TernarySource(path: base), b = try TernarySource(path: swap)
    var tensors: [Tensor] = []
    while let t = try a.nextTensor(), let u = try b.nextTensor() { tensors.append(t.name.contains(proj) ? u : t) }
    return try FloatModel(config: a.config, tensors: tensors).perplexity(tokens: ids, context: 256).ppl
}
