import NIOCore

extension RESPEncoder {
    /// Writes a bulk string of `bytes`: the `[UInt8]` form of ``writeBulk(bytes:into:)``, so
    /// that callers in other modules (a client encoding thousands of arguments per pipeline)
    /// reach it without generic dispatch.
    public static func writeBulk(bytes: [UInt8], into buffer: inout ByteBuffer) {
        writeHeader(UInt8(ascii: "$"), Int64(bytes.count), into: &buffer)
        buffer.writeBytes(bytes)
        buffer.writeStaticString("\r\n")
    }
}
