import Benchmark
import Spool
import SpoolBenchSupport
import Synchronization

// Range scan from the page cache: `scan` over 1,000,000 orders entries of a reopened store (the
// first, unmeasured warm-up iteration pulls the files into the page cache).
// Target ≥ 5,000,000 entries/s; throughput reads in M entries/s.
struct Fixture: Sendable {
    let dir: ScratchDirectory
    let store: SpoolStore
    let stream: SpoolStream
}
let fixture = Mutex<Fixture?>(nil)

let benchmarks: @Sendable () -> Void = {
    Benchmark(
        "scan 1M entries, page cache",
        configuration: .init(
            metrics: [.throughput, .wallClock, .cpuTotal, .mallocCountTotal],
            warmupIterations: 1,
            scalingFactor: .mega,
            maxDuration: .seconds(20),
            maxIterations: 20,
            setup: {
                let dir = ScratchDirectory("scan")
                let pool = orderEventPool()
                do {
                    let (store, stream) = try openOrders(dir.path, options(.no))
                    for i in 0..<1_000_000 { try stream.append(pool[i & (pool.count - 1)]) }
                    store.close()
                }
                let (store, stream) = try openOrders(dir.path, options(.no))
                fixture.withLock { $0 = Fixture(dir: dir, store: store, stream: stream) }
            },
            teardown: {
                let f = fixture.withLock { f in defer { f = nil }; return f }
                f?.store.close()
                f?.dir.remove()
            }
        )
    ) { benchmark in
        let stream = fixture.withLock { $0!.stream }
        var n = 0
        benchmark.startMeasurement()
        try stream.scan { e in
            n &+= e.fields.count
            return true
        }
        benchmark.stopMeasurement()
        precondition(n == 10 * benchmark.scaledIterations.count)
        blackHole(n)
    }
}
