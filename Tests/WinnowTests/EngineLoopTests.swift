import Foundation
import Testing
@testable import Winnow

/// A small training loop: 3-class softmax regression on synthetic data where
/// domain 0 is labelled by a true model and domain 1 has random labels.
/// Per-sample gradients `(p − e_y) xᵀ` are exact, so they serve as features
/// (`k = 3·d`). Their direction depends on the model through `p`, so the
/// cosine scores — and the plans — move as the model learns. (For binary
/// logistic regression they would not: `(σ − y)·x` normalized is `±x/‖x‖`.)
@Suite struct EngineLoopTests {
  let d = 8, c = 3, n = 600, m = 120
  let x: [[Double]], y: [Int], domain: [Int32], vx: [[Double]], vy: [Int]

  init() {
    var state: UInt64 = 2024
    func normal() -> Double {
      state = CounterRandom.mix(state)
      let u1 = (Double(state >> 11) + 0.5) * 0x1p-53
      state = CounterRandom.mix(state)
      let u2 = (Double(state >> 11) + 0.5) * 0x1p-53
      return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }
    let truth = (0..<3).map { _ in (0..<8).map { _ in 2 * normal() } }
    func label(_ v: [Double]) -> Int {
      let z = truth.map { t in zip(t, v).reduce(0) { $0 + $1.0 * $1.1 } }
      return z.indices.max { z[$0] < z[$1] }!
    }
    var x = [[Double]](), y = [Int](), domain = [Int32]()
    for i in 0..<600 {
      let v = (0..<8).map { _ in normal() }
      x.append(v)
      domain.append(Int32(i % 2))
      state = CounterRandom.mix(state)
      y.append(i % 2 == 0 ? label(v) : Int(state % 3))
    }
    (self.x, self.y, self.domain) = (x, y, domain)
    vx = (0..<120).map { _ in (0..<8).map { _ in normal() } }
    vy = vx.map(label)
  }

  func probabilities(_ w: [[Double]], _ v: [Double]) -> [Double] {
    let z = w.map { r in zip(r, v).reduce(0) { $0 + $1.0 * $1.1 } }
    let top = z.max()!
    let e = z.map { exp($0 - top) }
    return e.map { $0 / e.reduce(0, +) }
  }
  func loss(_ w: [[Double]], _ v: [Double], _ t: Int) -> Double {
    -log(max(probabilities(w, v)[t], 1e-12))
  }
  /// `(p − e_y) xᵀ` flattened, class-major: `k = c·d` values per sample.
  func gradient(_ w: [[Double]], _ v: [Double], _ t: Int) -> [Double] {
    let p = probabilities(w, v)
    return (0..<c).flatMap { k in v.map { (p[k] - (k == t ? 1 : 0)) * $0 } }
  }
  func gradients(_ w: [[Double]], _ xs: [[Double]], _ ys: [Int]) -> Matrix {
    let rows = zip(xs, ys).flatMap { gradient(w, $0, $1).map(Float.init) }
    return try! Matrix(rows: xs.count, cols: c * d, storage: rows)
  }
  func validationLoss(_ w: [[Double]]) -> Double {
    zip(vx, vy).reduce(0) { $0 + loss(w, $1.0, $1.1) } / Double(m)
  }

  @Test func plansFollowTheModelAndTrainingOnThemLowersValidationLoss() throws {
    let ids = (0..<n).map { Int64($0) }
    let engine = try SelectionEngine(ids: ids, domains: domain, featureDim: c * d)
    for (key, value) in [(EngineParameter.selectFraction, 0.25), (.scoreCombination, 1),
                         (.emaDecay, 0.3), (.mixtureRule, 1), (.alignmentTemperature, 0.5)] {
      try engine.setParameter(key, value)
    }
    var w = [[Double]](repeating: [Double](repeating: 0, count: d), count: c)
    let start = validationLoss(w)
    var plans = [EpochPlan]()
    for epoch in 0..<6 {
      try engine.beginEpoch(epoch)
      try engine.addTarget(task: 0, features: gradients(w, vx, vy))
      try engine.addCandidates(
        ids: ids, features: gradients(w, x, y), losses: (0..<n).map { Float(loss(w, x[$0], y[$0])) })
      let plan = try engine.endEpoch()
      plans.append(plan)
      // Train: weighted full-batch gradient descent on the plan.
      let total = plan.weights.reduce(0) { $0 + Double($1) }
      for _ in 0..<20 {
        var g = [Double](repeating: 0, count: c * d)
        for (p, weight) in zip(plan.positions, plan.weights) {
          let gi = gradient(w, x[p], y[p])
          for j in g.indices { g[j] += gi[j] * Double(weight) / total }
        }
        for k in 0..<c { for j in 0..<d { w[k][j] -= 0.5 * g[k * d + j] } }
      }
    }
    // The selection favours the correctly labelled domain, and its gradients
    // align with the target, so the mixture moves toward it.
    for plan in plans {
      #expect(Double(plan.domainCounts[0]) / Double(plan.count) > 0.65, "epoch \(plan.epoch)")
    }
    #expect(plans.last!.mixture[0] > 0.6)
    // Plans respond to the model state: later epochs pick other samples.
    let overlap = Set(plans[0].positions).intersection(plans[5].positions).count
    #expect(overlap < plans[0].count * 9 / 10, "overlap \(overlap) of \(plans[0].count)")
    #expect(validationLoss(w) < 0.6 * start, "\(validationLoss(w)) vs \(start)")
  }
}
