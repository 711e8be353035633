import Testing

@testable import Winnow

@Suite struct AdamFeatureTransformTests {
  @Test func matchesNumPyWithEpsilonInsideTheRootAndNoBiasCorrection() throws {
    var rng = SeededRNG(seed: 21)
    let g = Matrix.random(6, 50, &rng)
    let m = (0..<50).map { _ in Float.random(in: -1e-3...1e-3, using: &rng) }
    // Tiny second moments make ε matter, so ε's placement is tested.
    let v = (0..<50).map { j in j % 5 == 0 ? 0 : Float.random(in: 0...1e-6, using: &rng) }
    var got = g
    try AdamFeatureTransform().apply(to: &got, m: m, v: v)
    let want = try NumPy.run(
      """
      g, m, v = load('g', 50), load('m'), load('v')
      m1 = 0.9 * m + (1 - 0.9) * g
      v1 = 0.999 * v + (1 - 0.999) * g ** 2
      save(m1 / np.sqrt(v1 + 1e-8))
      """, inputs: ["g": g.storage, "m": m, "v": v])
    expectClose(got.storage, want)
    // Elementwise too, since values span magnitudes.
    for (a, b) in zip(got.storage, want) { #expect(abs(Double(a) - b) <= 1e-6 * abs(b) + 1e-30) }
  }

  @Test func writesIntoASeparateOutput() throws {
    let g: [Float] = [1, -2, 3, 0]
    var out = [Float](repeating: .nan, count: 4)
    try AdamFeatureTransform().apply(g, rows: 2, dim: 2, m: [0, 0], v: [0, 0], into: &out)
    // m' = 0.1 g, v' = 0.001 g²: Γ = 0.1 g / √(0.001 g² + 1e-8).
    let want = g.map { 0.1 * Double($0) / (0.001 * Double($0) * Double($0) + 1e-8).squareRoot() }
    for (a, b) in zip(out, want) { #expect(abs(Double(a) - b) <= 1e-6 * abs(b)) }
  }

  @Test func rejectsShapeMismatchAndNonFiniteInput() {
    var g = Matrix(rows: 2, cols: 3)
    #expect(throws: WinnowError.self) {
      try AdamFeatureTransform().apply(to: &g, m: [0, 0], v: [0, 0, 0])
    }
    g[1, 2] = .nan
    #expect(throws: WinnowError(.nonFinite, "gradient row 1 holds NaN or infinity")) {
      try AdamFeatureTransform().apply(to: &g, m: [0, 0, 0], v: [0, 0, 0])
    }
    var ok = Matrix(rows: 1, cols: 2)
    #expect(throws: WinnowError.self) {
      try AdamFeatureTransform().apply(to: &ok, m: [0, .infinity], v: [0, 0])
    }
    #expect(throws: WinnowError.self) {
      try AdamFeatureTransform().apply(to: &ok, m: [0, 0], v: [0, -1])
    }
    #expect(throws: WinnowError.self) {
      try AdamFeatureTransform(beta1: 1).apply(to: &ok, m: [0, 0], v: [0, 0])
    }
  }
}
