import Foundation
import Winnow

/// Whether two output files of a selection are byte-identical, and if not,
/// where they first differ.
struct OutputComparison {
  /// The first differing byte (0-based), nil when identical.
  var firstDifference: Int?
  /// Where that byte lies, in the file's own terms ("row 12 of the ids",
  /// "line 3 of the listing"); empty when identical.
  var location: String
  var recorded: String
  var replayed: String

  var isIdentical: Bool { firstDifference == nil }

  var description: String {
    guard let byte = firstDifference else { return "identical (\(recorded))" }
    return "differs from \(recorded) at byte \(byte) (\(location)); replayed: \(replayed)"
  }

  /// Compares the files at `recorded` and `replayed`.
  ///
  /// - Complexity: O(file size); both files are read whole (selection
  ///   outputs hold one row per selected sample).
  static func compare(recorded: String, replayed: String) throws -> OutputComparison {
    let a = [UInt8](try read(recorded)), b = [UInt8](try read(replayed))
    let common = min(a.count, b.count)
    let index = (0..<common).first { a[$0] != b[$0] } ?? common
    guard index < common || a.count != b.count else {
      return OutputComparison(firstDifference: nil, location: "", recorded: recorded, replayed: replayed)
    }
    var location = index == common
      ? "one file ends there: \(a.count) bytes recorded, \(b.count) replayed" : ""
    let place = recorded.hasSuffix(".npy") ? npyRow(a, b, byte: index) : textLine(a, b, byte: index)
    location = [place, location].filter { !$0.isEmpty }.joined(separator: "; ")
    return OutputComparison(firstDifference: index, location: location, recorded: recorded, replayed: replayed)
  }

  private static func read(_ path: String) throws -> Data {
    do {
      return try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
      throw WinnowError(.io, "\(path): cannot read the output: \(error.localizedDescription)")
    }
  }

  /// "row R" when `byte` is in the data of an ids `.npy` file (`<i8`,
  /// 1-D); the data starts after the 10-byte (1.0) or 12-byte (2.0, 3.0)
  /// preamble and the header text.
  private static func npyRow(_ data: [UInt8], _ other: [UInt8], byte: Int) -> String {
    guard data.count >= 12 else { return "in the .npy header" }
    let length = data[6] == 1
      ? 10 + (Int(data[8]) | Int(data[9]) << 8)
      : 12 + (Int(data[8]) | Int(data[9]) << 8 | Int(data[10]) << 16 | Int(data[11]) << 24)
    guard byte >= length else { return "in the .npy header" }
    let row = (byte - length) / 8, start = length + row * 8
    func id(_ bytes: [UInt8]) -> String {
      guard start + 8 <= bytes.count else { return "none" }
      let bits = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[start + $1]) << (8 * $1) }
      return "\(Int64(bitPattern: bits))"
    }
    return "row \(row) of the ids: recorded \(id(data)), replayed \(id(other))"
  }

  /// "line L" (1-based) of a text file.
  private static func textLine(_ data: [UInt8], _ other: [UInt8], byte: Int) -> String {
    let line = data.prefix(byte).reduce(1) { $0 + ($1 == 0x0A ? 1 : 0) }
    func text(_ bytes: [UInt8]) -> String {
      let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
      return line <= lines.count ? "'\(lines[line - 1])'" : "none"
    }
    return "line \(line): recorded \(text(data)), replayed \(text(other))"
  }
}
