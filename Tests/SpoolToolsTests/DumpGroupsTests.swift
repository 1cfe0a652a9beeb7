import Spool
import SpoolFormat
import SpoolTools
import Testing
import TestSupport

@Suite("dump --groups")
struct DumpGroupsTests {
    @Test("dump --groups shows what XINFO GROUPS, XINFO CONSUMERS and XPENDING show")
    func dumpGroups() throws {
        let tmp = TemporaryDirectory("dump-groups")
        defer { tmp.remove() }
        try makeGroupStore(tmp.path)
        let store = try SpoolStore(directory: tmp.path, options: smallOptions())
        let db = store.database(0)
        let infos = try db.groupsInfo(b("orders"), nowMs: 1_764_000_100_000)
        var consumers: [[UInt8]: [ConsumerInfo]] = [:]
        var pending: [[UInt8]: [PendingEntry]] = [:]
        for g in infos {
            consumers[g.name] = try db.consumersInfo(b("orders"), g.name, nowMs: 1_764_000_100_000)
            pending[g.name] = try db.pending(b("orders"), g.name, count: 1_000_000)
        }
        store.close()
        #expect(infos.map(\.name) == [b("audit"), b("billing")])

        var o = DumpOptions()
        o.stream = b("orders")
        o.groups = true
        o.format = .jsonl
        var out = CollectedOutput()
        let stats = try Dump.run(directory: tmp.path, options: o, to: &out)
        #expect(stats.warnings.isEmpty)
        var expected: [String] = []
        func iso(_ ms: UInt64) -> String { TimeParser.iso8601(milliseconds: ms) }
        for g in infos {
            let name = String(decoding: g.name, as: UTF8.self)
            var line = #"{"db":0,"stream":"orders","group":"\#(name)","last-delivered":"\#(g.lastDeliveredID)","entries-read":\#(g.entriesRead.map { String($0) } ?? "null")"#
            line += #","pending":\#(g.pending),"dead-letter":"#
            line += g.maxDeliveries > 0 ? #"{"max-deliveries":\#(g.maxDeliveries),"stream":"\#(String(decoding: g.deadLetterStream, as: UTF8.self))","dead-lettered":0}"# : "null"
            line += #","consumers":["#
            line += consumers[g.name]!.map { c in
                let active = c.activeTime < 0 ? #""active-time":null,"active-ms":null"# : #""active-time":"\#(iso(UInt64(c.activeTime)))","active-ms":\#(c.activeTime)"#
                return #"{"name":"\#(String(decoding: c.name, as: UTF8.self))","seen-time":"\#(iso(c.seenTime))","seen-ms":\#(c.seenTime),\#(active),"pending":\#(c.pending)}"#
            }.joined(separator: ",")
            line += "]}"
            expected.append(line)
            for p in pending[g.name]! {
                expected.append(#"{"db":0,"stream":"orders","group":"\#(name)","id":"\#(p.id)","consumer":"\#(String(decoding: p.consumer, as: UTF8.self))","delivery-count":\#(p.deliveryCount),"delivery-time":"\#(iso(p.deliveryTime))","delivery-ms":\#(p.deliveryTime)}"#)
            }
        }
        #expect(out.lines == expected)
        #expect(pending[b("billing")]!.count > 20 && consumers[b("billing")]!.count == 3)

        o.format = .text
        var text = CollectedOutput()
        _ = try Dump.run(directory: tmp.path, options: o, to: &text)
        let p = pending[b("billing")]![0]
        #expect(text.lines.contains("  pending \(p.id) consumer \(String(decoding: p.consumer, as: UTF8.self)) deliveries \(p.deliveryCount) delivered \(iso(p.deliveryTime)) (\(p.deliveryTime))"))
        #expect(text.lines.contains { $0.hasPrefix("group audit last-delivered ") && $0.hasSuffix(" dead-letter max-deliveries 5 stream orders-dlq dead-lettered 0") })
    }
}
