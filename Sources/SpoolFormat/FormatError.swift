/// A file whose bytes do not follow FORMAT.md: names the file, the byte offset and what is wrong.
public struct FormatError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Path of the file (or a label such as "<memory>" for in-memory decoding).
    public var file: String
    /// Byte offset in the file where the problem was found.
    public var offset: UInt64
    /// What is wrong, in words.
    public var reason: String

    /// Creates an error for `file` at `offset`.
    public init(file: String, offset: UInt64, _ reason: String) {
        self.file = file
        self.offset = offset
        self.reason = reason
    }

    public var description: String { "\(file): offset \(offset): \(reason)" }
}
