// swift-tools-version: 6.1
// Spool: durable, disk-backed Redis Streams.
//
// The module graph. Every edge below is declared and used, and nothing else: the README test
// command builds with `--explicit-target-dependency-import-check error` (an import of a module
// outside a target's dependencies fails) and runs Tools/check-sources.py (every import a
// declared direct dependency, every dependency imported). docs/ARCHITECTURE.md says what each
// module holds.
//
//   CLZ4, CSpoolLinux                  C (liblz4 from Debian; Linux calls Swift cannot spell)
//   SpoolFormat  ← CSpoolLinux         bytes ↔ values, every file's encoding
//   SpoolIO      ← CLZ4, CSpoolLinux, SystemPackage
//   SpoolIndex   ← SpoolFormat         the radix tree
//   SpoolFiles   ← SpoolFormat, SpoolIO, SpoolIndex      the one reader of a data directory
//   Spool        ← SpoolFiles, SpoolFormat, SpoolIO, SpoolIndex, Logging      the engine
//   RESP         ← NIOCore
//   SpoolServer  ← Spool, SpoolFormat, SpoolIO, RESP, NIOCore, NIOPosix, Logging
//   SpoolTools   ← Spool, SpoolFiles, SpoolFormat, SpoolIO, RESP, NIOCore, NIOPosix
//   spool        ← Spool, SpoolServer, SpoolTools, ArgumentParser, Logging
//
// Test support: TestSupport (format and I/O only, so the format, index, I/O and RESP tests
// build without the engine) and EngineTestSupport (helpers that need the engine).
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "Spool",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Spool", targets: ["Spool"]),
        .library(name: "SpoolFormat", targets: ["SpoolFormat"]),
        .library(name: "SpoolServer", targets: ["SpoolServer"]),
        .library(name: "RESP", targets: ["RESP"]),
        .executable(name: "spool", targets: ["spool"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CLZ4",
            path: "Sources/CLZ4",
            pkgConfig: "liblz4",
            providers: [.apt(["liblz4-dev"])]
        ),
        .target(name: "CSpoolLinux", path: "Sources/CSpoolLinux"),
        .target(
            name: "SpoolFormat",
            dependencies: ["CSpoolLinux"],
            swiftSettings: strict
        ),
        .target(
            name: "SpoolIO",
            dependencies: [
                "CLZ4", "CSpoolLinux",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strict
        ),
        .target(name: "SpoolFiles", dependencies: ["SpoolFormat", "SpoolIO", "SpoolIndex"], swiftSettings: strict),
        .target(name: "SpoolIndex", dependencies: ["SpoolFormat"], swiftSettings: strict),
        .target(
            name: "Spool",
            dependencies: [
                "SpoolFormat", "SpoolIO", "SpoolFiles", "SpoolIndex",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "RESP",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict
        ),
        .target(
            name: "SpoolServer",
            dependencies: [
                "Spool", "SpoolFormat", "SpoolIO", "RESP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "SpoolTools",
            dependencies: [
                "Spool", "SpoolFormat", "SpoolIO", "SpoolFiles", "RESP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tools/SpoolTools",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "spool",
            dependencies: [
                "Spool", "SpoolServer", "SpoolTools",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "spool-demo",
            dependencies: ["Spool", "SpoolFormat", .product(name: "Logging", package: "swift-log")],
            path: "Sources/SpoolDemo",
            swiftSettings: strict
        ),
        .target(
            name: "TestSupport",
            dependencies: ["SpoolFormat", "SpoolFiles", "SpoolIO"],
            path: "Tests/TestSupport",
            swiftSettings: strict
        ),
        .target(
            name: "EngineTestSupport",
            dependencies: ["Spool", "TestSupport"],
            path: "Tests/EngineTestSupport",
            swiftSettings: strict
        ),
        .testTarget(name: "SpoolFormatTests", dependencies: ["SpoolFormat", "SpoolIO", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "SpoolIOTests", dependencies: ["SpoolIO", "TestSupport", .product(name: "SystemPackage", package: "swift-system")],
                    swiftSettings: strict),
        .testTarget(name: "SpoolIndexTests", dependencies: ["SpoolIndex", "SpoolFormat", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "SpoolFilesTests", dependencies: ["SpoolFiles", "SpoolFormat", "Spool", "TestSupport", "EngineTestSupport"],
                    swiftSettings: strict),
        .testTarget(
            name: "SpoolTests",
            dependencies: ["Spool", "SpoolFiles", "SpoolIO", "SpoolFormat", "TestSupport", "EngineTestSupport",
                           .product(name: "Logging", package: "swift-log"), .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "RESPTests",
            dependencies: ["RESP", "TestSupport", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SpoolServerTests",
            dependencies: ["SpoolServer", "Spool", "SpoolFormat", "SpoolIO", "RESP", "TestSupport", .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SpoolToolsTests",
            dependencies: ["SpoolTools", "Spool", "SpoolFiles", "SpoolFormat", "SpoolIO", "RESP", "TestSupport", "EngineTestSupport"],
            swiftSettings: strict
        ),
    ]
)
