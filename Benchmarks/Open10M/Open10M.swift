#if canImport(Glibc)
import Glibc
#endif
import Benchmark
import Spool
import SpoolBenchSupport

// 10,000,000 orders entries: time to ready after open (target ≤ 0.15 s), anonymous resident
// memory the open adds (target ≤ 1/20 of Redis's used_memory for the same entries) and bytes on
// disk per entry (target ≤ 24).
//
// The store is built once (policy no, a few minutes) in $SPOOL_BENCH_10M (default
// /tmp/spool-bench-10m) and reused; delete the directory to rebuild it. RssAnon here includes
// the benchmark harness; `SpoolFigures open` measures it in a bare process for the README.
let entries = 10_000_000
let readySeconds = BenchmarkMetric.custom("ready after open (ms)", useScalingFactor: false)
let rssAnonDelta = BenchmarkMetric.custom("RssAnon added by open (KiB)", useScalingFactor: false)
let diskPerEntry = BenchmarkMetric.custom("disk bytes/entry ×100", useScalingFactor: false)

let storePath: String = getenv("SPOOL_BENCH_10M").map { String(cString: $0) } ?? "/tmp/spool-bench-10m"

func buildIfMissing() throws {
    let done = storePath + "/BUILT"
    if access(done, F_OK) == 0 { return }
    removeTree(storePath)
    let (store, stream) = try openOrders(storePath, options(.no))
    for i in 0..<entries { try stream.append(orderEvent(i)) }
    store.close()
    let fd = open(done, O_CREAT | O_WRONLY, 0o644)
    close(fd)
}

let benchmarks: @Sendable () -> Void = {
    Benchmark(
        "open 10M entries",
        configuration: .init(
            metrics: [.wallClock, .mallocCountTotal, readySeconds, rssAnonDelta, diskPerEntry],
            warmupIterations: 1,
            scalingFactor: .one,
            maxDuration: .seconds(20),
            maxIterations: 10,
            setup: { try buildIfMissing() }
        )
    ) { benchmark in
        trimHeap()
        let before = rssAnonBytes()
        let t0 = monotonicNanos()
        let (store, stream) = try openOrders(storePath, options(.no))
        let length = stream.length
        let t1 = monotonicNanos()
        trimHeap()
        let after = rssAnonBytes()
        precondition(length == entries, "\(storePath) holds \(length) entries, not \(entries)")
        store.close()
        let usage = diskUsage(storePath)
        benchmark.measurement(readySeconds, Int((t1 - t0) / 1_000_000))
        benchmark.measurement(rssAnonDelta, (after - before) / 1024)
        benchmark.measurement(diskPerEntry, Int(100 * usage.apparentBytes / Int64(entries)))
    }
}
