import SpoolFormat

extension RadixTree: CustomStringConvertible {
    /// The entries in key order, as `[ms-seq: value, ...]`.
    public var description: String {
        var result = "["
        var first = true
        for (key, value) in elements {
            if !first { result += ", " }
            first = false
            result += "\(key): \(value)"
        }
        return result + (first ? ":]" : "]")
    }
}

extension RadixTree: CustomDebugStringConvertible {
    /// A one-line summary with the arena sizes.
    public var debugDescription: String {
        "RadixTree(count: \(count), nodes: \(nodeCount), arena: \(_nodes.count) nodes, "
            + "\(_slots.count) child slots, \(memoryFootprint) bytes)"
    }
}

extension RadixTree {
    /// The logical shape of the tree, one line per branch or leaf, indented by level, without
    /// arena indices: two trees holding the same keys have the same shape whatever the history
    /// of insertions and removals that built them.
    public func _shape() -> String {
        var lines: [String] = []
        func prefixHex(_ prefix: UInt128, _ depth: Int) -> String {
            (0..<depth).map { hex(_RadixKey.byte(prefix, at: $0)) }.joined()
        }
        func visit(_ ref: _RadixRef, _ level: Int, _ label: String) {
            let indent = String(repeating: "  ", count: level)
            if ref.isLeaf {
                lines.append("\(indent)\(label)leaf \(_keys[ref.index])")
                return
            }
            let node = _nodes[ref.index]
            let depth = Int(node.depth)
            lines.append("\(indent)\(label)branch @\(depth) prefix \(prefixHex(node.prefix, depth))")
            for i in 0..<Int(node.count) {
                visit(_child(node, i), level + 1, "\(hex(_label(node, i))): ")
            }
        }
        if !_root.isNone { visit(_root, 0, "") }
        return lines.joined(separator: "\n")
    }

    /// The full structure including arena indices, slab locations and free lists.
    public func _dump() -> String {
        var lines: [String] = [debugDescription]
        func visit(_ ref: _RadixRef, _ level: Int, _ label: String) {
            let indent = String(repeating: "  ", count: level)
            if ref.isLeaf {
                lines.append("\(indent)\(label)leaf #\(ref.index) \(_keys[ref.index]): \(_values[ref.index])")
                return
            }
            let node = _nodes[ref.index]
            let depth = Int(node.depth)
            let prefix = (0..<depth).map { hex(_RadixKey.byte(node.prefix, at: $0)) }.joined()
            lines.append(
                "\(indent)\(label)node #\(ref.index) depth \(depth) prefix \(prefix) "
                    + "slab \(node.slab) (\(node.count)/\(node.capacity))")
            for i in 0..<Int(node.count) {
                visit(_child(node, i), level + 1, "\(hex(_label(node, i))): ")
            }
        }
        if _root.isNone { lines.append("(empty)") } else { visit(_root, 0, "") }
        var freeNodes: [Int] = []
        var link = _freeNode
        while link != _RadixRef.noneRaw, freeNodes.count <= _nodes.count {
            freeNodes.append(Int(link))
            link = _nodes[Int(link)].slab
        }
        lines.append("free nodes: \(freeNodes)")
        for sizeClass in 0..<_RadixFreeSlabs.classCount {
            var offsets: [Int] = []
            var link = _freeSlabs[sizeClass]
            while link != _RadixRef.noneRaw, offsets.count <= _slots.count {
                offsets.append(Int(link))
                link = _slots[Int(link)].raw
            }
            if !offsets.isEmpty { lines.append("free slabs of \(2 << sizeClass): \(offsets)") }
        }
        return lines.joined(separator: "\n")
    }
}

/// Two lowercase hex digits.
private func hex(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
}
