#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SystemPackage

/// Whole-file and directory operations used by the engine and the tools.
public enum FileSystem {
    /// Reads a whole file with pread.
    public static func readFile(_ path: String) throws(IOError) -> [UInt8] {
        let fd: Int32
        switch system_open(path, O_RDONLY | O_CLOEXEC, 0) {
        case .success(let f): fd = f
        case .failure(let e): throw IOError("open", path, e)
        }
        defer { system_close(fd) }
        let size: Int64
        switch system_fileSize(fd, path: path) {
        case .success(let n): size = n
        case .failure(let e): throw IOError("fstat", path, e)
        }
        var out = [UInt8](repeating: 0, count: Int(size))
        var done = 0
        while done < out.count {
            let r = out.withUnsafeMutableBytes { buf in
                system_pread(fd, UnsafeMutableRawBufferPointer(rebasing: buf[done...]), Int64(done), path: path)
            }
            switch r {
            case .success(0): out.removeLast(out.count - done)
            case .success(let n): done += n
            case .failure(let e): throw IOError("pread", path, e)
            }
        }
        return out
    }

    /// True when `path` exists.
    public static func exists(_ path: String) -> Bool {
        if case .success = system_stat(path) { return true }
        return false
    }

    /// True when `path` is a directory.
    public static func isDirectory(_ path: String) -> Bool {
        if case .success(let s) = system_stat(path) { return s.isDirectory }
        return false
    }

    /// Size of the file at `path`.
    public static func fileSize(_ path: String) throws(IOError) -> Int64 {
        switch system_stat(path) {
        case .success(let s): return s.size
        case .failure(let e): throw IOError("stat", path, e)
        }
    }

    /// Names in a directory (without `.` and `..`), sorted.
    public static func list(_ path: String) throws(IOError) -> [String] {
        switch system_listDirectory(path) {
        case .success(let names): return names.sorted()
        case .failure(let e): throw IOError("opendir", path, e)
        }
    }

    /// Creates a directory (and its parents); succeeds if it exists.
    public static func makeDirectory(_ path: String) throws(IOError) {
        if isDirectory(path) { return }
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            try makeDirectory(String(path[..<slash]))
        }
        switch system_mkdir(path) {
        case .success: return
        case .failure(let e) where e == .fileExists: return
        case .failure(let e): throw IOError("mkdir", path, e)
        }
    }

    /// fsyncs a directory so that entries created or renamed in it are durable.
    public static func syncDirectory(_ path: String) throws(IOError) {
        let fd: Int32
        switch system_open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0) {
        case .success(let f): fd = f
        case .failure(let e): throw IOError("open", path, e)
        }
        defer { system_close(fd) }
        if case .failure(let e) = system_fsync(fd, path: path) { throw IOError("fsync", path, e) }
    }

    /// Writes `bytes` to a new file `path` (replacing it), fdatasynced when `sync`.
    public static func writeFile(_ path: String, _ bytes: [UInt8], sync: Bool) throws(IOError) {
        let file = try AppendFile(creating: path, truncate: true)
        defer { file.close() }
        try file.append(bytes)
        if sync { try file.sync() }
    }

    /// Writes `bytes` to `path` atomically: temp file, fdatasync, rename, fsync of the directory.
    public static func writeAtomically(_ path: String, _ bytes: [UInt8]) throws(IOError) {
        let tmp = path + ".tmp"
        let file = try AppendFile(creating: tmp, truncate: true)
        do {
            try file.append(bytes)
            try file.sync()
        } catch {
            file.close()
            _ = system_unlink(tmp)
            throw error
        }
        file.close()
        if case .failure(let e) = system_rename(tmp, path) {
            _ = system_unlink(tmp)
            throw IOError("rename", path, e)
        }
        try syncDirectory(parent(of: path))
    }

    /// Removes a file; succeeds if it does not exist.
    public static func removeFile(_ path: String) throws(IOError) {
        switch system_unlink(path) {
        case .success: return
        case .failure(let e) where e == .noSuchFileOrDirectory: return
        case .failure(let e): throw IOError("unlink", path, e)
        }
    }

    /// Removes a directory tree.
    public static func removeTree(_ path: String) throws(IOError) {
        guard isDirectory(path) else { try removeFile(path); return }
        for name in try list(path) { try removeTree(path + "/" + name) }
        if case .failure(let e) = system_rmdir(path), e != .noSuchFileOrDirectory { throw IOError("rmdir", path, e) }
    }

    /// Renames `from` to `to`, replacing `to`.
    public static func rename(_ from: String, _ to: String) throws(IOError) {
        if case .failure(let e) = system_rename(from, to) { throw IOError("rename", from + " -> " + to, e) }
    }

    /// Hard-links `from` as `to` (immutable files shared by copies).
    public static func hardLink(_ from: String, _ to: String) throws(IOError) {
        if case .failure(let e) = system_link(from, to) { throw IOError("link", to, e) }
    }

    /// The directory part of `path`.
    public static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Bytes of anonymous resident memory of this process (RssAnon from /proc/self/status), or nil.
    public static func residentAnonymousBytes() -> Int? {
        guard let bytes = try? readFile("/proc/self/status"), let text = String(validating: bytes, as: UTF8.self) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("RssAnon:") {
            let digits = line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
            return digits.map { $0 * 1024 }
        }
        return nil
    }
}
