import SpoolFormat

extension RadixTree {
    /// Stores `value` for `key`, inserting the key if it is new.
    ///
    /// - Returns: the value previously stored for `key`, or nil if the key was inserted.
    @inlinable
    @discardableResult
    public mutating func updateValue(_ value: Value, forKey key: StreamID) -> Value? {
        if _root.isNone {
            _root = _appendLeaf(key, value)
            return nil
        }
        let k = _RadixKey.make(key)
        // The child slot holding `ref`: slot `slotIndex` of node `holder`, or the root if -1.
        var holder = -1
        var slotIndex = 0
        var ref = _root
        while true {
            if ref.isLeaf {
                let leaf = ref.index
                let leafKey = _keys[leaf]
                if leafKey == key {
                    let old = _values[leaf]
                    _values[leaf] = value
                    return old
                }
                let other = _RadixKey.make(leafKey)
                let depth = _RadixKey.firstDifference(k, other)
                let new = _appendLeaf(key, value)
                let branch = _makeBranch(
                    depth: depth, prefix: k & _RadixKey.mask(depth), new, ref, ordered: k < other, k, other)
                _setSlot(holder: holder, index: slotIndex, branch)
                return nil
            }
            let nodeIndex = ref.index
            let node = _nodes[nodeIndex]
            let depth = Int(node.depth)
            let prefix = node.prefix
            let mask = _RadixKey.mask(depth)
            if k & mask != prefix {
                // The key leaves the compressed path above this node: split the path.
                let split = _RadixKey.firstDifference(k & mask, prefix)
                let new = _appendLeaf(key, value)
                let branch = _makeBranch(
                    depth: split, prefix: k & _RadixKey.mask(split), new, ref, ordered: k < prefix, k, prefix)
                _setSlot(holder: holder, index: slotIndex, branch)
                return nil
            }
            let label = _RadixKey.byte(k, at: depth)
            let i = _lowerBound(node, label)
            if i < Int(node.count) && _label(node, i) == label {
                holder = nodeIndex
                slotIndex = i
                ref = _child(node, i)
                continue
            }
            let new = _appendLeaf(key, value)
            _insertChild(node: nodeIndex, at: i, label: label, ref: new)
            return nil
        }
    }

    /// Creates a two-child branch at `depth` over `new` (whose key is `newKey`) and `old` (whose
    /// key or prefix is `oldKey`), ordering them by `newFirst`.
    @inlinable
    internal mutating func _makeBranch(
        depth: Int, prefix: UInt128, _ new: _RadixRef, _ old: _RadixRef,
        ordered newFirst: Bool, _ newKey: UInt128, _ oldKey: UInt128
    ) -> _RadixRef {
        let newLabel = _RadixKey.byte(newKey, at: depth)
        let oldLabel = _RadixKey.byte(oldKey, at: depth)
        if newFirst {
            return _makeBranch(depth: depth, prefix: prefix, (newLabel, new), (oldLabel, old))
        } else {
            return _makeBranch(depth: depth, prefix: prefix, (oldLabel, old), (newLabel, new))
        }
    }

    /// Applies `transform` in place to the value stored for `key`, if the tree contains it.
    ///
    /// - Returns: whether `key` was found (and `transform` called).
    @inlinable
    @discardableResult
    public mutating func updateValue(forKey key: StreamID, _ transform: (inout Value) throws -> Void) rethrows -> Bool {
        guard let leaf = _findLeaf(key) else { return false }
        try transform(&_values[leaf])
        return true
    }

    /// Builds a tree from entries sorted by strictly increasing key, in O(n) and without the
    /// per-key descent of ``updateValue(_:forKey:)``. Meant for loading an index at open time.
    ///
    /// - Precondition: the keys of `elements` are strictly increasing.
    @inlinable
    public init<S: Sequence>(sortedUniqueElements elements: S) where S.Element == (StreamID, Value) {
        self.init()
        let expected = elements.underestimatedCount
        _keys.reserveCapacity(expected)
        _values.reserveCapacity(expected)
        var spine = _RadixSpine()
        var previous: UInt128 = 0
        for (id, value) in elements {
            let key = _RadixKey.make(id)
            let leaf = _RadixRef.leaf(_keys.count)
            precondition(_keys.count <= _RadixRef.maxIndex, "RadixTree: too many keys")
            if _keys.isEmpty {
                _keys.append(id)
                _values.append(value)
                _root = leaf
                previous = key
                continue
            }
            precondition(key > previous, "RadixTree(sortedUniqueElements:) needs strictly increasing keys")
            _keys.append(id)
            _values.append(value)
            let depth = _RadixKey.firstDifference(key, previous)
            // Nodes on the right spine that branch below `depth` receive no more children.
            while spine.count > 0 && spine.topDepth > depth {
                _closeSpineTop(&spine)
            }
            let label = _RadixKey.byte(key, at: depth)
            if spine.count > 0 && spine.topDepth == depth {
                spine.appendChild(label, leaf)
            } else {
                // The subtree holding `previous` (the last child of the top of the spine, or the
                // root) moves under a new node branching at `depth`.
                let sibling = spine.count > 0 ? spine.lastChild : _root
                let placeholder = _RadixNode(
                    depth: depth, prefix: key & _RadixKey.mask(depth), slab: 0, count: 0, sizeClass: 0)
                let branch = _RadixRef.node(_allocateNode(placeholder))
                if spine.count > 0 {
                    spine.lastChild = branch
                } else {
                    _root = branch
                }
                spine.push(depth: depth, node: branch.index)
                spine.appendChild(_RadixKey.byte(previous, at: depth), sibling)
                spine.appendChild(label, leaf)
            }
            previous = key
        }
        while spine.count > 0 { _closeSpineTop(&spine) }
        _trimCapacity()
    }

    /// Gives the node on top of the spine its final child slab and pops it.
    @inlinable
    internal mutating func _closeSpineTop(_ spine: inout _RadixSpine) {
        let level = spine.count &- 1
        let count = spine.childCounts[level]
        let sizeClass = Self._sizeClass(forCount: count)
        let slab = _allocateSlab(sizeClass: sizeClass)
        let from = level &* 256
        precondition(slab &+ count <= _slots.count && from &+ count <= spine.children.count)
        spine.labels.withUnsafeBufferPointer { source in
            _labels.withUnsafeMutableBufferPointer { target in
                (target.baseAddress.unsafelyUnwrapped + slab)
                    .update(from: source.baseAddress.unsafelyUnwrapped + from, count: count)
            }
        }
        spine.children.withUnsafeBufferPointer { source in
            _slots.withUnsafeMutableBufferPointer { target in
                (target.baseAddress.unsafelyUnwrapped + slab)
                    .update(from: source.baseAddress.unsafelyUnwrapped + from, count: count)
            }
        }
        let nodeIndex = spine.nodes[level]
        _nodes[nodeIndex].slab = UInt32(truncatingIfNeeded: slab)
        _nodes[nodeIndex].count = UInt16(truncatingIfNeeded: count)
        _nodes[nodeIndex].sizeClass = UInt8(truncatingIfNeeded: sizeClass)
        spine.count = level
    }

    /// Releases excess array capacity left by growth (after a bulk load).
    @inlinable
    internal mutating func _trimCapacity() {
        func trim<T>(_ array: inout [T]) {
            guard array.capacity > array.count &+ array.count / 8 &+ 16 else { return }
            var copy: [T] = []
            copy.reserveCapacity(array.count)
            copy.append(contentsOf: array)
            array = copy
        }
        trim(&_nodes)
        trim(&_labels)
        trim(&_slots)
        trim(&_keys)
        trim(&_values)
    }
}

/// The right spine of a tree under bulk construction: the open branch nodes from the root down
/// to the last key, each with the children gathered so far (at most 16 levels of 256).
@usableFromInline
internal struct _RadixSpine {
    @usableFromInline internal var count: Int
    @usableFromInline internal var depths: [Int]
    @usableFromInline internal var nodes: [Int]
    @usableFromInline internal var childCounts: [Int]
    @usableFromInline internal var labels: [UInt8]
    @usableFromInline internal var children: [_RadixRef]

    @inlinable
    internal init() {
        count = 0
        depths = Array(repeating: 0, count: 16)
        nodes = Array(repeating: 0, count: 16)
        childCounts = Array(repeating: 0, count: 16)
        labels = Array(repeating: 0, count: 16 * 256)
        children = Array(repeating: .none, count: 16 * 256)
    }

    /// Branch depth of the top node.
    @inlinable @inline(__always)
    internal var topDepth: Int { depths[count &- 1] }

    /// The last child gathered by the top node.
    @inlinable @inline(__always)
    internal var lastChild: _RadixRef {
        get { children[(count &- 1) &* 256 &+ childCounts[count &- 1] &- 1] }
        set { children[(count &- 1) &* 256 &+ childCounts[count &- 1] &- 1] = newValue }
    }

    @inlinable @inline(__always)
    internal mutating func push(depth: Int, node: Int) {
        depths[count] = depth
        nodes[count] = node
        childCounts[count] = 0
        count &+= 1
    }

    @inlinable @inline(__always)
    internal mutating func appendChild(_ label: UInt8, _ ref: _RadixRef) {
        let level = count &- 1
        let position = level &* 256 &+ childCounts[level]
        labels[position] = label
        children[position] = ref
        childCounts[level] &+= 1
    }
}
