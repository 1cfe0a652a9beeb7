import Benchmark
import Spool
import SpoolBenchSupport

// append, policy `no`, one writer, the chapter's orders entry with auto IDs.
// Target ≥ 1,000,000 entries/s (goal 2,000,000). Each iteration appends 1,000,000 entries to a
// fresh store (scaling factor mega, so throughput reads in M entries/s).
let benchmarks: @Sendable () -> Void = {
    let pool = orderEventPool()
    Benchmark(
        "append policy=no, one writer",
        configuration: .init(
            metrics: [.throughput, .wallClock, .cpuTotal, .mallocCountTotal, .syscalls],
            scalingFactor: .mega,
            maxDuration: .seconds(20),
            maxIterations: 5
        )
    ) { benchmark in
        let dir = ScratchDirectory("append")
        defer { dir.remove() }
        let (store, stream) = try openOrders(dir.path, options(.no))
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations {
            try stream.append(pool[i & (pool.count - 1)])
        }
        benchmark.stopMeasurement()
        store.close()
    }
}
