#if canImport(Glibc)
import Glibc
#endif
import Spool
import SpoolBenchSupport

// The measurements behind the README's table, as a plain release executable printing
// `key value` lines (Scripts/compare-redis.sh runs it beside redis-server and makes the table).
//
//   SpoolFigures append-no [entries] [repeats]          one writer, policy no
//   SpoolFigures append-batch [entries] [batch] [repeats]  one writer, policy no, append(batch:)
//   SpoolFigures append-always [threads] [seconds]      concurrent appenders, policy always
//   SpoolFigures append-always-tasks [tasks] [seconds]  the same with tasks (`try await append`)
//   SpoolFigures groups [entries] [batch] [read|batch|both]  XREADGROUP + XACK in-process (policy no;
//                                                       readGroup, readGroupBatch, or both in turn),
//                                                       bytes per pending entry, open with them pending
//   SpoolFigures fdatasync [samples]                    pwrite 4 KiB + fdatasync, same disk
//   SpoolFigures scan [entries] [repeats]               scan from the page cache
//   SpoolFigures scan-views [entries] [repeats]         the same through scanViews (borrowed entries)
//   SpoolFigures scan-store DIR [repeats]               the same over an existing store (profiling)
//   SpoolFigures build DIR [entries]                    a store of N orders entries (policy no)
//   SpoolFigures open DIR [--cold]                      time to ready, RssAnon, bytes per entry
//   SpoolFigures resp [entries]                         the same entries as XADD commands (RESP)
//
// Scratch stores go under $SPOOL_BENCH_DIR (default $TMPDIR or /tmp), on the disk measured.

func report(_ key: String, _ value: Double) { print(key, value) }
func report(_ key: String, _ value: Int) { print(key, value) }

let scratchBase: String? = getenv("SPOOL_BENCH_DIR").map { String(cString: $0) }
let args = Array(CommandLine.arguments.dropFirst())
func arg(_ i: Int, _ def: Int) -> Int { args.count > i ? Int(String(args[i].filter { $0 != "_" }))! : def }
func fail(_ message: String) -> Never {
    log("SpoolFigures: \(message)")
    exit(2)
}

/// Appends `count` entries with auto IDs through one writer; returns entries/s.
func appendOnce(count: Int, pool: [[[UInt8]]], policy: FsyncPolicy) throws -> Double {
    let dir = ScratchDirectory("append", base: scratchBase)
    defer { dir.remove() }
    let (store, stream) = try openOrders(dir.path, options(policy))
    let t0 = monotonicNanos()
    for i in 0..<count {
        try stream.append(pool[i & (pool.count - 1)])
    }
    let t1 = monotonicNanos()
    precondition(stream.length == count)
    store.close()
    return Double(count) / (Double(t1 - t0) / 1e9)
}

/// The same through `append(batch:)`: one journal write per `batch` entries (or per block).
func appendBatchOnce(count: Int, batch: Int, pool: [[[UInt8]]]) throws -> Double {
    let dir = ScratchDirectory("append", base: scratchBase)
    defer { dir.remove() }
    let (store, stream) = try openOrders(dir.path, options(.no))
    var batches: [[[[UInt8]]]] = []
    var i = 0
    while i < count {
        let n = min(batch, count - i)
        batches.append((0..<n).map { pool[(i + $0) & (pool.count - 1)] })
        i += n
    }
    let t0 = monotonicNanos()
    for b in batches { try stream.append(batch: b) }
    let t1 = monotonicNanos()
    precondition(stream.length == count)
    store.close()
    return Double(count) / (Double(t1 - t0) / 1e9)
}

switch args.first {
case "groups":
    let count = arg(1, 1_000_000), batch = arg(2, 100)
    // Which read path(s) to time: each first on a fresh store when run alone (the second of
    // `both` follows the first's allocations and reads of the same stream).
    let api = args.count > 3 ? args[3] : "both"
    guard ["read", "batch", "both"].contains(api) else { fail("groups [entries] [batch] [read|batch|both]") }
    let dir = ScratchDirectory("groups", base: scratchBase)
    defer { dir.remove() }
    let key = Array("orders".utf8), group = Array("g".utf8), consumer = Array("c".utf8)
    do {
        let (store, stream) = try openOrders(dir.path, options(.no))
        let pool = orderEventPool()
        var i = 0
        while i < count {
            let n = min(1000, count - i)
            try stream.append(batch: (0..<n).map { pool[(i + $0) & (pool.count - 1)] })
            i += n
        }
        let db = store.database(0)
        try db.createGroup(key, group, at: .id(.zero))
        // Read and acknowledge everything in batches.
        let t0 = monotonicNanos()
        var delivered = 0
        while api != "batch" {
            let r = try db.readGroup(group: group, consumer: consumer, streams: [(key, .new)], count: batch)
            guard let entries = r.first?.entries, !entries.isEmpty else { break }
            _ = try db.ack(key, group, entries.map(\.id))
            delivered += entries.count
        }
        let t1 = monotonicNanos()
        report("groups_batch", batch)
        if api != "batch" { report("groups_read_ack_entries_per_s", Double(delivered) / (Double(t1 - t0) / 1e9)) }
        // The same through readGroupBatch: entries seen in place (views into the blocks).
        try db.createGroup(key, Array("b".utf8), at: .id(.zero))
        var fieldBytes = 0
        let t4 = monotonicNanos()
        delivered = 0
        while api != "read" {
            let got = try db.readGroupBatch(group: Array("b".utf8), consumer: consumer, key: key, count: batch)
            guard !got.isEmpty else { break }
            got.forEach { v in fieldBytes &+= v.length(1) }
            _ = try db.ack(key, Array("b".utf8), got.ids)
            delivered += got.count
        }
        let t5 = monotonicNanos()
        if api != "read" {
            guard fieldBytes > 0 else { fail("no field bytes seen") }
            report("groups_batch_read_ack_entries_per_s", Double(delivered) / (Double(t5 - t4) / 1e9))
        }
        // Leave every entry pending: bytes of anonymous memory per pending entry.
        try db.createGroup(key, Array("p".utf8), at: .id(.zero))
        trimHeap()
        let before = rssAnonBytes()
        while true {
            let r = try db.readGroup(group: Array("p".utf8), consumer: consumer, streams: [(key, .new)], count: 1000)
            guard let entries = r.first?.entries, !entries.isEmpty else { break }
        }
        trimHeap()
        report("groups_pending_entries", count)
        report("groups_bytes_per_pending_entry", Double(rssAnonBytes() - before) / Double(count))
        store.close()
    }
    // Open with them all pending.
    let t2 = monotonicNanos()
    let store = try SpoolStore(directory: dir.path, options: options(.no))
    let pending = try store.database(0).pendingSummary(key, Array("p".utf8))
    let t3 = monotonicNanos()
    report("groups_open_s", Double(t3 - t2) / 1e9)
    report("groups_open_pending", pending.count)
    store.close()

case "scan-views":
    // The same store and scan as `scan`, through `scanViews` (borrowed entries, no copies).
    let count = arg(1, 1_000_000), repeats = arg(2, 5)
    let dir = ScratchDirectory("scanviews", base: scratchBase)
    defer { dir.remove() }
    do {
        let (store, stream) = try openOrders(dir.path, options(.no))
        let pool = orderEventPool()
        var i = 0
        while i < count {
            let n = min(1000, count - i)
            try stream.append(batch: (0..<n).map { pool[(i + $0) & (pool.count - 1)] })
            i += n
        }
        store.close()
    }
    let (store, stream) = try openOrders(dir.path, options(.no))
    var rates: [Double] = []
    for r in 0...repeats {
        var seen = 0, bytes = 0
        let t0 = monotonicNanos()
        try stream.scanViews { v in
            seen += 1
            bytes += v.length(v.count - 1)
            return true
        }
        let t1 = monotonicNanos()
        precondition(seen == count && bytes > 0)
        if r > 0 { rates.append(Double(seen) / (Double(t1 - t0) / 1e9)) }
    }
    store.close()
    let s = Summary(rates)
    report("scan_views_entries_per_s_median", s.median)
    report("scan_views_entries_per_s_best", s.sorted.last!)

case "append-batch":
    let count = arg(1, 1_000_000), batch = arg(2, 64), repeats = arg(3, 3)
    let pool = orderEventPool()
    var rates: [Double] = []
    for _ in 0..<repeats { rates.append(try appendBatchOnce(count: count, batch: batch, pool: pool)) }
    let s = Summary(rates)
    report("append_batch_size", batch)
    report("append_batch_entries_per_s_median", s.median)
    print("append_batch_runs", rates.map { String(Int($0)) }.joined(separator: ","))

case "append-no":
    let count = arg(1, 1_000_000), repeats = arg(2, 3)
    let pool = orderEventPool()
    var rates: [Double] = []
    for _ in 0..<repeats { rates.append(try appendOnce(count: count, pool: pool, policy: .no)) }
    let s = Summary(rates)
    report("append_no_entries", count)
    report("append_no_entries_per_s_median", s.median)
    report("append_no_entries_per_s_best", s.sorted.last!)
    print("append_no_runs", rates.map { String(Int($0)) }.joined(separator: ","))

case "append-always", "append-always-tasks":
    // Concurrent appenders on one stream, as threads (the blocking `append`) or as tasks on
    // Swift's cooperative pool (`try await append` suspends the task, not a thread, until its
    // group commit is durable). The run alternates half-second rounds of appending with 40
    // samples of the floor (pwrite 4 KiB at the end of a file + fdatasync, same disk), so that
    // both sides of the latency ratio see the same disk: its sync time drifts by half from one
    // second to the next on this shared machine.
    let asTasks = args.first == "append-always-tasks"
    let appenders = arg(1, 64), seconds = arg(2, 5)
    let dir = ScratchDirectory("always", base: scratchBase)
    defer { dir.remove() }
    let (store, stream) = try openOrders(dir.path, options(.always))
    let pool = orderEventPool(1024)
    var all: [Double] = [], floor: [Double] = [], ratios: [Double] = []
    var appendingNanos: UInt64 = 0
    for _ in 0..<max(1, seconds * 2) {
        let t0 = monotonicNanos()
        let deadline = t0 + 500_000_000
        let round: [Double]
        if asTasks {
            round = await withTaskGroup(of: [Double].self) { group in
                for t in 0..<appenders {
                    group.addTask {
                        var lat: [Double] = []
                        lat.reserveCapacity(1 << 12)
                        var i = t
                        while monotonicNanos() < deadline {
                            let a = monotonicNanos()
                            do { try await stream.append(pool[i & 1023]) } catch { fail("append: \(error)") }
                            lat.append(Double(monotonicNanos() - a))
                            i += appenders
                        }
                        return lat
                    }
                }
                var all: [Double] = []
                for await lat in group { all += lat }
                return all
            }
        } else {
            let results = SampleSlots(appenders)
            runOnThreads(appenders) { t in
                var lat: [Double] = []
                lat.reserveCapacity(1 << 12)
                var i = t
                while monotonicNanos() < deadline {
                    let a = monotonicNanos()
                    do { try stream.append(pool[i & 1023]) } catch { fail("append: \(error)") }
                    lat.append(Double(monotonicNanos() - a))
                    i += appenders
                }
                results.set(t, lat)
            }
            round = results.all
        }
        appendingNanos += monotonicNanos() - t0
        let f = fdatasyncLatencies(directory: dir.path, samples: 40)
        ratios.append(Summary(round).median / Summary(f).median)
        all += round
        floor += f
    }
    let s = Summary(all), f = Summary(floor), r = Summary(ratios)
    report(asTasks ? "always_tasks" : "always_threads", appenders)
    report("always_entries", all.count)
    report("always_entries_per_s", Double(all.count) / (Double(appendingNanos) / 1e9))
    report("always_latency_p50_ns", s.median)
    report("always_latency_p90_ns", s.quantile(0.9))
    report("always_latency_p99_ns", s.quantile(0.99))
    precondition(stream.length == all.count)
    store.close()
    report("fdatasync_4k_p50_ns", f.median)
    report("fdatasync_4k_p90_ns", f.quantile(0.9))
    // p50 over the floor's p50, per round: the spread says how far one ratio can be trusted.
    report("always_latency_ratio", s.median / f.median)
    print("always_latency_ratio_rounds", r.sorted.map { String(Double(Int($0 * 100)) / 100) }.joined(separator: ","))

case "fdatasync":
    let dir = ScratchDirectory("fsync", base: scratchBase)
    defer { dir.remove() }
    let f = Summary(fdatasyncLatencies(directory: dir.path, samples: arg(1, 500)))
    report("fdatasync_4k_p50_ns", f.median)
    report("fdatasync_4k_p90_ns", f.quantile(0.9))
    report("fdatasync_4k_p99_ns", f.quantile(0.99))

case "scan", "scan-store":
    let existing = args[0] == "scan-store"
    guard !existing || args.count > 1 else { fail("scan-store DIR [repeats]") }
    let count = existing ? 0 : arg(1, 1_000_000), repeats = arg(2, 5)
    let dir = existing ? nil : ScratchDirectory("scan", base: scratchBase)
    defer { dir?.remove() }
    if let dir {
        let (store, stream) = try openOrders(dir.path, options(.no))
        let pool = orderEventPool()
        for i in 0..<count { try stream.append(pool[i & (pool.count - 1)]) }
        store.close()
    }
    let (store, stream) = try openOrders(existing ? args[1] : dir!.path, options(.no))
    let expected = existing ? stream.length : count
    var rates: [Double] = []
    for r in 0...repeats {
        var n = 0
        var bytes = 0
        let t0 = monotonicNanos()
        try stream.scan { e in
            n += 1
            bytes &+= e.fields.count
            return true
        }
        let t1 = monotonicNanos()
        precondition(n == expected && bytes == 10 * expected)
        if r > 0 { rates.append(Double(n) / (Double(t1 - t0) / 1e9)) }  // round 0 warms the cache
    }
    let info = try stream.info()
    store.close()
    let s = Summary(rates)
    report("scan_entries", expected)
    report("scan_segments", info.segments)
    report("scan_entries_per_s_median", s.median)
    report("scan_entries_per_s_best", s.sorted.last!)

case "build":
    guard args.count > 1 else { fail("build DIR [entries]") }
    let path = args[1], count = arg(2, 10_000_000)
    let (store, stream) = try openOrders(path, options(.no))
    guard stream.length == 0 else { fail("\(path) already holds \(stream.length) entries") }
    let t0 = monotonicNanos()
    var batch = 0
    for i in 0..<count {
        try stream.append(orderEvent(i))
        batch += 1
        if batch == 1_000_000 {
            batch = 0
            log("built \(i + 1)")
        }
    }
    let t1 = monotonicNanos()
    store.close()
    report("build_entries", count)
    report("build_entries_per_s", Double(count) / (Double(t1 - t0) / 1e9))

case "open":
    guard args.count > 1 else { fail("open DIR [--cold]") }
    let path = args[1]
    let cold = args.contains("--cold")
    if cold { evictFromPageCache(path) }
    trimHeap()
    let before = rssAnonBytes()
    let t0 = monotonicNanos()
    let (store, stream) = try openOrders(path, options(.no))
    let length = stream.length
    let t1 = monotonicNanos()
    trimHeap()
    let after = rssAnonBytes()
    let info = try stream.info()
    let usage = diskUsage(path)
    report("open_cold", cold ? 1 : 0)
    report("open_entries", length)
    report("open_ready_s", Double(t1 - t0) / 1e9)
    report("open_rss_anon_bytes", after)
    report("open_rss_anon_before_bytes", before)
    report("open_rss_anon_delta_bytes", after - before)
    report("open_rss_file_bytes", procStatusKiB("RssFile") * 1024)
    report("open_blocks", info.blocks)
    report("open_segments", info.segments)
    report("open_index_bytes", info.indexBytes)
    report("disk_apparent_bytes", Int(usage.apparentBytes))
    report("disk_allocated_bytes", Int(usage.allocatedBytes))
    report("disk_files", usage.files)
    report("disk_bytes_per_entry", Double(usage.apparentBytes) / Double(max(1, length)))
    store.close()

case "resp":
    // XADD orders * <fields> as RESP arrays, for `redis-cli --pipe`.
    let count = arg(1, 10_000_000)
    var out: [UInt8] = []
    out.reserveCapacity(1 << 20)
    func bulk(_ b: [UInt8]) {
        out.append(UInt8(ascii: "$"))
        out.append(contentsOf: Array(String(b.count).utf8))
        out.append(contentsOf: [13, 10])
        out.append(contentsOf: b)
        out.append(contentsOf: [13, 10])
    }
    let head: [[UInt8]] = [Array("XADD".utf8), Array("orders".utf8), Array("*".utf8)]
    for i in 0..<count {
        let f = orderEvent(i)
        out.append(contentsOf: Array("*\(head.count + f.count)\r\n".utf8))
        for h in head { bulk(h) }
        for x in f { bulk(x) }
        if out.count > (1 << 20) - 512 {
            writeAll(1, out)
            out.removeAll(keepingCapacity: true)
        }
    }
    writeAll(1, out)

default:
    fail("usage: SpoolFigures append-no|append-always|fdatasync|scan|build|open|resp …")
}
