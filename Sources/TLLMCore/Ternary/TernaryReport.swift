// The per-layer report of tllm-ternarize (issue 5): relative weight error ‖W − Ŵ‖/‖W‖, output error on the
// calibration inputs ‖X(W − Ŵ)ᵀ‖/‖XWᵀ‖ before and after the activation-aware refit (with --calib), the fraction
// of zero codes, and mean |γ|/α (how far the shift moves the grid: the paper's "non-zero mean" observation).
// Printed as a table on stderr and stored as JSON under the container's metadata.ternary.report.

import Foundation

public struct TernaryLayerReport: Equatable, Sendable {
    public var name: String
    public var rows: Int
    public var cols: Int
    public var groupSize: Int
    /// ‖W − Ŵ‖ / ‖W‖ of the final (α, γ).
    public var weightError: Double
    /// Relative output error of the weight-only fit on the calibration inputs (with --calib).
    public var outputErrorInit: Double?
    /// The same after the refit (with --calib).
    public var outputErrorRefit: Double?
    /// "xtx" or "diag" (with --calib).
    public var refitMode: String?
    public var zeroFraction: Double
    public var meanShiftRatio: Double
    public var fit: FitSummary

    public init(name: String, weight tw: TernaryWeight, latent w: UnsafePointer<Float>, fit: FitSummary, refit: RefitResult?) {
        self.name = name
        rows = tw.rows
        cols = tw.cols
        groupSize = tw.groups.size
        let (e, n) = tw.weightError(w)
        weightError = n > 0 ? (e / n).squareRoot() : 0
        outputErrorInit = refit?.relativeBefore
        outputErrorRefit = refit?.relativeAfter
        refitMode = refit?.mode
        zeroFraction = tw.zeroFraction
        meanShiftRatio = tw.meanShiftRatio
        self.fit = fit
    }

    public func toJSON() -> JSON {
        var o: JSON = .object([
            ("name", .string(name)), ("rows", JSON(rows)), ("cols", JSON(cols)), ("group_size", JSON(groupSize)),
            ("weight_error", .double(weightError)), ("zero_fraction", .double(zeroFraction)),
            ("mean_shift_ratio", .double(meanShiftRatio)), ("unconverged_groups", JSON(fit.unconverged)),
            ("mean_iterations", .double(fit.meanIterations)),
        ])
        if let v = outputErrorInit { o.set("output_error_init", .double(v)) }
        if let v = outputErrorRefit { o.set("output_error_refit", .double(v)) }
        if let m = refitMode { o.set("refit_mode", .string(m)) }
        return o
    }

    /// Short name for tables: `model.layers.3.mlp.down_proj.weight` → `3.mlp.down_proj`.
    public var shortName: String {
        var s = name
        if s.hasPrefix("model.layers.") { s.removeFirst("model.layers.".count) }
        if s.hasSuffix(".weight") { s.removeLast(".weight".count) }
        return s
    }
}

public enum TernaryReportTable {
    /// The stderr table; output-error columns only when some layer has them.
    public static func text(_ reports: [TernaryLayerReport]) -> String {
        let calib = reports.contains { $0.outputErrorInit != nil }
        var head = pad("layer", 22) + pad("shape", 11, right: true) + pad("G", 5, right: true) + pad("w.err", 8, right: true)
        if calib { head += pad("out.init", 9, right: true) + pad("out.refit", 10, right: true) }
        head += pad("zeros", 7, right: true) + pad("|γ|/α", 7, right: true)
        var lines = [head]
        for r in reports {
            var l = pad(r.shortName, 22) + pad("\(r.rows)x\(r.cols)", 11, right: true) + pad("\(r.groupSize)", 5, right: true)
            l += pad(String(format: "%.4f", r.weightError), 8, right: true)
            if calib {
                l += pad(r.outputErrorInit.map { String(format: "%.4f", $0) } ?? "-", 9, right: true)
                l += pad(r.outputErrorRefit.map { String(format: "%.4f", $0) } ?? "-", 10, right: true)
            }
            l += pad(String(format: "%.3f", r.zeroFraction), 7, right: true) + pad(String(format: "%.3f", r.meanShiftRatio), 7, right: true)
            lines.append(l)
        }
        if !reports.isEmpty {
            let n = Double(reports.count)
            var l = pad("mean", 22) + pad("", 16) + pad(String(format: "%.4f", reports.reduce(0) { $0 + $1.weightError } / n), 8, right: true)
            if calib {
                let a = reports.compactMap(\.outputErrorInit), b = reports.compactMap(\.outputErrorRefit)
                l += pad(String(format: "%.4f", a.reduce(0, +) / Double(max(a.count, 1))), 9, right: true)
                l += pad(String(format: "%.4f", b.reduce(0, +) / Double(max(b.count, 1))), 10, right: true)
            }
            l += pad(String(format: "%.3f", reports.reduce(0) { $0 + $1.zeroFraction } / n), 7, right: true)
            l += pad(String(format: "%.3f", reports.reduce(0) { $0 + $1.meanShiftRatio } / n), 7, right: true)
            lines.append(l)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func pad(_ s: String, _ w: Int, right: Bool = false) -> String {
        let n = s.count
        if n >= w { return right ? " " + s : s + " " }
        let sp = String(repeating: " ", count: w - n)
        return right ? sp + s : s + sp
    }
}
