#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// A TRAK save directory (`trak_results/`): `metadata.json` (JL dimension,
/// matrix type, train set size) and one folder per model id holding
/// NPY-headed memory maps: `grads.mmap` and `features.mmap`
/// (`train set size × JL dimension`, `<f2` by default), `_is_featurized.mmap`
/// (`<i4`, `N × 1`), and `<exp>_grads.mmap` for an experiment's targets.
public struct TRAKResults {
  struct Metadata: Decodable {
    var jlDimension: Int
    var matrixType: String
    var trainSetSize: Int

    enum CodingKeys: String, CodingKey {
      case jlDimension = "JL dimension", matrixType = "JL matrix type", trainSetSize = "train set size"
    }
  }

  /// The chosen array, `rows × JL dimension`.
  public let array: NPYArray
  public let source: FeatureStoreSource

  /// Opens `<directory>/<modelID>/<arrayName>.mmap`.
  ///
  /// - Parameters:
  ///   - modelID: the model id folder; nil picks the only one there is.
  ///   - arrayName: `grads` (the projected train gradients, default),
  ///     `features`, or `<exp>_grads` (an experiment's target gradients).
  /// - Throws: `.format` naming the file for a shape or dtype that disagrees
  ///   with `metadata.json`, a truncated map, or train rows TRAK never
  ///   featurized, or target rows that disagree with `experiments.json`;
  ///   `.invalidArgument` when the model id is ambiguous.
  public init(directory: URL, modelID: String?, arrayName: String = "grads") throws {
    let metaURL = directory.appendingPathComponent("metadata.json")
    let meta = try ImportJSON.decode(Metadata.self, from: metaURL, what: "TRAK metadata")
    let model = try modelID ?? Self.onlyModelID(in: directory)
    let folder = directory.appendingPathComponent(model)
    let url = folder.appendingPathComponent("\(arrayName).mmap")
    let array = try NPYArray(contentsOf: url)
    guard array.dtype == .float16 || array.dtype == .float32, array.shape.count == 2,
      array.shape[1] == meta.jlDimension, array.rowCount > 0
    else {
      throw WinnowError(
        .format,
        "\(url.path): holds \(array.dtype.rawValue) \(array.shape); metadata.json says rows of "
          + "JL dimension \(meta.jlDimension) (<f2 or <f4)")
    }
    if arrayName.hasSuffix("_grads") {
      try Self.checkTargets(url, rows: array.rowCount, experiment: String(arrayName.dropLast(6)), in: directory)
    }
    if arrayName == "grads" || arrayName == "features" {
      guard array.rowCount == meta.trainSetSize else {
        throw WinnowError(
          .format, "\(url.path): \(array.rowCount) rows, metadata.json says train set size \(meta.trainSetSize)")
      }
      try Self.checkFeaturized(folder.appendingPathComponent("_is_featurized.mmap"), rows: meta.trainSetSize)
    }
    self.array = array
    source = FeatureStoreSource(
      tool: "trak", path: directory.path, projector: meta.matrixType, k: meta.jlDimension, modelID: model,
      array: "\(arrayName).mmap \(array.dtype.rawValue)")
  }

  /// The single model id folder of `directory`.
  static func onlyModelID(in directory: URL) throws -> String {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    let ids = names.filter { !$0.isEmpty && $0.allSatisfy(\.isNumber) }.sorted()
    guard ids.count == 1, let only = ids.first else {
      throw WinnowError.invalid(
        "\(directory.path): \(ids.isEmpty ? "no model id folder" : "model ids \(ids.joined(separator: ", "))"); "
          + "name one with --model-id")
    }
    return only
  }

  /// Checks an experiment's target gradients against `experiments.json`
  /// (`{exp: {"num_targets": M, ...}}`), when it lists the experiment.
  static func checkTargets(_ url: URL, rows: Int, experiment: String, in directory: URL) throws {
    struct Experiment: Decodable { var num_targets: Int }
    let listURL = directory.appendingPathComponent("experiments.json")
    guard FileManager.default.fileExists(atPath: listURL.path) else { return }
    let list = try ImportJSON.decode([String: Experiment].self, from: listURL, what: "TRAK experiments list")
    guard let want = list[experiment]?.num_targets, want != rows else { return }
    throw WinnowError(
      .format, "\(url.path): \(rows) target rows, experiments.json says \(experiment) has num_targets \(want)")
  }

  /// Refuses a store whose rows TRAK has not all featurized (they are zeros).
  static func checkFeaturized(_ url: URL, rows: Int) throws {
    guard FileManager.default.fileExists(atPath: url.path) else { return }
    let flags = try NPYArray(contentsOf: url)
    guard flags.count == rows else {
      throw WinnowError(.format, "\(url.path): \(flags.count) flags for \(rows) train rows")
    }
    let missing = try flags.readInt64().filter { $0 == 0 }.count
    guard missing == 0 else {
      throw WinnowError(
        .format, "\(url.path): \(missing) of \(rows) train rows were never featurized; finish featurizing first")
    }
  }
}
