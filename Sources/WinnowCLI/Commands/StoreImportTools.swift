import ArgumentParser
import Foundation
import Winnow

/// The source formats `winnow store import --from` reads.
enum ImportFormat: String, ExpressibleByArgument, CaseIterable {
  /// An `N × k` `.npy` (the default).
  case npy
  /// A TRAK save directory (`trak_results/`).
  case trak
  /// A Bergson index directory (`gradients.bin` + `info.json`).
  case bergson
  /// A headerless row-major matrix at a byte offset of a file (what
  /// `python -m winnow.less import` hands over for a `torch.save` tensor).
  case raw
}

/// Options of `winnow store import` for other tools' formats.
struct ToolImportOptions: ParsableArguments {
  @Option(name: .customLong("model-id"), help: "TRAK: the model id folder (default: the only one).")
  var modelID: String?

  @Option(name: .long, help: "TRAK: grads (default), features, or <exp>_grads for an experiment's targets.")
  var array: String = "grads"

  @Option(name: .long, help: "raw: byte offset of the first element.")
  var offset: Int = 0

  @Option(name: .long, help: "raw: rows N.")
  var rows: Int?

  @Option(name: .long, help: "raw: columns k.")
  var cols: Int?

  @Option(name: .long, help: "raw: float32, float16 or bfloat16.")
  var element: String = "float32"

  @Option(name: .customLong("source-tool"), help: "Record this tool as the source (raw: e.g. less).")
  var sourceTool: String?

  @Option(name: .customLong("source-projector"), help: "Record the source's projector kind (rademacher, normal, ...).")
  var sourceProjector: String?

  @Option(name: .customLong("source-seed"), help: "Record the source's projector seed.")
  var sourceSeed: UInt64?

  @Option(name: .customLong("source-model-id"), help: "Record the source's model / checkpoint id.")
  var sourceModelID: String?

  @Option(name: .long, help: "What the source did to rows after projection: none or l2 (LESS all_orig.pt).")
  var normalization: String = "none"
}

extension StoreImport {
  /// Opens `--input` as `--from` says, with what it records about its source.
  func openToolSource() throws -> (any FeatureSource, FeatureStoreSource) {
    let url = URL(fileURLWithPath: input)
    let (features, recorded): (any FeatureSource, FeatureStoreSource)
    switch from {
    case .npy:
      let array = try openFeatures(input, role: "input features")
      (features, recorded) = (array, FeatureStoreSource(tool: "npy", path: input, k: array.dim))
    case .trak:
      let trak = try TRAKResults(directory: url, modelID: tool.modelID, arrayName: tool.array)
      (features, recorded) = (trak.array, trak.source)
    case .bergson:
      let index = try BergsonIndex(directory: url)
      (features, recorded) = (index.matrix, index.source)
    case .raw:
      guard let rows = tool.rows, let cols = tool.cols, let element = RawMatrix.Element(rawValue: tool.element) else {
        throw ValidationError("--from raw needs --rows, --cols and --element float32|float16|bfloat16")
      }
      let matrix = try RawMatrix(url: url, offset: tool.offset, rows: rows, cols: cols, element: element, exactLength: false)
      (features, recorded) = (matrix, FeatureStoreSource(tool: "raw", path: input, k: cols, array: element.rawValue))
    }
    var source = recorded
    if let t = tool.sourceTool { source.tool = t }
    if let p = tool.sourceProjector { source.projector = p }
    if let s = tool.sourceSeed { source.seed = s }
    if let m = tool.sourceModelID { source.modelID = m }
    return (features, source)
  }

  /// `--from trak|bergson|raw`: stream the source into a store that appears
  /// under `--store` only when complete.
  func runToolImport(preconditioner: FeatureStorePreconditioner?) throws {
    guard ["none", "l2"].contains(tool.normalization) else {
      throw ValidationError("--normalization must be none or l2")
    }
    let (features, source) = try openToolSource()
    let idValues = try storeOptions.ids.map { try NPYArray(contentsOf: URL(fileURLWithPath: $0)).readInt64() }
    let metadata = FeatureStoreMetadata(
      projector: "imported", seed: 0, k: features.dim, inputDim: 0,
      dtype: dtype == .f16 ? .float16 : .float32, normalization: tool.normalization,
      checkpoint: storeOptions.checkpoint, weight: storeOptions.weight, source: source,
      preconditioner: preconditioner)
    let progress = Progress("import", total: features.rowCount)
    let done = try FeatureImporter.importRows(
      from: features, ids: idValues, into: URL(fileURLWithPath: store), metadata: metadata,
      shardRows: storeOptions.shardRows
    ) { rows, _ in
      progress.update(rows)
      TestHooks.pauseAfterShard()
    }
    progress.finish()
    print("\(store): \(done.shards.count) shards, \(done.rowCount) rows from \(source.tool) (\(source.array))")
    if let preconditioner { print("preconditioner: \(preconditioner)") }
  }
}
