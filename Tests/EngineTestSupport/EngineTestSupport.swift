import TestSupport
import Spool

/// Test helpers that need the engine (`TestSupport` itself needs only the format and I/O
/// layers, so the format, index, I/O and RESP tests build without the engine).

/// Store options for a test: durability `fsync`, `databases` numbered databases.
public func storeOptions(_ fsync: FsyncPolicy, databases: Int = 1) -> StoreOptions {
    var o = StoreOptions()
    o.fsync = fsync
    o.databases = databases
    return o
}
