import Capture
import Output

/// Why a replay stopped before the end of its input.
package enum ReplayError: Error, CustomStringConvertible {
    /// The capture could not be opened or read; flows seen before are already written.
    case input(CaptureError)
    /// Output could not be written.
    case output(OutputError)

    package var description: String {
        switch self {
        case .input(let error): error.description
        case .output(let error): error.description
        }
    }
}

/// Reads a capture file to its end through a `FlowProcessor`.
package enum Replay {
    /// Replays every record of `reader` (those `filter` accepts) and finishes the processor.
    /// On a read error mid-file, every flow seen so far is still written, with a final
    /// `stats` record naming the error, and then the error is thrown.
    package static func run(_ reader: CaptureFileReader, filter: PacketFilter?, into processor: FlowProcessor)
        throws(ReplayError)
    {
        let inputError: CaptureError?
        do {
            inputError = try self.read(reader, filter: filter, filteredOut: processor.countFilteredOut) { packet throws(OutputError) in
                try processor.process(packet)
            } batchEnd: { false }
            try processor.finish(inputError: inputError?.description)
        } catch {
            throw .output(error)
        }
        if let inputError { throw .input(inputError) }
    }

    /// Replays through the worker pipeline: this thread reads and dispatches, the workers
    /// track flows; the output is the same as a single pass's. Same error behaviour as above.
    ///
    /// Every 256 records, reading stops early when an output has failed (its error is thrown
    /// at the end, without reading the rest of the file) or when `stop` gives a reason (a
    /// signal): then every connection seen so far is written, the `stats` record carries the
    /// reason as `capture.error`, and the reason is returned.
    @discardableResult
    package static func run(_ reader: CaptureFileReader, filter: PacketFilter?, into pipeline: Pipeline,
                           stop: () -> String? = { nil }) throws(ReplayError) -> String?
    {
        var stopReason: String?
        let inputError: CaptureError?
        do {
            inputError = try self.read(reader, filter: filter, filteredOut: pipeline.countFilteredOut) { packet throws(OutputError) in
                pipeline.submit(packet)
            } batchEnd: {
                pipeline.publish()
                if pipeline.outputFailed { return true }
                stopReason = stop()
                return stopReason != nil
            }
            try pipeline.finish(inputError: stopReason ?? inputError?.description)
        } catch {
            throw .output(error)
        }
        if stopReason == nil, let inputError { throw .input(inputError) }
        return stopReason
    }

    /// Reads every record, filters, and hands each packet to `body`; `batchEnd` runs every 256
    /// records (the pipeline publishes its rings then) and returns true to stop reading.
    /// Returns the read error that ended the file early, if any.
    static func read(_ reader: CaptureFileReader, filter: PacketFilter?, filteredOut: () -> Void,
                     _ body: (CapturedPacket) throws(OutputError) -> Void, batchEnd: () -> Bool)
        throws(OutputError) -> CaptureError?
    {
        var batch = 0
        while true {
            let next: CapturedPacket?
            do {
                next = try reader.next()
            } catch {
                return error
            }
            guard let packet = next else { return nil }
            if let filter, !filter.matches(packet) {
                filteredOut()
            } else {
                try body(packet)
            }
            batch += 1
            if batch == 256 {
                if batchEnd() { return nil }
                batch = 0
            }
        }
    }
}
