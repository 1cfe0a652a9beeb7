import Testing
import SpoolFormat
import TestSupport

/// CRC-32C as FORMAT.md "Checksums" defines it: Castagnoli, reflected polynomial 0x82F63B78,
/// initial value 0xFFFFFFFF, final XOR 0xFFFFFFFF.
@Suite struct ChecksumTests {
    /// The check value of the CRC catalogue and the iSCSI vectors of RFC 3720 appendix B.4.
    @Test func knownVectors() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8]()) == 0)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).reversed().map { UInt8($0) }) == 0x113F_DB5C)
        #expect(crc32cReference(Array("123456789".utf8)) == 0xE306_9283)
    }

    /// The C kernel (hardware or sliced tables) agrees with the bit-at-a-time definition at
    /// every length and alignment, and continuing a CRC equals checksumming the concatenation.
    @Test func kernelMatchesTheDefinition() {
        var rng = SeededRNG(seed: 0xC5C)
        let data = (0..<600).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        for start in 0..<9 {
            for length in 0..<(data.count - start) where length < 80 || length % 37 == 0 {
                let slice = Array(data[start..<(start + length)])
                let expected = crc32cReference(slice)
                let got = data.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[start..<(start + length)])) }
                #expect(got == expected, "start \(start) length \(length)")
                let split = rng.int(0...length)
                let continued = CRC32C.checksum(Array(slice[split...]), continuing: CRC32C.checksum(Array(slice[..<split])))
                #expect(continued == expected)
            }
        }
    }
}
