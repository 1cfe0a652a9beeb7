import CSpoolLinux

/// CRC-32C (Castagnoli), the one checksum of every Spool file. See FORMAT.md "Checksums".
public enum CRC32C {
    /// The CRC-32C of `bytes`, continuing from `crc` (start with 0).
    @inlinable
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return crc }
        return cspool_crc32c(crc, base, bytes.count)
    }

    /// The CRC-32C of `bytes`, continuing from `crc` (start with 0).
    @inlinable
    public static func checksum(_ bytes: [UInt8], continuing crc: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, continuing: crc) }
    }

    /// The CRC-32C of `bytes[range]`.
    @inlinable
    public static func checksum(_ bytes: [UInt8], range: Range<Int>, continuing crc: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0.checkedSlice(range), continuing: crc) }
    }
}
