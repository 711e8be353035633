#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// Any JSON value, for manifests whose fields come partly from a caller
/// (a selection manifest's inputs, recorded by `winnow.ray` or the CLI).
/// Integers keep all 64 bits (a store's seed is a `UInt64`).
public enum JSONValue: Codable, Sendable, Equatable, ExpressibleByStringLiteral,
  ExpressibleByDictionaryLiteral
{
  case null
  case bool(Bool)
  case int(Int64)
  case uint(UInt64)
  case double(Double)
  case string(String)
  case array([JSONValue])
  case object([String: JSONValue])

  public init(stringLiteral value: String) { self = .string(value) }

  public init(dictionaryLiteral elements: (String, JSONValue)...) {
    self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
  }

  public init(from decoder: Decoder) throws {
    let c = try decoder.singleValueContainer()
    if c.decodeNil() {
      self = .null
    } else if let b = try? c.decode(Bool.self) {
      self = .bool(b)
    } else if let i = try? c.decode(Int64.self) {
      self = .int(i)
    } else if let u = try? c.decode(UInt64.self) {
      self = .uint(u)
    } else if let d = try? c.decode(Double.self) {
      self = .double(d)
    } else if let s = try? c.decode(String.self) {
      self = .string(s)
    } else if let a = try? c.decode([JSONValue].self) {
      self = .array(a)
    } else {
      self = .object(try c.decode([String: JSONValue].self))
    }
  }

  public func encode(to encoder: Encoder) throws {
    var c = encoder.singleValueContainer()
    switch self {
    case .null: try c.encodeNil()
    case .bool(let b): try c.encode(b)
    case .int(let i): try c.encode(i)
    case .uint(let u): try c.encode(u)
    case .double(let d): try c.encode(d)
    case .string(let s): try c.encode(s)
    case .array(let a): try c.encode(a)
    case .object(let o): try c.encode(o)
    }
  }

  /// Parses a JSON text whose top level must be an object.
  ///
  /// - Throws: `.invalidArgument` naming `what` for malformed JSON or another
  ///   top-level value.
  public static func object(parsing text: String, _ what: String) throws -> [String: JSONValue] {
    let value: JSONValue
    do {
      value = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    } catch {
      throw WinnowError.invalid("\(what) is not valid JSON: \(error)")
    }
    guard case .object(let fields) = value else {
      throw WinnowError.invalid("\(what) must be a JSON object")
    }
    return fields
  }

  /// The text Winnow writes for manifests (`manifestBytes`).
  public func manifestText() throws -> String {
    String(decoding: try manifestBytes(self), as: UTF8.self)
  }
}

/// The bytes of every manifest Winnow writes (feature stores, selections):
/// sorted keys, indented, slashes unescaped, ending in a newline, so equal
/// contents give byte-identical files and a rerun gives the same bytes.
func manifestBytes<T: Encodable>(_ value: T) throws -> Data {
  let encoder = JSONEncoder()
  encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
  return try encoder.encode(value) + Data("\n".utf8)
}
