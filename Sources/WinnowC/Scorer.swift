import CWinnowABI
import Winnow

// wn_scorer_*: a thin translation of `Scorer.prepareTargets` and
// `Scorer.score(rows:count:against:)`.

/// What a scorer handle holds: the scorer and its prepared targets.
struct PieceScorer {
  var scorer: Scorer
  var targets: ScoringTargets
}

@c @implementation
public func wn_scorer_create(
  _ out: UnsafeMutablePointer<OpaquePointer?>?, _ measure: Int32, _ checkpoints: Int,
  _ targets: UnsafePointer<UnsafePointer<Float>?>?, _ dims: UnsafePointer<Int>?,
  _ targetRows: Int, _ weights: UnsafePointer<Double>?, _ targetGroups: UnsafePointer<Int64>?,
  _ skipNonFinite: Int32
) -> Int32 {
  status {
    let out = try Check.present(out, "out")
    out.pointee = nil
    let measures: [Int32: ScoreMeasure] = [0: .cosine, 1: .dot, 2: .influence]
    guard let measure = measures[measure] else {
      throw WinnowError(
        .invalidArgument,
        "measure \(measure) is not WN_MEASURE_COSINE (0), WN_MEASURE_DOT (1) or WN_MEASURE_INFLUENCE (2)")
    }
    let c = try Check.count(checkpoints, "checkpoints")
    guard c >= 1 else { throw WinnowError(.invalidArgument, "checkpoints is 0: give at least one") }
    // `targets`, `dims` and `weights` hold `c` entries each; a count beyond
    // what could be addressed or held is refused before any of them is read.
    _ = try Check.allocation([c], elementSize: MemoryLayout<Matrix>.stride, "checkpoints")
    let targets = try Check.present(targets, "targets")
    let dims = try Check.present(dims, "dims")
    let m = try Check.count(targetRows, "target_rows")
    guard m >= 1 else { throw WinnowError(.invalidArgument, "target_rows is 0: give at least one target row") }
    var sources = [Matrix]()
    var total = 0  // floats copied so far
    for i in 0..<c {
      let k = try Check.count(dims[i], "dims[\(i)]")
      guard k >= 1 else { throw WinnowError(.invalidArgument, "dims[\(i)] is 0") }
      let t = try Check.present(targets[i], "targets[\(i)]")
      let n = try Check.product(m, k, "targets[\(i)]")
      total = try CheckedSize.sum([total, n], "the target copies")
      _ = try Check.allocation([total], "the copies of targets[0...\(i)]")
      sources.append(try Matrix(rows: m, cols: k, storage: Array(UnsafeBufferPointer(start: t, count: n))))
    }
    let w = weights.map { Array(UnsafeBufferPointer(start: $0, count: c)) } ?? [Double](repeating: 1, count: c)
    let groups = targetGroups.map { UnsafeBufferPointer(start: $0, count: m).map { Int($0) } }
    let scorer = Scorer(measure: measure, skipNonFinite: skipNonFinite != 0)
    let prepared = try scorer.prepareTargets(sources, weights: w, targetGroups: groups)
    out.pointee = Registry.open(Handle(PieceScorer(scorer: scorer, targets: prepared)), as: .scorer)
  }
}

@c @implementation
public func wn_scorer_free(_ scorer: OpaquePointer?) {
  Registry.close(scorer, as: .scorer, type: PieceScorer.self)
}

@c @implementation
public func wn_scorer_last_error(_ scorer: OpaquePointer?) -> UnsafePointer<CChar>? {
  lastError(scorer, as: .scorer, PieceScorer.self)
}

@c @implementation
public func wn_scorer_dims(
  _ scorer: OpaquePointer?, _ outCheckpoints: UnsafeMutablePointer<Int>?,
  _ outGroups: UnsafeMutablePointer<Int>?
) -> Int32 {
  call(scorer, .scorer) { (h: Handle<PieceScorer>) in
    let a = try Check.present(outCheckpoints, "out_checkpoints")
    let b = try Check.present(outGroups, "out_groups")
    (a.pointee, b.pointee) = (h.value.targets.dims.count, h.value.targets.groupCount)
  }
}

@c @implementation
public func wn_scorer_score_f32(
  _ scorer: OpaquePointer?, _ train: UnsafePointer<UnsafePointer<Float>?>?, _ rows: Int,
  _ outScores: UnsafeMutablePointer<Float>?, _ outCapacity: Int,
  _ outSkipped: UnsafeMutablePointer<Int>?
) -> Int32 {
  call(scorer, .scorer) { (h: Handle<PieceScorer>) in
    let p = h.value
    let train = try Check.present(train, "train")
    let out = try Check.present(outScores, "out_scores")
    let rows = try Check.count(rows, "rows")
    guard rows >= 1 else { throw WinnowError(.invalidArgument, "rows is 0: nothing to score") }
    var blocks = [UnsafePointer<Float>]()
    for (c, k) in p.targets.dims.enumerated() {
      _ = try Check.product(rows, k, "train[\(c)]")
      blocks.append(try Check.present(train[c], "train[\(c)]"))
    }
    try Check.capacity(outCapacity, rows, "out_scores")
    let result = try p.scorer.score(rows: blocks, count: rows, against: p.targets)
    for (i, s) in result.scores.enumerated() { out[i] = s }
    outSkipped?.pointee = result.skippedRows.count
  }
}
