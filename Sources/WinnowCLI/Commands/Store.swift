import ArgumentParser
import Foundation
import Winnow

/// `winnow store`: feature store maintenance.
struct Store: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Create and inspect feature stores (sharded, checksummed feature directories).",
    subcommands: [StoreImport.self]
  )
}

/// `winnow store import`: copies precomputed features into a store.
struct StoreImport: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "import",
    abstract: "Import precomputed features (N × k .npy) into a feature store, resumably.",
    discussion: """
      Copies rows of --input into shards of --shard-rows rows (features and <i8 ids), each \
      published atomically and then listed, with its SHA-256, in the store's manifest.json. \
      Rerunning the same command after an interruption resumes after the last complete \
      shard and yields the same store as an uninterrupted run. The store's metadata \
      (projector "imported", k, dtype, checkpoint, weight) must match an existing store.

      --from trak|bergson|raw reads another tool's features (TRAK's trak_results/, a Bergson \
      index, a headerless matrix such as the tensor in a LESS .pt file) and records the \
      source and its projection in the manifest; `winnow score` then refuses targets of \
      another projection. Such an import is staged in <store>.importing and renamed to \
      --store when complete; rerunning it resumes there.

      --preconditioner kfac-whitened|kfac|ekfac records that the features are K-FAC / \
      EK-FAC features (whitened factors projected by the factored projector, or eigenbasis \
      features, optionally projected), made with the curvature fit --curvature FILE and \
      --damping (a fraction of the mean eigenvalue, default 0.1; an absolute λ with \
      --absolute-damping). The file is read and checked (fitted; ekfac needs EK-FAC \
      corrections) before anything is written, and its SHA-256 and XXH3-128 are recorded. \
      `winnow score` then scores the store with --measure dot and refuses targets with \
      another preconditioner.
      """
  )

  @Option(name: .long, help: "Features, N × k, <f4 or <f2 .npy; with --from, the other tool's file or folder.")
  var input: String

  @Option(name: .long, help: "Source format: npy, trak, bergson or raw (see Coming from LESS / TRAK / Bergson).")
  var from: ImportFormat = .npy

  @OptionGroup(title: "Other tools' formats")
  var tool: ToolImportOptions

  @Option(name: .long, help: "The store directory (created if missing).")
  var store: String

  @OptionGroup var storeOptions: StoreOptions

  @OptionGroup(title: "K-FAC / EK-FAC features")
  var preconditioning: PreconditionerOptions

  @Option(name: .long, help: "Store dtype: f32 or f16.")
  var dtype: Project.OutputDType = .f32

  func run() throws {
    // The curvature file is checked before a store is created.
    let preconditioner = try preconditioning.recorded()
    if from != .npy { return try runToolImport(preconditioner: preconditioner) }
    let features = try openFeatures(input, role: "input features")
    let idValues = try storeOptions.ids.map { try NPYArray(contentsOf: URL(fileURLWithPath: $0)).readInt64() }
    if let idValues, idValues.count != features.rowCount {
      throw WinnowError(.shapeMismatch, "\(storeOptions.ids ?? ""): \(idValues.count) ids for \(features.rowCount) rows")
    }
    let metadata = FeatureStoreMetadata(
      projector: "imported", seed: 0, k: features.dim, inputDim: 0,
      dtype: dtype == .f16 ? .float16 : .float32, checkpoint: storeOptions.checkpoint, weight: storeOptions.weight,
      preconditioner: preconditioner)
    let writer = try FeatureStoreWriter.openOrCreate(
      directory: URL(fileURLWithPath: store), metadata: metadata, shardRows: storeOptions.shardRows,
      expectedInputRows: features.rowCount)
    try writer.checkResume(inputRows: features.rowCount)
    let progress = Progress("import", total: features.rowCount)
    var block = [Float](repeating: 0, count: storeOptions.shardRows * features.dim)
    var start = writer.nextInputRow
    while start < features.rowCount {
      let rows = start..<min(start + storeOptions.shardRows, features.rowCount)
      try block.withUnsafeMutableBufferPointer { b in
        guard let base = b.baseAddress else { return }
        try features.readRows(rows, into: base)
        try writer.append(
          features: UnsafeBufferPointer(rebasing: b[0..<(rows.count * features.dim)]),
          ids: idValues.map { Array($0[rows]) } ?? rows.map(Int64.init))
      }
      features.release(rows: rows)
      start = rows.upperBound
      progress.update(start)
      TestHooks.pauseAfterShard()
    }
    try writer.close()
    progress.finish()
    print("\(store): \(writer.shards.count) shards, \(writer.nextInputRow) rows")
    if let preconditioner { print("preconditioner: \(preconditioner)") }
  }
}
