import Foundation
import Testing

/// Outputs that would overwrite each other, and finite inputs that overflow
/// float32 inside influence scoring: each is a clear error naming the files.
@Suite struct OutputAndOverflowTests {
  @Test func selectRefusesOutputsNamingTheSameFileBeforeWritingAnything() throws {
    let dir = try Workspace()
    try Python.run("import numpy as np, sys; np.save(sys.argv[1], np.arange(10, dtype='<f4'))", [dir.path("s.npy")])
    let out = dir.path("ids.npy")
    let sameFile: [[String]] = [
      ["--output", out, "--listing", out],
      ["--output", out, "--manifest", dir.path("./sub/../ids.npy")],
      ["--output", out, "--listing", dir.path("l.csv"), "--manifest", dir.path("l.csv")],
    ]
    try FileManager.default.createDirectory(atPath: dir.path("sub"), withIntermediateDirectories: true)
    for outputs in sameFile {
      let run = try CLI.run(["select", "--scores", dir.path("s.npy"), "--top", "3"] + outputs)
      #expect(run.status != 0, "\(outputs)")
      #expect(run.stderr.contains("name the same file"), "\(outputs): \(run.stderr)")
      #expect(!FileManager.default.fileExists(atPath: out), "\(outputs)")
      #expect(!FileManager.default.fileExists(atPath: dir.path("l.csv")), "\(outputs)")
    }
    // A hard link to an existing output is the same file too.
    FileManager.default.createFile(atPath: dir.path("old.csv"), contents: Data("keep\n".utf8))
    try FileManager.default.linkItem(atPath: dir.path("old.csv"), toPath: dir.path("link.csv"))
    let run = try CLI.run(
      ["select", "--scores", dir.path("s.npy"), "--top", "3", "--output", out,
       "--listing", dir.path("old.csv"), "--manifest", dir.path("link.csv")])
    #expect(run.status != 0 && run.stderr.contains("name the same file"), "\(run.stderr)")
    #expect(try String(contentsOfFile: dir.path("old.csv"), encoding: .utf8) == "keep\n")
    // Distinct outputs still work.
    let ok = try CLI.run(
      ["select", "--scores", dir.path("s.npy"), "--top", "3", "--output", out, "--listing", dir.path("l.csv")])
    #expect(ok.status == 0, "\(ok.stderr)")
  }

  @Test func influenceScoringOfAFloatMaxValueNamesTheFileAndTheCause() throws {
    let dir = try Workspace()
    try Python.run(
      """
      import numpy as np, sys
      train = np.random.default_rng(0).standard_normal((20, 4)).astype('<f4')
      train[3, 1] = np.finfo(np.float32).max
      np.save(sys.argv[1], train)
      np.save(sys.argv[2], np.ones((2, 4), '<f4'))
      """, [dir.path("train.npy"), dir.path("target.npy")])
    let run = try CLI.run(
      ["score", "--train", dir.path("train.npy"), "--target", dir.path("target.npy"),
       "--measure", "influence", "--output", dir.path("s.npy")])
    #expect(run.status != 0 && run.status < 128, "status \(run.status)")
    #expect(run.stderr.contains("train.npy") && run.stderr.contains("overflows float32"), "\(run.stderr)")
    #expect(!run.stderr.contains("LAPACKE"), "\(run.stderr)")
    #expect(!FileManager.default.fileExists(atPath: dir.path("s.npy")))
  }
}
