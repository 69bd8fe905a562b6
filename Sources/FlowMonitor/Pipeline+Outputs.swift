import Output

extension Pipeline {
    /// Whether writing an output failed (disk full, a reader gone): the writer has stopped, so
    /// reading on is pointless; `finish` throws the error.
    package var outputFailed: Bool { self.merger.failure != nil }

    /// Writes the lines gathered so far to every output now (the records of connections that
    /// already ended), instead of when the buffer fills or the next `stats` record is due.
    package func flushOutputs() throws(OutputError) { try self.merger.flush() }
}
