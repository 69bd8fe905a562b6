import Output

extension Pipeline {
    /// Whether writing an output failed (disk full, a reader gone): the writer has stopped, so
    /// reading on is pointless; `finish` throws the error.
    public var outputFailed: Bool {
        self.merger.lock.lock()
        defer { self.merger.lock.unlock() }
        return self.merger.error != nil
    }

    /// Writes the lines gathered so far to every output now (the records of connections that
    /// already ended), instead of when the buffer fills or the next `stats` record is due.
    public func flushOutputs() throws(OutputError) {
        self.merger.lock.lock()
        defer { self.merger.lock.unlock() }
        if let error = self.merger.error { throw error }
        try self.output.flush()
        try self.hubble?.flush()
        try self.merger.alerts?.flush()
    }
}
