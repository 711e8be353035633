#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif
#if canImport(Glibc)
  import Glibc
#endif

/// What every row of a feature store is: how it was projected, from what,
/// and for which checkpoint. Fixed when the store is created.
public struct FeatureStoreMetadata: Codable, Hashable, Sendable {
  /// The projector: `rademacher`, `gaussian`, `sjlt` (with `nnz`), or
  /// `imported` for features projected elsewhere; `/adam` is appended for
  /// LESS Adam features.
  public var projector: String
  /// The projector's seed (0 when imported).
  public var seed: UInt64
  /// Features per row.
  public var k: Int
  /// The dimension `D` of the gradients before projection (0 if unknown).
  public var inputDim: Int
  /// The on-disk dtype of the features: `<f4` or `<f2`.
  public var dtype: String
  /// What was done to the rows after projection: `none` or `l2`.
  public var normalization: String
  /// A label for the checkpoint these features come from.
  public var checkpoint: String
  /// The checkpoint's weight `η_c` (LESS: the epoch's mean learning rate).
  public var weight: Double
  /// For imported features: the source tool and its projection (nil for
  /// features Winnow projected, and in stores made before imports).
  public var source: FeatureStoreSource?
  /// Nonzeros per input coordinate of a sparse JL (`sjlt`) map; absent otherwise.
  public var nnz: Int?
  /// The K-FAC / EK-FAC preconditioner applied before the features were
  /// stored; absent for features of raw gradients (and in older stores).
  public var preconditioner: FeatureStorePreconditioner?

  public init(
    projector: String, seed: UInt64, k: Int, inputDim: Int, dtype: NPYDType = .float32,
    normalization: String = "none", checkpoint: String = "", weight: Double = 1,
    source: FeatureStoreSource? = nil, nnz: Int? = nil, preconditioner: FeatureStorePreconditioner? = nil
  ) {
    self.projector = projector
    self.seed = seed
    self.k = k
    self.inputDim = inputDim
    self.dtype = dtype.rawValue
    self.normalization = normalization
    self.checkpoint = checkpoint
    self.weight = weight
    self.source = source
    self.nnz = nnz
    self.preconditioner = preconditioner
  }

  /// The features' dtype, if it is one a store can hold.
  var featureDType: NPYDType? {
    NPYDType(rawValue: dtype).flatMap { $0 == .float32 || $0 == .float16 ? $0 : nil }
  }
}

/// One complete shard: its files, its rows, the input rows it covers and
/// the checksums of both files: SHA-256 always, XXH3-128 in stores written
/// since it was added (what readers verify when present: it keeps up with
/// a read, SHA-256 does not).
public struct FeatureStoreShard: Codable, Hashable, Sendable {
  /// The features file (`rows × k`), relative to the store directory.
  public var features: String
  /// The sample ids file (`<i8`, `rows`), relative to the store directory.
  public var ids: String
  /// Rows in this shard.
  public var rows: Int
  /// The first input row this shard holds; it holds `inputStart ..< inputStart + rows`.
  public var inputStart: Int
  public var featuresSHA256: String
  public var idsSHA256: String
  /// XXH3-128 of the features file (32 hex digits), or nil in older stores.
  public var featuresXXH3: String? = nil
  /// XXH3-128 of the ids file, or nil in older stores.
  public var idsXXH3: String? = nil

  /// The checksum a reader verifies the features file with, and its algorithm.
  var featuresChecksum: (ChecksumAlgorithm, String) {
    featuresXXH3.map { (.xxh3, $0) } ?? (.sha256, featuresSHA256)
  }

  /// The checksum a reader verifies the ids file with, and its algorithm.
  var idsChecksum: (ChecksumAlgorithm, String) {
    idsXXH3.map { (.xxh3, $0) } ?? (.sha256, idsSHA256)
  }
}

/// The `manifest.json` of a feature store: metadata plus the complete shards.
struct FeatureStoreManifest: Codable, Hashable {
  static let fileName = "manifest.json"
  static let currentVersion = 1

  var formatVersion = FeatureStoreManifest.currentVersion
  var metadata: FeatureStoreMetadata
  var shards: [FeatureStoreShard] = []

  /// Reads and checks the manifest of the store at `directory`: a regular
  /// file inside the store (symbolic links resolved), every field validated
  /// (`validate`).
  static func load(from directory: URL) throws -> FeatureStoreManifest {
    let url = directory.appendingPathComponent(fileName)
    let data: Data
    do {
      let path = try Syscalls.resolveInside(directory.path, fileName, what: "the store manifest")
      data = Data(try Syscalls.readWholeFile(path, limit: byteLimit))
    } catch let error as WinnowError {
      throw WinnowError(.io, "\(url.path): cannot read the feature store manifest: \(error.message)")
    }
    let manifest: FeatureStoreManifest
    do {
      manifest = try JSONDecoder().decode(FeatureStoreManifest.self, from: data)
    } catch {
      throw WinnowError(.format, "\(url.path): malformed feature store manifest: \(error)")
    }
    guard manifest.formatVersion == currentVersion else {
      throw WinnowError(
        .unsupported, "\(url.path): store format version \(manifest.formatVersion) is not supported")
    }
    try manifest.validate(url)
    return manifest
  }

  /// The manifest's bytes: sorted keys and no timestamps, so equal stores
  /// have byte-identical manifests.
  func encoded() throws -> Data { try manifestBytes(self) }

  /// Replaces `directory/manifest.json` atomically (temporary, fsync, rename,
  /// fsync of the directory), so readers see the old or the new one, whole.
  func save(to directory: URL) throws {
    try AtomicFile.write(try encoded(), to: directory.appendingPathComponent(Self.fileName))
  }
}

/// Whole-file atomic replacement through `Syscalls`.
enum AtomicFile {
  /// Writes `data` to a temporary beside `url`, fsyncs it, renames it onto
  /// `url` and fsyncs the directory.
  static func write(_ data: Data, to url: URL) throws {
    let temporary = "\(url.path).tmp-\(Syscalls.processID)-\(UInt32.random(in: 0...UInt32.max))"
    let (fd, error) = Syscalls.createExclusive(temporary)
    guard fd >= 0 else {
      throw WinnowError(.io, "\(temporary): cannot create: \(Syscalls.describe(error))")
    }
    do {
      try data.withUnsafeBytes { bytes in
        guard let base = bytes.baseAddress else { return }
        try Syscalls.writeAll(fd, base, count: bytes.count, at: 0, path: temporary)
      }
      try Syscalls.sync(fd, path: temporary)
      try Syscalls.closeChecked(fd, path: temporary)
    } catch {
      Syscalls.closeQuietly(fd)
      Syscalls.remove(temporary)
      throw error
    }
    try Syscalls.renameAtomically(temporary, to: url.path)
    try Syscalls.syncDirectory(url.deletingLastPathComponent().path)
  }
}
