// Runs the built executables (they sit beside the test bundle in .build/debug) and captures their output; `shell`
// runs a bash pipeline of them.

import Foundation

struct ToolResult {
    var status: Int32
    var stdout: Data
    var stderr: String
}

enum Tool {
    static var binDir: URL {
        if let d = ProcessInfo.processInfo.environment["TLLM_BIN_DIR"] { return URL(fileURLWithPath: d) }
        // The tools sit beside the test bundle (.build/debug/tllmPackageTests.xctest).
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    }

    /// Runs `tool args…`, optionally feeding `stdin`; stdout and stderr are captured.
    static func run(_ tool: String, _ args: [String], stdin: URL? = nil, stdoutTo: URL? = nil) throws -> ToolResult {
        try run(executable: binDir.appendingPathComponent(tool), args, stdin: stdin, stdoutTo: stdoutTo)
    }

    /// Runs a bash script (`set -euo pipefail` first) in `directory`, with the built tools first on PATH, so
    /// pipelines read as a user types them: `tllm-convert m.gguf - | tllm-ternarize - - | tllm-pack - m.tpk`.
    static func shell(_ script: String, in directory: URL) throws -> ToolResult {
        var env = ProcessInfo.processInfo.environment
        env["PATH"] = binDir.path + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        return try run(executable: URL(fileURLWithPath: "/bin/bash"), ["-c", "set -euo pipefail\n" + script],
                       directory: directory, environment: env)
    }

    private static func run(executable: URL, _ args: [String], stdin: URL? = nil, stdoutTo: URL? = nil,
                            directory: URL? = nil, environment: [String: String]? = nil) throws -> ToolResult {
        let p = Process()
        p.executableURL = executable
        p.arguments = args
        if let d = directory { p.currentDirectoryURL = d }
        if let e = environment { p.environment = e }
        let out = Pipe(), err = Pipe()
        if let s = stdoutTo {
            _ = FileManager.default.createFile(atPath: s.path, contents: nil)
            p.standardOutput = try FileHandle(forWritingTo: s)
        } else {
            p.standardOutput = out
        }
        p.standardError = err
        if let i = stdin { p.standardInput = try FileHandle(forReadingFrom: i) }
        try p.run()
        // Read stderr on another thread while stdout is read here, so neither pipe fills up.
        final class Box: @unchecked Sendable { var data = Data() }
        let e = Box()
        let g = DispatchGroup()
        DispatchQueue.global().async(group: g) { e.data = err.fileHandleForReading.readDataToEndOfFile() }
        let o = stdoutTo == nil ? out.fileHandleForReading.readDataToEndOfFile() : Data()
        p.waitUntilExit()
        g.wait()
        return ToolResult(status: p.terminationStatus, stdout: o, stderr: String(decoding: e.data, as: UTF8.self))
    }

    static var available: Bool { FileManager.default.isExecutableFile(atPath: binDir.appendingPathComponent("tllm-convert").path) }
}

