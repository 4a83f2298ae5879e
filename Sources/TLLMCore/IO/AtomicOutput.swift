// An output file that appears only when complete (DESIGN §2): data goes to a temporary file in the destination
// folder, renamed over the destination by `commit()`. Dropping it uncommitted (an error, a signal handled by
// the tool) removes the temporary file, so a failed run leaves nothing behind. "-" writes to stdout directly.

import Foundation

public final class AtomicOutput {
    public let path: String
    public let fd: Int32
    private let tempPath: String?
    private var done = false

    /// Temporary files currently open, removed by `AtomicOutput.removeAllTemporaries()` from a signal handler.
    nonisolated(unsafe) static var live: Set<String> = []
    static let lock = NSLock()

    public var isStdout: Bool { tempPath == nil }

    public init(path: String) throws {
        self.path = path
        if path == "-" {
            fd = 1
            tempPath = nil
            return
        }
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            throw TLLMError(path, "is a directory")
        }
        var template = Array("\(dir)/.\(url.lastPathComponent).tmp-XXXXXX".utf8CString)
        let f = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard f >= 0 else { throw TLLMError(path, "cannot create a temporary file in \(dir): \(String(cString: strerror(errno)))") }
        fchmod(f, 0o644)
        fd = f
        let t = String(cString: template)
        tempPath = t
        AtomicOutput.lock.lock(); AtomicOutput.live.insert(t); AtomicOutput.lock.unlock()
    }

    static let fsyncRequested = ProcessInfo.processInfo.environment["TLLM_FSYNC"] == "1"

    /// Writes all of `bytes`, retrying short writes.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var p = bytes.baseAddress
        var left = bytes.count
        while left > 0 {
            let n = Foundation.write(fd, p, left)
            if n < 0 {
                if errno == EINTR { continue }
                throw TLLMError(path, "write failed: \(String(cString: strerror(errno)))")
            }
            p = p! + n
            left -= n
        }
    }

    public func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    /// Closes and renames the temporary file to its destination. (No fsync, as cp and llama.cpp's tools: the
    /// rename makes the output appear whole; set TLLM_FSYNC=1 to also force it to disk before the rename.)
    public func commit() throws {
        guard !done else { return }
        done = true
        guard let t = tempPath else { return }
        defer { AtomicOutput.lock.lock(); AtomicOutput.live.remove(t); AtomicOutput.lock.unlock() }
        if AtomicOutput.fsyncRequested, fsync(fd) != 0, errno != EINVAL {
            let e = String(cString: strerror(errno)); close(fd); unlink(t)
            throw TLLMError(path, "write failed: \(e)")
        }
        guard close(fd) == 0 else {
            let e = String(cString: strerror(errno)); unlink(t)
            throw TLLMError(path, "write failed: \(e)")
        }
        guard rename(t, path) == 0 else {
            let e = String(cString: strerror(errno)); unlink(t)
            throw TLLMError(path, "cannot rename the finished file into place: \(e)")
        }
    }

    /// Removes the temporary file (called on error; also on deinit when not committed).
    public func abandon() {
        guard !done else { return }
        done = true
        guard let t = tempPath else { return }
        close(fd)
        unlink(t)
        AtomicOutput.lock.lock(); AtomicOutput.live.remove(t); AtomicOutput.lock.unlock()
    }

    deinit { abandon() }

    /// Unlinks every temporary file still open; for SIGINT/SIGTERM handlers before exiting.
    public static func removeAllTemporaries() {
        for t in live { unlink(t) }
    }
}
