public import SpoolFormat
public import SpoolIO

/// Errors of the Spool library.
///
/// `.command` errors carry Redis's exact error text (the part after `-` in RESP, with its
/// prefix such as `ERR` or `NOGROUP`); they mean the input was rejected and nothing changed.
public enum SpoolError: Error, Sendable, CustomStringConvertible, Equatable {
    /// Bad input: Redis's error reply text, e.g. `ERR The ID specified in XADD is equal or smaller than the target stream top item`.
    case command(String)
    /// A file is damaged: its path, offset and what is wrong.
    case corrupt(FormatError)
    /// A system call failed (ENOSPC, EIO, …).
    case io(IOError)
    /// The data directory is locked by another process.
    case locked(String)
    /// The store or stream was closed or deleted.
    case closed(String)

    public var description: String {
        switch self {
        case .command(let s): s
        case .corrupt(let f): "corrupt data: \(f)"
        case .io(let e): "I/O error: \(e)"
        case .locked(let s): s
        case .closed(let s): s
        }
    }

    /// The text a Redis client should see (after the `-`).
    public var redisMessage: String {
        switch self {
        case .command(let s): s
        case .corrupt(let f): "ERR corrupt data in \(f.file) at offset \(f.offset): \(f.reason)"
        case .io(let e): "ERR I/O error: \(e)"
        case .locked(let s): "ERR \(s)"
        case .closed(let s): "ERR \(s)"
        }
    }

    // Redis error texts used by the library.
    static let invalidID = SpoolError.command("ERR Invalid stream ID specified as stream command argument")
    static let xaddZero = SpoolError.command("ERR The ID specified in XADD must be greater than 0-0")
    static let xaddSmaller = SpoolError.command("ERR The ID specified in XADD is equal or smaller than the target stream top item")
    static let exhausted = SpoolError.command("ERR The stream has exhausted the last possible ID, unable to add more items")
    static let noSuchKey = SpoolError.command("ERR no such key")
}

extension FormatError {
    var spool: SpoolError { .corrupt(self) }
}

extension IOError {
    var spool: SpoolError { .io(self) }
}
