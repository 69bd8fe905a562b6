import Datapath
import FlowCore
import Synchronization

/// The names of the node's interfaces by index, for the records of connections observed there
/// (EVE's `in_iface`, Hubble's `interface`). The capture thread adds names as interfaces
/// appear; workers read them when a record is written. A name stays after its interface is
/// gone, for the connections that started there and end later.
public final class InterfaceNames: Sendable {
    private let names = Mutex<[UInt32: [UInt8]]>([:])

    public init() {}

    public func set(_ name: String, index: UInt32) {
        self.names.withLock { $0[index] = Array(name.utf8) }
    }

    /// The name of interface `index`, when known.
    public func name(of index: UInt32) -> String? {
        self.names.withLock { $0[index].map { String(decoding: $0, as: UTF8.self) } }
    }

    /// Appends `"key":"name"` for interface `index`, when it is known; returns whether it did.
    @discardableResult
    func append(_ key: EVEKey, index: UInt32, to out: inout JSONBuffer) -> Bool {
        guard index != 0 else { return false }
        return self.names.withLock { names in
            guard let name = names[index] else { return false }
            out.append(key: key)
            name.withUnsafeBytes { out.appendString(utf8: $0) }
            return true
        }
    }

    /// Hubble's `"interface":{"index":…,"name":…}` (flow.proto `NetworkInterface`) and
    /// `"trace_observation_point"` for where the connection's first packet was observed.
    func appendHubble(_ flow: FlowEntry, to out: inout JSONBuffer) {
        guard flow.interfaceIndex != 0 else { return }
        self.names.withLock { names in
            out.append(raw: ",\"interface\":{\"index\":")
            out.append(UInt64(flow.interfaceIndex))
            if let name = names[flow.interfaceIndex] {
                out.append(raw: ",\"name\":")
                name.withUnsafeBytes { out.appendString(utf8: $0) }
            }
            out.append(byte: UInt8(ascii: "}"))
        }
        if flow.observationPoint != .unknown {
            out.append(raw: ",\"trace_observation_point\":\"")
            out.append(raw: flow.observationPoint.name)
            out.append(byte: UInt8(ascii: "\""))
        }
    }
}
