// What every tllm executable shares at its edges (DESIGN §11): errors become one stderr line
// `tool: error: <file>: <what>` and exit status 1 (usage errors stay argument-parser's exit 2), SIGINT/SIGTERM
// remove half-written outputs before exiting, and stderr messages go through one function.

import ArgumentParser
import Foundation

/// Writes a line to stderr (Swift 6 forbids touching the global `stderr` from unknown contexts).
public func printError(_ s: String) {
    FileHandle.standardError.write(Data((s.hasSuffix("\n") ? s : s + "\n").utf8))
}

/// A tool command whose work is `execute()`; `run()` maps errors to the tools' conventions.
public protocol TLLMCommand: ParsableCommand {
    /// The executable's name, used as the prefix of error lines.
    static var toolName: String { get }
    func execute() throws
}

extension TLLMCommand {
    /// The executable's entry point: parses the command line and runs; usage errors exit with status 2
    /// (DESIGN §11), data errors with 1, --help and --version with 0.
    public static func runMain() -> Never {
        do {
            var command = try parseAsRoot()
            try command.run()
            Foundation.exit(0)
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                printError(fullMessage(for: error))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }

    public func run() throws {
        installSignalCleanup()
        do {
            try execute()
        } catch let e as TLLMError {
            printError("\(Self.toolName): error: \(e.description)")
            throw ExitCode(1)
        } catch let e as ExitCode {
            throw e
        } catch let e as ValidationError {
            throw e
        } catch {
            printError("\(Self.toolName): error: \(error)")
            throw ExitCode(1)
        }
    }
}

nonisolated(unsafe) private var signalsInstalled = false

/// On SIGINT/SIGTERM: remove every temporary output file, then exit 128+signal (no partial file is left).
public func installSignalCleanup() {
    guard !signalsInstalled else { return }
    signalsInstalled = true
    unblockSignals([SIGINT, SIGTERM, SIGHUP, SIGPIPE])
    for s in [SIGINT, SIGTERM, SIGHUP, SIGPIPE] {
        signal(s) { sig in
            AtomicOutput.removeAllTemporaries()
            _exit(128 + sig)
        }
    }
}

/// Unblocks `signals` in this thread (a process started from a thread that blocks them, as Dispatch's worker threads
/// do, inherits the mask, and a blocked SIGINT would never reach its handler).
public func unblockSignals(_ signals: [Int32]) {
    var set = sigset_t()
    sigemptyset(&set)
    for s in signals { sigaddset(&set, s) }
    pthread_sigmask(SIG_UNBLOCK, &set, nil)
}
