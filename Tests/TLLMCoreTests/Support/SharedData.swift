// Where the tests find the real data in ../shared (models and text that may not be copied into the repo).
// Tests that need it are gated with `.enabled(if: SharedData.available)`; when it is absent they are skipped and
// this says so once on stderr, so a green run without ../shared is visibly a partial run.

import Foundation

enum SharedData {
    /// The repository root (three levels above this file: Tests/TLLMCoreTests/Support).
    static let repoRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// ../shared beside the checkout, or $TLLM_SHARED.
    static let root: URL = {
        if let e = ProcessInfo.processInfo.environment["TLLM_SHARED"] { return URL(fileURLWithPath: e) }
        return repoRoot.deletingLastPathComponent().appendingPathComponent("shared")
    }()

    static let available: Bool = {
        let ok = FileManager.default.fileExists(atPath: root.appendingPathComponent("models/stories260K").path)
        if !ok {
            FileHandle.standardError.write(Data("SKIP: \(root.path) not found; tests on real models are skipped\n".utf8))
        }
        return ok
    }()

    static func path(_ rel: String) -> String { root.appendingPathComponent(rel).path }

    static var stories: String { path("models/stories260K") }
    static var zoo: String { path("models/quant-zoo") }
}

/// A fresh temporary directory for one test, removed by the caller with `try? FileManager.default.removeItem`.
func makeTempDir() -> URL {
    let u = FileManager.default.temporaryDirectory.appendingPathComponent("tllm-test-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
    return u
}

/// The directory of fixtures shared by several tests of one process (a `static let` made once), removed when the
/// test process exits; no single test can remove it.
let processTempDir: URL = {
    let u = makeTempDir()
    atexit { try? FileManager.default.removeItem(at: processTempDir) }
    return u
}()
