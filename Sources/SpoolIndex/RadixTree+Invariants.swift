import SpoolFormat

/// A structural defect found by ``RadixTree/_checkInvariants()``.
public struct _RadixTreeInvariantViolation: Error, CustomStringConvertible {
    /// What is wrong.
    public let description: String

    @usableFromInline
    internal init(_ description: String) { self.description = description }
}

extension RadixTree {
    /// Verifies the whole structure of the tree, throwing on the first defect: branch shape
    /// (2...256 children, strictly increasing labels and depths, prefixes consistent with the
    /// path), leaf keys consistent with their path and strictly increasing in order, every leaf
    /// reachable exactly once, node and slab free lists disjoint from live storage and together
    /// covering the arenas, and the counters.
    ///
    /// O(size of the arenas). Compiled in every configuration, meant to be called from tests only.
    /// Long on purpose: one walk that claims every node, leaf and slab it reaches, and the
    /// checks of what was reached and what was not must share that bookkeeping.
    public func _checkInvariants() throws {
        func violation(_ message: String) -> _RadixTreeInvariantViolation {
            _RadixTreeInvariantViolation("RadixTree invariant violated: \(message)")
        }
        guard _keys.count == _values.count else {
            throw violation("\(_keys.count) keys but \(_values.count) values")
        }
        guard _labels.count == _slots.count else {
            throw violation("\(_labels.count) labels but \(_slots.count) slots")
        }
        var leafSeen = [Bool](repeating: false, count: _keys.count)
        var nodeSeen = [Bool](repeating: false, count: _nodes.count)
        var poolUsed = [Bool](repeating: false, count: _slots.count)
        var reachableNodes = 0
        var reachableLeaves = 0
        var previousKey: StreamID?

        func claim(_ offset: Int, _ capacity: Int, _ what: String) throws {
            guard offset >= 0, offset + capacity <= poolUsed.count else {
                throw violation("\(what): slab \(offset)+\(capacity) is outside the pool (\(poolUsed.count))")
            }
            for i in offset..<(offset + capacity) {
                guard !poolUsed[i] else { throw violation("\(what): slab \(offset)+\(capacity) overlaps another") }
                poolUsed[i] = true
            }
        }

        // `parentDepth` is -1 for the root; the subtree's keys must start with the first
        // `parentDepth` bytes of `parentPrefix` followed by `label`.
        func visit(_ ref: _RadixRef, parentDepth: Int, parentPrefix: UInt128, label: UInt8) throws {
            guard !ref.isNone else { throw violation("a child slot holds none") }
            if ref.isLeaf {
                let leaf = ref.index
                guard leaf < _keys.count else { throw violation("leaf \(leaf) out of range") }
                guard !leafSeen[leaf] else { throw violation("leaf \(leaf) reachable twice") }
                leafSeen[leaf] = true
                reachableLeaves += 1
                let key = _keys[leaf]
                let k = _RadixKey.make(key)
                if parentDepth >= 0 {
                    guard k & _RadixKey.mask(parentDepth) == parentPrefix,
                        _RadixKey.byte(k, at: parentDepth) == label
                    else { throw violation("leaf \(key) is under the wrong path") }
                }
                if let previousKey {
                    guard previousKey < key else { throw violation("keys out of order: \(previousKey) then \(key)") }
                }
                previousKey = key
                return
            }
            let index = ref.index
            guard index < _nodes.count else { throw violation("node \(index) out of range") }
            guard !nodeSeen[index] else { throw violation("node \(index) reachable twice") }
            nodeSeen[index] = true
            reachableNodes += 1
            let node = _nodes[index]
            let depth = Int(node.depth)
            let count = Int(node.count)
            let prefix = node.prefix
            guard depth < 16 else { throw violation("node \(index) has depth \(depth)") }
            guard depth > parentDepth else {
                throw violation("node \(index) at depth \(depth) is under a node at depth \(parentDepth)")
            }
            guard count >= 2 else { throw violation("node \(index) has \(count) children") }
            guard Int(node.sizeClass) < _RadixFreeSlabs.classCount, count <= node.capacity else {
                throw violation("node \(index) has \(count) children in size class \(node.sizeClass)")
            }
            guard count &* 4 > node.capacity else {
                throw violation("node \(index) has \(count) children in a slab of \(node.capacity)")
            }
            guard prefix & ~_RadixKey.mask(depth) == 0 else {
                throw violation("node \(index) has prefix bytes past its depth")
            }
            if parentDepth >= 0 {
                guard prefix & _RadixKey.mask(parentDepth) == parentPrefix,
                    _RadixKey.byte(prefix, at: parentDepth) == label
                else { throw violation("node \(index) is under the wrong path") }
            }
            try claim(Int(node.slab), node.capacity, "node \(index)")
            var previousLabel: UInt8?
            for i in 0..<count {
                let childLabel = _label(node, i)
                if let previousLabel {
                    guard previousLabel < childLabel else { throw violation("node \(index) labels not increasing") }
                }
                previousLabel = childLabel
                try visit(_child(node, i), parentDepth: depth, parentPrefix: prefix, label: childLabel)
            }
        }

        if !_root.isNone {
            try visit(_root, parentDepth: -1, parentPrefix: 0, label: 0)
        }
        guard reachableLeaves == _keys.count else {
            throw violation("\(reachableLeaves) leaves reachable, \(_keys.count) stored")
        }
        guard reachableNodes == _nodeCount else {
            throw violation("\(reachableNodes) nodes reachable, nodeCount is \(_nodeCount)")
        }

        var freeNodes = 0
        var link = _freeNode
        while link != _RadixRef.noneRaw {
            let index = Int(link)
            guard index < _nodes.count else { throw violation("free node \(index) out of range") }
            guard !nodeSeen[index] else { throw violation("free node \(index) is live or listed twice") }
            nodeSeen[index] = true
            guard _nodes[index].count == 0 else { throw violation("free node \(index) has children") }
            freeNodes += 1
            link = _nodes[index].slab
        }
        guard reachableNodes + freeNodes == _nodes.count else {
            throw violation("\(reachableNodes) live + \(freeNodes) free nodes, \(_nodes.count) allocated")
        }

        for sizeClass in 0..<_RadixFreeSlabs.classCount {
            var link = _freeSlabs[sizeClass]
            while link != _RadixRef.noneRaw {
                let offset = Int(link)
                try claim(offset, 2 << sizeClass, "free slab of class \(sizeClass)")
                link = _slots[offset].raw
            }
        }
        guard poolUsed.allSatisfy({ $0 }) else { throw violation("pool has slots in no slab") }
    }
}
