import SpoolFormat

extension RadixTree {
    /// The entries in ascending key order.
    @inlinable
    public var elements: Elements { Elements(_tree: self, start: nil, reverse: false) }

    /// The entries from the first key `>= start` upward, or, when `reverse` is true, from the
    /// last key `<= start` downward.
    @inlinable
    public func elements(from start: StreamID, reverse: Bool = false) -> Elements {
        Elements(_tree: self, start: start, reverse: reverse)
    }

    /// The keys in ascending order.
    @inlinable
    public var keys: LazyMapSequence<Elements, StreamID> { elements.lazy.map { $0.key } }

    /// Calls `body` on the entries in ascending key order starting at the first key `>= start`
    /// (or, when `reverse` is true, in descending order starting at the last key `<= start`),
    /// until `body` returns false or the entries run out.
    @inlinable
    public func forEach(
        from start: StreamID, reverse: Bool = false, _ body: (StreamID, Value) throws -> Bool
    ) rethrows {
        var iterator = Iterator(_tree: self, start: start, reverse: reverse)
        while let (key, value) = iterator.next() {
            if try !body(key, value) { return }
        }
    }

    /// A sequence of entries in key order, from a starting point, in either direction.
    ///
    /// It holds a snapshot of the tree: mutating the tree afterwards does not affect it.
    public struct Elements: Sequence {
        @usableFromInline internal let _tree: RadixTree
        @usableFromInline internal let _start: StreamID?
        @usableFromInline internal let _reverse: Bool

        @inlinable
        internal init(_tree: RadixTree, start: StreamID?, reverse: Bool) {
            self._tree = _tree
            self._start = start
            self._reverse = reverse
        }

        /// An iterator positioned on the first entry of the sequence.
        @inlinable
        public func makeIterator() -> Iterator {
            Iterator(_tree: _tree, start: _start, reverse: _reverse)
        }

        /// The tree's count when the sequence covers the whole tree, otherwise 0.
        @inlinable
        public var underestimatedCount: Int { _start == nil ? _tree.count : 0 }
    }

    /// Iterates over entries in key order (see ``Elements``).
    public struct Iterator: IteratorProtocol {
        @usableFromInline internal let _tree: RadixTree
        /// The path to the current leaf: for each branch node, the index of the child taken.
        @usableFromInline internal var _path: [_RadixFrame]
        /// The leaf to return next, or none when done.
        @usableFromInline internal var _current: _RadixRef
        @usableFromInline internal let _reverse: Bool

        @inlinable
        internal init(_tree: RadixTree, start: StreamID?, reverse: Bool) {
            self._tree = _tree
            self._path = []
            self._current = .none
            self._reverse = reverse
            if _tree._root.isNone { return }
            _path.reserveCapacity(16)
            switch (start, reverse) {
            case (nil, false): _descendLeftmost(_tree._root)
            case (nil, true): _descendRightmost(_tree._root)
            case (let start?, false): _seekForward(_RadixKey.make(start))
            case (let start?, true): _seekBackward(_RadixKey.make(start))
            }
        }

        /// Returns the current entry and moves to the next one.
        @inlinable
        public mutating func next() -> (key: StreamID, value: Value)? {
            guard !_current.isNone else { return nil }
            let leaf = _current.index
            let result = (key: _tree._keys[leaf], value: _tree._values[leaf])
            if _reverse { _retreat() } else { _advance() }
            return result
        }

        @inlinable
        internal mutating func _descendLeftmost(_ ref: _RadixRef) {
            var ref = ref
            while ref.isNode {
                _path.append(_RadixFrame(node: ref.index, index: 0))
                ref = _tree._child(_tree._nodes[ref.index], 0)
            }
            _current = ref
        }

        @inlinable
        internal mutating func _descendRightmost(_ ref: _RadixRef) {
            var ref = ref
            while ref.isNode {
                let node = _tree._nodes[ref.index]
                let last = Int(node.count) &- 1
                _path.append(_RadixFrame(node: ref.index, index: last))
                ref = _tree._child(node, last)
            }
            _current = ref
        }

        /// Moves to the leaf after the subtree at the end of `_path`.
        @inlinable
        internal mutating func _advance() {
            while let frame = _path.last {
                let node = _tree._nodes[Int(frame.node)]
                let next = Int(frame.index) &+ 1
                if next < Int(node.count) {
                    _path[_path.count &- 1].index = UInt32(truncatingIfNeeded: next)
                    _descendLeftmost(_tree._child(node, next))
                    return
                }
                _path.removeLast()
            }
            _current = .none
        }

        /// Moves to the leaf before the subtree at the end of `_path`.
        @inlinable
        internal mutating func _retreat() {
            while let frame = _path.last {
                if frame.index > 0 {
                    let previous = Int(frame.index) &- 1
                    _path[_path.count &- 1].index = UInt32(truncatingIfNeeded: previous)
                    _descendRightmost(_tree._child(_tree._nodes[Int(frame.node)], previous))
                    return
                }
                _path.removeLast()
            }
            _current = .none
        }

        /// Positions on the first leaf `>= key`.
        @inlinable
        internal mutating func _seekForward(_ key: UInt128) {
            var ref = _tree._root
            while ref.isNode {
                let node = _tree._nodes[ref.index]
                let depth = Int(node.depth)
                let head = key & _RadixKey.mask(depth)
                let prefix = node.prefix
                if head != prefix {
                    if head < prefix { _descendLeftmost(ref) } else { _advance() }
                    return
                }
                let label = _RadixKey.byte(key, at: depth)
                let i = _tree._lowerBound(node, label)
                if i == Int(node.count) {
                    _advance()
                    return
                }
                _path.append(_RadixFrame(node: ref.index, index: i))
                ref = _tree._child(node, i)
                if _tree._label(node, i) != label {
                    _descendLeftmost(ref)
                    return
                }
            }
            if _RadixKey.make(_tree._keys[ref.index]) >= key {
                _current = ref
            } else {
                _advance()
            }
        }

        /// Positions on the last leaf `<= key`.
        @inlinable
        internal mutating func _seekBackward(_ key: UInt128) {
            var ref = _tree._root
            while ref.isNode {
                let node = _tree._nodes[ref.index]
                let depth = Int(node.depth)
                let head = key & _RadixKey.mask(depth)
                let prefix = node.prefix
                if head != prefix {
                    if head > prefix { _descendRightmost(ref) } else { _retreat() }
                    return
                }
                let label = _RadixKey.byte(key, at: depth)
                let i = _tree._lowerBound(node, label)
                if i < Int(node.count) && _tree._label(node, i) == label {
                    _path.append(_RadixFrame(node: ref.index, index: i))
                    ref = _tree._child(node, i)
                    continue
                }
                if i == 0 {
                    _retreat()
                    return
                }
                _path.append(_RadixFrame(node: ref.index, index: i &- 1))
                _descendRightmost(_tree._child(node, i &- 1))
                return
            }
            if _RadixKey.make(_tree._keys[ref.index]) <= key {
                _current = ref
            } else {
                _retreat()
            }
        }
    }
}

extension RadixTree.Elements: Sendable where Value: Sendable {}
extension RadixTree.Iterator: Sendable where Value: Sendable {}

/// One step of an iterator's path: a branch node and the index of the child taken.
@usableFromInline
internal struct _RadixFrame: Sendable {
    @usableFromInline internal var node: UInt32
    @usableFromInline internal var index: UInt32

    @inlinable
    internal init(node: Int, index: Int) {
        self.node = UInt32(truncatingIfNeeded: node)
        self.index = UInt32(truncatingIfNeeded: index)
    }
}
