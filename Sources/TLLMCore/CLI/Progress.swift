// Progress of long work on stderr (DESIGN §11): a one-line bar with rate and ETA, redrawn in place when
// stderr is a terminal; plain lines at most every few seconds otherwise (logs, CI); nothing with --quiet.
// stdout is never touched.

import Foundation

public final class Progress {
    public let label: String
    public let total: Double
    public let unit: String
    private let quiet: Bool
    private let tty: Bool
    private let start = Date()
    private var lastDraw: Date
    private var done = 0.0
    private var printed = false

    /// `total` in `unit`s (e.g. bytes: unit "B" prints MB/s).
    public init(_ label: String, total: Double, unit: String = "", quiet: Bool = false) {
        self.label = label
        self.total = max(total, 0)
        self.unit = unit
        self.quiet = quiet
        tty = isatty(2) != 0
        lastDraw = tty ? .distantPast : start
    }

    public func advance(by n: Double, note: String = "") { update(done + n, note: note) }

    public func update(_ value: Double, note: String = "") {
        done = value
        guard !quiet else { return }
        let now = Date()
        let interval = tty ? 0.1 : 5.0
        guard now.timeIntervalSince(lastDraw) >= interval else { return }
        lastDraw = now
        printed = true
        let line = render(now: now, note: note)
        if tty {
            printRaw("\r\u{1B}[K" + line)
        } else {
            printError(line)
        }
    }

    /// Ends the bar (a newline on a terminal; a final plain line otherwise, if any line was printed).
    public func finish(note: String = "") {
        guard !quiet, tty || printed else { return }
        let line = render(now: Date(), note: note)
        if tty { printRaw("\r\u{1B}[K" + line + "\n") } else { printError(line) }
    }

    private func render(now: Date, note: String) -> String {
        let elapsed = max(now.timeIntervalSince(start), 1e-6)
        let frac = total > 0 ? min(done / total, 1) : 0
        let rate = done / elapsed
        let eta = rate > 0 && total > done ? (total - done) / rate : 0
        var s = "\(label) "
        if tty {
            let width = 24, filled = Int(frac * Double(width))
            s += "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
        }
        s += String(format: "%3.0f%% %@ %@", frac * 100, Progress.format(rate, unit) + "/s", "ETA " + Progress.duration(eta))
        if !note.isEmpty { s += " " + note }
        return s
    }

    static func format(_ v: Double, _ unit: String) -> String {
        if unit == "B" {
            if v >= 1e9 { return String(format: "%.2f GB", v / 1e9) }
            if v >= 1e6 { return String(format: "%.1f MB", v / 1e6) }
            return String(format: "%.0f kB", v / 1e3)
        }
        return String(format: "%.1f %@", v, unit)
    }

    static func duration(_ s: Double) -> String {
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%d:%02d", t / 60, t % 60)
    }

    private func printRaw(_ s: String) { FileHandle.standardError.write(Data(s.utf8)) }
}
