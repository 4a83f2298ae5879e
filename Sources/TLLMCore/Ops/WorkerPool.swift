// A persistent pool of worker threads for the row-parallel kernels (mat-vec during decode). `run` calls
// body(0..<threads) at once, body(0) on the caller, and returns when all are done. Workers spin on an atomic
// generation counter for a short while (decode issues a mat-vec every few µs) and then sleep on a condition
// variable, so an idle pool costs nothing; `concurrentPerform` costs 20–40 µs a call (SWIFT-NOTES §4).

import Foundation
import Synchronization
import CTLLMKernels

public final class WorkerPool: @unchecked Sendable {
    /// Threads taking part in `run`, the caller included.
    public let threads: Int
    private let state: PoolState
    /// Per-thread scratch buffers (thread i only touches its own), grown on demand.
    /// (A raw table rather than an Array: threads touch their slots at once, which Swift's exclusivity checks forbid.)
    private let slots: UnsafeMutablePointer<(pointer: UnsafeMutablePointer<Float>, capacity: Int)>

    public init(threads: Int) {
        self.threads = max(1, threads)
        state = PoolState()
        slots = .allocate(capacity: self.threads)
        for i in 0..<self.threads { (slots + i).initialize(to: (UnsafeMutablePointer<Float>.allocate(capacity: 1), 1)) }
        for i in 1..<self.threads {
            let s = state
            let t = Thread { s.workerLoop(index: i) }
            t.name = "tllm-worker-\(i)"
            t.start()
        }
    }

    deinit {
        state.shutdown()
        for i in 0..<threads { slots[i].pointer.deallocate() }
        slots.deallocate()
    }

    /// A buffer of at least `count` floats private to thread `i` of a `run` (valid until that thread asks again).
    /// Call it from thread i only, or from the caller before `run`.
    public func scratch(_ i: Int, _ count: Int) -> UnsafeMutablePointer<Float> {
        if slots[i].capacity < count {
            slots[i].pointer.deallocate()
            slots[i] = (UnsafeMutablePointer<Float>.allocate(capacity: count), count)
        }
        return slots[i].pointer
    }

    /// Runs body(i) for every i in 0..<threads concurrently; body(0) runs on the calling thread. Not reentrant.
    public func run(_ body: (Int) -> Void) {
        if threads == 1 { body(0); return }
        withoutActuallyEscaping(body) { job in
            state.job = job
            state.remaining.store(threads - 1, ordering: .releasing)
            state.generation.add(1, ordering: .releasing)
            state.cond.lock()
            state.cond.broadcast()
            state.cond.unlock()
            job(0)
            var spins = 0
            while state.remaining.load(ordering: .acquiring) > 0 {
                spins &+= 1
                if spins & 255 == 0 { sched_yield() } else { tllm_cpu_relax() }  // a worker may be waiting for this core
            }
            state.job = nil
        }
    }

    /// Splits 0..<n into `threads` contiguous ranges whose bounds are multiples of `align`, and runs `body` on
    /// each non-empty one in parallel. Runs on the caller alone when `parallel` is false.
    public func forRanges(_ n: Int, align: Int = 1, parallel: Bool = true, _ body: (Range<Int>) -> Void) {
        forChunks(n, align: align, parallel: parallel) { _, r in body(r) }
    }

    /// `forRanges`, also telling each call which thread runs it (for `scratch`).
    public func forChunks(_ n: Int, align: Int = 1, parallel: Bool = true, _ body: (_ thread: Int, _ range: Range<Int>) -> Void) {
        if threads == 1 || !parallel || n <= align {
            if n > 0 { body(0, 0..<n) }
            return
        }
        let per = ((n + threads - 1) / threads + align - 1) / align * align
        run { i in
            let lo = min(n, i * per), hi = min(n, lo + per)
            if lo < hi { body(i, lo..<hi) }
        }
    }

    /// Rows of several jobs (job j has rows[j] rows) over the threads: each thread owns a contiguous share of every
    /// job (bounds multiples of `align`) and works through it in pieces of piece[j] rows from the front; a thread done
    /// with its share of a job takes pieces from the back of the others' (tllm_range_take_back), so the call ends
    /// when the work is done rather than when the slowest share is (a streaming mat-vec on a shared host).
    /// body(thread, job, rows) runs each piece once. Runs on the caller alone when `parallel` is false.
    public func forSharedRows(_ rows: [Int], piece: [Int], align: Int = 4, parallel: Bool = true,
                              _ body: (_ thread: Int, _ job: Int, _ rows: Range<Int>) -> Void)
    {
        let n = threads
        if n == 1 || !parallel {
            for (j, r) in rows.enumerated() where r > 0 { body(0, j, 0..<r) }
            return
        }
        // one range per job and thread, a cache line apart (each owner writes its own at every piece)
        let stride = 8
        let ranges = UnsafeMutablePointer<UInt64>.allocate(capacity: rows.count * n * stride)
        defer { ranges.deallocate() }
        for (j, r) in rows.enumerated() {
            let per = ((r + n - 1) / n + align - 1) / align * align
            for i in 0..<n {
                let lo = min(r, i * per), hi = min(r, lo + per)
                ranges[(j * n + i) * stride] = tllm_range_make(UInt32(lo), UInt32(hi))
            }
        }
        let pieces = piece.map { UInt32(max(align, $0 / align * align)) }
        run { i in
            var lo: UInt32 = 0, hi: UInt32 = 0
            for j in rows.indices {
                let own = ranges + (j * n + i) * stride
                while tllm_range_take_front(own, pieces[j], &lo, &hi) != 0 { body(i, j, Int(lo)..<Int(hi)) }
                for k in 1..<n {
                    let other = ranges + (j * n + (i + k) % n) * stride
                    while tllm_range_take_back(other, pieces[j], &lo, &hi) != 0 { body(i, j, Int(lo)..<Int(hi)) }
                }
            }
        }
    }

    /// Rows per piece of a streaming mat-vec whose rows take `rowBytes` bytes: about 16 KiB of weights.
    public static func streamingPiece(rowBytes: Int) -> Int { max(4, (1 << 14) / max(1, rowBytes)) }
}

final class PoolState: @unchecked Sendable {
    let generation = Atomic<Int>(0)
    let remaining = Atomic<Int>(0)
    let stopping = Atomic<Bool>(false)
    let cond = NSCondition()
    /// Written by the caller before `generation` is bumped (release), read by workers after they see it (acquire).
    var job: ((Int) -> Void)?

    /// Spin iterations before a worker goes to sleep; each spins with the pause hint and every 256th yields the
    /// core, so more workers than cores (or other busy processes) still make progress.
    static let spinLimit = 1 << 14

    func workerLoop(index: Int) {
        var seen = 0
        while true {
            var gen = generation.load(ordering: .acquiring)
            var spins = 0
            while gen == seen && spins < PoolState.spinLimit && !stopping.load(ordering: .relaxed) {
                spins += 1
                if spins & 255 == 0 { sched_yield() } else { tllm_cpu_relax() }
                gen = generation.load(ordering: .acquiring)
            }
            if gen == seen {
                cond.lock()
                while generation.load(ordering: .acquiring) == seen && !stopping.load(ordering: .acquiring) { cond.wait() }
                cond.unlock()
                gen = generation.load(ordering: .acquiring)
            }
            if stopping.load(ordering: .acquiring) { return }
            seen = gen
            job!(index)
            remaining.subtract(1, ordering: .releasing)
        }
    }

    func shutdown() {
        stopping.store(true, ordering: .releasing)
        cond.lock()
        cond.broadcast()
        cond.unlock()
    }
}
