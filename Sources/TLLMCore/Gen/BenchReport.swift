// tllm-gen --bench output in llama-bench's shape: one row per test (pp N = prompt processing of N tokens in
// one batch, tg N = N generated tokens one at a time), tokens/s as median ± standard deviation over the
// repetitions; the same rows as JSON objects with --json.

import Foundation

public struct BenchRow {
    public var model: String
    public var sizeBytes: Int
    public var parameters: Int
    public var threads: Int
    public var test: String
    public var rates: [Double]

    public var median: Double { ForwardBenchResult.median(rates) }
    public var spread: Double { ForwardBenchResult.spread(rates) }

    public init(model: String, sizeBytes: Int, parameters: Int, threads: Int, test: String, rates: [Double]) {
        self.model = model
        self.sizeBytes = sizeBytes
        self.parameters = parameters
        self.threads = threads
        self.test = test
        self.rates = rates
    }

    public func toJSON() -> JSON {
        .object([("model", .string(model)), ("size_bytes", JSON(sizeBytes)), ("parameters", JSON(parameters)),
                 ("threads", JSON(threads)), ("test", .string(test)), ("tokens_per_second", .double(median)),
                 ("stddev", .double(spread)), ("samples", .array(rates.map { .double($0) }))])
    }
}

/// The markdown table llama-bench prints.
public func benchTable(_ rows: [BenchRow]) -> String {
    func size(_ b: Int) -> String {
        b >= 1 << 30 ? String(format: "%.2f GiB", Double(b) / Double(1 << 30)) : String(format: "%.2f MiB", Double(b) / Double(1 << 20))
    }
    func params(_ p: Int) -> String { p >= 1_000_000_000 ? String(format: "%.2f B", Double(p) / 1e9) : String(format: "%.2f M", Double(p) / 1e6) }
    let header = ["model", "size", "params", "backend", "threads", "test", "t/s"]
    var cells = rows.map { r in
        [r.model, size(r.sizeBytes), params(r.parameters), "CPU", "\(r.threads)", r.test, String(format: "%.2f ± %.2f", r.median, r.spread)]
    }
    cells.insert(header, at: 0)
    let widths = header.indices.map { c in cells.map { $0[c].count }.max()! }
    var out = ""
    for (i, row) in cells.enumerated() {
        out += "| " + row.enumerated().map { c, v in
            c >= 2 ? String(repeating: " ", count: widths[c] - v.count) + v : v + String(repeating: " ", count: widths[c] - v.count)
        }.joined(separator: " | ") + " |\n"
        if i == 0 {
            out += "| " + widths.enumerated().map { c, w in
                c >= 2 ? String(repeating: "-", count: w - 1) + ":" : String(repeating: "-", count: w)
            }.joined(separator: " | ") + " |\n"
        }
    }
    return out
}
