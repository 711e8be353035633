#if canImport(Glibc)
  import Glibc
#endif
@testable import Winnow

/// A seeded SplitMix64 stream for reproducible test data.
struct FactorTestRNG {
  var state: UInt64
  init(_ seed: UInt64) { state = seed }

  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    return FactoredProjector.mix64(state)
  }

  /// Uniform in (0, 1).
  mutating func uniform() -> Double { (Double(next() >> 11) + 0.5) / Double(1 << 53) }

  /// Standard normal (Box–Muller).
  mutating func normal() -> Double {
    (-2 * log(uniform())).squareRoot() * cos(2 * Double.pi * uniform())
  }

  mutating func matrix(_ rows: Int, _ cols: Int, scale: Double = 1) -> Matrix {
    var m = Matrix(rows: rows, cols: cols)
    m.withUnsafeMutableBufferPointer { p in
      for i in p.indices { p[i] = Float(normal() * scale) }
    }
    return m
  }
}

/// One sample batch for several layers: token counts and per-layer factors.
struct FactorBatch {
  var tokenCounts: [Int]
  /// Per layer: `(id, A` `ΣT × d_in`, `Δ` `ΣT × d_out)`.
  var layers: [(id: UInt64, inputs: Matrix, outputGradients: Matrix)]

  static func random(_ specs: [LinearLayerSpec], tokenCounts: [Int], seed: UInt64) -> FactorBatch {
    var rng = FactorTestRNG(seed)
    let rows = tokenCounts.reduce(0, +)
    return FactorBatch(
      tokenCounts: tokenCounts,
      layers: specs.map { ($0.id, rng.matrix(rows, $0.inputDim), rng.matrix(rows, $0.outputDim)) })
  }

  /// The batch restricted to `samples`, in that order.
  func subset(_ samples: [Int]) -> FactorBatch {
    var starts = [0]
    for t in tokenCounts { starts.append(starts[starts.count - 1] + t) }
    func rows(_ m: Matrix) -> Matrix {
      var storage: [Float] = []
      for s in samples { storage += m.storage[starts[s] * m.cols..<starts[s + 1] * m.cols] }
      return try! Matrix(rows: storage.count / m.cols, cols: m.cols, storage: storage)
    }
    return FactorBatch(
      tokenCounts: samples.map { tokenCounts[$0] },
      layers: layers.map { ($0.id, rows($0.inputs), rows($0.outputGradients)) })
  }

  func with<R>(_ body: ([LayerFactors]) throws -> R) rethrows -> R {
    try LayerFactors.withMatrices(layers, body)
  }

  /// `G_s = Δ_sᵀ A_s` of layer `l`, `d_out × d_in`, accumulated in `Double`.
  func gradient(layer l: Int, sample s: Int) -> [Double] {
    let (a, d) = (layers[l].inputs, layers[l].outputGradients)
    let r0 = tokenCounts[..<s].reduce(0, +)
    var g = [Double](repeating: 0, count: d.cols * a.cols)
    for t in r0..<r0 + tokenCounts[s] {
      for o in 0..<d.cols {
        for i in 0..<a.cols { g[o * a.cols + i] += Double(d[t, o]) * Double(a[t, i]) }
      }
    }
    return g
  }
}

func dot(_ x: [Double], _ y: [Double]) -> Double { zip(x, y).reduce(0) { $0 + $1.0 * $1.1 } }

/// `‖x − y‖ / ‖y‖`, or `‖x − y‖` when `y` is zero.
func relativeL2Error(_ x: [Float], _ y: [Double]) -> Double {
  let diff = zip(x, y).reduce(0) { $0 + (Double($1.0) - $1.1) * (Double($1.0) - $1.1) }
  let norm = y.reduce(0) { $0 + $1 * $1 }
  return (diff / max(norm, 1e-300)).squareRoot()
}

func relativeL2Error(_ x: [Float], _ y: [Float]) -> Double { relativeL2Error(x, y.map(Double.init)) }

/// Pearson correlation of two samples.
func correlation(_ x: [Double], _ y: [Double]) -> Double {
  let n = Double(x.count)
  let mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
  var sxy = 0.0, sxx = 0.0, syy = 0.0
  for (a, b) in zip(x, y) {
    sxy += (a - mx) * (b - my)
    sxx += (a - mx) * (a - mx)
    syy += (b - my) * (b - my)
  }
  return sxy / (sxx * syy).squareRoot()
}

extension Matrix {
  /// This matrix with `transform` applied to every element.
  func mapElements(_ transform: (Float) -> Float) -> Matrix {
    var m = self
    m.withUnsafeMutableBufferPointer { p in
      for i in p.indices { p[i] = transform(p[i]) }
    }
    return m
  }
}
