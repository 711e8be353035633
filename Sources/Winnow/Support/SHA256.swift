#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif
#if canImport(Glibc)
  import Glibc
#endif

/// SHA-256 (FIPS 180-4), small and self-contained, for the checksums in
/// feature-store and selection manifests.
///
/// Not constant-time and not meant for secrets: it guards against corrupt or
/// changed files.
struct SHA256 {
  private var state: [UInt32] = [
    0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a,
    0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19,
  ]
  private var pending = [UInt8]()
  private var length: UInt64 = 0

  private static let k: [UInt32] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
  ]

  /// Feeds `bytes` into the hash.
  mutating func update(_ bytes: UnsafeRawBufferPointer) {
    length &+= UInt64(bytes.count)
    var rest = bytes[...]
    if !pending.isEmpty {
      let take = min(64 - pending.count, rest.count)
      pending += rest.prefix(take)
      rest = rest.dropFirst(take)
      if pending.count < 64 { return }
      pending.withUnsafeBytes { compress($0) }
      pending.removeAll(keepingCapacity: true)
    }
    while rest.count >= 64 {
      compress(UnsafeRawBufferPointer(rebasing: rest.prefix(64)))
      rest = rest.dropFirst(64)
    }
    pending += rest
  }

  /// The digest as 64 lowercase hex digits; the hash cannot be fed after.
  mutating func finalizeHex() -> String {
    let bits = length &* 8
    var tail: [UInt8] = [0x80]
    tail += [UInt8](repeating: 0, count: (119 - pending.count) % 64)
    tail += (0..<8).map { UInt8(truncatingIfNeeded: bits >> (56 - 8 * $0)) }
    length &-= UInt64(tail.count)  // padding does not count as message
    tail.withUnsafeBytes { update($0) }
    return state.map { hexDigits($0, width: 8) }.joined()
  }

  private mutating func compress(_ block: UnsafeRawBufferPointer) {
    // A stack buffer: one heap allocation per 64-byte block would dominate.
    withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
      for t in 0..<16 {
        w[t] = UInt32(bigEndian: block.loadUnaligned(fromByteOffset: 4 * t, as: UInt32.self))
      }
      for t in 16..<64 {
        let s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3)
        let s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10)
        w[t] = w[t - 16] &+ s0 &+ w[t - 7] &+ s1
      }
      var (a, b, c, d) = (state[0], state[1], state[2], state[3])
      var (e, f, g, h) = (state[4], state[5], state[6], state[7])
      for t in 0..<64 {
        let ch = (e & f) ^ (~e & g)
        let t1 = h &+ (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) &+ ch &+ Self.k[t] &+ w[t]
        let t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) &+ ((a & b) ^ (a & c) ^ (b & c))
        (h, g, f, e, d, c, b, a) = (g, f, e, d &+ t1, c, b, a, t1 &+ t2)
      }
      state[0] &+= a; state[1] &+= b; state[2] &+= c; state[3] &+= d
      state[4] &+= e; state[5] &+= f; state[6] &+= g; state[7] &+= h
    }
  }

  private func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { x >> n | x << (32 - n) }

  /// The SHA-256 of `data`, hex.
  static func hex(_ data: some DataProtocol) -> String {
    var hash = SHA256()
    for region in data.regions { region.withUnsafeBytes { hash.update($0) } }
    return hash.finalizeHex()
  }

  /// The SHA-256 of the file at `path`, read in 1 MiB pieces, hex.
  ///
  /// - Throws: `.io` naming the file when it cannot be read.
  static func hex(ofFile path: String) throws -> String {
    // Regular files only, opened without blocking (a FIFO or /dev/zero
    // would otherwise hang or read forever).
    let (fd, _) = try NPYSyscalls.openForReading(path)
    defer { close(fd) }
    var hash = SHA256()
    let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
    defer { chunk.deallocate() }
    while true {
      let n = read(fd, chunk.baseAddress, chunk.count)
      if n == 0 { break }
      if n < 0 {
        if errno == EINTR { continue }
        throw WinnowError(.io, "\(path): cannot read to compute its checksum (errno \(errno))")
      }
      hash.update(UnsafeRawBufferPointer(rebasing: chunk[0..<n]))
    }
    return hash.finalizeHex()
  }
}

/// File checksums as recorded in Winnow's manifests.
public enum Checksum {
  /// The SHA-256 of the file at `path`, as 64 lowercase hex digits.
  ///
  /// - Throws: `.io` naming the file when it cannot be read.
  /// - Complexity: O(file size); reads in 1 MiB pieces.
  public static func sha256(ofFile path: String) throws -> String {
    try SHA256.hex(ofFile: path)
  }
}

/// `value` in lowercase hexadecimal, zero-padded to `width` digits.
func hexDigits<T: BinaryInteger>(_ value: T, width: Int) -> String {
  let digits = String(value, radix: 16)
  return String(repeating: "0", count: max(0, width - digits.count)) + digits
}
