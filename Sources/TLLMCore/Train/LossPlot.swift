// Training curves as a self-contained SVG line plot (no dependencies): loss against step for one or more
// series (train / held-out, feature / KD / CE terms), with "nice" axis ticks (1-2-5 × 10^k, Heckbert 1990),
// an optional log-scaled y axis, a legend and a title. Non-finite points (and y ≤ 0 on a log axis) are skipped;
// a long series is thinned to first/min/max/last per pixel column, so the file stays small for 10⁵ steps.

import Foundation

public enum LossPlot {
    /// One curve: a name for the legend and its (x, y) points in drawing order.
    public struct Series {
        public var name: String
        public var points: [(x: Double, y: Double)]

        public init(name: String, points: [(x: Double, y: Double)]) {
            self.name = name
            self.points = points
        }
    }

    /// Line colours, in series order (Tableau 10); after ten series the colours repeat with a dash pattern.
    public static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
    private static let dashes = ["", "6 3", "2 2", "8 3 2 3"]

    /// The SVG document: a plot area (`<rect class="plot-area">`) with ticks and grid lines, one
    /// `<polyline class="series">` per series that has a drawable point (plus a dot when it has only one),
    /// a legend listing every series, the title and the axis labels (" (log scale)" appended to `yLabel` with
    /// `logY` unless it already says "log"). Sizes below 200 × 150 are raised to that.
    public static func svg(title: String, xLabel: String, yLabel: String, series: [LossPlot.Series], logY: Bool = false,
                           width: Int = 800, height: Int = 480) -> String {
        let W = Double(max(width, 200)), H = Double(max(height, 150))
        // The points that can be drawn, per series.
        let kept: [[(x: Double, y: Double)]] = series.map { s in
            s.points.filter { $0.x.isFinite && $0.y.isFinite && (!logY || $0.y > 0) }
        }
        let all = kept.joined()
        let xs = ticks(lo: all.map(\.x).min() ?? 0, hi: all.map(\.x).max() ?? 1)
        let ys = logY ? logTicks(lo: all.map(\.y).min() ?? 1, hi: all.map(\.y).max() ?? 10)
                      : ticks(lo: all.map(\.y).min() ?? 0, hi: all.map(\.y).max() ?? 1)
        let yTransform: (Double) -> Double = logY ? { log10($0) } : { $0 }
        let (x0, x1) = (xs.first!, xs.last!)
        let (y0, y1) = (yTransform(ys.first!), yTransform(ys.last!))

        let xText = labels(xs, log: false), yText = labels(ys, log: logY)

        // Plot area: room on the left for the y tick labels and label, below for x, above for the title.
        let left = 36 + Double(yText.map(\.count).max() ?? 1) * 7, right = 20.0, top = title.isEmpty ? 20.0 : 44
        let bottom = 56.0
        let plotW = W - left - right, plotH = H - top - bottom
        func px(_ x: Double) -> Double { left + (x - x0) / (x1 - x0) * plotW }
        func py(_ y: Double) -> Double { top + plotH - (yTransform(y) - y0) / (y1 - y0) * plotH }

        var out = """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(W))" height="\(Int(H))" viewBox="0 0 \(Int(W)) \(Int(H))" \
        font-family="sans-serif" font-size="12">

        """
        out += "<title>\(escape(title))</title>\n"
        out += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"

        // Ticks, grid lines and tick labels.
        out += "<g class=\"x-axis\" text-anchor=\"middle\">\n"
        for (t, text) in zip(xs, xText) {
            let x = px(t)
            out += line(x, top, x, top + plotH, "#e5e5e5") + line(x, top + plotH, x, top + plotH + 5, "#333")
            out += "<text x=\"\(f(x))\" y=\"\(f(top + plotH + 18))\">\(escape(text))</text>\n"
        }
        out += "</g>\n<g class=\"y-axis\" text-anchor=\"end\">\n"
        for (t, text) in zip(ys, yText) {
            let y = py(t)
            out += line(left, y, left + plotW, y, "#e5e5e5") + line(left - 5, y, left, y, "#333")
            out += "<text x=\"\(f(left - 8))\" y=\"\(f(y + 4))\">\(escape(text))</text>\n"
        }
        out += "</g>\n"
        // The frame, over the grid.
        out += "<rect class=\"plot-area\" x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotW))\" height=\"\(f(plotH))\" fill=\"none\" stroke=\"#333\"/>\n"

        // Axis labels and title.
        out += "<text class=\"x-label\" x=\"\(f(left + plotW / 2))\" y=\"\(f(H - 12))\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        let ly = top + plotH / 2
        out += "<text class=\"y-label\" x=\"16\" y=\"\(f(ly))\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(f(ly)))\">"
            + "\(escape(yLabel + (logY && !yLabel.lowercased().contains("log") ? " (log scale)" : "")))</text>\n"
        if !title.isEmpty {
            out += "<text class=\"title\" x=\"\(f(W / 2))\" y=\"26\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\">"
                + "\(escape(title))</text>\n"
        }
        if all.isEmpty {
            out += "<text class=\"no-data\" x=\"\(f(left + plotW / 2))\" y=\"\(f(top + plotH / 2))\" text-anchor=\"middle\" "
                + "fill=\"#888\">no data</text>\n"
        }

        // The curves, clipped to the plot area (the points lie inside it; the clip guards the stroke width).
        out += "<clipPath id=\"plot-clip\"><rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotW))\" height=\"\(f(plotH))\"/></clipPath>\n"
        out += "<g clip-path=\"url(#plot-clip)\" fill=\"none\" stroke-width=\"1.5\" stroke-linejoin=\"round\">\n"
        for (i, pts) in kept.enumerated() where !pts.isEmpty {
            let mapped = thinned(pts.map { (px($0.x), py($0.y)) })
            let coords = mapped.map { "\(f($0.0)),\(f($0.1))" }.joined(separator: " ")
            out += "<polyline class=\"series\" stroke=\"\(colour(i))\"\(dash(i)) points=\"\(coords)\"/>\n"
            if mapped.count == 1 {
                out += "<circle cx=\"\(f(mapped[0].0))\" cy=\"\(f(mapped[0].1))\" r=\"3\" fill=\"\(colour(i))\"/>\n"
            }
        }
        out += "</g>\n"

        // Legend, top right inside the plot area.
        if !series.isEmpty {
            let names = series.enumerated().map { i, s in s.name + (kept[i].isEmpty ? " (no data)" : "") }
            let boxW = Double(names.map(\.count).max() ?? 0) * 7 + 40, boxH = Double(names.count) * 18 + 8
            let bx = left + plotW - boxW - 8, by = top + 8
            out += "<g class=\"legend\">\n"
            out += "<rect x=\"\(f(bx))\" y=\"\(f(by))\" width=\"\(f(boxW))\" height=\"\(f(boxH))\" fill=\"white\" "
                + "fill-opacity=\"0.85\" stroke=\"#bbb\"/>\n"
            for (i, n) in names.enumerated() {
                let y = by + 4 + Double(i) * 18 + 9
                out += line(bx + 6, y, bx + 28, y, colour(i), extra: "\(dash(i)) stroke-width=\"2\"")
                out += "<text x=\"\(f(bx + 34))\" y=\"\(f(y + 4))\">\(escape(n))</text>\n"
            }
            out += "</g>\n"
        }
        out += "</svg>\n"
        return out
    }

    // MARK: ticks

    /// Tick values for a linear axis covering [lo, hi]: about `count` multiples of a step 1, 2 or 5 × 10^k, the
    /// first ≤ lo and the last ≥ hi (the axis runs from the first tick to the last). lo = hi gets a range around it.
    public static func ticks(lo: Double, hi: Double, count: Int = 6) -> [Double] {
        var (a, b) = (min(lo, hi), max(lo, hi))
        if a == b {
            let d = a == 0 ? 1 : abs(a) * 0.1
            (a, b) = (a - d, b + d)
        }
        let (m, e) = niceStep((b - a) / Double(max(count - 1, 1)))
        let step = m * power10(e)
        let first = (a / step).rounded(.down), last = (b / step).rounded(.up)
        // k·m·10^e computed as k·m / 10^−e for e < 0, so that 0.6 is 0.6 and not 3 × 0.2 = 0.6000000000000001.
        return stride(from: first, through: last, by: 1).map { k in
            let v = e >= 0 ? k * m * power10(e) : k * m / power10(-e)
            return v == 0 ? 0 : v  // no "-0"
        }
    }

    /// Tick values for a log axis covering [lo, hi] (both > 0): 1, 2, 5 × 10^k (1…9 × 10^k when that gives fewer
    /// than four) when the range spans at most two decades, else powers of ten, every n-th when there are more
    /// than eight decades; the first tick ≤ lo, the last ≥ hi.
    public static func logTicks(lo: Double, hi: Double) -> [Double] {
        var (a, b) = (min(lo, hi), max(lo, hi))
        if a == b { (a, b) = (a / 2, b * 2) }
        let kLo = Int(log10(a).rounded(.down)), kHi = Int(log10(b).rounded(.up))
        let decades = max(kHi - kLo, 1)
        if decades <= 2 {
            var result: [Double] = []
            for mantissas in [[1.0, 2, 5], [1.0, 2, 3, 4, 5, 6, 7, 8, 9]] {
                var c: [Double] = []
                for k in (kLo - 1)...(kHi + 1) { for m in mantissas { c.append(k >= 0 ? m * power10(k) : m / power10(-k)) } }
                let first = c.last { $0 <= a * (1 + 1e-12) }!, last = c.first { $0 >= b * (1 - 1e-12) }!
                result = c.filter { $0 >= first && $0 <= last }
                if result.count >= 4 { break }
            }
            return result
        }
        let every = (decades + 7) / 8
        var k = Int((Double(kLo) / Double(every)).rounded(.down)) * every
        var result = [power10(k)]
        while k < kHi {
            k += every
            result.append(power10(k))
        }
        return result
    }

    /// The nice number m·10^e (m = 1, 2, 5 or 10) nearest `x` > 0 (Heckbert's nicenum, rounding).
    static func niceStep(_ x: Double) -> (m: Double, e: Int) {
        let e = Int(log10(x).rounded(.down)), f = x / power10(e)
        return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10, e)
    }

    /// 10^k, exact for the k a plot needs (negative k as a division, which rounds once).
    static func power10(_ k: Int) -> Double { k >= 0 ? pow(10, Double(k)) : 1 / pow(10, Double(-k)) }

    /// The texts of an axis's tick values: fixed notation with as many decimals as the spacing needs (each
    /// tick's own on a log axis), exponent notation ("2.5e-5", "1e6") for magnitudes ≥ 10⁶ or < 10⁻³.
    public static func labels(_ ticks: [Double], log: Bool) -> [String] {
        let mag = ticks.map(abs).max() ?? 0
        if log {
            return ticks.map { v in v >= 1e6 || v < 1e-3 ? exponent(v, digits: 0) : fixed(v, decimals: decimals(for: v)) }
        }
        let step = ticks.count >= 2 ? ticks[1] - ticks[0] : max(mag, 1)
        if mag >= 1e6 || (mag > 0 && mag < 1e-3) {
            // Fewest mantissa digits that show every tick exactly (to a millionth of the spacing).
            for d in 0...8 {
                let t = ticks.map { exponent($0, digits: d) }
                if zip(t, ticks).allSatisfy({ abs((Double($0) ?? .nan) - $1) <= step * 1e-6 }) { return t }
            }
            return ticks.map { exponent($0, digits: 8) }
        }
        return ticks.map { fixed($0, decimals: decimals(for: step)) }
    }

    /// Decimals that show a multiple of `step` exactly (0.2 → 1, 0.05 → 2, 5 → 0).
    private static func decimals(for step: Double) -> Int {
        min(10, max(0, Int((-log10(step) - 1e-9).rounded(.up))))
    }

    private static func fixed(_ v: Double, decimals d: Int) -> String {
        let s = String(format: "%.\(d)f", v)
        return s.hasPrefix("-") && s.dropFirst().allSatisfy({ $0 == "0" || $0 == "." }) ? String(s.dropFirst()) : s
    }

    /// `v` in exponent notation with `digits` decimals of mantissa, exponent without "+" and leading zeros.
    private static func exponent(_ v: Double, digits: Int) -> String {
        if v == 0 { return "0" }
        let s = String(format: "%.\(digits)e", v)
        guard let e = s.firstIndex(of: "e") else { return s }
        let exp = Int(s[s.index(after: e)...]) ?? 0
        return "\(s[..<e])e\(exp)"
    }

    // MARK: drawing helpers

    static func colour(_ i: Int) -> String { palette[i % palette.count] }

    private static func dash(_ i: Int) -> String {
        let d = dashes[(i / palette.count) % dashes.count]
        return d.isEmpty ? "" : " stroke-dasharray=\"\(d)\""
    }

    /// Runs of consecutive points in the same pixel column become their first, lowest, highest and last point,
    /// in drawing order: the picture is unchanged, the point count is at most about 4 per column.
    static func thinned(_ p: [(Double, Double)]) -> [(Double, Double)] {
        guard p.count > 4 else { return p }
        var out: [(Double, Double)] = []
        var i = 0
        while i < p.count {
            let col = p[i].0.rounded(.down)
            var j = i + 1
            while j < p.count && p[j].0.rounded(.down) == col { j += 1 }
            if j - i <= 4 {
                out += p[i..<j]
            } else {
                let run = p[i..<j]
                let lo = run.indices.min { p[$0].1 < p[$1].1 }!, hi = run.indices.max { p[$0].1 < p[$1].1 }!
                for k in Set([i, lo, hi, j - 1]).sorted() { out.append(p[k]) }
            }
            i = j
        }
        return out
    }

    /// A `<line>` element from (x1, y1) to (x2, y2).
    private static func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, _ stroke: String,
                             extra: String = "") -> String {
        "<line x1=\"\(f(x1))\" y1=\"\(f(y1))\" x2=\"\(f(x2))\" y2=\"\(f(y2))\" stroke=\"\(stroke)\"\(extra)/>"
    }

    /// A coordinate with two decimals.
    private static func f(_ v: Double) -> String { String(format: "%.2f", v) }

    /// `s` as XML character data or attribute text: markup characters escaped, characters XML 1.0 forbids
    /// (C0 controls other than tab, newline and carriage return) replaced by U+FFFD.
    public static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for u in s.unicodeScalars {
            switch u {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\t", "\n", "\r": out.unicodeScalars.append(u)
            default:
                if u.value < 0x20 || u.value == 0xFFFE || u.value == 0xFFFF { out += "\u{FFFD}" } else { out.unicodeScalars.append(u) }
            }
        }
        return out
    }
}
