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
