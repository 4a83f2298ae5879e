// WorkerPool.forSharedRows: every row of every job done exactly once on any thread count (more threads than cores,
// so shares finish at different times and pieces move between threads); the q8 / q4 head mat-vecs (static halves)
// giving the bits of one thread on any count. (The ternary mat-vecs: TernaryKernelTests.sharedRowsGiveTheSameBits.)

import Foundation
import Synchronization
import Testing
@testable import TLLMCore

@Suite("Kernels: rows shared over threads")
struct SharedRowsTests {
    @Test(arguments: [2, 3, 7])
    func everyRowOnce(_ threads: Int) {
        let pool = WorkerPool(threads: threads)
        let rows = [0, 1, 5, 37, 1000, 4099], pieces = [4, 4, 8, 4, 12, 64]
        let offsets = rows.indices.map { rows[..<$0].reduce(0, +) }
        for _ in 0..<20 {
            let hits = UnsafeMutablePointer<Int>.allocate(capacity: rows.reduce(0, +))
            defer { hits.deallocate() }
            hits.initialize(repeating: 0, count: rows.reduce(0, +))
            let bad = Atomic<Int>(0)
            pool.forSharedRows(rows, piece: pieces) { i, j, r in
                if i < 0 || i >= threads || r.isEmpty || r.lowerBound < 0 || r.upperBound > rows[j] { bad.add(1, ordering: .relaxed) }
                for k in r { hits[offsets[j] + k] += 1 }  // each row has one owner at a time, or the count shows it
            }
            #expect(bad.load(ordering: .relaxed) == 0)
            #expect((0..<rows.reduce(0, +)).allSatisfy { hits[$0] == 1 }, "\(threads) threads: a row done twice or never")
        }
    }

    @Test func q8AndQ4MatvecGiveTheBitsOfOneThread() throws {
        let N = 1001, K = 300
        var rng = TestRNG(91)
        let w = Tensor(name: "h", shape: [N, K], floats: rng.floats(N * K, scale: 1))
        let t8 = quantizeQ8(name: "h", w), t4 = quantizeQ4(name: "h", w)
        let m8 = try Q8Matrix(name: "h", q8: t8[0], scale: t8[1]), m4 = try Q4Matrix(name: "h", q4: t4[0], scale: t4[1], cols: K)
        let x = PackTestData.activations(K, seed: 92)
        var one8 = [Float](repeating: .nan, count: N), one4 = one8
        q8Matvec(m8, x, &one8)
        q4Matvec(m4, x, &one4)
        for threads in [2, 3, 7] {
            let pool = WorkerPool(threads: threads)
            for _ in 0..<10 {
                var y8 = [Float](repeating: .nan, count: N), y4 = y8
                q8Matvec(m8, x, &y8, pool: pool)
                q4Matvec(m4, x, &y4, pool: pool)
                #expect(y8 == one8, "q8, \(threads) threads")
                #expect(y4 == one4, "q4, \(threads) threads")
            }
        }
    }
}
