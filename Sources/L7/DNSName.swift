import FlowCore

/// A domain name inside a DNS message (RFC 1035 §3.1, §4.1.4): where its encoding starts in
/// the message, read on demand. Only `DNSMessage` makes them, from names it has validated, so
/// reading one cannot fail; the readers still check every byte (they stop at anything the
/// validation would have refused) so that no input can make them trap.
///
/// Compression pointers are followed only strictly backwards: a pointer must point before the
/// start of the run of labels that led to it (the name's start, or the previous pointer's
/// target), and after the header. Every loop, and every pointer into its own name, breaks that
/// rule, so each jump goes to a smaller offset and reading ends; `maxPointers` bounds chains.
public struct DNSName {
    /// The most compression pointers one name may follow: one per label of the longest name
    /// (127 one-byte labels in 255 octets), plus one.
    public static let maxPointers = 128
    /// The longest name in wire form, length bytes and the root's zero included (RFC 1035 §2.3.4).
    public static let maxWireLength = 255

    let message: PacketBytes
    /// Where the name starts in the message.
    public let offset: Int

    init(message: PacketBytes, offset: Int) {
        self.message = message
        self.offset = offset
    }

    /// One step of reading a name: a label, the root, or a pointer to follow.
    enum Step {
        case label(start: Int, count: Int)
        case root
        case pointer(target: Int)
        case failure(DNSParseError)
    }

    /// What the byte at `position` starts, in a run of labels that began at `runStart`.
    static func step(_ message: PacketBytes, at position: Int, runStart: Int) -> Step {
        guard let length = message.byte(at: position) else { return .failure(.truncated) }
        switch length >> 6 {
        case 0:
            if length == 0 { return .root }
            let start = position &+ 1
            guard start <= message.count &- Int(length) else { return .failure(.truncated) }
            return .label(start: start, count: Int(length))
        case 3:
            guard let low = message.byte(at: position &+ 1) else { return .failure(.truncated) }
            let target = Int(length & 0x3f) << 8 | Int(low)
            guard target >= DNSMessage.headerLength, target < runStart else { return .failure(.badPointer) }
            return .pointer(target: target)
        default:
            return .failure(.badLabel)
        }
    }

    /// Checks the name at `offset` against every rule above; gives the offset just past its
    /// encoding in place (after the root's zero, or after its first pointer). Returns its
    /// error rather than throwing it: the runtime's throw hook, which a test harness may set,
    /// must not run for every payload that is not DNS.
    static func validate(_ message: PacketBytes, at offset: Int) -> Result<Int, DNSParseError> {
        var position = offset
        var runStart = offset
        var end: Int?
        var wireLength = 1  // the root's zero
        var pointers = 0
        // Bounded: a label adds at least 2 to wireLength (at most 255), a pointer adds 1 to
        // pointers (at most maxPointers).
        while true {
            switch Self.step(message, at: position, runStart: runStart) {
            case .root:
                return .success(end ?? position &+ 1)
            case .label(let start, let count):
                wireLength &+= 1 &+ count
                guard wireLength <= Self.maxWireLength else { return .failure(.nameTooLong) }
                position = start &+ count
            case .pointer(let target):
                if end == nil { end = position &+ 2 }
                pointers &+= 1
                guard pointers <= Self.maxPointers else { return .failure(.tooManyPointers) }
                position = target
                runStart = target
            case .failure(let error):
                return .failure(error)
            }
        }
    }

    /// The offset just past the name's encoding in place, or nil if the bytes there are not a
    /// name (never for a name `DNSMessage` validated).
    static func end(_ message: PacketBytes, at offset: Int) -> Int? {
        var position = offset
        for _ in 0...(Self.maxWireLength / 2) {
            switch Self.step(message, at: position, runStart: offset) {
            case .root: return position &+ 1
            case .pointer: return position &+ 2
            case .label(let start, let count): position = start &+ count
            case .failure: return nil
            }
        }
        return nil
    }

    /// The name's labels, first (leftmost) to last, each as the bytes in the message; the
    /// root's empty label is not one (the root name has none).
    public var labels: Labels { Labels(message: self.message, position: self.offset) }

    /// The labels of a name, read through its compression pointers; no allocation.
    public struct Labels: Sequence, IteratorProtocol {
        let message: PacketBytes
        var position: Int
        var runStart: Int
        var steps = 0
        var wireLength = 1

        init(message: PacketBytes, position: Int) {
            self.message = message
            self.position = position
            self.runStart = position
        }

        public mutating func next() -> UnsafeRawBufferPointer? {
            // At most 127 labels and maxPointers pointers in a name that validated.
            while self.steps < DNSName.maxWireLength {
                self.steps &+= 1
                switch DNSName.step(self.message, at: self.position, runStart: self.runStart) {
                case .label(let start, let count):
                    self.wireLength &+= 1 &+ count
                    if self.wireLength <= DNSName.maxWireLength {
                        self.position = start &+ count
                        return UnsafeRawBufferPointer(rebasing: self.message.rawBuffer[start..<(start &+ count)])
                    }
                    self.steps = DNSName.maxWireLength
                case .pointer(let target):
                    self.position = target
                    self.runStart = target
                case .root, .failure:
                    self.steps = DNSName.maxWireLength
                }
            }
            return nil
        }
    }

    /// True for the root name (no label).
    public var isRoot: Bool {
        var labels = self.labels
        return labels.next() == nil
    }

    /// Whether two names are equal, comparing ASCII letters case-insensitively (RFC 4343 §3);
    /// the names may be in different messages. No allocation.
    public func isEqual(to other: DNSName) -> Bool {
        var mine = self.labels
        var theirs = other.labels
        while true {
            switch (mine.next(), theirs.next()) {
            case (nil, nil): return true
            case (let a?, let b?):
                guard a.count == b.count else { return false }
                for index in 0..<a.count where Self.lowercased(a[index]) != Self.lowercased(b[index]) { return false }
            default: return false
            }
        }
    }

    /// Whether the name equals dotted text such as "api.example.com" (a trailing dot is
    /// allowed; "." is the root), comparing ASCII letters case-insensitively. The text is
    /// compared byte for byte: a name whose labels hold a dot cannot equal any text, and a
    /// backslash in the text is not an escape. No allocation.
    public func isEqual(toText text: String) -> Bool {
        var utf8 = text.utf8[...]
        if utf8.last == UInt8(ascii: "."), utf8.count > 0 { utf8 = utf8.dropLast() }
        var labels = self.labels
        guard var label = labels.next() else { return utf8.isEmpty }
        var index = 0
        for byte in utf8 {
            if index == label.count {
                guard byte == UInt8(ascii: "."), let next = labels.next() else { return false }
                label = next
                index = 0
                continue
            }
            guard label[index] != UInt8(ascii: "."), Self.lowercased(label[index]) == Self.lowercased(byte) else { return false }
            index &+= 1
        }
        return index == label.count && labels.next() == nil
    }

    /// The name as text, for records and logs (allocates; never on the per-packet path of
    /// non-DNS traffic): labels joined by dots, no trailing dot, the root as "."; ASCII
    /// letters lowercased (names compare case-insensitively, RFC 4343); a dot or backslash
    /// inside a label escaped with a backslash, and a byte outside 0x21...0x7e (space, control,
    /// non-ASCII) as a backslash and three decimal digits, as RFC 1035 §5.1 presentation format
    /// and dig write them (`a\032b`, `\195\169`).
    public var text: String {
        // At most 254 label bytes, each up to 4 characters, with a dot between labels.
        String(unsafeUninitializedCapacity: 4 * Self.maxWireLength) { buffer in
            var count = 0
            for label in self.labels {
                if count > 0 {
                    buffer[count] = UInt8(ascii: ".")
                    count &+= 1
                }
                for byte in label {
                    switch byte {
                    case UInt8(ascii: "."), UInt8(ascii: "\\"):
                        buffer[count] = UInt8(ascii: "\\")
                        buffer[count &+ 1] = byte
                        count &+= 2
                    case 0x21...0x7e:
                        buffer[count] = Self.lowercased(byte)
                        count &+= 1
                    default:
                        buffer[count] = UInt8(ascii: "\\")
                        buffer[count &+ 1] = UInt8(ascii: "0") &+ byte / 100
                        buffer[count &+ 2] = UInt8(ascii: "0") &+ byte / 10 % 10
                        buffer[count &+ 3] = UInt8(ascii: "0") &+ byte % 10
                        count &+= 4
                    }
                }
            }
            if count == 0 {
                buffer[0] = UInt8(ascii: ".")
                count = 1
            }
            return count
        }
    }

    @inline(__always)
    static func lowercased(_ byte: UInt8) -> UInt8 {
        byte &- UInt8(ascii: "A") < 26 ? byte | 0x20 : byte
    }
}
