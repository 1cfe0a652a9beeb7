// swift-tools-version: 6.3
// Spool's benchmarks: a package of their own, so the main build and test command never
// resolves or builds package-benchmark. Run from the repository root:
//
//     swift package --package-path Benchmarks benchmark            # all
//     swift package --package-path Benchmarks benchmark --filter Append
//     Benchmarks/Scripts/compare-redis.sh                          # README table, Redis beside
//
// SPOOL_PACKAGE_PATH points the benchmarks at another checkout of the engine (see
// Scripts/stage-engine.sh); by default they build the enclosing repository.
import PackageDescription
import class Foundation.NSString

let spoolPath = Context.environment["SPOOL_PACKAGE_PATH"] ?? ".."
// SwiftPM names a path dependency after its directory (`main`, `wt-bench`, `spool`…), not
// after its manifest, so products are looked up under that name.
let spoolPackage = ((spoolPath.hasPrefix("/") ? spoolPath : Context.packageDirectory + "/" + spoolPath) as NSString)
    .standardizingPath.split(separator: "/").last.map { $0.lowercased() } ?? "spool"

// package-benchmark 1.38.1 declares github.com/ordo-one/swift-runtime-interposer (not mirrored
// here) for Swift 6.3 on Linux; it is only used under the default "RuntimeInterposer" trait
// (ARC counters). Enabling just "MallocInterposer" keeps malloc metrics and lets SwiftPM's
// trait-aware resolution skip the missing package.
let benchmarkSettings: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "SpoolBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: spoolPath),
        .package(url: "https://github.com/ordo-one/package-benchmark.git", exact: "1.38.1",
                 traits: ["MallocInterposer"]),
    ],
    targets: [
        .target(
            name: "SpoolBenchSupport",
            dependencies: [.product(name: "Spool", package: spoolPackage)],
            path: "SpoolBenchSupport",
            swiftSettings: benchmarkSettings
        ),
    ]
)

// The executable behind the README table (no package-benchmark machinery, prints key value).
package.targets.append(
    .executableTarget(
        name: "SpoolFigures",
        dependencies: ["SpoolBenchSupport", .product(name: "Spool", package: spoolPackage)],
        path: "SpoolFigures",
        swiftSettings: benchmarkSettings
    )
)

// One executable per benchmark suite: Benchmarks/<Name>/<Name>.swift.
for name in ["Append", "AppendAlways", "Scan", "Open10M"] {
    package.targets.append(
        .executableTarget(
            name: name,
            dependencies: [
                "SpoolBenchSupport",
                .product(name: "Spool", package: spoolPackage),
                .product(name: "Benchmark", package: "package-benchmark"),
            ],
            path: name,
            swiftSettings: benchmarkSettings,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        )
    )
}
