// swift-tools-version: 6.1
// Spool: durable, disk-backed Redis Streams.
//
// Dependencies point one way: SpoolFormat ← SpoolIO ← SpoolIndex ← Spool ← SpoolServer ← spool.
// The tools (Tools/SpoolTools) read files through SpoolFormat/SpoolIO so they work even when the
// engine would refuse to open a directory.
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
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.1.0"),
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
                "SpoolFormat", "CLZ4", "CSpoolLinux",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strict
        ),
        .target(name: "SpoolFiles", dependencies: ["SpoolFormat", "SpoolIO"], swiftSettings: strict),
        .target(name: "SpoolIndex", dependencies: ["SpoolFormat"], swiftSettings: strict),
        .target(
            name: "Spool",
            dependencies: [
                "SpoolFormat", "SpoolIO", "SpoolFiles", "SpoolIndex",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Collections", package: "swift-collections"),
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
                "Spool", "RESP",
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
                .product(name: "Logging", package: "swift-log"),
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
            dependencies: ["Spool", "SpoolFormat", "SpoolIO"],
            path: "Tests/TestSupport",
            swiftSettings: strict
        ),
        .testTarget(name: "SpoolFormatTests", dependencies: ["SpoolFormat", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "SpoolFilesTests", dependencies: ["SpoolFiles", "SpoolFormat", "Spool", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "SpoolIndexTests", dependencies: ["SpoolIndex", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "SpoolTests", dependencies: ["Spool", "SpoolIO", "SpoolFormat", "TestSupport", .product(name: "SystemPackage", package: "swift-system")], swiftSettings: strict),
        .testTarget(
            name: "RESPTests",
            dependencies: ["RESP", "TestSupport", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SpoolServerTests",
            dependencies: ["SpoolServer", "Spool", "SpoolFormat", "SpoolIO", "RESP", "TestSupport", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SpoolToolsTests",
            dependencies: ["SpoolTools", "Spool", "SpoolFiles", "SpoolIO", "RESP", "TestSupport", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict
        ),
    ]
)
