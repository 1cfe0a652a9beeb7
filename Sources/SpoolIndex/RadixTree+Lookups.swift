import SpoolFormat

extension RadixTree {
    /// The value stored for `key`, or nil if the tree does not contain it. O(key length).
    @inlinable
    public subscript(key: StreamID) -> Value? {
        guard let leaf = _findLeaf(key) else { return nil }
        return _values[leaf]
    }

    /// The entry with the greatest key less than or equal to `key`, if any.
    @inlinable
    public func floor(_ key: StreamID) -> (key: StreamID, value: Value)? {
        guard let leaf = _floorLeaf(_RadixKey.make(key)) else { return nil }
        return (_keys[leaf], _values[leaf])
    }

    /// The entry with the smallest key greater than or equal to `key`, if any.
    @inlinable
    public func ceiling(_ key: StreamID) -> (key: StreamID, value: Value)? {
        guard let leaf = _ceilingLeaf(_RadixKey.make(key)) else { return nil }
        return (_keys[leaf], _values[leaf])
    }

    /// The entry with the smallest key strictly greater than `key`, if any.
    @inlinable
    public func successor(of key: StreamID) -> (key: StreamID, value: Value)? {
        guard let next = key.successor else { return nil }
        return ceiling(next)
    }

    /// The entry with the greatest key strictly less than `key`, if any.
    @inlinable
    public func predecessor(of key: StreamID) -> (key: StreamID, value: Value)? {
        guard let previous = key.predecessor else { return nil }
        return floor(previous)
    }

    /// The entry with the smallest key, or nil if the tree is empty.
    @inlinable
    public var first: (key: StreamID, value: Value)? {
        guard !_root.isNone else { return nil }
        let leaf = _leftmostLeaf(_root)
        return (_keys[leaf], _values[leaf])
    }

    /// The entry with the greatest key, or nil if the tree is empty.
    @inlinable
    public var last: (key: StreamID, value: Value)? {
        guard !_root.isNone else { return nil }
        let leaf = _rightmostLeaf(_root)
        return (_keys[leaf], _values[leaf])
    }

    // MARK: Internals

    /// The leaf index holding `key`, if any.
    @inlinable
    internal func _findLeaf(_ key: StreamID) -> Int? {
        var ref = _root
        if ref.isNone { return nil }
        if ref.isNode {
            // Descend by the key's bytes without checking prefixes: the only leaf that can hold
            // `key` is the one its bytes lead to, and the final comparison settles it.
            let k = _RadixKey.make(key)
            repeat {
                let node = _nodes[ref.index]
                guard let i = _childIndex(node, _RadixKey.byte(k, at: Int(node.depth))) else {
                    return nil
                }
                ref = _child(node, i)
            } while ref.isNode
        }
        let leaf = ref.index
        return _keys[leaf] == key ? leaf : nil
    }

    /// The leaf with the smallest key in the subtree `ref` (which must not be none).
    @inlinable
    internal func _leftmostLeaf(_ ref: _RadixRef) -> Int {
        var ref = ref
        while ref.isNode { ref = _child(_nodes[ref.index], 0) }
        return ref.index
    }

    /// The leaf with the greatest key in the subtree `ref` (which must not be none).
    @inlinable
    internal func _rightmostLeaf(_ ref: _RadixRef) -> Int {
        var ref = ref
        while ref.isNode {
            let node = _nodes[ref.index]
            ref = _child(node, Int(node.count) &- 1)
        }
        return ref.index
    }

    /// The leaf with the smallest key `>= key`.
    @inlinable
    internal func _ceilingLeaf(_ key: UInt128) -> Int? {
        var ref = _root
        // The nearest subtree seen so far whose keys are all greater than `key`.
        var fallback = _RadixRef.none
        while !ref.isNone {
            if ref.isLeaf {
                if _RadixKey.make(_keys[ref.index]) >= key { return ref.index }
                break
            }
            let node = _nodes[ref.index]
            let depth = Int(node.depth)
            let head = key & _RadixKey.mask(depth)
            let prefix = node.prefix
            if head != prefix {
                if head < prefix { return _leftmostLeaf(ref) }
                break
            }
            let label = _RadixKey.byte(key, at: depth)
            let i = _lowerBound(node, label)
            let count = Int(node.count)
            if i == count { break }
            if _label(node, i) != label { return _leftmostLeaf(_child(node, i)) }
            if i &+ 1 < count { fallback = _child(node, i &+ 1) }
            ref = _child(node, i)
        }
        return fallback.isNone ? nil : _leftmostLeaf(fallback)
    }

    /// The leaf with the greatest key `<= key`.
    @inlinable
    internal func _floorLeaf(_ key: UInt128) -> Int? {
        var ref = _root
        // The nearest subtree seen so far whose keys are all less than `key`.
        var fallback = _RadixRef.none
        while !ref.isNone {
            if ref.isLeaf {
                if _RadixKey.make(_keys[ref.index]) <= key { return ref.index }
                break
            }
            let node = _nodes[ref.index]
            let depth = Int(node.depth)
            let head = key & _RadixKey.mask(depth)
            let prefix = node.prefix
            if head != prefix {
                if head > prefix { return _rightmostLeaf(ref) }
                break
            }
            let label = _RadixKey.byte(key, at: depth)
            let i = _lowerBound(node, label)
            if i < Int(node.count) && _label(node, i) == label {
                if i > 0 { fallback = _child(node, i &- 1) }
                ref = _child(node, i)
                continue
            }
            if i == 0 { break }
            return _rightmostLeaf(_child(node, i &- 1))
        }
        return fallback.isNone ? nil : _rightmostLeaf(fallback)
    }
}
