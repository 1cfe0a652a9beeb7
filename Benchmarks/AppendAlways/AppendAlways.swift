import Benchmark
import Spool
import SpoolBenchSupport

// append, policy `always`, 64 concurrent appenders on one stream, as threads (the blocking
// `append`) and as tasks (`try await append`, which suspends the task, not a thread): every append
// returns after its bytes are on disk; concurrent appenders share fdatasyncs (group commit).
// Targets: ≥ 100,000 entries/s; median latency ≤ 1.5 × one fdatasync of a 4 KiB append on the
// same disk (measured in the same iteration, right after).
let appenders = 64
let appendsPerThread = 64

let entriesPerSecond = BenchmarkMetric.custom("entries/s", polarity: .prefersLarger, useScalingFactor: false)
let latencyP50 = BenchmarkMetric.custom("append p50 (µs)", useScalingFactor: false)
let latencyP99 = BenchmarkMetric.custom("append p99 (µs)", useScalingFactor: false)
let fdatasyncP50 = BenchmarkMetric.custom("fdatasync 4KiB p50 (µs)", useScalingFactor: false)
let latencyRatio = BenchmarkMetric.custom("append p50 / fdatasync p50 (%)", useScalingFactor: false)

let benchmarks: @Sendable () -> Void = {
    let pool = orderEventPool(1024)
    let configuration = Benchmark.Configuration(
        metrics: [.wallClock, .cpuTotal, .syscalls, entriesPerSecond, latencyP50, latencyP99, fdatasyncP50, latencyRatio],
        scalingFactor: .one,
        maxDuration: .seconds(30),
        maxIterations: 10
    )
    Benchmark(
        "append policy=always, 64 appenders",
        configuration: configuration
    ) { benchmark in
        let dir = ScratchDirectory("always")
        defer { dir.remove() }
        let (store, stream) = try openOrders(dir.path, options(.always))
        let latencies = SampleSlots(appenders)
        let t0 = monotonicNanos()
        runOnThreads(appenders) { t in
            var mine: [Double] = []
            for k in 0..<appendsPerThread {
                let a = monotonicNanos()
                do { try stream.append(pool[(k * appenders + t) & 1023]) } catch { fatalError("append: \(error)") }
                mine.append(Double(monotonicNanos() - a))
            }
            latencies.set(t, mine)
        }
        let elapsed = Double(monotonicNanos() - t0) / 1e9
        store.close()
        record(benchmark, latencies.all, elapsed: elapsed, directory: dir.path)
    }

    Benchmark(
        "append policy=always, 64 appending tasks",
        configuration: configuration
    ) { benchmark async throws in
        let dir = ScratchDirectory("always-tasks")
        defer { dir.remove() }
        let (store, stream) = try openOrders(dir.path, options(.always))
        let t0 = monotonicNanos()
        let all = try await withThrowingTaskGroup(of: [Double].self) { group in
            for t in 0..<appenders {
                group.addTask {
                    var mine: [Double] = []
                    for k in 0..<appendsPerThread {
                        let a = monotonicNanos()
                        try await stream.append(pool[(k * appenders + t) & 1023])
                        mine.append(Double(monotonicNanos() - a))
                    }
                    return mine
                }
            }
            var all: [Double] = []
            for try await mine in group { all += mine }
            return all
        }
        let elapsed = Double(monotonicNanos() - t0) / 1e9
        store.close()
        record(benchmark, all, elapsed: elapsed, directory: dir.path)
    }
}

/// Throughput, latency quantiles and the fdatasync floor measured right after, in `directory`.
func record(_ benchmark: Benchmark, _ latencies: [Double], elapsed: Double, directory: String) {
    let all = Summary(latencies)
    let floor = Summary(fdatasyncLatencies(directory: directory, samples: 100))
    benchmark.measurement(entriesPerSecond, Int(Double(latencies.count) / elapsed))
    benchmark.measurement(latencyP50, Int(all.median / 1000))
    benchmark.measurement(latencyP99, Int(all.quantile(0.99) / 1000))
    benchmark.measurement(fdatasyncP50, Int(floor.median / 1000))
    benchmark.measurement(latencyRatio, Int(100 * all.median / floor.median))
}
