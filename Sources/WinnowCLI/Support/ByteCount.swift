import Foundation
import ArgumentParser

/// A byte count on the command line: `1073741824`, `512M`, `2G`, `64KiB`…
struct ByteCount: ExpressibleByArgument, CustomStringConvertible {
  var bytes: Int

  init(bytes: Int) { self.bytes = bytes }

  init?(argument: String) {
    let s = argument.trimmingCharacters(in: .whitespaces).uppercased()
    let units: [(String, Int)] = [
      ("KIB", 1 << 10), ("MIB", 1 << 20), ("GIB", 1 << 30), ("TIB", 1 << 40),
      ("KB", 1 << 10), ("MB", 1 << 20), ("GB", 1 << 30), ("TB", 1 << 40),
      ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("T", 1 << 40), ("B", 1),
    ]
    var number = Substring(s), scale = 1
    for (suffix, factor) in units where s.hasSuffix(suffix) {
      number = s.dropLast(suffix.count)
      scale = factor
      break
    }
    guard let value = Double(number.trimmingCharacters(in: .whitespaces)), value >= 0,
      value * Double(scale) < 9e18
    else { return nil }
    bytes = Int(value * Double(scale))
  }

  var description: String {
    for (suffix, factor) in [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)]
    where bytes >= factor && bytes % factor == 0 {
      return "\(bytes / factor)\(suffix)"
    }
    return "\(bytes)"
  }
}
