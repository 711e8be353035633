import CWinnowABI
import Winnow

// wn_selection_*: a thin translation of `Selection.select(_:rule:poolEligible:)`
// and `SelectionOutputs.write`.

/// What a selection handle holds: the candidates' scores, the rule and
/// the positions it chose.
struct CandidateSelection {
  var scores: [Float]
  var rule: SelectionRule
  var chosen: [Int]
}

@c @implementation
public func wn_selection_create(
  _ out: UnsafeMutablePointer<OpaquePointer?>?, _ scores: UnsafePointer<Float>?, _ n: Int,
  _ rule: Int32, _ value: Double, _ poolEligible: Int
) -> Int32 {
  status {
    let out = try Check.present(out, "out")
    out.pointee = nil
    let scores = try Check.present(scores, "scores")
    let n = try Check.count(n, "n")
    let poolEligible = try Check.count(poolEligible, "pool_eligible")
    // A copy of the scores and a position per score.
    _ = try Check.allocation([n], elementSize: 12, "the selection of \(n) scores")
    let rule = try selectionRule(rule, value)
    let values = Array(UnsafeBufferPointer(start: scores, count: n))
    let chosen = try values.withUnsafeBufferPointer {
      try Selection.select($0, rule: rule, poolEligible: poolEligible == 0 ? nil : poolEligible)
    }
    out.pointee = Registry.open(
      Handle(CandidateSelection(scores: values, rule: rule, chosen: chosen)), as: .selection)
  }
}

@c @implementation
public func wn_selection_count(
  _ rule: Int32, _ value: Double, _ eligible: Int, _ outCount: UnsafeMutablePointer<Int>?
) -> Int32 {
  status {
    let outCount = try Check.present(outCount, "out_count")
    let eligible = try Check.count(eligible, "eligible")
    guard eligible >= 1 else { throw WinnowError(.invalidArgument, "eligible is 0: nothing to select") }
    let rule = try selectionRule(rule, value)
    try rule.validate()
    outCount.pointee = try rule.count(eligible: eligible) ?? eligible
  }
}

/// The rule for a `WN_RULE_*` and its value, checked to be representable.
private func selectionRule(_ rule: Int32, _ value: Double) throws -> SelectionRule {
  switch rule {
  case 0:
    guard value.rounded() == value, value >= 1, value <= Double(1 << 52) else {
      throw WinnowError(.invalidArgument, "WN_RULE_TOP_K needs a whole k >= 1, got \(value)")
    }
    return .top(Int(value))
  case 1: return .fraction(value)
  case 2:
    guard value.isFinite, Float(value).isFinite else {
      throw WinnowError(.invalidArgument, "threshold \(value) is not finite as a float")
    }
    return .threshold(Float(value))
  default:
    throw WinnowError(
      .invalidArgument,
      "rule \(rule) is not WN_RULE_TOP_K (0), WN_RULE_FRACTION (1) or WN_RULE_THRESHOLD (2)")
  }
}

@c @implementation
public func wn_selection_free(_ selection: OpaquePointer?) {
  Registry.close(selection, as: .selection, type: CandidateSelection.self)
}

@c @implementation
public func wn_selection_last_error(_ selection: OpaquePointer?) -> UnsafePointer<CChar>? {
  lastError(selection, as: .selection, CandidateSelection.self)
}

@c @implementation
public func wn_selection_indices(
  _ selection: OpaquePointer?, _ outIndices: UnsafeMutablePointer<Int64>?, _ capacity: Int,
  _ outCount: UnsafeMutablePointer<Int>?
) -> Int32 {
  call(selection, .selection) { (h: Handle<CandidateSelection>) in
    let outCount = try Check.present(outCount, "out_count")
    let chosen = h.value.chosen
    outCount.pointee = chosen.count
    guard let outIndices else {
      guard capacity == 0 else {
        throw WinnowError(.nullPointer, "out_indices is NULL but capacity is \(UInt(bitPattern: capacity))")
      }
      return  // the size query
    }
    try Check.capacity(capacity, chosen.count, "out_indices")
    for (i, position) in chosen.enumerated() { outIndices[i] = Int64(position) }
  }
}

@c @implementation
public func wn_selection_write(
  _ selection: OpaquePointer?, _ ids: UnsafePointer<Int64>?, _ nIDs: Int,
  _ idsPath: UnsafePointer<CChar>?, _ listingPath: UnsafePointer<CChar>?,
  _ manifestPath: UnsafePointer<CChar>?, _ fields: UnsafePointer<CChar>?
) -> Int32 {
  call(selection, .selection) { (h: Handle<CandidateSelection>) in
    let s = h.value
    let idsPath = String(cString: try Check.present(idsPath, "ids_path"))
    var idOf: (Int) -> Int64 = { Int64($0) }
    if let ids {
      let n = try Check.count(nIDs, "n_ids")
      guard n == s.scores.count else {
        throw WinnowError(.shapeMismatch, "n_ids is \(n) but the selection has \(s.scores.count) candidates")
      }
      idOf = { ids[$0] }
    }
    let fields = try fields.map { try JSONValue.object(parsing: String(cString: $0), "fields") } ?? [:]
    let outputs = SelectionOutputs(
      ids: idsPath, listing: listingPath.map { String(cString: $0) },
      manifest: manifestPath.map { String(cString: $0) })
    try outputs.write(
      ids: s.chosen.map(idOf), scores: s.chosen.map { s.scores[$0] }, rule: s.rule, fields: fields)
  }
}
