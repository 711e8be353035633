/// One JSON line per plan, so that a run's data decisions can be replayed
/// and explained.
///
/// A line holds: `version`, `epoch`, `kind` (`planned`/`warmup`/`reused`),
/// `policy`, every `EngineParameter` by name (`parameters`), `pool_size`,
/// `selected`, `domain_counts`, `mixture`, `mixture_average`, `weight_sum`,
/// and `checksum`: FNV-1a 64 (offset basis 0xcbf29ce484222325, prime
/// 0x100000001b3) over the selected ids as little-endian `Int64` bytes, then
/// the weights as little-endian IEEE `Float32` bytes, in plan order, written
/// as 16 lowercase hex digits.
enum AuditLog {
  /// FNV-1a 64 of the ids' then the weights' little-endian bytes.
  /// - Complexity: O(n).
  static func checksum(ids: [Int64], weights: [Float]) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    func eat(_ value: UInt64, bytes: Int) {
      for b in 0..<bytes {
        h ^= (value >> (8 * UInt64(b))) & 0xff
        h = h &* 0x0000_0100_0000_01b3
      }
    }
    for id in ids { eat(UInt64(bitPattern: id), bytes: 8) }
    for w in weights { eat(UInt64(w.bitPattern), bytes: 4) }
    return h
  }

  /// Appends `line` and a newline to the file at `path`, creating it if needed.
  static func append(_ line: String, to path: String) throws {
    let fd = try Syscalls.openForAppending(path, what: "the audit log")
    let bytes = Array((line + "\n").utf8)
    do {
      // One `write` call for the whole line, as `fopen`/`fclose` made.
      try bytes.withUnsafeBytes {
        try Syscalls.appendAll(fd, $0.baseAddress!, count: $0.count, path: path)
      }
    } catch {
      Syscalls.closeQuietly(fd)
      throw error
    }
    try Syscalls.closeChecked(fd, path: path)
  }

  static func json(_ values: [Double]) -> String {
    "[" + values.map { number($0) }.joined(separator: ",") + "]"
  }

  /// A JSON number (shortest round-trip form; non-finite values as null).
  static func number(_ x: Double) -> String { x.isFinite ? "\(x)" : "null" }
}

extension SelectionPolicy {
  /// The policy's name in audit logs.
  public var name: String {
    switch self {
    case .topFraction: "top_fraction"
    case .domainQuota: "domain_quota"
    case .stochastic: "stochastic"
    case .diversity: "diversity"
    }
  }
}

extension SelectionEngine {
  /// The audit record of `plan` under the current parameters: one line of
  /// JSON with no newline (see `AuditLog` for the fields and the checksum).
  public func auditLine(for plan: EpochPlan) -> String {
    let kind = ["planned", "warmup", "reused"][Int(plan.kind.rawValue)]
    let parameters = configuration.entries.map { name, value in
      let text = name == "seed" ? "\(configuration.seed)" : AuditLog.number(value)
      return "\"\(name)\":\(text)"
    }
    let sum = plan.weights.reduce(0.0) { $0 + Double($1) }
    let digest = String(AuditLog.checksum(ids: plan.ids, weights: plan.weights), radix: 16)
    let fields = [
      "\"version\":\"\(Runtime.version)\"", "\"epoch\":\(plan.epoch)", "\"kind\":\"\(kind)\"",
      "\"policy\":\"\(plan.policy.name)\"", "\"parameters\":{\(parameters.joined(separator: ","))}",
      "\"pool_size\":\(poolSize)", "\"selected\":\(plan.count)",
      "\"domain_counts\":[\(plan.domainCounts.map(String.init).joined(separator: ","))]",
      "\"mixture\":\(AuditLog.json(plan.mixture))",
      "\"mixture_average\":\(AuditLog.json(plan.mixtureAverage))",
      "\"weight_sum\":\(AuditLog.number(sum))",
      "\"checksum\":\"fnv1a64:\(String(repeating: "0", count: 16 - digest.count) + digest)\"",
    ]
    return "{" + fields.joined(separator: ",") + "}"
  }
}
