import SpoolFormat
import SpoolIndex
import Testing

/// Thousands of random operations checked against a sorted-array model, with the structure
/// verified after every mutation. A failure names its seed and step.
@Suite struct RadixTreeModelTests {
    static let seeds: [UInt64] = [1, 2, 3, 7, 42, 2024, 0xDEAD_BEEF, 0x5EED_5EED_5EED_5EED]

    @Test(arguments: seeds)
    func randomOperationsMatchModel(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var tree = RadixTree<Int>()
        var model = ModelMap()
        var nextValue = 0
        for step in 0..<4_000 {
            var problems: [String] = []
            var mutated = true
            let operation: String
            switch rng.below(100) {
            case 0..<35:
                let key = rng.below(3) == 0 ? KeySpace.probe(near: model.entries, &rng) : KeySpace.key(&rng)
                nextValue += 1
                operation = "updateValue(\(nextValue), forKey: \(key))"
                let old = tree.updateValue(nextValue, forKey: key)
                let expected = model.update(nextValue, forKey: key)
                if old != expected { problems.append("returned \(String(describing: old)), expected \(String(describing: expected))") }
            case 35..<60:
                let key = rng.below(3) != 0 && !model.entries.isEmpty
                    ? model.entries[rng.below(model.entries.count)].key
                    : KeySpace.probe(near: model.entries, &rng)
                operation = "removeValue(forKey: \(key))"
                let old = tree.removeValue(forKey: key)
                let expected = model.remove(key)
                if old != expected { problems.append("returned \(String(describing: old)), expected \(String(describing: expected))") }
            case 60..<65:
                let key = KeySpace.probe(near: model.entries, &rng)
                operation = "updateValue(forKey: \(key)) { $0 += 1000 }"
                let found = tree.updateValue(forKey: key) { $0 += 1000 }
                let old = model[key]
                if let old { model.update(old + 1000, forKey: key) }
                if found != (old != nil) { problems.append("returned \(found)") }
            case 65..<66:
                if rng.below(10) == 0 {
                    operation = "removeAll()"
                    tree.removeAll()
                    model = ModelMap()
                } else {
                    operation = "bulk reload"
                    tree = RadixTree(sortedUniqueElements: model.entries.map { ($0.key, $0.value) })
                }
            default:
                mutated = false
                let probe = KeySpace.probe(near: model.entries, &rng)
                operation = "queries at \(probe)"
                problems += mismatches(tree, model, probe: probe)
                if tree.count != model.entries.count { problems.append("count \(tree.count)") }
                if Entry(tree.first) != model.entries.first { problems.append("first") }
                if Entry(tree.last) != model.entries.last { problems.append("last") }
            }
            if mutated {
                problems += invariantProblems(tree)
                if tree.count != model.entries.count { problems.append("count \(tree.count), expected \(model.entries.count)") }
            }
            if step % 100 == 99 { problems += wholeTreeMismatches(tree, model) }
            if !problems.isEmpty {
                Issue.record("seed \(seed), step \(step), \(operation):\n\(problems.joined(separator: "\n"))")
                return
            }
        }
        #expect(wholeTreeMismatches(tree, model).isEmpty)
    }

    /// Grows a tree large enough for full (256-child) nodes and slab growth and shrinking, then
    /// removes most of it in random order.
    @Test(arguments: [11, 12] as [UInt64])
    func growAndShrinkMatchesModel(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var tree = RadixTree<Int>()
        var model = ModelMap()
        var keys: [StreamID] = []
        for ms in 0..<UInt64(3) {
            for seq in 0..<UInt64(600) { keys.append(StreamID(ms * 0x1_0000, seq * (seq % 3 == 0 ? 1 : 0x101))) }
        }
        keys.shuffle(using: &rng)
        var checked = 0
        for (i, key) in keys.enumerated() {
            let old = tree.updateValue(i, forKey: key)
            let expected = model.update(i, forKey: key)
            #expect(old == expected)
            if i % 37 == 0 {
                let problems = invariantProblems(tree) + mismatches(tree, model, probe: keys[rng.below(keys.count)])
                #expect(problems.isEmpty, "seed \(seed), insert \(i): \(problems.joined(separator: "\n"))")
                checked += 1
            }
        }
        #expect(wholeTreeMismatches(tree, model).isEmpty)
        keys.shuffle(using: &rng)
        for (i, key) in keys.prefix(keys.count - 10).enumerated() {
            #expect(tree.removeValue(forKey: key) == model.remove(key))
            if i % 37 == 0 {
                let problems = invariantProblems(tree) + mismatches(tree, model, probe: keys[rng.below(keys.count)])
                #expect(problems.isEmpty, "seed \(seed), remove \(i): \(problems.joined(separator: "\n"))")
            }
        }
        #expect(invariantProblems(tree).isEmpty)
        #expect(wholeTreeMismatches(tree, model).isEmpty)
        #expect(checked > 0)
    }
}
