import SpoolFormat
import SpoolIndex
import Testing

@Suite struct RadixTreeTests {
    @Test func emptyTree() throws {
        let tree = RadixTree<Int>()
        try tree._checkInvariants()
        #expect(tree.isEmpty && tree.count == 0 && tree.nodeCount == 0)
        #expect(tree[.zero] == nil && tree[.max] == nil)
        #expect(tree.first == nil && tree.last == nil)
        #expect(tree.floor(.max) == nil && tree.ceiling(.zero) == nil)
        #expect(tree.successor(of: .zero) == nil && tree.predecessor(of: .max) == nil)
        #expect(Array(tree.keys).isEmpty)
        #expect(tree.walk(from: .zero, reverse: false, limit: .max).isEmpty)
        #expect(tree.walk(from: .max, reverse: true, limit: .max).isEmpty)
        #expect(tree.description == "[:]")
    }

    @Test func singleKeyAndExtremes() throws {
        var tree = RadixTree<Int>()
        tree.updateValue(1, forKey: StreamID(5, 5))
        try tree._checkInvariants()
        #expect(tree.nodeCount == 0)
        #expect(Entry(tree.floor(.max)) == Entry(StreamID(5, 5), 1))
        #expect(tree.floor(StreamID(5, 4)) == nil)
        #expect(Entry(tree.ceiling(.zero)) == Entry(StreamID(5, 5), 1))
        #expect(tree.ceiling(StreamID(5, 6)) == nil)
        tree.updateValue(0, forKey: .zero)
        tree.updateValue(2, forKey: .max)
        try tree._checkInvariants()
        #expect(tree.nodeCount == 2)
        #expect(tree.successor(of: .max) == nil && tree.predecessor(of: .zero) == nil)
        #expect(Entry(tree.successor(of: .zero)) == Entry(StreamID(5, 5), 1))
        #expect(Entry(tree.predecessor(of: .max)) == Entry(StreamID(5, 5), 1))
        #expect(tree.entryArray == [Entry(.zero, 0), Entry(StreamID(5, 5), 1), Entry(.max, 2)])
        #expect(tree.walk(from: .max, reverse: true, limit: .max).map(\.value) == [2, 1, 0])
        #expect(tree.description == "[0-0: 0, 5-5: 1, 18446744073709551615-18446744073709551615: 2]")
    }

    @Test func sendableWhenValueIsSendable() {
        func requireSendable<T: Sendable>(_: T) {}
        let tree = RadixTree(sortedUniqueElements: [(StreamID(1, 1), 1)])
        requireSendable(tree)
        requireSendable(tree.elements)
        requireSendable(tree.elements.makeIterator())
    }

    @Test func memoryFootprintGrowsWithKeys() {
        var tree = RadixTree<Int>()
        let empty = tree.memoryFootprint
        for i in 0..<10_000 { tree.updateValue(i, forKey: StreamID(UInt64(i), 0)) }
        // At least the key, the value and a child entry per key.
        #expect(tree.memoryFootprint >= empty + 10_000 * (16 + 8 + 5))
        #expect(tree.nodeCount > 0 && tree.nodeCount < tree.count)
    }

    @Test func copyOnWrite() throws {
        var original = RadixTree<Int>()
        for i in 0..<1_000 { original.updateValue(i, forKey: StreamID(UInt64(i / 10), UInt64(i % 10))) }
        let snapshot = original.entryArray
        let iteratorBefore = original.elements

        var copy = original
        copy.updateValue(-1, forKey: StreamID(0, 0))
        copy.updateValue(-2, forKey: StreamID(5_000, 0))
        copy.removeValue(forKey: StreamID(50, 5))
        copy.updateValue(forKey: StreamID(7, 7)) { $0 = -3 }
        try copy._checkInvariants()
        try original._checkInvariants()
        #expect(original.entryArray == snapshot)
        #expect(copy.count == 1_000)
        #expect(copy[StreamID(0, 0)] == -1 && original[StreamID(0, 0)] == 0)
        #expect(copy[StreamID(7, 7)] == -3 && original[StreamID(7, 7)] == 77)

        // Mutating the original leaves the copy alone too.
        let copySnapshot = copy.entryArray
        original.removeAll()
        #expect(original.isEmpty)
        #expect(copy.entryArray == copySnapshot)

        // A sequence made before the mutations still sees the old contents.
        #expect(iteratorBefore.map { Entry($0.key, $0.value) } == snapshot)

        // Bulk-loaded trees are copied on write too.
        let loaded = RadixTree(sortedUniqueElements: snapshot.map { ($0.key, $0.value) })
        var loadedCopy = loaded
        for entry in snapshot.prefix(500) { loadedCopy.removeValue(forKey: entry.key) }
        try loadedCopy._checkInvariants()
        #expect(loaded.entryArray == snapshot)
        #expect(loadedCopy.count == 500)
    }

    @Test func updateValueInPlace() throws {
        var tree = RadixTree<[Int]>()
        tree.updateValue([1], forKey: StreamID(1, 0))
        #expect(tree.updateValue(forKey: StreamID(1, 0)) { $0.append(2) })
        #expect(!tree.updateValue(forKey: StreamID(2, 0)) { $0.append(3) })
        #expect(tree[StreamID(1, 0)] == [1, 2])
        #expect(tree[StreamID(2, 0)] == nil)
        try tree._checkInvariants()
    }

    @Test func removeAllThenReuse() throws {
        var tree = RadixTree<Int>()
        for i in 0..<300 { tree.updateValue(i, forKey: StreamID(UInt64(i), 0)) }
        tree.removeAll()
        try tree._checkInvariants()
        #expect(tree.isEmpty && tree.nodeCount == 0 && tree.first == nil)
        tree.updateValue(1, forKey: StreamID(9, 9))
        try tree._checkInvariants()
        #expect(tree.count == 1)
    }

    @Test func removedSlotsAreReused() throws {
        var tree = RadixTree<Int>()
        for round in 0..<20 {
            for i in 0..<500 { tree.updateValue(i, forKey: StreamID(UInt64(i * 300), UInt64(round))) }
            for i in 0..<500 { tree.removeValue(forKey: StreamID(UInt64(i * 300), UInt64(round))) }
            try tree._checkInvariants()
        }
        let footprintAfterChurn = tree.memoryFootprint
        var fresh = RadixTree<Int>()
        for i in 0..<500 { fresh.updateValue(i, forKey: StreamID(UInt64(i * 300), 0)) }
        // Twenty rounds of churn cost no more than about one round's storage.
        #expect(footprintAfterChurn <= 2 * fresh.memoryFootprint)
    }

    /// Bulk loading builds exactly the tree that incremental insertion (in any order) builds.
    @Test(arguments: [0, 1, 2, 3, 17, 255, 256, 257, 1_000, 20_000])
    func bulkLoadEqualsIncrementalInsert(size: Int) throws {
        var rng = SplitMix64(seed: UInt64(size) + 99)
        let distributions: [(String, (Int) -> StreamID)] = [
            ("sequential ms", { StreamID(1_700_000_000_000 + UInt64($0), 0) }),
            ("sequential seq", { StreamID(42, UInt64($0)) }),
            ("strided", { StreamID(UInt64($0) * 0x1_0001, UInt64($0 % 3)) }),
        ]
        var sets = distributions.map { ($0.0, (0..<size).map($0.1)) }
        var random = Set<StreamID>()
        while random.count < size {
            random.insert(rng.below(2) == 0 ? KeySpace.key(&rng) : StreamID(rng.next(), rng.next()))
        }
        sets.append(("random", Array(random)))
        for (name, keys) in sets {
            let sorted = keys.sorted()
            let bulk = RadixTree(sortedUniqueElements: sorted.enumerated().map { ($1, $0) })
            var incremental = RadixTree<Int>()
            for (i, key) in sorted.enumerated().shuffled(using: &rng) { incremental.updateValue(i, forKey: key) }
            try bulk._checkInvariants()
            try incremental._checkInvariants()
            #expect(bulk.count == size, "\(name)")
            #expect(bulk.entryArray == incremental.entryArray, "\(name)")
            #expect(bulk._shape() == incremental._shape(), "\(name)")
            #expect(bulk.nodeCount == incremental.nodeCount, "\(name)")
            #expect(bulk.memoryFootprint <= incremental.memoryFootprint + 64, "\(name)")

            // A bulk-loaded tree takes further mutations normally.
            var mutated = bulk
            var model = ModelMap(entries: bulk.entryArray)
            for _ in 0..<min(size, 300) {
                let key = rng.below(2) == 0 && !sorted.isEmpty ? sorted[rng.below(sorted.count)] : KeySpace.key(&rng)
                if rng.below(2) == 0 {
                    #expect(mutated.removeValue(forKey: key) == model.remove(key))
                } else {
                    #expect(mutated.updateValue(-1, forKey: key) == model.update(-1, forKey: key))
                }
            }
            try mutated._checkInvariants()
            #expect(mutated.entryArray == model.entries, "\(name)")
        }
    }

    /// Bulk loading accepts any sequence, including one without a known count.
    @Test func bulkLoadFromUnsizedSequence() throws {
        let source = sequence(first: StreamID(1, 0)) { $0.ms < 5_000 ? StreamID($0.ms + 3, $0.seq) : nil }
        let tree = RadixTree(sortedUniqueElements: source.lazy.map { ($0, Int($0.ms)) })
        try tree._checkInvariants()
        #expect(tree.count == 1_668)
        #expect(Entry(tree.last) == Entry(StreamID(5_002, 0), 5_002))
    }

    @Test func bulkLoadRejectsUnsortedKeys() async {
        await #expect(processExitsWith: .failure) {
            _ = RadixTree(sortedUniqueElements: [(StreamID(2, 0), 1), (StreamID(1, 0), 2)])
        }
        await #expect(processExitsWith: .failure) {
            _ = RadixTree(sortedUniqueElements: [(StreamID(2, 0), 1), (StreamID(2, 0), 2)])
        }
    }

    /// Prints bulk-load time and memory per key for sequential keys. Asserts no timing; the
    /// times mean something only in a release build (`swift test -c release`), so debug builds
    /// skip the million-key load.
    @Test func bulkLoadStatistics() {
        #if DEBUG
        let sizes = [100_000]
        #else
        let sizes = [100_000, 1_000_000]
        #endif
        for size in sizes {
            let elements = (0..<size).map { (StreamID(1_700_000_000_000 + UInt64($0), 0), $0) }
            let clock = ContinuousClock()
            var tree = RadixTree<Int>()
            let elapsed = clock.measure { tree = RadixTree(sortedUniqueElements: elements) }
            #expect(tree.count == size)
            let perKey = Double(tree.memoryFootprint) / Double(size)
            print("RadixTree<Int> bulk load of \(size) sequential keys: \(elapsed), \(tree.memoryFootprint) bytes (\(perKey) per key), \(tree.nodeCount) nodes")
        }
    }
}
