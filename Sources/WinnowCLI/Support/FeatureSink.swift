import Foundation
import Winnow

/// Where `winnow project` writes features: a `.npy` file or a feature store.
protocol FeatureSink {
  /// The first input row still to be written (non-zero when a store resumes).
  var startRow: Int { get }
  /// Appends the features of input rows `rows` (`rows.count × k`).
  func append(_ features: UnsafeBufferPointer<Float>, rows: Range<Int>) throws
  /// Makes everything written visible (atomically).
  func finish() throws
}

/// Features into one `.npy`, published atomically at the end.
struct NPYSink: FeatureSink {
  let writer: NPYWriter
  var startRow: Int { 0 }

  func append(_ features: UnsafeBufferPointer<Float>, rows: Range<Int>) throws {
    try writer.append(floats: features)
  }

  func finish() throws { try writer.finalize() }
}

/// Features into a feature store: shards published as they fill; a rerun of
/// the same command resumes after the last complete shard.
struct StoreSink: FeatureSink {
  let writer: FeatureStoreWriter
  /// Sample ids for every input row, or nil for the row numbers.
  let ids: [Int64]?

  var startRow: Int { writer.nextInputRow }

  func append(_ features: UnsafeBufferPointer<Float>, rows: Range<Int>) throws {
    try writer.append(features: features, ids: ids.map { Array($0[rows]) } ?? rows.map(Int64.init))
  }

  func finish() throws { try writer.close() }
}
