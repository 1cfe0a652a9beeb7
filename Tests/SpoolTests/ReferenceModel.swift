import Testing
import SpoolFormat
@testable import Spool

/// A plain in-memory Redis stream: macro-nodes exactly as Redis's t_stream.c keeps them
/// (node split by entry count and listpack bytes, deleted slots kept, node freed when its last
/// live entry goes, trims node by node). The engine, with its files, must behave the same.
struct ReferenceStream {
    struct Node {
        var entries: [StreamEntry] = []
        var deleted: Set<StreamID> = []
        var master: [[UInt8]] = []
        var body = 0
        var live: Int { entries.count - deleted.count }
        var bytes: Int { RedisNodeSize.total(bodyBytes: body, live: live, deleted: deleted.count) }
    }
    var nodes: [Node] = []
    var lastID = StreamID.zero
    var entriesAdded: UInt64 = 0
    var maxDeletedID = StreamID.zero
    let maxEntries: Int
    let maxBytes: Int

    init(maxEntries: Int, maxBytes: Int) {
        self.maxEntries = maxEntries
        self.maxBytes = maxBytes
    }

    var length: Int { nodes.reduce(0) { $0 + $1.live } }
    var liveEntries: [StreamEntry] { nodes.flatMap { n in n.entries.filter { !n.deleted.contains($0.id) } } }

    mutating func append(_ fields: [[UInt8]], _ spec: AppendID, now: UInt64) -> Result<StreamID, SpoolError> {
        let id: StreamID
        switch spec {
        case .auto:
            if now > lastID.ms { id = StreamID(now, 0) } else {
                guard let s = lastID.successor else { return .failure(.exhausted) }
                id = s
            }
        case .autoSequence(let ms):
            if ms > lastID.ms { id = StreamID(ms, 0) } else if ms == lastID.ms && lastID.seq < .max { id = StreamID(ms, lastID.seq + 1) } else { return .failure(.xaddSmaller) }
        case .explicit(let e):
            guard e > lastID else { return .failure(.xaddSmaller) }
            id = e
        }
        let e = StreamEntry(id: id, fields: fields)
        var newNode = nodes.isEmpty
        if let tail = nodes.last {
            let mb = (maxBytes <= 0 || maxBytes > (1 << 30)) ? (1 << 30) : maxBytes
            if tail.bytes + e.payloadBytes >= mb { newNode = true }
            else if maxEntries > 0 && tail.entries.count >= maxEntries { newNode = true }
        }
        if newNode {
            var n = Node()
            n.master = BlockCodec.masterFields(of: e)
            n.body = RedisNodeSize.masterBody(fields: n.master)
            nodes.append(n)
        }
        let i = nodes.count - 1
        let master = nodes[i].master
        let same = e.pairCount == master.count && (0..<master.count).allSatisfy { e.fields[2 * $0] == master[$0] }
        nodes[i].body += RedisNodeSize.entry(e, master: nodes[i].entries.first?.id ?? e.id, sameFields: same)
        nodes[i].entries.append(e)
        lastID = id
        entriesAdded += 1
        return .success(id)
    }

    /// Marks `id` deleted; frees its node when no live entry is left.
    mutating func deleteOne(_ id: StreamID) -> Bool {
        for i in nodes.indices {
            guard let f = nodes[i].entries.first?.id, let l = nodes[i].entries.last?.id, id >= f, id <= l else { continue }
            guard nodes[i].entries.contains(where: { $0.id == id }), !nodes[i].deleted.contains(id) else { return false }
            nodes[i].deleted.insert(id)
            if nodes[i].live == 0 { nodes.remove(at: i) }
            return true
        }
        return false
    }

    mutating func delete(_ ids: [StreamID]) -> Int {
        var n = 0
        for id in ids where deleteOne(id) {
            n += 1
            if id > maxDeletedID { maxDeletedID = id }
        }
        return n
    }

    /// Redis's streamTrim, node by node.
    mutating func trim(_ spec: TrimSpec, nodeMaxEntries: Int) -> Int {
        var limit = 0
        if spec.approximate {
            if let l = spec.limit { limit = l } else {
                limit = 100 * nodeMaxEntries
                if limit <= 0 { limit = 10000 } else if limit > 1_000_000 { limit = 1_000_000 }
            }
        }
        var removed = 0
        while !nodes.isEmpty {
            if case .maxLen(let m) = spec.strategy, length <= m { break }
            let n = nodes[0]
            if limit > 0 && removed + n.live > limit { break }
            let whole: Bool
            switch spec.strategy {
            case .maxLen(let m): whole = length - n.live >= m
            case .minID(let id): whole = n.entries.last!.id < id
            }
            if whole {
                removed += n.live
                nodes.removeFirst()
                continue
            }
            if spec.approximate { break }
            for e in n.entries where !nodes[0].deleted.contains(e.id) {
                switch spec.strategy {
                case .maxLen(let m): if length <= m { return removed }
                case .minID(let id): if e.id >= id { return removed }
                }
                nodes[0].deleted.insert(e.id)
                removed += 1
                // Redis keeps the node where an exact trim stops, even with no entry left.
            }
            break
        }
        return removed
    }
}

/// Expects every invariant of the stream's core to hold (`StreamCore.invariantViolations`, on in
/// debug builds); throws after recording them, so a model run stops at the first operation that
/// broke one.
func expectInvariants(_ s: SpoolStream, _ context: @autoclosure () -> Any = "") throws {
    let violations = s.core.withLock { $0?.invariantViolations() ?? [] }
    guard !violations.isEmpty else { return }
    Issue.record("invariants violated: \(violations) after \(context())")
    throw SpoolError.command("stop: invariants violated")
}
