import SpoolFormat

extension RadixTree {
    /// Removes `key` and its value from the tree.
    ///
    /// - Returns: the removed value, or nil if the tree did not contain `key`.
    @inlinable
    @discardableResult
    public mutating func removeValue(forKey key: StreamID) -> Value? {
        if _root.isNone { return nil }
        let k = _RadixKey.make(key)
        // The slot holding `ref` (slot `slotIndex` of node `holder`, -1 for the root), and the
        // slot holding `holder` itself.
        var holder = -1
        var slotIndex = 0
        var parentHolder = -1
        var parentIndex = 0
        var ref = _root
        while ref.isNode {
            let node = _nodes[ref.index]
            guard let i = _childIndex(node, _RadixKey.byte(k, at: Int(node.depth))) else { return nil }
            parentHolder = holder
            parentIndex = slotIndex
            holder = ref.index
            slotIndex = i
            ref = _child(node, i)
        }
        let leaf = ref.index
        guard _keys[leaf] == key else { return nil }
        if holder < 0 {
            _root = .none
        } else {
            _removeChild(node: holder, at: slotIndex)
            let node = _nodes[holder]
            if node.count == 1 {
                // A branch with a single child is compressed away: the child takes its place.
                // Prefixes are stored in full, so the child needs no adjustment.
                _setSlot(holder: parentHolder, index: parentIndex, _child(node, 0))
                _releaseNode(holder)
            }
        }
        return _removeLeaf(at: leaf)
    }

    /// Removes every key, releasing the storage.
    @inlinable
    public mutating func removeAll() {
        self = RadixTree()
    }
}
