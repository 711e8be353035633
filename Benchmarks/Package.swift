// swift-tools-version: 6.1
//
// Benchmarks live in their own package (depending on the library by path) so
// that nothing they need ever reaches Winnow's users.
import PackageDescription

let package = Package(
  name: "WinnowBenchmarks",
  dependencies: [
    .package(name: "Winnow", path: "..")
  ],
  targets: [
    .executableTarget(
      name: "WinnowBench",
      dependencies: [.product(name: "Winnow", package: "Winnow"), "CBenchBLAS"],
      swiftSettings: [.unsafeFlags(["-Ounchecked"])]
    ),
    // The roofline calls cblas_sgemm directly, outside Winnow, on purpose:
    // it is the yardstick Winnow is measured against.
    .systemLibrary(name: "CBenchBLAS", providers: [.apt(["libopenblas-dev"])]),
  ]
)
