import SpoolFormat
import SpoolIndex
import Testing

/// Small key sets whose every subset, insertion order and removal order is tried.
@Suite struct RadixTreeExhaustiveTests {
    /// Each set exercises different layouts: long shared prefixes, splits at the first byte,
    /// splits above an existing branch, nodes with several children, the extreme keys.
    static let keySets: [[StreamID]] = [
        [StreamID(0, 0), StreamID(0, 1), StreamID(0, 256), StreamID(1, 0), .max],
        [StreamID(5, 0), StreamID(5, 1), StreamID(5, 2), StreamID(5, 3), StreamID(5, 0x100)],
        [StreamID(5, 0x0102), StreamID(5, 0x0103), StreamID(5, 0x0201), StreamID(5, 0x01_0000), StreamID(6, 0x0102)],
        [.zero, StreamID(0, .max), StreamID(.max, 0), StreamID(0x8000_0000_0000_0000, 0), .max],
        [StreamID(1 << 56, 7), StreamID(1 << 48, 7), StreamID(1 << 40, 7), StreamID(1, 7), StreamID(0, 7 << 56)],
    ]

    /// Probes around every key of `keys`, and the extremes.
    static func probes(_ keys: [StreamID]) -> [StreamID] {
        var probes: [StreamID] = [.zero, .max, StreamID(3, 3)]
        for key in keys {
            probes.append(key)
            if let next = key.successor { probes.append(next) }
            if let previous = key.predecessor { probes.append(previous) }
        }
        return probes
    }

    /// Checks `tree` against `model` in every way; returns the problems.
    static func check(_ tree: RadixTree<Int>, _ model: ModelMap, probes: [StreamID]) -> [String] {
        var problems = invariantProblems(tree) + wholeTreeMismatches(tree, model)
        for probe in probes { problems += mismatches(tree, model, probe: probe) }
        return problems
    }

    static func permutations<T>(_ items: [T]) -> [[T]] {
        guard items.count > 1 else { return [items] }
        var result: [[T]] = []
        for (i, item) in items.enumerated() {
            var rest = items
            rest.remove(at: i)
            for tail in permutations(rest) { result.append([item] + tail) }
        }
        return result
    }

    @Test(arguments: 0..<keySets.count)
    func everyInsertionOrder(set: Int) {
        let keys = Self.keySets[set]
        let probes = Self.probes(keys)
        for order in Self.permutations(Array(keys.indices)) {
            var tree = RadixTree<Int>()
            var model = ModelMap()
            for i in order {
                #expect(tree.updateValue(i, forKey: keys[i]) == nil)
                model.update(i, forKey: keys[i])
                // Queries on every subset are covered by `everySubsetTransition`; here the
                // structure must match the canonical one after every step.
                let problems = invariantProblems(tree) + wholeTreeMismatches(tree, model)
                #expect(problems.isEmpty, "set \(set), order \(order), after inserting \(keys[i]): \(problems.joined(separator: "\n"))")
                if !problems.isEmpty { return }
            }
            // Replacing keeps the structure.
            let shape = tree._shape()
            for i in order {
                #expect(tree.updateValue(i + 100, forKey: keys[i]) == i)
                model.update(i + 100, forKey: keys[i])
            }
            #expect(tree._shape() == shape)
            #expect(Self.check(tree, model, probes: probes).isEmpty)
        }
    }

    @Test(arguments: 0..<keySets.count)
    func everyRemovalOrder(set: Int) {
        let keys = Self.keySets[set]
        let probes = Self.probes(keys)
        let full = RadixTree(sortedUniqueElements: keys.enumerated().map { ($1, $0) }.sorted { $0.0 < $1.0 })
        for order in Self.permutations(Array(keys.indices)) {
            var tree = full
            var model = ModelMap(entries: full.entryArray)
            for i in order {
                #expect(tree.removeValue(forKey: keys[i]) == i)
                #expect(tree.removeValue(forKey: keys[i]) == nil)
                model.remove(keys[i])
                let problems = invariantProblems(tree) + wholeTreeMismatches(tree, model)
                #expect(problems.isEmpty, "set \(set), order \(order), after removing \(keys[i]): \(problems.joined(separator: "\n"))")
                if !problems.isEmpty { return }
            }
            #expect(tree.isEmpty && tree.nodeCount == 0)
            #expect(Self.check(tree, model, probes: probes).isEmpty)
        }
        #expect(full.count == keys.count)
    }

    /// From every subset, inserting or removing any one key gives the same tree as loading the
    /// resulting subset directly.
    @Test(arguments: 0..<keySets.count)
    func everySubsetTransition(set: Int) {
        let keys = Self.keySets[set]
        let probes = Self.probes(keys)
        func load(_ mask: Int) -> RadixTree<Int> {
            RadixTree(sortedUniqueElements: keys.indices.filter { mask & (1 << $0) != 0 }.map { (keys[$0], $0) }.sorted { $0.0 < $1.0 })
        }
        for mask in 0..<(1 << keys.count) {
            let tree = load(mask)
            let model = ModelMap(entries: tree.entryArray)
            #expect(Self.check(tree, model, probes: probes).isEmpty, "subset \(mask)")
            for i in keys.indices {
                var changed = tree
                var changedModel = model
                if mask & (1 << i) != 0 {
                    #expect(changed.removeValue(forKey: keys[i]) == i)
                    changedModel.remove(keys[i])
                } else {
                    #expect(changed.updateValue(i, forKey: keys[i]) == nil)
                    changedModel.update(i, forKey: keys[i])
                }
                let problems = Self.check(changed, changedModel, probes: probes)
                #expect(problems.isEmpty, "set \(set), subset \(mask), toggling \(keys[i]): \(problems.joined(separator: "\n"))")
                #expect(changed._shape() == load(mask ^ (1 << i))._shape())
                // The source of the copy is untouched.
                #expect(tree.entryArray == model.entries)
            }
        }
    }
}
