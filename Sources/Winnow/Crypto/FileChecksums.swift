/// A hash fed in pieces and read once, as hex (`SHA256`, `XXH3`).
protocol StreamHasher: AnyObject {
  func update(_ bytes: UnsafeRawBufferPointer)
  func finalizeHex() throws -> String
}

extension SHA256: StreamHasher {}
extension XXH3: StreamHasher {}

/// The checksums a manifest can record for a file.
enum ChecksumAlgorithm: String, Sendable {
  /// SHA-256 (libcrypto): every manifest; audits, other tools, old stores.
  case sha256 = "SHA-256"
  /// XXH3-128 (xxHash): stores written since it was added; what a scan
  /// verifies while reading, at the speed of the read.
  case xxh3 = "XXH3-128"

  /// Hex digits of a digest.
  var hexDigits: Int { self == .sha256 ? 64 : 32 }

  func makeHasher() throws -> StreamHasher {
    switch self {
    case .sha256: try SHA256()
    case .xxh3: try XXH3()
    }
  }

  /// Whether `text` is a digest of this algorithm: lowercase hex of the length.
  func isDigest(_ text: String) -> Bool {
    text.utf8.count == hexDigits
      && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
  }

  /// The digest of the file at `path`, read in 1 MiB pieces.
  ///
  /// - Throws: `.io` naming the file when it cannot be read.
  func hex(ofFile path: String) throws -> String {
    try FileChecksums.of(file: path, [self])[0]
  }
}

/// SHA-256 and XXH3-128 of one byte stream, fed once: what `NPYWriter`
/// computes as a store's files are written.
final class StoreDigests {
  private let sha256: SHA256
  private let xxh3: XXH3

  init() throws {
    sha256 = try SHA256()
    xxh3 = try XXH3()
  }

  func update(_ bytes: UnsafeRawBufferPointer) {
    sha256.update(bytes)
    xxh3.update(bytes)
  }

  /// Both digests, hex; the hashes cannot be fed after.
  func finalizeHex() throws -> (sha256: String, xxh3: String) {
    (try sha256.finalizeHex(), try xxh3.finalizeHex())
  }
}

/// Checksums of whole files.
enum FileChecksums {
  /// The digests of the file at `path` under each of `algorithms`, from one read.
  ///
  /// - Throws: `.io` naming the file when it cannot be read.
  /// - Complexity: O(file size).
  static func of(file path: String, _ algorithms: [ChecksumAlgorithm]) throws -> [String] {
    // The one checked open: a FIFO or device is refused before it can block.
    let (fd, _) = try Syscalls.openForReading(path)
    defer { Syscalls.closeQuietly(fd) }
    let hashers = try algorithms.map { try $0.makeHasher() }
    let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
    defer { chunk.deallocate() }
    while true {
      let n = try Syscalls.readSome(fd, into: chunk, path: path)
      if n == 0 { break }
      for h in hashers { h.update(UnsafeRawBufferPointer(rebasing: chunk[0..<n])) }
    }
    return try hashers.map { try $0.finalizeHex() }
  }
}
