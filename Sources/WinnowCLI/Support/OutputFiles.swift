import Foundation
import Winnow

/// Fails early, before any work, when the output's folder does not exist.
func checkOutputFolder(_ path: String) throws {
  let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
  var isDir: ObjCBool = false
  guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDir), isDir.boolValue
  else {
    throw WinnowError(.io, "the output folder \(folder.path) does not exist (for \(path))")
  }
}

/// Writes `text` to `path` atomically (temporary file, then rename).
func writeText(_ text: String, to path: String) throws {
  do {
    try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
  } catch {
    throw WinnowError(.io, "\(path): cannot write: \(error.localizedDescription)")
  }
}
