import SpoolFormat

// Arena primitives: allocation and release of nodes, child slabs and leaves, and edits of a
// node's child list. Everything above this file manipulates the tree only through these.

extension RadixTree {
    /// The size class whose slabs hold at least `count` children (`count` in 1...256).
    @inlinable @inline(__always)
    internal static func _sizeClass(forCount count: Int) -> Int {
        count <= 2 ? 0 : Int.bitWidth &- (count &- 1).leadingZeroBitCount &- 1
    }

    /// Allocates a slab of size class `sizeClass`, reusing a free one if possible; returns its
    /// offset in the pool. Its contents are unspecified.
    @inlinable
    internal mutating func _allocateSlab(sizeClass: Int) -> Int {
        let head = _freeSlabs[sizeClass]
        if head != _RadixRef.noneRaw {
            let offset = Int(head)
            _freeSlabs[sizeClass] = _slots[offset].raw
            return offset
        }
        let offset = _slots.count
        let capacity = 2 &<< sizeClass
        precondition(offset + capacity < Int(UInt32.max), "RadixTree: child pool overflow")
        _slots.append(contentsOf: repeatElement(.none, count: capacity))
        _labels.append(contentsOf: repeatElement(0, count: capacity))
        return offset
    }

    /// Puts the slab at `offset` on the free list of `sizeClass`.
    @inlinable
    internal mutating func _releaseSlab(at offset: Int, sizeClass: Int) {
        _slots[offset] = _RadixRef(raw: _freeSlabs[sizeClass])
        _freeSlabs[sizeClass] = UInt32(truncatingIfNeeded: offset)
    }

    /// Stores `node` in a free node slot (or a new one) and returns its index.
    @inlinable
    internal mutating func _allocateNode(_ node: _RadixNode) -> Int {
        _nodeCount &+= 1
        if _freeNode != _RadixRef.noneRaw {
            let index = Int(_freeNode)
            _freeNode = _nodes[index].slab
            _nodes[index] = node
            return index
        }
        precondition(_nodes.count <= _RadixRef.maxIndex, "RadixTree: too many nodes")
        _nodes.append(node)
        return _nodes.count &- 1
    }

    /// Releases node `index` and its slab.
    @inlinable
    internal mutating func _releaseNode(_ index: Int) {
        let node = _nodes[index]
        _releaseSlab(at: Int(node.slab), sizeClass: Int(node.sizeClass))
        _nodes[index] = _RadixNode(freeLink: _freeNode)
        _freeNode = UInt32(truncatingIfNeeded: index)
        _nodeCount &-= 1
    }

    /// Appends a leaf and returns a reference to it.
    @inlinable
    internal mutating func _appendLeaf(_ key: StreamID, _ value: Value) -> _RadixRef {
        precondition(_keys.count <= _RadixRef.maxIndex, "RadixTree: too many keys")
        _keys.append(key)
        _values.append(value)
        return .leaf(_keys.count &- 1)
    }

    /// Creates a branch node at `depth` with exactly two children (`first.label < second.label`).
    @inlinable
    internal mutating func _makeBranch(
        depth: Int, prefix: UInt128,
        _ first: (label: UInt8, ref: _RadixRef),
        _ second: (label: UInt8, ref: _RadixRef)
    ) -> _RadixRef {
        let slab = _allocateSlab(sizeClass: 0)
        _labels[slab] = first.label
        _slots[slab] = first.ref
        _labels[slab &+ 1] = second.label
        _slots[slab &+ 1] = second.ref
        let node = _RadixNode(depth: depth, prefix: prefix, slab: slab, count: 2, sizeClass: 0)
        return .node(_allocateNode(node))
    }

    /// Child `index` of `node`.
    @inlinable @inline(__always)
    internal func _child(_ node: _RadixNode, _ index: Int) -> _RadixRef {
        _slots[Int(node.slab) &+ index]
    }

    /// Label of child `index` of `node`.
    @inlinable @inline(__always)
    internal func _label(_ node: _RadixNode, _ index: Int) -> UInt8 {
        _labels[Int(node.slab) &+ index]
    }

    /// The index of the first child of `node` whose label is not less than `label`
    /// (`node.count` if there is none).
    @inlinable
    internal func _lowerBound(_ node: _RadixNode, _ label: UInt8) -> Int {
        let base = Int(node.slab)
        let count = Int(node.count)
        return _labels.withUnsafeBufferPointer { labels in
            precondition(count > 0 && base >= 0 && base &+ count <= labels.count)
            let labels = labels.baseAddress.unsafelyUnwrapped + base
            // Children with consecutive labels (the common case for keys allocated in order)
            // are found directly; appends land after the last child.
            let guess = Int(label) &- Int(labels[0])
            if guess >= 0 && guess < count && labels[guess] == label { return guess }
            if labels[count &- 1] < label { return count }
            // Branch-free binary search.
            var low = 0
            var length = count
            while length > 1 {
                let half = length &>> 1
                low = labels[low &+ half] < label ? low &+ half : low
                length &-= half
            }
            return labels[low] < label ? low &+ 1 : low
        }
    }

    /// Copies `count` children (labels and references) from pool offset `source` to pool
    /// offset `destination`; the two ranges may overlap.
    @inlinable
    internal mutating func _moveChildren(from source: Int, to destination: Int, count: Int) {
        guard count > 0 else { return }
        precondition(
            source >= 0 && destination >= 0 && source &+ count <= _slots.count
                && destination &+ count <= _slots.count && _labels.count == _slots.count,
            "RadixTree: child move out of bounds")
        _labels.withUnsafeMutableBufferPointer { labels in
            let base = UnsafeMutableRawPointer(labels.baseAddress.unsafelyUnwrapped)
            (base + destination).copyMemory(from: base + source, byteCount: count)
        }
        _slots.withUnsafeMutableBufferPointer { slots in
            let base = slots.baseAddress.unsafelyUnwrapped
            UnsafeMutableRawPointer(base + destination).copyMemory(
                from: base + source, byteCount: count &* MemoryLayout<_RadixRef>.stride)
        }
    }

    /// The index of the child of `node` labelled `label`, if any.
    @inlinable @inline(__always)
    internal func _childIndex(_ node: _RadixNode, _ label: UInt8) -> Int? {
        let index = _lowerBound(node, label)
        return index < Int(node.count) && _label(node, index) == label ? index : nil
    }

    /// Replaces the reference in child slot `index` of node `holder` (the root when `holder < 0`).
    @inlinable
    internal mutating func _setSlot(holder: Int, index: Int, _ ref: _RadixRef) {
        if holder < 0 {
            _root = ref
        } else {
            _slots[Int(_nodes[holder].slab) &+ index] = ref
        }
    }

    /// Inserts child `ref` labelled `label` at position `index` of node `nodeIndex`'s child list,
    /// growing its slab if it is full.
    @inlinable
    internal mutating func _insertChild(node nodeIndex: Int, at index: Int, label: UInt8, ref: _RadixRef) {
        var node = _nodes[nodeIndex]
        let count = Int(node.count)
        let base = Int(node.slab)
        if count == node.capacity {
            let newClass = Int(node.sizeClass) &+ 1
            let newBase = _allocateSlab(sizeClass: newClass)
            _moveChildren(from: base, to: newBase, count: index)
            _moveChildren(from: base &+ index, to: newBase &+ index &+ 1, count: count &- index)
            _labels[newBase &+ index] = label
            _slots[newBase &+ index] = ref
            _releaseSlab(at: base, sizeClass: Int(node.sizeClass))
            node.slab = UInt32(truncatingIfNeeded: newBase)
            node.sizeClass = UInt8(truncatingIfNeeded: newClass)
        } else {
            _moveChildren(from: base &+ index, to: base &+ index &+ 1, count: count &- index)
            _labels[base &+ index] = label
            _slots[base &+ index] = ref
        }
        node.count = UInt16(truncatingIfNeeded: count &+ 1)
        _nodes[nodeIndex] = node
    }

    /// Removes child `index` of node `nodeIndex`, shrinking its slab when it is at most a quarter
    /// full. A node left with one child must then be removed by the caller.
    @inlinable
    internal mutating func _removeChild(node nodeIndex: Int, at index: Int) {
        var node = _nodes[nodeIndex]
        let count = Int(node.count)
        let base = Int(node.slab)
        _moveChildren(from: base &+ index &+ 1, to: base &+ index, count: count &- index &- 1)
        let newCount = count &- 1
        node.count = UInt16(truncatingIfNeeded: newCount)
        if newCount >= 2 && newCount &* 4 <= node.capacity {
            let newClass = Self._sizeClass(forCount: newCount &* 2)
            let newBase = _allocateSlab(sizeClass: newClass)
            _moveChildren(from: base, to: newBase, count: newCount)
            _releaseSlab(at: base, sizeClass: Int(node.sizeClass))
            node.slab = UInt32(truncatingIfNeeded: newBase)
            node.sizeClass = UInt8(truncatingIfNeeded: newClass)
        }
        _nodes[nodeIndex] = node
    }

    /// Removes leaf `index` from the leaf arrays, moving the last leaf into its place (and
    /// repointing the reference to it). The leaf must already be unlinked from the tree.
    @inlinable
    internal mutating func _removeLeaf(at index: Int) -> Value {
        let last = _keys.count &- 1
        if index != last {
            let movedKey = _keys[last]
            _repoint(key: movedKey, from: .leaf(last), to: .leaf(index))
            _keys[index] = movedKey
            _values.swapAt(index, last)
        }
        _keys.removeLast()
        return _values.removeLast()
    }

    /// Finds the reference `old` on the path of `key` and replaces it with `new`.
    @inlinable
    internal mutating func _repoint(key: StreamID, from old: _RadixRef, to new: _RadixRef) {
        if _root == old {
            _root = new
            return
        }
        let k = _RadixKey.make(key)
        var ref = _root
        while ref.isNode {
            let node = _nodes[ref.index]
            guard let i = _childIndex(node, _RadixKey.byte(k, at: Int(node.depth))) else { break }
            let slot = Int(node.slab) &+ i
            ref = _slots[slot]
            if ref == old {
                _slots[slot] = new
                return
            }
        }
        preconditionFailure("RadixTree: leaf \(key) is not reachable")
    }
}
