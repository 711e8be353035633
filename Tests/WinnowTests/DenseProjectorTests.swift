import Foundation
import Testing
@testable import Winnow

@Suite(.serialized) struct DenseProjectorTests {
  func project(_ p: DenseProjector, _ x: [Float], rows: Int) throws -> [Float] {
    var out = [Float](repeating: .nan, count: rows * p.outputDim)
    try p.project(x, rows: rows, into: &out)
    return out
  }

  /// Unit vectors x, y with ⟨x, y⟩ = c: the JL error of ⟨φx, φy⟩ has standard
  /// deviation √((1 + c²)/k) (Gaussian; Rademacher is within O(1/D) of it).
  @Test(arguments: [256, 1024], ProjectorKind.allCases)
  func innerProductErrorHasTheJLStandardDeviation(k: Int, kind: ProjectorKind) throws {
    let d = 2048, pairs = 300, c = 0.5
    var rng = TestRNG(7)
    var x = [Float](), y = [Float]()
    for _ in 0..<pairs {
      let a = unit(rng.normals(d)), z = rng.normals(d)
      // y = c·a + √(1−c²)·(z orthogonalized against a), normalized.
      let za = zip(z, a).reduce(0) { $0 + Double($1.0 * $1.1) }
      let zo = unit(zip(z, a).map { $0 - Float(za) * $1 })
      x += a
      y += zip(a, zo).map { Float(c) * $0 + Float((1 - c * c).squareRoot()) * $1 }
    }
    let p = try DenseProjector(kind: kind, seed: 11, inputDim: d, outputDim: k)
    let (fx, fy) = (try project(p, x, rows: pairs), try project(p, y, rows: pairs))
    var dots = [Double](), norms = [Double]()
    for i in 0..<pairs {
      let a = fx[i * k..<(i + 1) * k], b = fy[i * k..<(i + 1) * k]
      dots.append(zip(a, b).reduce(0) { $0 + Double($1.0 * $1.1) } - c)
      norms.append(a.reduce(0) { $0 + Double($1 * $1) } - 1)
    }
    let expected = ((1 + c * c) / Double(k)).squareRoot()
    #expect(abs(mean(dots)) < 4 * expected / Double(pairs).squareRoot())
    #expect(abs(std(dots) / expected - 1) < 0.2, "std \(std(dots)) vs \(expected)")
    // ‖φx‖² − 1 has standard deviation √(2/k).
    let normExpected = (2 / Double(k)).squareRoot()
    #expect(abs(std(norms) / normExpected - 1) < 0.2, "norm std \(std(norms)) vs \(normExpected)")
  }

  @Test func featuresDoNotDependOnBatchSizeThreadsOrCaching() throws {
    let d = 3000, k = 300, n = 64
    let x = { var r = TestRNG(3); return r.normals(n * d) }()
    let cached = try DenseProjector(seed: 5, inputDim: d, outputDim: k)
    // A budget of 100 rows of P forces 30 generated panels.
    let paneled = try DenseProjector(seed: 5, inputDim: d, outputDim: k, memoryBudget: 100 * k * 4)
    #expect(cached.cachesMatrix && !paneled.cachesMatrix)
    let reference = try withBLASThreads(1) { try project(cached, x, rows: n) }
    for batch in [1, 7, 64] {
      for threads in [1, 2] {
        for p in [cached, paneled] {
          var got = [Float]()
          try withBLASThreads(threads) {
            var start = 0
            while start < n {
              let rows = min(batch, n - start)
              got += try project(p, Array(x[start * d..<(start + rows) * d]), rows: rows)
              start += rows
            }
          }
          // The same computation split differently: the same bytes.
          #expect(got == reference, "batch \(batch) threads \(threads)")
        }
      }
    }
  }

  @Test func piecesAtTheirOffsetsSumToTheWhole() throws {
    let d = 1000, k = 64, n = 5
    let x = { var r = TestRNG(9); return r.normals(n * d) }()
    let p = try DenseProjector(seed: 1, inputDim: d, outputDim: k, memoryBudget: 37 * k * 4)
    let whole = try project(p, x, rows: n)
    var summed = [Float](repeating: 0, count: n * k)
    var offset = 0
    for width in [1, 250, 333, 416] {
      let piece = (0..<n).flatMap { r in x[r * d + offset..<r * d + offset + width] }
      try p.project(piece: piece, rows: n, offset: offset, length: width,
                    into: &summed, accumulate: offset > 0)
      offset += width
    }
    #expect(offset == d)
    #expect(relativeError(summed, whole) < 1e-5)
  }

  @Test func aDifferentSeedOrKindGivesDifferentFeatures() throws {
    let x = { var r = TestRNG(1); return r.normals(4 * 512) }()
    let a = try project(DenseProjector(seed: 0, inputDim: 512, outputDim: 32), x, rows: 4)
    let b = try project(DenseProjector(seed: 1, inputDim: 512, outputDim: 32), x, rows: 4)
    let g = try project(DenseProjector(kind: .gaussian, seed: 0, inputDim: 512, outputDim: 32), x, rows: 4)
    #expect(relativeError(a, b) > 0.1)
    #expect(relativeError(a, g) > 0.1)
  }

  @Test func rademacherEntriesArePlusMinusOneAndBalanced() {
    let m = RandomMatrix(kind: .rademacher, seed: 42)
    let e = m.entries(rows: 0..<200, cols: 0..<500)
    #expect(e.allSatisfy { $0 == 1 || $0 == -1 })
    let plus = e.filter { $0 == 1 }.count
    // 100 000 fair signs: 4 standard deviations is ±632.
    #expect(abs(plus - 50_000) < 632)
    // A panel at an offset reproduces the same entries (pure function of position).
    let inner = m.entries(rows: 17..<31, cols: 63..<130)
    for r in 0..<14 {
      for c in 0..<67 { #expect(inner[r * 67 + c] == e[(r + 17) * 500 + c + 63]) }
    }
  }

  @Test func gaussianEntriesHaveUnitVarianceAndZeroMean() {
    let e = RandomMatrix(kind: .gaussian, seed: 3).entries(rows: 0..<400, cols: 0..<501)
    let v = e.map(Double.init)
    // n = 200 400: se(mean) ≈ 0.0022, se(var) ≈ 0.0032.
    #expect(abs(mean(v)) < 0.01)
    #expect(abs(std(v) * std(v) - 1) < 0.015)
    let fourth = v.reduce(0) { $0 + $1 * $1 * $1 * $1 } / Double(v.count)
    #expect(abs(fourth - 3) < 0.1, "kurtosis \(fourth)")  // normal, not uniform
  }

  @Test func halfPrecisionInputMatchesFloatInput() throws {
    let d = 5000, k = 40, n = 3
    // Values exactly representable in half precision.
    let x = { var r = TestRNG(2); return r.normals(n * d).map { ($0 * 64).rounded() / 64 } }()
    let half = x.map { Float16($0).bitPattern }
    let p = try DenseProjector(seed: 8, inputDim: d, outputDim: k, memoryBudget: 700 * k * 4)
    var out = [Float](repeating: 0, count: n * k)
    try p.project(half: half, rows: n, into: &out)
    #expect(relativeError(out, try project(p, x, rows: n)) < 1e-5)
  }

  @Test func badShapesAndValuesAreClearErrors() throws {
    #expect(throws: WinnowError.self) { try DenseProjector(inputDim: 10, outputDim: 0) }
    #expect(throws: WinnowError.self) { try DenseProjector(inputDim: 0, outputDim: 4) }
    #expect(throws: WinnowError.self) { try DenseProjector(inputDim: 10, outputDim: 4, memoryBudget: 8) }
    let p = try DenseProjector(inputDim: 10, outputDim: 4)
    var out = [Float](repeating: 0, count: 8)
    #expect(throws: WinnowError.self) {
      try p.project(piece: [Float](repeating: 1, count: 8), rows: 2, offset: 7, length: 4,
                    into: &out, accumulate: false)
    }
    var x = [Float](repeating: 1, count: 20)
    x[13] = .nan
    do {
      try p.project(x, rows: 2, into: &out)
      Issue.record("NaN input was accepted")
    } catch let e as WinnowError {
      #expect(e.code == .nonFinite)
      #expect(e.message.contains("row 1"))
    }
  }
}

func unit(_ v: [Float]) -> [Float] {
  let n = v.reduce(0) { $0 + Double($1 * $1) }.squareRoot()
  return v.map { Float(Double($0) / n) }
}

func mean(_ v: [Double]) -> Double { v.reduce(0, +) / Double(v.count) }

func std(_ v: [Double]) -> Double {
  let m = mean(v)
  return (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count - 1)).squareRoot()
}
