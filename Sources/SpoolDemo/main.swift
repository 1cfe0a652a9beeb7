// The main job until `spool serve` lands: appends the chapter's `orders` events to a store in
// ./spool-data, closes it, reopens it and prints every entry back from disk.
import Spool
import SpoolFormat
import Logging

let directory = CommandLine.arguments.dropFirst().first ?? "./spool-data"
let regions = ["us-east-1", "us-west-2", "eu-west-1"]

func text(_ b: [UInt8]) -> String { String(decoding: b, as: UTF8.self) }

do {
    do {
        let store = try SpoolStore(directory: directory)
        let orders = try store.database(0).openOrCreate(Array("orders".utf8))
        for i in 0..<5 {
            let fields: [String] = [
                "orderId", "ord-\(7829 + i)",
                "totalAmount", "\(149 + i * 10).99",
                "region", regions[i % regions.count],
                "eventType", "OrderPlaced",
                "timestamp", "\(StreamClock.nowMs())",
            ]
            let id = try orders.append(fields.map { Array($0.utf8) }, trim: TrimSpec(.maxLen(100_000), approximate: true))
            print("Published order ord-\(7829 + i) as \(id)")
        }
        store.close()
    }
    let store = try SpoolStore(directory: directory)
    guard let orders = store.database(0).stream(Array("orders".utf8)) else { fatalError("orders stream missing after reopen") }
    let info = try orders.info()
    print("Reopened \(directory): orders has \(info.length) entries in \(info.blocks) blocks, \(info.segments) segment(s), \(info.diskBytes) bytes on disk; last ID \(info.lastGeneratedID)")
    for e in try orders.reverseRange(count: 10).reversed() {
        var pairs: [String] = []
        var i = 0
        while i < e.fields.count { pairs.append("\(text(e.fields[i]))=\(text(e.fields[i + 1]))"); i += 2 }
        print("\(e.id) \(pairs.joined(separator: " "))")
    }
    store.close()
} catch {
    print("spool-demo: \(error)")
    exit(1)
}

#if canImport(Glibc)
import Glibc
#endif
