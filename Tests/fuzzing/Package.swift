// swift-tools-version: 6.1
//
// libFuzzer targets for Winnow's parsers, in a package of their own so that
// the normal build never sees the fuzzer flags. Built by `Tests/fuzzing/run.sh`
// (`make fuzz`, `make test-fuzz`) in debug with
// `-sanitize=fuzzer,address -enable-testing` into `.build-fuzz`, so that
// `@testable import` reaches the internal parsers without widening their
// access. Each target's `main.swift` hands its callback to libFuzzer's
// `LLVMFuzzerRunDriver` (SwiftPM gives executables their own `main`).
import PackageDescription

let package = Package(
  name: "WinnowFuzz",
  dependencies: [
    .package(name: "Winnow", path: "../..")
  ],
  targets: [
    // The .npy header parser (`NPYHeader.parse`), in memory.
    .executableTarget(
      name: "FuzzNPYHeader",
      dependencies: [.product(name: "Winnow", package: "Winnow"), "CFuzzerDriver"]
    ),
    // The feature store manifest: JSON decoding, then opening a store whose
    // shards exist, so the shard checks run too.
    .executableTarget(
      name: "FuzzStoreManifest",
      dependencies: [.product(name: "Winnow", package: "Winnow"), "CFuzzerDriver"]
    ),
    .target(name: "CFuzzerDriver"),
  ]
)
