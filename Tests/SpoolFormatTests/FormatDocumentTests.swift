import Testing
import SpoolFormat
import SpoolIO
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// FORMAT.md's worked examples are checked here byte for byte, so the document and the code
/// cannot drift: the hex is parsed out of FORMAT.md itself at test time.
///
/// To regenerate the annotated blocks after a deliberate format change, run
/// `SPOOL_FORMAT_EXAMPLES_OUT=/tmp/examples.md swift test --filter SpoolFormatTests` and paste
/// the blocks written there into FORMAT.md.
@Suite struct FormatDocumentTests {
    static func document() throws -> String {
        let path = FormatExamples.formatDocumentPath()
        let bytes = try #require(readWholeFile(path), "cannot read \(path)")
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test(arguments: FormatExamples.names)
    func documentHexMatchesTheEncoders(name: String) throws {
        let doc = try Self.document()
        let lines = try #require(FormatExamples.block(named: name, in: doc), "FORMAT.md has no ```hex \(name) block")
        let documented = try FormatExamples.parseHex(lines)
        let real = FormatExamples.real(name)
        #expect(documented.count == real.count, "example \(name): FORMAT.md shows \(documented.count) bytes, the encoders make \(real.count)")
        if let i = (0..<min(documented.count, real.count)).first(where: { documented[$0] != real[$0] }) {
            Issue.record("example \(name): first difference at offset 0x\(String(i, radix: 16)): FORMAT.md has \(String(format2hex: documented[i])), the encoders \(String(format2hex: real[i]))")
        }
    }

    /// The annotating writer follows FORMAT.md's grammar and tables, not the encoders: that
    /// it makes the same bytes is a second, independent check of the specification.
    @Test(arguments: FormatExamples.names)
    func specificationWriterMatchesTheEncoders(name: String) {
        #expect(FormatExamples.annotated(name).bytes == FormatExamples.real(name))
    }

    @Test func exampleSegmentDecodes() throws {
        let seg = FormatExamples.realSegment()
        let file = "0000000000000001.seg"
        try seg.withUnsafeBytes { (b: UnsafeRawBufferPointer) throws -> Void in
            #expect(try SegmentFormat.decodeHeader(b, file: file) == 1)
            let footer = try #require(try SegmentFormat.decodeFooter(b, file: file))
            #expect(footer.entries.count == 2)
            for (i, f) in footer.entries.enumerated() {
                let frame = UnsafeRawBufferPointer(rebasing: b[Int(f.offset)..<(Int(f.offset) + Int(f.frameLength))])
                let h = try SegmentFormat.BlockHeader.decode(frame, file: file, offset: f.offset)
                #expect(h.codec == (i == 0 ? .none : .lz4), "block \(i + 1) codec")
                let stored = UnsafeRawBufferPointer(rebasing: frame[SegmentFormat.blockHeaderSize...])
                #expect(CRC32C.checksum(stored) == h.payloadCRC)
                let raw = h.codec == .none ? Array(stored) : try #require(LZ4.decompress(stored, rawLength: Int(h.rawLength)))
                let entries = try raw.withBytes { (r) throws(FormatError) in
                    try BlockCodec.decode(r, count: Int(h.count), firstID: h.firstID, file: file)
                }
                #expect(entries == FormatExamples.blocks[i].0)
            }
        }
    }

    @Test func exampleJournalDecodes() throws {
        let j = FormatExamples.realJournal()
        var records: [JournalFormat.Record] = []
        try j.withUnsafeBytes { (b: UnsafeRawBufferPointer) throws -> Void in
            #expect(try JournalFormat.decodeHeader(b, file: "j") == FormatExamples.journalGeneration)
            var at = JournalFormat.headerSize
            while case .record(let r, let next) = JournalFormat.read(b, at: at, file: "j") {
                records.append(r)
                at = next
            }
            #expect(at == b.count)
        }
        #expect(records == FormatExamples.journalRecords)
    }

    @Test func formatDocumentNamesTheExamplesItShows() throws {
        let doc = try Self.document()
        for name in FormatExamples.names {
            #expect(FormatExamples.block(named: name, in: doc) != nil, "missing ```hex \(name)")
        }
    }

    /// The store journal example reads back as its records, keyed by their streams, and the
    /// group checkpoint example as its state.
    @Test func exampleStoreJournalAndGroupCheckpointDecode() throws {
        let bytes = FormatExamples.realStoreJournal()
        let scan = bytes.withUnsafeBytes { StoreJournalScan.scan($0, path: "j", relativePath: "j", number: FormatExamples.storeJournalNumber) }
        #expect(scan.headerError == nil && scan.tail == nil && scan.validEnd == bytes.count)
        #expect(scan.items.map(\.record.key) == FormatExamples.storeJournalRecords.map(\.0))
        #expect(scan.items.map(\.record.record) == FormatExamples.storeJournalRecords.map(\.1))
        let cp = try FormatExamples.groupCheckpoint.encode().withBytes { (b) throws(FormatError) in try GroupCheckpoint.decode(b, file: "groups") }
        #expect(cp == FormatExamples.groupCheckpoint)
        #expect(cp.journalPosition == JournalPosition(file: FormatExamples.storeJournalNumber, offset: UInt64(bytes.count)))
    }

    /// Writes the annotated blocks when `SPOOL_FORMAT_EXAMPLES_OUT` names a file.
    @Test func writeAnnotatedExamplesWhenAsked() throws {
        guard let out = getenv("SPOOL_FORMAT_EXAMPLES_OUT").map({ String(cString: $0) }) else { return }
        var text = ""
        for name in FormatExamples.names {
            text += "```hex \(name)\n" + FormatExamples.annotated(name).text + "```\n\n"
        }
        let fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        try #require(fd >= 0)
        defer { close(fd) }
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }
}

/// The whole file at `path`, or nil.
func readWholeFile(_ path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 { return nil }
        if n == 0 { return out }
        out += buffer[0..<n]
    }
}
