#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// A Bergson gradient index: `gradients.bin`, a headerless row-major
/// `num_grads × Σ grad_sizes` array of `base_dtype` (modules side by side in
/// `grad_sizes` order), described by `info.json`; `processor_config.yaml`
/// beside them records the projection when there is one.
public struct BergsonIndex {
  /// `info.json`'s fields that fix the layout.
  struct Info: Decodable {
    struct StructuredDType: Decodable { var formats: [String] }
    var num_grads: Int
    var grad_sizes: [String: Int]
    var base_dtype: String?
    /// Older indexes: a structured dtype, one field per module.
    var dtype: StructuredDType?
  }

  public let directory: URL
  /// The gradients, `num_grads × Σ grad_sizes`.
  public let matrix: RawMatrix
  /// The projection as `processor_config.yaml` records it.
  public let source: FeatureStoreSource

  /// Opens the index in `directory`, checking `gradients.bin` against `info.json`.
  ///
  /// - Throws: `.io`/`.format` naming `info.json` when it is missing or
  ///   malformed, `.unsupported` for a dtype other than float32, float16 or
  ///   bfloat16, `.format` naming `gradients.bin` when its size disagrees.
  public init(directory: URL) throws {
    let infoURL = directory.appendingPathComponent("info.json")
    let info = try ImportJSON.decode(Info.self, from: infoURL, what: "Bergson index info")
    let name = info.base_dtype ?? info.dtype?.formats.first ?? ""
    guard let element = Self.element(name) else {
      throw WinnowError(.unsupported, "\(infoURL.path): gradients of dtype '\(name)' (need float32, float16 or bfloat16)")
    }
    var width = 0
    for (module, size) in info.grad_sizes {
      let (sum, overflow) = width.addingReportingOverflow(size)
      guard size > 0, !overflow else {
        throw WinnowError(.format, "\(infoURL.path): grad_sizes[\(module)] = \(size) is not a usable size")
      }
      width = sum
    }
    guard info.num_grads > 0, width > 0 else {
      throw WinnowError(.format, "\(infoURL.path): num_grads \(info.num_grads) × \(width) holds no gradients")
    }
    self.directory = directory
    matrix = try RawMatrix(
      url: directory.appendingPathComponent("gradients.bin"), offset: 0, rows: info.num_grads, cols: width,
      element: element, exactLength: true)
    let config = Self.processorConfig(directory.appendingPathComponent("processor_config.yaml"))
    source = FeatureStoreSource(
      tool: "bergson", path: directory.path, projector: config["projection_type"] ?? "unknown",
      k: width, modelID: "", array: "gradients.bin \(element.rawValue)")
  }

  static func element(_ name: String) -> RawMatrix.Element? {
    switch name {
    case "float32", "<f4", "f4": .float32
    case "float16", "<f2", "f2": .float16
    case "bfloat16": .bfloat16
    default: nil
    }
  }

  /// The top-level `key: scalar` lines of Bergson's `processor_config.yaml`
  /// (written by `yaml.safe_dump` of a flat dataclass); empty if absent.
  static func processorConfig(_ url: URL) -> [String: String] {
    guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [:] }
    var values = [String: String]()
    for line in text.split(separator: "\n") where !line.hasPrefix(" ") && !line.hasPrefix("-") {
      let parts = line.split(separator: ":", maxSplits: 1)
      guard parts.count == 2 else { continue }
      values[String(parts[0])] = String(parts[1].drop { $0 == " " })
    }
    return values
  }
}

/// JSON files of other tools, decoded with errors that name the file.
enum ImportJSON {
  static func decode<T: Decodable>(_ type: T.Type, from url: URL, what: String) throws -> T {
    let data: Data
    do {
      data = try Data(contentsOf: url)
    } catch {
      throw WinnowError(.io, "\(url.path): cannot read the \(what)")
    }
    do {
      return try JSONDecoder().decode(T.self, from: data)
    } catch {
      throw WinnowError(.format, "\(url.path): malformed \(what): \(error)")
    }
  }
}
