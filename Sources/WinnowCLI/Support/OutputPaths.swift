import ArgumentParser
import Foundation

/// Refuses output options that name the same file, before anything is
/// written: `--listing` equal to `--output` once replaced the selected ids
/// with the CSV.
///
/// Two paths name the same file when they resolve to the same folder
/// (`.`, `..` and symlinked folders resolved) and name, or when both exist
/// and are the same inode (hard links, symlinks to a file).
/// - Parameter outputs: `(option, path)` pairs, e.g. `("--output", output)`.
/// - Complexity: O(n²) in the number of outputs (a handful).
func checkDistinctOutputs(_ outputs: [(option: String, path: String)]) throws {
  let keys = outputs.map { fileKey($0.path) }
  for i in outputs.indices {
    for j in outputs.indices where j > i && keys[i] == keys[j] {
      throw ValidationError(
        "\(outputs[i].option) \(outputs[i].path) and \(outputs[j].option) \(outputs[j].path) "
          + "name the same file: give each output its own path")
    }
  }
}

/// The identity of the file a path names: its inode when it exists, else
/// its resolved folder and name.
private func fileKey(_ path: String) -> String {
  let url = URL(fileURLWithPath: path).standardizedFileURL
  if let attributes = try? FileManager.default.attributesOfItem(atPath: url.resolvingSymlinksInPath().path),
    let device = attributes[.systemNumber], let inode = attributes[.systemFileNumber]
  {
    return "inode \(device):\(inode)"
  }
  let folder = url.deletingLastPathComponent().resolvingSymlinksInPath()
  return "path " + folder.appendingPathComponent(url.lastPathComponent).path
}
