import Foundation
import Testing
@testable import Winnow

/// A fresh directory for one test, removed when the body returns.
func withNPYDirectory<T>(_ body: (URL) throws -> T) throws -> T {
  let url = FileManager.default.temporaryDirectory
    .appendingPathComponent("winnow-npy-\(UUID().uuidString)", isDirectory: true)
  try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  defer { try? FileManager.default.removeItem(at: url) }
  return try body(url)
}

/// Names of the entries in `directory`, sorted.
func npyListing(_ directory: URL) throws -> [String] {
  try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
}

/// Builds `.npy` bytes by hand, for headers NumPy would never write.
///
/// - Parameters:
///   - header: the header text, used verbatim (no padding added).
///   - major: the format's major version; the length field follows from it.
///   - data: bytes after the header.
func npyBytes(header: String, major: UInt8 = 1, minor: UInt8 = 0, data: [UInt8] = []) -> [UInt8] {
  let text = Array(header.utf8)
  var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [major, minor]
  let fieldSize = major == 1 ? 2 : 4
  for i in 0..<fieldSize { bytes.append(UInt8(truncatingIfNeeded: text.count >> (8 * i))) }
  return bytes + text + data
}

/// Writes `bytes` to `name` in `directory` and returns its URL.
@discardableResult
func npyWriteFile(_ bytes: [UInt8], named name: String, in directory: URL) throws -> URL {
  let url = directory.appendingPathComponent(name)
  try Data(bytes).write(to: url)
  return url
}

/// Little-endian bytes of `floats`.
func npyFloatBytes(_ floats: [Float]) -> [UInt8] {
  floats.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) } }
}

/// Expects `body` to throw a `WinnowError` with `code` whose message names the
/// file and contains `fragment`.
func expectNPYError(
  _ code: WinnowError.Code, naming url: URL, containing fragment: String = "",
  sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) {
  do {
    try body()
    Issue.record("expected a \(code) error, got none", sourceLocation: sourceLocation)
  } catch let error as WinnowError {
    #expect(error.code == code, "\(error.message)", sourceLocation: sourceLocation)
    #expect(error.message.contains(url.lastPathComponent), "\(error.message)", sourceLocation: sourceLocation)
    #expect(fragment.isEmpty || error.message.contains(fragment), "\(error.message)", sourceLocation: sourceLocation)
  } catch {
    Issue.record("expected a WinnowError, got \(error)", sourceLocation: sourceLocation)
  }
}

/// Runs `python3 -c script args…` and returns its exit status and stderr.
func runPython(_ script: String, _ arguments: [String] = []) throws -> (status: Int32, stderr: String) {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  process.arguments = ["python3", "-c", script] + arguments
  let err = Pipe()
  process.standardError = err
  process.standardOutput = FileHandle.nullDevice
  try process.run()
  // Read before waiting so a chatty child cannot fill the pipe and block.
  let e = err.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  return (process.terminationStatus, String(decoding: e, as: UTF8.self))
}
