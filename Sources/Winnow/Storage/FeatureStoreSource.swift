/// Where an imported feature store's rows came from and how that tool
/// projected them, so that only features of the same projection are compared.
///
/// Recorded in the manifest under `metadata.source`; stores written before
/// this field existed simply have none (the field is optional when decoding).
public struct FeatureStoreSource: Codable, Hashable, Sendable {
  /// The tool that wrote the features: `less`, `trak`, `bergson`, `npy`.
  public var tool: String
  /// The file or directory imported (as given on the command line).
  public var path: String
  /// The source's projector kind (`rademacher`, `normal`, ...), or `unknown`.
  public var projector: String
  /// The source's projector seed, when the tool records or fixes one.
  public var seed: UInt64?
  /// Features per row in the source (the projection dimension `k`).
  public var k: Int
  /// The source's model or checkpoint id that keys its projection (TRAK's
  /// `model_id`, LESS's checkpoint folder), or empty.
  public var modelID: String
  /// The source's array and dtype, e.g. `grads.mmap <f2` (informational).
  public var array: String

  public init(
    tool: String, path: String, projector: String = "unknown", seed: UInt64? = nil, k: Int,
    modelID: String = "", array: String = ""
  ) {
    self.tool = tool
    self.path = path
    self.projector = projector
    self.seed = seed
    self.k = k
    self.modelID = modelID
    self.array = array
  }
}
