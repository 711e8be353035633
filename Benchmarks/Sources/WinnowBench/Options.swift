import Foundation

/// The command line of `WinnowBench`.
///
///     WinnowBench [--smoke] [--only AREA[,AREA…]] [--output FILE]
///                 [--winnow PATH] [--scratch DIR]
///
/// `--smoke` runs every area at tiny sizes (seconds, for the test suite);
/// `--winnow` is the release `winnow` CLI, run as a child for peak-RSS and
/// store figures; `--scratch` holds the files those figures read from disk.
struct Options {
  var smoke = false
  var only: Set<String> = []
  var output: String?
  var winnow: String?
  var scratch = FileManager.default.temporaryDirectory.appendingPathComponent("winnow-bench").path

  static let areas = [
    "projection", "factored", "scoring", "selection", "engine", "disk", "diversity", "sjlt", "kfac",
  ]

  init(_ args: [String]) throws {
    var it = args.makeIterator()
    while let a = it.next() {
      func value() throws -> String {
        guard let v = it.next() else { throw OptionError("\(a) needs a value") }
        return v
      }
      switch a {
      case "--smoke": smoke = true
      case "--only": only = Set(try value().split(separator: ",").map(String.init))
      case "--output": output = try value()
      case "--winnow": winnow = try value()
      case "--scratch": scratch = try value()
      case "-h", "--help":
        print("usage: WinnowBench [--smoke] [--only \(Self.areas.joined(separator: ","))] "
          + "[--output results.json] [--winnow path/to/winnow] [--scratch dir]")
        exit(0)
      default: throw OptionError("unknown option \(a)")
      }
    }
    if let bad = only.first(where: { !Self.areas.contains($0) }) {
      throw OptionError("unknown area \(bad); areas: \(Self.areas.joined(separator: ", "))")
    }
  }

  /// Whether `area` runs in this invocation.
  func runs(_ area: String) -> Bool { only.isEmpty || only.contains(area) }
}

struct OptionError: Error, CustomStringConvertible {
  var description: String
  init(_ d: String) { description = d }
}
