import CWinnowABI
import Winnow

// wn_engine_* lifecycle and parameters: a thin translation of `SelectionEngine`.

/// Runs `body` on the live engine behind `pointer` and returns the status.
func onEngine(_ pointer: OpaquePointer?, _ body: (SelectionEngine) throws -> Void) -> Int32 {
  call(pointer, .engine) { (h: Handle<SelectionEngine>) in try body(h.value) }
}

/// The key behind a `WN_PARAM_*` constant, or `WN_ERR_INVALID_ARGUMENT`.
func parameterKey(_ key: Int32) throws -> EngineParameter {
  guard let p = EngineParameter(rawValue: key) else {
    throw WinnowError(.invalidArgument, "\(key) is not a WN_PARAM_* key")
  }
  return p
}

/// Parameter names as C strings, built once (read-only afterwards).
nonisolated(unsafe) let parameterNames: [Int32: UnsafePointer<CChar>] = Dictionary(
  uniqueKeysWithValues: EngineParameter.allCases.map { ($0.rawValue, StaticText.make($0.name)) })

@c @implementation
public func wn_param_bounds(
  _ key: Int32, _ outMin: UnsafeMutablePointer<Double>?, _ outMax: UnsafeMutablePointer<Double>?,
  _ outFlags: UnsafeMutablePointer<Int32>?
) -> Int32 {
  status {
    let (lo, hi) = (try Check.present(outMin, "out_min"), try Check.present(outMax, "out_max"))
    let flags = try Check.present(outFlags, "out_flags")
    let p = try parameterKey(key)
    (lo.pointee, hi.pointee) = (p.range.lowerBound, p.range.upperBound)
    flags.pointee = (p.isInteger ? WN_PARAM_FLAG_INTEGER : 0)
      | (p.lowerBoundIsOpen ? WN_PARAM_FLAG_LOWER_OPEN : 0)
  }
}

@c @implementation
public func wn_param_default(_ key: Int32, _ outValue: UnsafeMutablePointer<Double>?) -> Int32 {
  status {
    let out = try Check.present(outValue, "out_value")
    out.pointee = try parameterKey(key).defaultValue
  }
}

@c @implementation
public func wn_param_name(_ key: Int32) -> UnsafePointer<CChar>? { parameterNames[key] }

@c @implementation
public func wn_engine_create(
  _ out: UnsafeMutablePointer<OpaquePointer?>?, _ ids: UnsafePointer<Int64>?,
  _ domains: UnsafePointer<Int32>?, _ poolSize: Int, _ domainCount: Int, _ featureDim: Int,
  _ taskCount: Int
) -> Int32 {
  status {
    let out = try Check.present(out, "out")
    out.pointee = nil
    let ids = try Check.present(ids, "ids")
    let n = try Check.count(poolSize, "pool_size")
    _ = try Check.product(n, 1, elementSize: 8, "ids")
    let k = try Check.count(domainCount, "domain_count")
    let engine = try SelectionEngine(
      ids: Array(UnsafeBufferPointer(start: ids, count: n)),
      domains: domains.map { Array(UnsafeBufferPointer(start: $0, count: n)) },
      domainCount: k == 0 ? nil : k,
      featureDim: try Check.count(featureDim, "feature_dim"),
      taskCount: try Check.count(taskCount, "task_count"))
    out.pointee = Registry.open(Handle(engine), as: .engine)
  }
}

@c @implementation
public func wn_engine_free(_ engine: OpaquePointer?) {
  Registry.close(engine, as: .engine, type: SelectionEngine.self)
}

@c @implementation
public func wn_engine_last_error(_ engine: OpaquePointer?) -> UnsafePointer<CChar>? {
  lastError(engine, as: .engine, SelectionEngine.self)
}

@c @implementation
public func wn_engine_dims(
  _ engine: OpaquePointer?, _ outPoolSize: UnsafeMutablePointer<Int>?,
  _ outDomainCount: UnsafeMutablePointer<Int>?, _ outFeatureDim: UnsafeMutablePointer<Int>?,
  _ outTaskCount: UnsafeMutablePointer<Int>?
) -> Int32 {
  onEngine(engine) { e in
    outPoolSize?.pointee = e.poolSize
    outDomainCount?.pointee = e.domainCount
    outFeatureDim?.pointee = e.featureDim
    outTaskCount?.pointee = e.taskCount
  }
}

@c @implementation
public func wn_engine_set_param_f64(_ engine: OpaquePointer?, _ key: Int32, _ value: Double) -> Int32 {
  onEngine(engine) { e in try e.setParameter(try parameterKey(key), value) }
}

@c @implementation
public func wn_engine_set_param_i64(_ engine: OpaquePointer?, _ key: Int32, _ value: Int64) -> Int32 {
  onEngine(engine) { e in try e.setIntegerParameter(try parameterKey(key), value) }
}

@c @implementation
public func wn_engine_get_param_f64(
  _ engine: OpaquePointer?, _ key: Int32, _ outValue: UnsafeMutablePointer<Double>?
) -> Int32 {
  onEngine(engine) { e in
    let out = try Check.present(outValue, "out_value")
    out.pointee = e.parameter(try parameterKey(key))
  }
}

@c @implementation
public func wn_engine_set_initial_mixture(
  _ engine: OpaquePointer?, _ weights: UnsafePointer<Double>?, _ count: Int
) -> Int32 {
  onEngine(engine) { e in
    let w = try Check.present(weights, "weights")
    let n = try Check.count(count, "count")
    guard n == e.domainCount else {
      throw WinnowError(.shapeMismatch, "\(n) mixture weights for \(e.domainCount) domains")
    }
    try e.setInitialMixture(Array(UnsafeBufferPointer(start: w, count: n)))
  }
}

@c @implementation
public func wn_engine_set_audit_log(_ engine: OpaquePointer?, _ path: UnsafePointer<CChar>?) -> Int32 {
  onEngine(engine) { e in e.auditLogPath = path.map { String(cString: $0) } }
}

@c @implementation
public func wn_engine_begin_epoch(_ engine: OpaquePointer?, _ epoch: Int64, _ learningRate: Double) -> Int32 {
  onEngine(engine) { e in try e.beginEpoch(Int(epoch), learningRate: learningRate) }
}
