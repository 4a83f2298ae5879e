// LossPlot: the SVG parses as XML, has one polyline per series with drawable points, every point lies in the
// plot area, text is escaped, ticks are nice numbers that cover the data, empty input still gives a plot.

import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import TLLMCore

/// The elements of an XML document (name and attributes, in document order), or the parser's error.
private final class ElementCollector: NSObject, XMLParserDelegate {
    var elements: [(name: String, attributes: [String: String])] = []
    var text: [String] = []
    private var current = ""

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        elements.append((elementName, attributes))
        current = ""
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { current += string }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
        if elementName == "text" || elementName == "title" { text.append(current) }
        current = ""
    }
}

private struct ParsedSVG {
    var elements: [(name: String, attributes: [String: String])]
    var text: [String]

    func all(_ name: String, class c: String? = nil) -> [[String: String]] {
        elements.filter { $0.name == name && (c == nil || $0.attributes["class"] == c) }.map(\.attributes)
    }

    /// The plot area as (x, y, width, height).
    var plotArea: (x: Double, y: Double, w: Double, h: Double) {
        let r = all("rect", class: "plot-area")[0]
        return (Double(r["x"]!)!, Double(r["y"]!)!, Double(r["width"]!)!, Double(r["height"]!)!)
    }

    /// The points of every series polyline.
    var polylines: [[(Double, Double)]] {
        all("polyline", class: "series").map { p in
            p["points"]!.split(separator: " ").map { xy in
                let c = xy.split(separator: ",").map { Double($0)! }
                return (c[0], c[1])
            }
        }
    }
}

private func parse(_ svg: String) throws -> ParsedSVG {
    let parser = XMLParser(data: Data(svg.utf8))
    let collector = ElementCollector()
    parser.delegate = collector
    let ok = parser.parse()
    #expect(ok, "XMLParser: \(String(describing: parser.parserError))")
    guard ok else { throw TLLMError("svg", "not well-formed") }
    return ParsedSVG(elements: collector.elements, text: collector.text)
}

private func curve(_ n: Int, _ f: (Double) -> Double) -> [(x: Double, y: Double)] {
    (0..<n).map { (x: Double($0), y: f(Double($0))) }
}

@Test func lossPlotWellFormedWithOnePolylinePerSeries() throws {
    let svg = LossPlot.svg(title: "OFF distillation", xLabel: "step", yLabel: "loss",
                           series: [.init(name: "train", points: curve(200) { 3 * exp(-$0 / 50) + 0.4 }),
                                    .init(name: "held-out", points: curve(20) { 3.2 * exp(-$0 / 6) + 0.6 }),
                                    .init(name: "kd", points: curve(200) { 1 / ($0 + 1) })])
    let p = try parse(svg)
    #expect(p.elements.first?.name == "svg")
    #expect(p.all("svg")[0]["width"] == "800" && p.all("svg")[0]["height"] == "480")
    #expect(p.all("polyline", class: "series").count == 3)
    // Distinct colours, and a legend entry per series.
    let strokes = p.all("polyline", class: "series").map { $0["stroke"]! }
    #expect(Set(strokes).count == 3)
    for name in ["train", "held-out", "kd", "OFF distillation", "step", "loss"] { #expect(p.text.contains(name)) }
}

@Test func lossPlotPointsLieInThePlotArea() throws {
    // Unsorted x, negative y, a wide range, some non-finite points that must be skipped.
    var pts = curve(97) { sin($0 / 7) * 40 - 15 }
    pts.append((x: .nan, y: 1)); pts.append((x: 5, y: .infinity)); pts.append((x: -12.5, y: 3))
    let p = try parse(LossPlot.svg(title: "t", xLabel: "x", yLabel: "y", series: [.init(name: "s", points: pts)],
                                   width: 640, height: 400))
    let a = p.plotArea
    #expect(a.x > 0 && a.y > 0 && a.x + a.w <= 640 && a.y + a.h <= 400)
    let lines = p.polylines
    #expect(lines.count == 1)
    #expect(lines[0].count == 98)  // 97 + (-12.5, 3); the non-finite two are gone
    for (x, y) in lines[0] {
        #expect(x >= a.x - 0.01 && x <= a.x + a.w + 0.01 && y >= a.y - 0.01 && y <= a.y + a.h + 0.01)
    }
    // The extremes of the data are at the extremes of the mapped points' order: x = -12.5 is leftmost.
    let leftmost = lines[0].min { $0.0 < $1.0 }!
    #expect(leftmost == lines[0].last!)
}

@Test func lossPlotMapsValuesLinearlyOntoTheTicks() throws {
    // y from 0 to 10: ticks 0, 2, …, 10, so y = 0 is the bottom edge and y = 10 the top.
    let p = try parse(LossPlot.svg(title: "", xLabel: "x", yLabel: "y",
                                   series: [.init(name: "s", points: [(0, 0), (50, 5), (100, 10)])]))
    let a = p.plotArea, pts = p.polylines[0]
    #expect(abs(pts[0].0 - a.x) < 0.01 && abs(pts[0].1 - (a.y + a.h)) < 0.01)
    #expect(abs(pts[1].0 - (a.x + a.w / 2)) < 0.01 && abs(pts[1].1 - (a.y + a.h / 2)) < 0.01)
    #expect(abs(pts[2].0 - (a.x + a.w)) < 0.01 && abs(pts[2].1 - a.y) < 0.01)
}

@Test func lossPlotEscapesText() throws {
    let nasty = "a<b & \"c\" 'd' >e\u{01}"
    let svg = LossPlot.svg(title: nasty, xLabel: "<x>", yLabel: "&y", series: [.init(name: "</text><script>", points: [(0, 1), (1, 2)])])
    #expect(!svg.contains("<script>"))
    let p = try parse(svg)
    #expect(p.text.contains("a<b & \"c\" 'd' >e\u{FFFD}"))
    #expect(p.text.contains("<x>") && p.text.contains("&y") && p.text.contains("</text><script>"))
    #expect(LossPlot.escape("<&>\"'") == "&lt;&amp;&gt;&quot;&apos;")
}

@Test func lossPlotNiceTicks() {
    #expect(LossPlot.ticks(lo: 0, hi: 1) == [0, 0.2, 0.4, 0.6, 0.8, 1])
    #expect(LossPlot.ticks(lo: 0, hi: 1000, count: 6) == [0, 200, 400, 600, 800, 1000])
    #expect(LossPlot.ticks(lo: 2.37, hi: 3.91) == [2, 2.5, 3, 3.5, 4])
    #expect(LossPlot.ticks(lo: 0.4, hi: 0.41) == [0.4, 0.402, 0.404, 0.406, 0.408, 0.41])
    #expect(LossPlot.ticks(lo: -15, hi: 37) == [-20, -10, 0, 10, 20, 30, 40])
    #expect(LossPlot.ticks(lo: 5, hi: 5) == [4.4, 4.6, 4.8, 5, 5.2, 5.4, 5.6])
    #expect(LossPlot.ticks(lo: 0, hi: 0) == [-1, -0.5, 0, 0.5, 1])
    // Every range: the ticks cover it, are evenly spaced by 1, 2 or 5 × 10^k, and number at most about ten.
    for (lo, hi) in [(0.0, 1.0), (1e-6, 3e-6), (-7.3, 0.01), (12_345.0, 98_765.0), (0.4, 0.41), (-1e9, 1e9)] {
        let t = LossPlot.ticks(lo: lo, hi: hi)
        #expect(t.first! <= lo && t.last! >= hi)
        #expect(t.count >= 3 && t.count <= 11)
        let step = t[1] - t[0], m = step / pow(10, log10(step).rounded(.down))
        #expect([1.0, 2, 5, 10].contains { abs(m - $0) < 1e-6 }, "step \(step) for [\(lo), \(hi)]")
    }
    #expect(LossPlot.labels(LossPlot.ticks(lo: 0, hi: 1), log: false) == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
    #expect(LossPlot.labels(LossPlot.ticks(lo: -15, hi: 37), log: false) == ["-20", "-10", "0", "10", "20", "30", "40"])
    #expect(LossPlot.labels([0, 2e6, 4e6], log: false) == ["0", "2e6", "4e6"])
    #expect(LossPlot.labels([0, 2.5e-5, 5e-5], log: false) == ["0", "2.5e-5", "5.0e-5"])
}

@Test func lossPlotLogTicks() throws {
    #expect(LossPlot.logTicks(lo: 0.012, hi: 7.5) == [0.01, 0.1, 1, 10])
    #expect(LossPlot.logTicks(lo: 0.3, hi: 7.5) == [0.2, 0.5, 1, 2, 5, 10])
    #expect(LossPlot.logTicks(lo: 2.1, hi: 3.5) == [2, 3, 4])
    #expect(LossPlot.logTicks(lo: 1e-3, hi: 1e3) == [1e-3, 1e-2, 1e-1, 1, 10, 100, 1000])
    let wide = LossPlot.logTicks(lo: 3e-9, hi: 4e12)
    #expect(wide.first! <= 3e-9 && wide.last! >= 4e12 && wide.count <= 12)
    #expect(LossPlot.labels([0.01, 0.05, 0.1, 1, 10], log: true) == ["0.01", "0.05", "0.1", "1", "10"])
    // Log axis: y ≤ 0 is skipped, the rest lands in the plot area.
    let p = try parse(LossPlot.svg(title: "ppl", xLabel: "step", yLabel: "loss", series: [
        .init(name: "s", points: [(0, 8), (1, 0), (2, -1), (3, 0.5), (4, 0.05)]),
    ], logY: true))
    let a = p.plotArea
    #expect(p.polylines[0].count == 3)
    for (x, y) in p.polylines[0] { #expect(x >= a.x - 0.01 && x <= a.x + a.w + 0.01 && y >= a.y - 0.01 && y <= a.y + a.h + 0.01) }
    #expect(p.text.contains { $0.contains("(log scale)") })
    let q = try parse(LossPlot.svg(title: "", xLabel: "", yLabel: "loss (log scale)", series: [], logY: true))
    #expect(q.text.contains("loss (log scale)"))
}

@Test func lossPlotEmptyAndTinyInput() throws {
    // No series at all.
    let p0 = try parse(LossPlot.svg(title: "empty", xLabel: "x", yLabel: "y", series: []))
    #expect(p0.polylines.isEmpty && p0.text.contains("no data") && p0.all("rect", class: "plot-area").count == 1)
    // A series with no points, one with only unusable points, one with a single point.
    let p1 = try parse(LossPlot.svg(title: "tiny", xLabel: "x", yLabel: "y", series: [
        .init(name: "none", points: []), .init(name: "nan", points: [(.nan, .nan)]), .init(name: "one", points: [(3, 2)]),
    ]))
    #expect(p1.polylines.count == 1)
    #expect(p1.all("circle").count == 1)
    let a = p1.plotArea, (x, y) = p1.polylines[0][0]
    #expect(x > a.x && x < a.x + a.w && y > a.y && y < a.y + a.h)
    #expect(p1.text.contains("none (no data)") && p1.text.contains("one"))
    // Every point unusable on a log axis.
    let p2 = try parse(LossPlot.svg(title: "", xLabel: "", yLabel: "", series: [.init(name: "z", points: [(0, 0)])], logY: true))
    #expect(p2.polylines.isEmpty)
}

@Test func lossPlotThinsLongSeries() throws {
    // 100 000 steps on an 800-pixel plot: at most ~4 points per pixel column, extremes kept.
    let n = 100_000
    let pts = curve(n) { 2 + sin($0 / 300) + ($0 == 54_321 ? 5 : 0) }
    let svg = LossPlot.svg(title: "", xLabel: "", yLabel: "", series: [.init(name: "s", points: pts)])
    let p = try parse(svg)
    let line = p.polylines[0]
    #expect(line.count < 4 * 800)
    #expect(line.count > 700)
    // The spike at step 54 321 survives thinning as the topmost point, where the axis ticks put it.
    let ys = pts.map(\.y), spike = ys[54_321], t = LossPlot.ticks(lo: ys.min()!, hi: ys.max()!)
    let a = p.plotArea, top = line.min { $0.1 < $1.1 }!.1
    #expect(spike == ys.max()!)
    #expect(abs(top - (a.y + a.h - (spike - t.first!) / (t.last! - t.first!) * a.h)) < 0.01)
    #expect(svg.utf8.count < 200_000)
}
