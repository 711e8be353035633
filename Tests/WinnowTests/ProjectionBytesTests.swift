import Foundation
import Testing

@testable import Winnow

/// Features are the same bytes — not just close — for any split of the same
/// computation: row blocks starting anywhere, memory budgets (cached matrix or
/// generated panels), BLAS thread counts and the kernel's instruction set.
@Suite struct ProjectionBytesTests {
  /// Projects `x` (`n × d`) in consecutive row blocks of the given sizes.
  func project(_ p: DenseProjector, _ x: [Float], d: Int, blocks: [Int]) throws -> [Float] {
    var out = [Float](), start = 0
    let n = x.count / d
    var i = 0
    while start < n {
      let rows = min(blocks[i % blocks.count], n - start)
      var part = [Float](repeating: .nan, count: rows * p.outputDim)
      try x.withUnsafeBufferPointer { xb in
        try part.withUnsafeMutableBufferPointer {
          try p.project(xb.baseAddress! + start * d, rows: rows, into: $0.baseAddress!)
        }
      }
      out += part
      start += rows
      i += 1
    }
    return out
  }

  @Test(arguments: [(1000, 100), (777, 300), (300, 1)])
  func featuresAreTheSameBytesForAnyBlockBudgetThreadsAndInstructionSet(d: Int, k: Int) throws {
    let n = 53
    let x = { var r = TestRNG(11); return r.normals(n * d) }()
    let cached = try DenseProjector(seed: 9, inputDim: d, outputDim: k)
    let reference = try withBLASThreads(1) { try project(cached, x, d: d, blocks: [n]) }
    // Panels of 1, 37 and 100 rows of P (the memory budget), and the cache.
    let budgets = [k * 4, 37 * k * 4, 100 * k * 4, DenseProjector.defaultMemoryBudget]
    for budget in budgets {
      let p = try DenseProjector(seed: 9, inputDim: d, outputDim: k, memoryBudget: budget)
      for isa: Int32 in [-1, 0, 1] {
        p.kernelISA = isa
        for threads in [1, 2] {
          for blocks in [[1], [5, 2, 11], [16], [n]] {
            let got = try withBLASThreads(threads) { try project(p, x, d: d, blocks: blocks) }
            #expect(got == reference, "budget \(budget) isa \(isa) threads \(threads) blocks \(blocks)")
          }
        }
      }
    }
  }

  @Test func halfInputIsTheSameBytesForAnyBlockAndBudget() throws {
    let d = 5000, k = 64, n = 9
    let values = { var r = TestRNG(5); return r.normals(n * d) }()
    let half = values.map { Float16($0).bitPattern }
    func run(_ p: DenseProjector, blocks: Int) throws -> [Float] {
      var out = [Float](repeating: .nan, count: n * k)
      try half.withUnsafeBufferPointer { h in
        try out.withUnsafeMutableBufferPointer { o in
          for start in stride(from: 0, to: n, by: blocks) {
            let rows = min(blocks, n - start)
            try p.project(half: h.baseAddress! + start * d, rows: rows, into: o.baseAddress! + start * k)
          }
        }
      }
      return out
    }
    let reference = try run(try DenseProjector(seed: 2, inputDim: d, outputDim: k), blocks: n)
    for budget in [k * 4 * 3, k * 4 * 4096 + 4] {
      let p = try DenseProjector(seed: 2, inputDim: d, outputDim: k, memoryBudget: budget)
      for blocks in [1, 4] { #expect(try run(p, blocks: blocks) == reference, "budget \(budget)") }
    }
    // The Float32 path over the same (rounded) values gives the same bytes too.
    let widened = half.map { Float(Float16(bitPattern: $0)) }
    #expect(try project(try DenseProjector(seed: 2, inputDim: d, outputDim: k), widened, d: d, blocks: [2]) == reference)
  }
}
