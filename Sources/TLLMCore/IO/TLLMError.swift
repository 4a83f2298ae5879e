// Typed errors of the core library. Each carries the file (and tensor) it is about and says what is wrong
// in one line; the executables print `tool: error: <description>` and exit 1. The library never exits or prints.

import Foundation

public struct TLLMError: Error, CustomStringConvertible, Equatable {
    /// The file (or "-" for stdin/stdout) the problem is in; empty when there is none.
    public var file: String
    /// What is wrong, one line, without the file name.
    public var message: String

    public init(_ file: String, _ message: String) {
        self.file = file
        self.message = message
    }

    public var description: String { file.isEmpty ? message : "\(file): \(message)" }

    /// A failed open(2) of `path`: "no such file or directory" (the wording of every tool), or the system's reason.
    public static func cannotOpen(_ path: String, errno e: Int32) -> TLLMError {
        if e == ENOENT { return TLLMError(path, "no such file or directory") }
        return TLLMError(path, "cannot open: \(String(cString: strerror(e)).lowercased())")
    }

    /// The same error, about another file (used when a reader is handed a buffer and the caller knows its path).
    public func inFile(_ path: String) -> TLLMError { TLLMError(path, message) }
}
