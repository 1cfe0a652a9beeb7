import NIOCore

/// Collects what the connections of one event loop hand the executor during one turn of the
/// loop, and posts it in one go at the end of that turn: one inbox lock and at most one wake-up
/// of the executor per turn, instead of one per connection read (with 50 clients at pipeline 1,
/// a turn reads from many sockets, and each post used to wake the executor for a round of one
/// command). Order is kept: a connection's connect, inputs and disconnect are posted in the
/// order they happened.
///
/// `@unchecked Sendable`: `jobs` and `scheduled` are touched only on `loop` (every method asserts
/// it); the executor receives the jobs as a value.
final class LoopBatcher: @unchecked Sendable {
    private let loop: any EventLoop
    private let executor: CommandExecutor
    private var jobs: [CommandExecutor.Job] = []
    private var scheduled = false

    init(loop: any EventLoop, executor: CommandExecutor) {
        self.loop = loop
        self.executor = executor
    }

    /// Queues `job` for the end of this turn of the loop.
    func post(_ job: CommandExecutor.Job) {
        loop.assertInEventLoop()
        jobs.append(job)
        guard !scheduled else { return }
        scheduled = true
        // Tasks queued from the loop run after the I/O events of the current turn.
        loop.execute { [self] in flush() }
    }

    private func flush() {
        loop.assertInEventLoop()
        scheduled = false
        let posted = jobs
        jobs = []
        executor.submit(posted)
    }
}
