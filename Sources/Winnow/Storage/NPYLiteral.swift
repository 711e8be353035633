/// A Python literal, as found in a `.npy` header dictionary.
///
/// NumPy writes the header with `repr` and reads it with `ast.literal_eval`, so
/// the reader accepts the literal subset NumPy can produce plus what people
/// write by hand: either quote style, any whitespace, trailing commas, `()`
/// and `(N,)` tuples, and Python 2's `3L` integers.
enum NPYLiteral {
  case string(String)
  case integer(Int)
  case boolean(Bool)
  case none
  case tuple([NPYLiteral])
  case list([NPYLiteral])
  /// Keys in file order; NumPy headers only have string keys.
  case dictionary([(key: String, value: NPYLiteral)])

  /// Parses `text` as one literal followed only by whitespace.
  ///
  /// - Throws: a message (no path) saying what is wrong and where.
  static func parse(_ text: String) throws -> NPYLiteral {
    var parser = Parser(scalars: Array(text.unicodeScalars))
    let value = try parser.value(depth: 0)
    parser.skipWhitespace()
    guard parser.position == parser.scalars.count else {
      throw parser.error("unexpected text after the dictionary")
    }
    return value
  }

  private struct Parser {
    let scalars: [Unicode.Scalar]
    var position = 0
    // Nesting is bounded so a hostile header like "((((…" cannot overflow the stack.
    static let maximumDepth = 32

    func error(_ problem: String) -> NPYLiteralError {
      NPYLiteralError(message: "\(problem) at character \(position)")
    }

    var current: Unicode.Scalar? { position < scalars.count ? scalars[position] : nil }

    mutating func skipWhitespace() {
      while let c = current, c == " " || c == "\t" || c == "\n" || c == "\r" { position += 1 }
    }

    mutating func value(depth: Int) throws -> NPYLiteral {
      guard depth < Self.maximumDepth else { throw error("literal nested too deeply") }
      skipWhitespace()
      guard let c = current else { throw error("unexpected end of header") }
      switch c {
      case "{": return try dictionary(depth: depth)
      case "(": return try sequence(close: ")", depth: depth)
      case "[": return try sequence(close: "]", depth: depth)
      case "'", "\"": return .string(try string())
      case "-", "+", "0"..."9": return .integer(try integer())
      default: return try word()
      }
    }

    mutating func dictionary(depth: Int) throws -> NPYLiteral {
      position += 1  // "{"
      var entries: [(key: String, value: NPYLiteral)] = []
      while true {
        skipWhitespace()
        if current == "}" { position += 1; return .dictionary(entries) }
        guard current == "'" || current == "\"" else { throw error("expected a string key") }
        let key = try string()
        skipWhitespace()
        guard current == ":" else { throw error("expected ':' after key '\(key)'") }
        position += 1
        entries.append((key, try value(depth: depth + 1)))
        skipWhitespace()
        if current == "," { position += 1; continue }
        guard current == "}" else { throw error("expected ',' or '}'") }
      }
    }

    /// A tuple or list; `(x)` without a comma is just `x`, as in Python.
    mutating func sequence(close: Unicode.Scalar, depth: Int) throws -> NPYLiteral {
      position += 1  // "(" or "["
      var items: [NPYLiteral] = []
      var sawComma = false
      while true {
        skipWhitespace()
        if current == close { position += 1; break }
        items.append(try value(depth: depth + 1))
        skipWhitespace()
        if current == "," { position += 1; sawComma = true; continue }
        guard current == close else { throw error("expected ',' or '\(close)'") }
      }
      if close == "]" { return .list(items) }
      if items.count == 1 && !sawComma { return items[0] }
      return .tuple(items)
    }

    mutating func string() throws -> String {
      guard let quote = current else { throw error("expected a string") }
      position += 1
      var result = String.UnicodeScalarView()
      while let c = current {
        position += 1
        if c == quote { return String(result) }
        if c == "\\" {
          guard let escaped = current else { break }
          position += 1
          switch escaped {
          case "n": result.append("\n")
          case "t": result.append("\t")
          default: result.append(escaped)
          }
        } else {
          result.append(c)
        }
      }
      throw error("unterminated string")
    }

    mutating func integer() throws -> Int {
      var negative = false
      if current == "-" || current == "+" {
        negative = current == "-"
        position += 1
      }
      var magnitude = 0
      var digits = 0
      while let c = current, ("0"..."9").contains(c) {
        let d = Int(c.value - 48)
        let (shifted, o1) = magnitude.multipliedReportingOverflow(by: 10)
        let (sum, o2) = shifted.addingReportingOverflow(d)
        guard !o1, !o2 else { throw error("integer too large") }
        magnitude = sum
        digits += 1
        position += 1
      }
      guard digits > 0 else { throw error("expected digits") }
      if current == "L" || current == "l" { position += 1 }  // Python 2 long
      return negative ? -magnitude : magnitude
    }

    mutating func word() throws -> NPYLiteral {
      let start = position
      while let c = current, c.properties.isAlphabetic || c == "_" { position += 1 }
      switch String(String.UnicodeScalarView(scalars[start..<position])) {
      case "True": return .boolean(true)
      case "False": return .boolean(false)
      case "None": return .none
      default:
        position = start
        throw error("unexpected character '\(scalars[start].escaped(asASCII: true))'")
      }
    }
  }
}

/// Why a header's text is not a Python literal.
struct NPYLiteralError: Error {
  var message: String
}
