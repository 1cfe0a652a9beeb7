import SpoolFormat

/// An ordered map from ``StreamID`` to `Value`, stored as a path-compressed radix tree over the
/// 16-byte big-endian encoding of the key (`ms` then `seq`), so that byte order is ID order.
///
/// Spool uses it to index the blocks of a stream (one key per block, the block's first entry ID),
/// so it is tuned for a few hundred thousand keys: little memory per key, ordered lookups
/// (``floor(_:)``, ``ceiling(_:)``, ``successor(of:)``, ``predecessor(of:)``), ordered iteration
/// from any position, and a fast bulk load (``init(sortedUniqueElements:)``) at open time.
///
/// `RadixTree` has value semantics. Copying a tree is O(1); the copies share storage until one
/// of them is mutated (copy-on-write).
///
/// ## Representation
///
/// There is no class per node. Everything lives in a handful of arrays (the *arena*), addressed
/// by `UInt32` indices:
///
/// - **Branch nodes** (`_nodes`) hold the key bytes leading to them (`prefix`, the first `depth`
///   bytes of every key below them), the byte position `depth` at which their children differ,
///   and the location of their child list. A branch always has at least two children, so chains
///   of single-child nodes never exist: that is the path compression. The compressed segment of a
///   node is the part of its prefix below its parent's branching byte. Freed nodes go on a free
///   list and are reused.
/// - **Child lists** live in a shared pool (`_labels`, the distinguishing byte of each child, and
///   `_slots`, a reference to each child), in slabs whose capacity is a power of two from 2 to 256.
///   A node's children are sorted by label. Freed slabs go on a free list per capacity.
/// - **Leaves** are not nodes: a child reference tagged as a leaf points into `_keys` / `_values`,
///   which hold the full key and the value. Leaves are kept dense (removing one moves the last
///   leaf into the hole), so no value slot is ever empty.
///
/// Each key costs its 16-byte key, its value and a 5-byte child entry, plus the share of the
/// branch nodes above it (24 bytes each, fewer than one per key).
public struct RadixTree<Value> {
    /// Branch nodes; free ones are chained through `slab` and have `count == 0`.
    @usableFromInline internal var _nodes: [_RadixNode]
    /// Child labels, parallel to `_slots`.
    @usableFromInline internal var _labels: [UInt8]
    /// Child references, in slabs; the first slot of a free slab links to the next free slab.
    @usableFromInline internal var _slots: [_RadixRef]
    /// Full key of each leaf.
    @usableFromInline internal var _keys: [StreamID]
    /// Value of each leaf, parallel to `_keys`.
    @usableFromInline internal var _values: [Value]
    /// The root: none, a single leaf, or a branch node.
    @usableFromInline internal var _root: _RadixRef
    /// Head of the free-node list, or `_RadixRef.noneRaw`.
    @usableFromInline internal var _freeNode: UInt32
    /// Heads of the free-slab lists, one per size class.
    @usableFromInline internal var _freeSlabs: _RadixFreeSlabs
    /// Number of live branch nodes.
    @usableFromInline internal var _nodeCount: Int

    /// Creates an empty tree.
    @inlinable
    public init() {
        _nodes = []
        _labels = []
        _slots = []
        _keys = []
        _values = []
        _root = .none
        _freeNode = _RadixRef.noneRaw
        _freeSlabs = _RadixFreeSlabs()
        _nodeCount = 0
    }
}

extension RadixTree: Sendable where Value: Sendable {}

extension RadixTree {
    /// The number of keys in the tree. O(1).
    @inlinable
    public var count: Int { _keys.count }

    /// Whether the tree holds no key. O(1).
    @inlinable
    public var isEmpty: Bool { _keys.isEmpty }

    /// The number of branch (inner) nodes, as reported for `radix-tree-nodes`. Leaves are stored
    /// inline in their parent's child list and are not counted. O(1).
    @inlinable
    public var nodeCount: Int { _nodeCount }

    /// Approximate number of bytes allocated for the tree's arenas (their capacity, not just the
    /// part in use), for `INFO memory`-style reporting. Storage shared with a copy of the tree is
    /// counted by both. O(1).
    @inlinable
    public var memoryFootprint: Int {
        _nodes.capacity * MemoryLayout<_RadixNode>.stride
            + _labels.capacity
            + _slots.capacity * MemoryLayout<_RadixRef>.stride
            + _keys.capacity * MemoryLayout<StreamID>.stride
            + _values.capacity * MemoryLayout<Value>.stride
            + MemoryLayout<Self>.size
    }
}

// MARK: - Building blocks

/// A reference to a child: a branch node index, a leaf index (tagged with the high bit), or none.
@usableFromInline
internal struct _RadixRef: Equatable, Sendable {
    @usableFromInline internal var raw: UInt32

    @inlinable @inline(__always)
    internal init(raw: UInt32) { self.raw = raw }

    /// The raw value of `none`; also the end marker of free lists.
    @inlinable @inline(__always)
    internal static var noneRaw: UInt32 { .max }

    /// Tag bit marking a leaf reference.
    @inlinable @inline(__always)
    internal static var leafTag: UInt32 { 0x8000_0000 }

    /// The most leaves (and the most nodes) a tree can hold.
    @inlinable @inline(__always)
    internal static var maxIndex: Int { 0x7FFF_FFFE }

    /// No child.
    @inlinable @inline(__always)
    internal static var none: _RadixRef { _RadixRef(raw: noneRaw) }

    /// A reference to leaf `index`.
    @inlinable @inline(__always)
    internal static func leaf(_ index: Int) -> _RadixRef {
        _RadixRef(raw: leafTag | UInt32(truncatingIfNeeded: index))
    }

    /// A reference to branch node `index`.
    @inlinable @inline(__always)
    internal static func node(_ index: Int) -> _RadixRef {
        _RadixRef(raw: UInt32(truncatingIfNeeded: index))
    }

    @inlinable @inline(__always)
    internal var isNone: Bool { raw == _RadixRef.noneRaw }

    @inlinable @inline(__always)
    internal var isNode: Bool { raw & _RadixRef.leafTag == 0 }

    @inlinable @inline(__always)
    internal var isLeaf: Bool { raw & _RadixRef.leafTag != 0 && raw != _RadixRef.noneRaw }

    /// The node or leaf index (meaningless for `none`).
    @inlinable @inline(__always)
    internal var index: Int { Int(raw & ~_RadixRef.leafTag) }
}

/// A branch node: 24 bytes.
@usableFromInline
internal struct _RadixNode: Sendable {
    /// First 8 bytes of the prefix (big-endian).
    @usableFromInline internal var prefixHigh: UInt64
    /// Last 8 bytes of the prefix (big-endian). Bytes at or after `depth` are zero.
    @usableFromInline internal var prefixLow: UInt64
    /// Offset of the child slab in the pool; the next free node when the node is free.
    @usableFromInline internal var slab: UInt32
    /// Number of children (2...256); 0 when the node is free.
    @usableFromInline internal var count: UInt16
    /// The slab holds `2 << sizeClass` children.
    @usableFromInline internal var sizeClass: UInt8
    /// Index of the key byte on which the children differ (0...15).
    @usableFromInline internal var depth: UInt8

    @inlinable
    internal init(depth: Int, prefix: UInt128, slab: Int, count: Int, sizeClass: Int) {
        self.prefixHigh = UInt64(truncatingIfNeeded: prefix &>> 64)
        self.prefixLow = UInt64(truncatingIfNeeded: prefix)
        self.slab = UInt32(truncatingIfNeeded: slab)
        self.count = UInt16(truncatingIfNeeded: count)
        self.sizeClass = UInt8(truncatingIfNeeded: sizeClass)
        self.depth = UInt8(truncatingIfNeeded: depth)
    }

    /// A free node linking to `next`.
    @inlinable
    internal init(freeLink next: UInt32) {
        prefixHigh = 0
        prefixLow = 0
        slab = next
        count = 0
        sizeClass = 0
        depth = 0
    }

    /// The first `depth` key bytes shared by every key below this node, as a 128-bit integer
    /// (the remaining bytes are zero).
    @inlinable @inline(__always)
    internal var prefix: UInt128 { UInt128(prefixHigh) &<< 64 | UInt128(prefixLow) }

    /// The slab capacity.
    @inlinable @inline(__always)
    internal var capacity: Int { 2 &<< Int(sizeClass) }
}

/// Heads of the per-size-class free lists of child slabs (capacities 2, 4, ..., 256).
@usableFromInline
internal struct _RadixFreeSlabs: Sendable {
    @usableFromInline internal var heads: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32)

    @inlinable
    internal init() {
        let none = _RadixRef.noneRaw
        heads = (none, none, none, none, none, none, none, none)
    }

    /// Number of size classes.
    @inlinable @inline(__always)
    internal static var classCount: Int { 8 }

    @inlinable
    internal subscript(sizeClass: Int) -> UInt32 {
        get {
            switch sizeClass {
            case 0: return heads.0
            case 1: return heads.1
            case 2: return heads.2
            case 3: return heads.3
            case 4: return heads.4
            case 5: return heads.5
            case 6: return heads.6
            default: return heads.7
            }
        }
        set {
            switch sizeClass {
            case 0: heads.0 = newValue
            case 1: heads.1 = newValue
            case 2: heads.2 = newValue
            case 3: heads.3 = newValue
            case 4: heads.4 = newValue
            case 5: heads.5 = newValue
            case 6: heads.6 = newValue
            default: heads.7 = newValue
            }
        }
    }
}

/// Arithmetic on keys as 128-bit big-endian integers.
@usableFromInline
internal enum _RadixKey {
    /// The key of `id`: `ms` in the high 64 bits, `seq` in the low 64 bits.
    @inlinable @inline(__always)
    internal static func make(_ id: StreamID) -> UInt128 {
        UInt128(id.ms) &<< 64 | UInt128(id.seq)
    }

    /// Byte `depth` (0 = most significant) of `key`.
    @inlinable @inline(__always)
    internal static func byte(_ key: UInt128, at depth: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: key &>> ((15 &- depth) &* 8))
    }

    /// A mask keeping the first `depth` bytes (0...16).
    @inlinable @inline(__always)
    internal static func mask(_ depth: Int) -> UInt128 {
        depth == 0 ? 0 : UInt128.max &<< ((16 &- depth) &* 8)
    }

    /// Index of the first byte where `a` and `b` differ; 16 if they are equal.
    @inlinable @inline(__always)
    internal static func firstDifference(_ a: UInt128, _ b: UInt128) -> Int {
        (a ^ b).leadingZeroBitCount &>> 3
    }
}
