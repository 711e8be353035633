import Foundation
import Testing
@testable import Winnow

@Suite struct SparseProjectorTests {
  func project(_ p: some FeatureProjector, _ x: [Float], rows: Int) throws -> [Float] {
    var out = [Float](repeating: .nan, count: rows * p.outputDim)
    try p.project(piece: x, rows: rows, offset: 0, length: p.inputDim, into: &out, accumulate: false)
    return out
  }

  /// The standard deviation of `⟨φx, φy⟩ − c` over `pairs` unit-vector pairs
  /// with `⟨x, y⟩ = c` (and of `‖φx‖² − 1`), as in `DenseProjectorTests`.
  func errors(_ p: some FeatureProjector, c: Double, pairs: Int) throws -> (dot: Double, norm: Double, bias: Double) {
    let d = p.inputDim, k = p.outputDim
    var rng = TestRNG(7)
    var x = [Float](), y = [Float]()
    for _ in 0..<pairs {
      let a = unit(rng.normals(d)), z = rng.normals(d)
      let za = zip(z, a).reduce(0) { $0 + Double($1.0 * $1.1) }
      let zo = unit(zip(z, a).map { $0 - Float(za) * $1 })
      x += a
      y += zip(a, zo).map { Float(c) * $0 + Float((1 - c * c).squareRoot()) * $1 }
    }
    let (fx, fy) = (try project(p, x, rows: pairs), try project(p, y, rows: pairs))
    var dots = [Double](), norms = [Double]()
    for i in 0..<pairs {
      let a = fx[i * k..<(i + 1) * k], b = fy[i * k..<(i + 1) * k]
      dots.append(zip(a, b).reduce(0) { $0 + Double($1.0 * $1.1) } - c)
      norms.append(a.reduce(0) { $0 + Double($1 * $1) } - 1)
    }
    return (std(dots), std(norms), mean(dots))
  }

  /// For unit x, y with ⟨x, y⟩ = c, CountSketch/SJLT estimates ⟨x, y⟩ without
  /// bias with variance (1 + c² − 2Σx_i²y_i²)/k ≈ (1 + c²)/k for spread-out
  /// vectors (Σx_i²y_i² ~ 3/D), the dense JL prediction; measured beside the
  /// dense map at the same k. 300 pairs estimate a std within ±4% (1σ), so
  /// ±20% is 5σ; the sparse/dense ratio ±25% is about 4σ.
  @Test(arguments: [256, 1024], [1, 4])
  func innerProductErrorMatchesJLAndDense(k: Int, s: Int) throws {
    let d = 2048, pairs = 300, c = 0.5
    let sparse = try SparseProjector(seed: 11, inputDim: d, outputDim: k, nonzeros: s)
    let dense = try DenseProjector(seed: 11, inputDim: d, outputDim: k)
    let (es, ed) = (try errors(sparse, c: c, pairs: pairs), try errors(dense, c: c, pairs: pairs))
    let expected = ((1 + c * c) / Double(k)).squareRoot()
    #expect(abs(es.bias) < 4 * expected / Double(pairs).squareRoot())
    #expect(abs(es.dot / expected - 1) < 0.2, "sparse std \(es.dot) vs JL \(expected)")
    #expect(abs(es.dot / ed.dot - 1) < 0.25, "sparse std \(es.dot) vs dense \(ed.dot)")
    let normExpected = (2 / Double(k)).squareRoot()
    #expect(abs(es.norm / normExpected - 1) < 0.2, "norm std \(es.norm) vs \(normExpected)")
  }

  /// Projecting the basis vectors reads the map: each coordinate has exactly
  /// s nonzeros ±1/√s, one in each block of k/s outputs, and the signs are
  /// balanced (binomial: 4σ of D·s/2).
  @Test(arguments: [1, 3, 8])
  func eachCoordinateHasSNonzerosOfMagnitudeOneOverRootS(s: Int) throws {
    let d = 500, k = 70
    let p = try SparseProjector(seed: 4, inputDim: d, outputDim: k, nonzeros: s)
    var identity = [Float](repeating: 0, count: d * d)
    for i in 0..<d { identity[i * d + i] = 1 }
    let map = try project(p, identity, rows: d)
    var positive = 0
    for i in 0..<d {
      let row = Array(map[i * k..<(i + 1) * k])
      let nonzero = row.indices.filter { row[$0] != 0 }
      #expect(nonzero.count == s)
      for (t, h) in nonzero.enumerated() {
        #expect(h >= t * k / s && h < (t + 1) * k / s, "bucket \(h) outside block \(t)")
        #expect(abs(abs(row[h]) - 1 / Float(s).squareRoot()) < 1e-7)
      }
      positive += nonzero.filter { row[$0] > 0 }.count
    }
    let n = Double(d * s)
    #expect(abs(Double(positive) - n / 2) < 4 * (n / 4).squareRoot())
  }

  /// D = 300 000 spans two column segments (summed apart, then in order),
  /// 19 rows make two full groups of 8 and a partial one.
  @Test(arguments: [(5000, 300, 24), (300_000, 24, 19)])
  func featuresAreBitIdenticalAcrossBatchSizesAndThreads(d: Int, k: Int, n: Int) throws {
    let x = { var r = TestRNG(3); return r.normals(n * d) }()
    let p = try SparseProjector(seed: 5, inputDim: d, outputDim: k, nonzeros: 2)
    p.threads = 1
    let reference = try project(p, x, rows: n)
    for batch in [1, 5, n] {
      for threads in [1, 2, 3] {
        p.threads = threads
        var got = [Float]()
        var start = 0
        while start < n {
          let rows = min(batch, n - start)
          got += try project(p, Array(x[start * d..<(start + rows) * d]), rows: rows)
          start += rows
        }
        #expect(got == reference, "batch \(batch) threads \(threads)")
      }
    }
  }

  @Test func piecesAtTheirOffsetsSumToTheWhole() throws {
    let d = 1000, k = 64, n = 5
    let x = { var r = TestRNG(9); return r.normals(n * d) }()
    let p = try SparseProjector(seed: 1, inputDim: d, outputDim: k, nonzeros: 3)
    let whole = try project(p, x, rows: n)
    var summed = [Float](repeating: 0, count: n * k)
    var offset = 0
    for width in [1, 250, 333, 416] {
      let piece = (0..<n).flatMap { r in x[r * d + offset..<r * d + offset + width] }
      try p.project(piece: piece, rows: n, offset: offset, length: width,
                    into: &summed, accumulate: offset > 0)
      offset += width
    }
    #expect(relativeError(summed, whole) < 1e-5)
  }

  @Test func halfPrecisionInputGivesTheFeaturesOfItsFloatValues() throws {
    let d = 5000, k = 40, n = 3
    let x = { var r = TestRNG(2); return r.normals(n * d).map { ($0 * 64).rounded() / 64 } }()
    let half = x.map { Float16($0).bitPattern }
    let p = try SparseProjector(seed: 8, inputDim: d, outputDim: k, nonzeros: 2)
    var out = [Float](repeating: 0, count: n * k)
    try p.project(half: half, rows: n, into: &out)
    // The same sums of the same (exactly converted) values, in the same order.
    #expect(out == (try project(p, x, rows: n)))
  }

  @Test func aDifferentSeedGivesDifferentFeatures() throws {
    let x = { var r = TestRNG(6); return r.normals(4 * 300) }()
    let a = try project(try SparseProjector(seed: 1, inputDim: 300, outputDim: 50), x, rows: 4)
    let b = try project(try SparseProjector(seed: 2, inputDim: 300, outputDim: 50), x, rows: 4)
    #expect(relativeError(a, b) > 0.1)
  }

  @Test func badShapesAndValuesAreClearErrors() throws {
    #expect(throws: WinnowError.self) { try SparseProjector(inputDim: 10, outputDim: 4, nonzeros: 0) }
    #expect(throws: WinnowError.self) { try SparseProjector(inputDim: 10, outputDim: 4, nonzeros: 5) }
    #expect(throws: WinnowError.self) { try SparseProjector(inputDim: 10, outputDim: 0) }
    #expect(throws: WinnowError.self) { try SparseProjector(inputDim: 0, outputDim: 4) }
    #expect(throws: WinnowError.self) {
      try SparseProjector(inputDim: 10, outputDim: 1 << 33, nonzeros: 1)
    }
    #expect(throws: WinnowError.self) {
      try SparseProjector(inputDim: 10, outputDim: 9000, nonzeros: SparseProjector.maxNonzeros + 1)
    }
    let p = try SparseProjector(inputDim: 10, outputDim: 4)
    var out = [Float](repeating: 0, count: 8)
    #expect(throws: WinnowError.self) {
      try p.project(piece: [Float](repeating: 1, count: 8), rows: 2, offset: 7, length: 4,
                    into: &out, accumulate: false)
    }
    let one: [Float] = [1]
    #expect(throws: WinnowError.self) {
      try p.project(piece: one, rows: Int.max / 2, offset: 0, length: 10, into: &out, accumulate: false)
    }
    var x = [Float](repeating: 1, count: 20)
    x[13] = .infinity
    do {
      try p.project(x, rows: 2, into: &out)
      Issue.record("an infinite input was accepted")
    } catch let e as WinnowError {
      #expect(e.code == .nonFinite)
      #expect(e.message.contains("row 1"))
    }
  }
}
