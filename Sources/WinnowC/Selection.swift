import CWinnowABI
import Winnow

// wn_select_*: deterministic selection over a caller's score array.

@c @implementation
public func wn_select_top_k(
  _ scores: UnsafePointer<Float>?, _ n: Int, _ k: Int,
  _ outIndices: UnsafeMutablePointer<Int64>?, _ capacity: Int, _ outCount: UnsafeMutablePointer<Int>?
) -> Int32 {
  select(scores, n, outIndices, capacity, outCount) { s in
    try Selection.top(s, k: try Check.count(k, "k"))
  }
}

@c @implementation
public func wn_select_top_fraction(
  _ scores: UnsafePointer<Float>?, _ n: Int, _ fraction: Double,
  _ outIndices: UnsafeMutablePointer<Int64>?, _ capacity: Int, _ outCount: UnsafeMutablePointer<Int>?
) -> Int32 {
  select(scores, n, outIndices, capacity, outCount) { s in
    guard !s.isEmpty else { throw WinnowError(.invalidArgument, "the pool is empty: nothing to select") }
    return try Selection.top(s, fraction: fraction)
  }
}

@c @implementation
public func wn_select_threshold(
  _ scores: UnsafePointer<Float>?, _ n: Int, _ threshold: Float,
  _ outIndices: UnsafeMutablePointer<Int64>?, _ capacity: Int, _ outCount: UnsafeMutablePointer<Int>?
) -> Int32 {
  select(scores, n, outIndices, capacity, outCount) { s in
    try Selection.atLeast(s, threshold: threshold)
  }
}

/// Validates the shared arguments, runs `rule`, and copies its indices out
/// (or only reports their number, for the size query `NULL, 0`).
private func select(
  _ scores: UnsafePointer<Float>?, _ n: Int, _ out: UnsafeMutablePointer<Int64>?,
  _ capacity: Int, _ outCount: UnsafeMutablePointer<Int>?,
  _ rule: (UnsafeBufferPointer<Float>) throws -> [Int]
) -> Int32 {
  status {
    let scores = try Check.present(scores, "scores")
    let outCount = try Check.present(outCount, "out_count")
    let n = try Check.count(n, "n")
    // The rules keep a position (8 bytes) per score: addressable and feasible.
    _ = try Check.allocation([n], elementSize: 8, "the positions of \(n) scores")
    let capacity = try Check.count(capacity, "capacity")
    guard out != nil || capacity == 0 else {
      throw WinnowError(.nullPointer, "out_indices is NULL but capacity is \(capacity)")
    }
    let chosen = try rule(UnsafeBufferPointer(start: scores, count: n))
    outCount.pointee = chosen.count
    guard let out else { return }  // the size query
    try Check.capacity(capacity, chosen.count, "out_indices")
    for (i, index) in chosen.enumerated() { out[i] = Int64(index) }
  }
}
