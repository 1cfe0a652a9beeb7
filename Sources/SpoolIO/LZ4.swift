import CLZ4

/// LZ4 block compression (liblz4). Decompression uses `LZ4_decompress_safe` only, so damaged
/// input is an error, never an out-of-bounds write.
public enum LZ4 {
    /// Compresses `source`; returns nil when the output would not be smaller.
    public static func compress(_ source: [UInt8]) -> [UInt8]? {
        let bound = Int(LZ4_compressBound(Int32(source.count)))
        var out = [UInt8](repeating: 0, count: bound)
        let n = source.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                LZ4_compress_default(src.baseAddress?.assumingMemoryBound(to: CChar.self),
                                     dst.baseAddress?.assumingMemoryBound(to: CChar.self),
                                     Int32(source.count), Int32(bound))
            }
        }
        guard n > 0, Int(n) < source.count else { return nil }
        out.removeLast(bound - Int(n))
        return out
    }

    /// Decompresses `source` into the first `rawLength` bytes of `destination` (grown if
    /// needed, never shrunk, so one buffer serves many blocks); false when the data is damaged.
    public static func decompress(_ source: UnsafeRawBufferPointer, rawLength: Int, into destination: inout [UInt8]) -> Bool {
        guard rawLength > 0 else { return source.isEmpty }
        if destination.count < rawLength { destination.append(contentsOf: repeatElement(0, count: rawLength - destination.count)) }
        let n = destination.withUnsafeMutableBytes { dst in
            LZ4_decompress_safe(source.baseAddress?.assumingMemoryBound(to: CChar.self),
                                dst.baseAddress?.assumingMemoryBound(to: CChar.self),
                                Int32(source.count), Int32(rawLength))
        }
        return Int(n) == rawLength
    }

    /// Decompresses `source` into exactly `rawLength` bytes; nil when the data is damaged.
    public static func decompress(_ source: UnsafeRawBufferPointer, rawLength: Int) -> [UInt8]? {
        guard rawLength > 0 else { return source.isEmpty ? [] : nil }
        var out = [UInt8](repeating: 0, count: rawLength)
        let n = out.withUnsafeMutableBytes { dst in
            LZ4_decompress_safe(source.baseAddress?.assumingMemoryBound(to: CChar.self),
                                dst.baseAddress?.assumingMemoryBound(to: CChar.self),
                                Int32(source.count), Int32(rawLength))
        }
        return Int(n) == rawLength ? out : nil
    }
}
