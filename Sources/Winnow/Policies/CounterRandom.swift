/// Counter-based random numbers keyed by `(seed, stream, epoch, sample id)`.
///
/// Every random choice in the engine is a pure function of its key, so a plan
/// never depends on the order in which samples were fed, on batch sizes or on
/// thread count. The mixing function is SplitMix64's finalizer (Steele, Lea and
/// Flood 2014), applied once per key component.
enum CounterRandom {
  /// Separate streams so that different uses of one key never correlate.
  enum Stream: UInt64 {
    case permutation = 1, systematicStart, warmup, exp3
  }

  /// SplitMix64's output function.
  @inline(__always)
  static func mix(_ x: UInt64) -> UInt64 {
    var z = x &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// 64 random bits for one key.
  @inline(__always)
  static func bits(seed: UInt64, stream: Stream, epoch: Int, id: Int64) -> UInt64 {
    let s = mix(seed ^ (stream.rawValue &* 0xD1B5_4A32_D192_ED03))
    return mix(mix(s ^ UInt64(bitPattern: Int64(epoch))) ^ UInt64(bitPattern: id))
  }

  /// A uniform double in the open interval `(0, 1)` for one key.
  @inline(__always)
  static func uniform(seed: UInt64, stream: Stream, epoch: Int, id: Int64) -> Double {
    let b = bits(seed: seed, stream: stream, epoch: epoch, id: id)
    return (Double(b >> 11) + 0.5) * 0x1p-53
  }
}
