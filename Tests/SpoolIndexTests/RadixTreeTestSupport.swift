import SpoolFormat
import SpoolIndex
import TestSupport

/// The shared seeded generator (TestSupport), under the name these tests use.
typealias SplitMix64 = SeededRNG

extension SeededRNG {
    /// A number in `0..<bound`.
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

/// An entry in a comparable form (tuples are not `Equatable`).
struct Entry: Equatable, CustomStringConvertible {
    var key: StreamID
    var value: Int

    init(_ key: StreamID, _ value: Int) {
        self.key = key
        self.value = value
    }

    init?(_ entry: (key: StreamID, value: Int)?) {
        guard let entry else { return nil }
        self.init(entry.key, entry.value)
    }

    var description: String { "\(key)=\(value)" }
}

/// The reference model: a sorted array of entries with the obvious (linear or binary search)
/// implementation of every query.
struct ModelMap {
    var entries: [Entry] = []

    /// Index of the first entry with key `>= key`.
    func lowerBound(_ key: StreamID) -> Int {
        var low = 0
        var high = entries.count
        while low < high {
            let mid = (low + high) / 2
            if entries[mid].key < key { low = mid + 1 } else { high = mid }
        }
        return low
    }

    subscript(key: StreamID) -> Int? {
        let i = lowerBound(key)
        return i < entries.count && entries[i].key == key ? entries[i].value : nil
    }

    @discardableResult
    mutating func update(_ value: Int, forKey key: StreamID) -> Int? {
        let i = lowerBound(key)
        if i < entries.count && entries[i].key == key {
            let old = entries[i].value
            entries[i].value = value
            return old
        }
        entries.insert(Entry(key, value), at: i)
        return nil
    }

    @discardableResult
    mutating func remove(_ key: StreamID) -> Int? {
        let i = lowerBound(key)
        guard i < entries.count && entries[i].key == key else { return nil }
        return entries.remove(at: i).value
    }

    func ceiling(_ key: StreamID) -> Entry? {
        let i = lowerBound(key)
        return i < entries.count ? entries[i] : nil
    }

    func floor(_ key: StreamID) -> Entry? {
        let i = lowerBound(key)
        if i < entries.count && entries[i].key == key { return entries[i] }
        return i > 0 ? entries[i - 1] : nil
    }

    func successor(_ key: StreamID) -> Entry? {
        entries.first { $0.key > key }
    }

    func predecessor(_ key: StreamID) -> Entry? {
        entries.last { $0.key < key }
    }

    /// Up to `limit` entries from `start` in the given direction, like `forEach(from:reverse:)`.
    func walk(from start: StreamID, reverse: Bool, limit: Int) -> [Entry] {
        reverse
            ? Array(entries.filter { $0.key <= start }.reversed().prefix(limit))
            : Array(entries.filter { $0.key >= start }.prefix(limit))
    }
}

extension RadixTree where Value == Int {
    /// All entries, in order, as `Entry`.
    var entryArray: [Entry] { elements.map { Entry($0.key, $0.value) } }

    /// Up to `limit` entries visited by `forEach(from:reverse:)`.
    func walk(from start: StreamID, reverse: Bool, limit: Int) -> [Entry] {
        var result: [Entry] = []
        forEach(from: start, reverse: reverse) { key, value in
            if result.count == limit { return false }
            result.append(Entry(key, value))
            return result.count < limit
        }
        return result
    }
}

/// Keys chosen to share long prefixes (ms and seq from small ranges around a few bases) while
/// also differing early (different bases, extremes 0 and `UInt64.max`).
enum KeySpace {
    static let msBases: [UInt64] = [
        0, 0xFF, 0x1_0000, 0x0100_0000_0000_0000, 0x1234_5678_9ABC_DE00, 1_700_000_000_000,
        UInt64.max - 7,
    ]

    static func key(_ rng: inout SplitMix64) -> StreamID {
        let ms: UInt64
        switch rng.below(100) {
        case 0..<3: ms = 0
        case 3..<6: ms = .max
        default: ms = msBases[rng.below(msBases.count)] + UInt64(rng.below(8))
        }
        let seq: UInt64
        switch rng.below(100) {
        case 0..<70: seq = UInt64(rng.below(6))
        case 70..<78: seq = .max - UInt64(rng.below(3))
        case 78..<86: seq = 0x1_0000_0000 + UInt64(rng.below(4))
        case 86..<94: seq = 0xFF00 + UInt64(rng.below(4))
        default: seq = rng.next()
        }
        return StreamID(ms, seq)
    }

    /// A key near `key` (itself, or one step either way), or a random one.
    static func probe(near keys: [Entry], _ rng: inout SplitMix64) -> StreamID {
        if keys.isEmpty || rng.below(4) == 0 { return key(&rng) }
        let key = keys[rng.below(keys.count)].key
        switch rng.below(3) {
        case 0: return key.predecessor ?? key
        case 1: return key.successor ?? key
        default: return key
        }
    }
}

/// Every query of the API compared with the model at `probe`; returns the mismatches.
func mismatches(_ tree: RadixTree<Int>, _ model: ModelMap, probe: StreamID) -> [String] {
    var problems: [String] = []
    func check(_ what: String, _ got: Entry?, _ expected: Entry?) {
        if got != expected { problems.append("\(what)(\(probe)): got \(String(describing: got)), expected \(String(describing: expected))") }
    }
    if tree[probe] != model[probe] {
        problems.append("subscript(\(probe)): got \(String(describing: tree[probe])), expected \(String(describing: model[probe]))")
    }
    check("floor", Entry(tree.floor(probe)), model.floor(probe))
    check("ceiling", Entry(tree.ceiling(probe)), model.ceiling(probe))
    check("successor", Entry(tree.successor(of: probe)), model.successor(probe))
    check("predecessor", Entry(tree.predecessor(of: probe)), model.predecessor(probe))
    for reverse in [false, true] {
        // Early stops through `forEach`; the full walk through `elements(from:reverse:)`.
        for limit in [1, 3] {
            let got = tree.walk(from: probe, reverse: reverse, limit: limit)
            let expected = model.walk(from: probe, reverse: reverse, limit: limit)
            if got != expected {
                problems.append("forEach(from: \(probe), reverse: \(reverse)) limit \(limit): got \(got), expected \(expected)")
            }
        }
        let viaElements = Array(tree.elements(from: probe, reverse: reverse).map { Entry($0.key, $0.value) })
        if viaElements != model.walk(from: probe, reverse: reverse, limit: .max) {
            problems.append("elements(from: \(probe), reverse: \(reverse)): got \(viaElements)")
        }
    }
    return problems
}

/// Whole-tree comparison with the model: count, order, first, last, shape (against a bulk load
/// of the same entries) and node count.
func wholeTreeMismatches(_ tree: RadixTree<Int>, _ model: ModelMap) -> [String] {
    var problems: [String] = []
    if tree.count != model.entries.count { problems.append("count \(tree.count), expected \(model.entries.count)") }
    if tree.isEmpty != model.entries.isEmpty { problems.append("isEmpty \(tree.isEmpty)") }
    let entries = tree.entryArray
    if entries != model.entries { problems.append("elements \(entries), expected \(model.entries)") }
    if Array(tree.keys) != model.entries.map(\.key) { problems.append("keys differ") }
    if Entry(tree.first) != model.entries.first { problems.append("first \(String(describing: tree.first))") }
    if Entry(tree.last) != model.entries.last { problems.append("last \(String(describing: tree.last))") }
    let reference = RadixTree(sortedUniqueElements: model.entries.map { ($0.key, $0.value) })
    if tree._shape() != reference._shape() {
        problems.append("shape differs from bulk load:\n\(tree._shape())\n--- expected ---\n\(reference._shape())")
    }
    if tree.nodeCount != reference.nodeCount { problems.append("nodeCount \(tree.nodeCount), expected \(reference.nodeCount)") }
    return problems
}

/// `_checkInvariants()` as a list of problems.
func invariantProblems<V>(_ tree: RadixTree<V>) -> [String] {
    do {
        try tree._checkInvariants()
        return []
    } catch {
        return ["\(error)\n\(tree._dump())"]
    }
}
