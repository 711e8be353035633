import Foundation
import Testing

/// Writes `.npy` files of any declared shape without their data: a valid
/// header, then (with `sparse`) a hole as long as the data, so that shapes
/// of 2^61 columns or 8 GiB arrays cost nothing on disk.
let npyHeaderOnly = #"""
import sys, numpy as np
path, shape, sparse = sys.argv[1], tuple(int(x) for x in sys.argv[2].split(",")), sys.argv[3] == "1"
with open(path, "wb") as f:
    np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": shape})
    if sparse:
        f.truncate(f.tell() + 4 * int(np.prod(shape, dtype=object)))
"""#

/// Sizes from `.npy` headers and options that trapped the CLI (Swift
/// arithmetic overflow, SIGILL) now fail with a clear error naming the cause.
@Suite struct SizeLimitTests {
  func header(_ dir: Workspace, _ name: String, _ shape: [Int], sparse: Bool = false) throws -> String {
    let path = dir.path(name)
    let run = try Python.run(npyHeaderOnly, [path, shape.map(String.init).joined(separator: ","), sparse ? "1" : "0"])
    try #require(run.status == 0, "\(run.output)")
    return path
  }

  /// Runs `winnow args`, which must fail (not crash) with `needle` in stderr.
  func expectClearError(_ args: [String], _ needle: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let run = try CLI.run(args)
    // A trap is a signal (status 128 + n through Process, or a raised
    // termination): a clean failure exits with a small status.
    #expect(run.status != 0 && run.status < 128, "\(args): status \(run.status)", sourceLocation: sourceLocation)
    #expect(run.stderr.contains(needle), "\(args): \(run.stderr)", sourceLocation: sourceLocation)
    #expect(!run.stderr.contains("Fatal error"), "\(run.stderr)", sourceLocation: sourceLocation)
  }

  @Test func projectOfAnEmptyInputWithTwoToThe61ColumnsIsAClearError() throws {
    let dir = try Workspace()
    let g = try header(dir, "wide.npy", [0, 1 << 61])
    try expectClearError(["project", "--input", g, "--output", dir.path("f.npy"), "--dim", "8"], "overflows")
    #expect(!FileManager.default.fileExists(atPath: dir.path("f.npy")))
  }

  @Test func projectWithADimOfTwoToThe62IsAClearError() throws {
    let dir = try Workspace()
    try Python.run("import numpy as np, sys; np.save(sys.argv[1], np.ones((4, 8), '<f4'))", [dir.path("g.npy")])
    try expectClearError(
      ["project", "--input", dir.path("g.npy"), "--output", dir.path("f.npy"), "--dim", "4611686018427387904"],
      "overflows")
  }

  @Test func projectOfTwoPiecesWhoseWidthsOverflowIsAClearError() throws {
    let dir = try Workspace()
    let a = try header(dir, "a.npy", [0, 1 << 62]), b = try header(dir, "b.npy", [0, 1 << 62])
    try expectClearError(
      ["project", "--input", a, "--input", b, "--output", dir.path("f.npy"), "--dim", "8"], "--input pieces")
  }

  @Test func influenceScoringOfTwoToThe31WideFeaturesIsAClearError() throws {
    let dir = try Workspace()
    // (1, 2^31) float32 arrays: 8 GiB each, as sparse files.
    let train = try header(dir, "train.npy", [1, 1 << 31], sparse: true)
    let target = try header(dir, "target.npy", [1, 1 << 31], sparse: true)
    try expectClearError(
      ["score", "--train", train, "--target", target, "--measure", "influence", "--output", dir.path("s.npy")],
      "Gram matrix")
    #expect(!FileManager.default.fileExists(atPath: dir.path("s.npy")))
  }
}
