import CWinnowABI
import Winnow

// Closing an epoch and copying the plan into caller buffers.

@c @implementation
public func wn_engine_end_epoch(_ engine: OpaquePointer?, _ outSelected: UnsafeMutablePointer<Int>?) -> Int32 {
  onEngine(engine) { e in
    let plan = try e.endEpoch()
    outSelected?.pointee = plan.count
  }
}

/// The engine's last plan, or `WN_ERR_BAD_STATE` before the first.
private func plan(_ e: SelectionEngine) throws -> EpochPlan {
  guard let p = e.lastPlan else {
    throw WinnowError(.badState, "no plan yet: call wn_engine_end_epoch first")
  }
  return p
}

@c @implementation
public func wn_engine_plan_size(
  _ engine: OpaquePointer?, _ outSelected: UnsafeMutablePointer<Int>?,
  _ outDomainCount: UnsafeMutablePointer<Int>?
) -> Int32 {
  onEngine(engine) { e in
    let p = try plan(e)
    outSelected?.pointee = p.count
    outDomainCount?.pointee = p.mixture.count
  }
}

@c @implementation
public func wn_engine_plan_info(
  _ engine: OpaquePointer?, _ outEpoch: UnsafeMutablePointer<Int64>?,
  _ outKind: UnsafeMutablePointer<Int32>?, _ outPolicy: UnsafeMutablePointer<Int32>?
) -> Int32 {
  onEngine(engine) { e in
    let p = try plan(e)
    outEpoch?.pointee = Int64(p.epoch)
    outKind?.pointee = p.kind.rawValue
    outPolicy?.pointee = p.policy.rawValue
  }
}

@c @implementation
public func wn_engine_plan_ids(_ engine: OpaquePointer?, _ out: UnsafeMutablePointer<Int64>?, _ capacity: Int) -> Int32 {
  onEngine(engine) { e in try copy(try plan(e).ids, to: out, capacity, "ids") }
}

@c @implementation
public func wn_engine_plan_weights(_ engine: OpaquePointer?, _ out: UnsafeMutablePointer<Float>?, _ capacity: Int) -> Int32 {
  onEngine(engine) { e in try copy(try plan(e).weights, to: out, capacity, "weights") }
}

@c @implementation
public func wn_engine_plan_probabilities(
  _ engine: OpaquePointer?, _ out: UnsafeMutablePointer<Double>?, _ capacity: Int
) -> Int32 {
  onEngine(engine) { e in try copy(try plan(e).inclusion, to: out, capacity, "probabilities") }
}

@c @implementation
public func wn_engine_plan_mixture(_ engine: OpaquePointer?, _ out: UnsafeMutablePointer<Double>?, _ capacity: Int) -> Int32 {
  onEngine(engine) { e in try copy(try plan(e).mixture, to: out, capacity, "mixture") }
}

@c @implementation
public func wn_engine_plan_mixture_average(
  _ engine: OpaquePointer?, _ out: UnsafeMutablePointer<Double>?, _ capacity: Int
) -> Int32 {
  onEngine(engine) { e in try copy(try plan(e).mixtureAverage, to: out, capacity, "mixture average") }
}

@c @implementation
public func wn_engine_plan_domain_counts(
  _ engine: OpaquePointer?, _ out: UnsafeMutablePointer<Int64>?, _ capacity: Int
) -> Int32 {
  onEngine(engine) { e in
    try copy(try plan(e).domainCounts.map { Int64($0) }, to: out, capacity, "domain counts")
  }
}

@c @implementation
public func wn_engine_pool_probabilities(
  _ engine: OpaquePointer?, _ out: UnsafeMutablePointer<Double>?, _ capacity: Int
) -> Int32 {
  onEngine(engine) { e in
    _ = try plan(e)
    try copy(e.inclusionProbabilities, to: out, capacity, "pool probabilities")
  }
}

@c @implementation
public func wn_engine_scores(_ engine: OpaquePointer?, _ out: UnsafeMutablePointer<Float>?, _ capacity: Int) -> Int32 {
  onEngine(engine) { e in try copy(try e.scores(), to: out, capacity, "scores") }
}

/// Copies `values` to a caller buffer after checking pointer and capacity.
func copy<T>(_ values: [T], to out: UnsafeMutablePointer<T>?, _ capacity: Int, _ name: String) throws {
  let out = try Check.present(out, "out")
  try Check.capacity(capacity, values.count, name)
  values.withUnsafeBufferPointer { v in
    if let base = v.baseAddress { out.update(from: base, count: v.count) }
  }
}
