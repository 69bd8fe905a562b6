// TEMPORARY (replaced by the inventory branch's Identity.swift on merge).
@frozen public struct Identity: RawRepresentable, Hashable, Comparable, Sendable {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static func < (a: Identity, b: Identity) -> Bool { a.rawValue < b.rawValue }
    public static let unknown = Identity(rawValue: 0)
    public static let host = Identity(rawValue: 1)
    public static let world = Identity(rawValue: 2)
    public static let unmanaged = Identity(rawValue: 3)
    public static let health = Identity(rawValue: 4)
    public static let initializing = Identity(rawValue: 5)
    public static let remoteNode = Identity(rawValue: 6)
    public static let kubeAPIServer = Identity(rawValue: 7)
    public static let ingress = Identity(rawValue: 8)
    public static let worldIPv4 = Identity(rawValue: 9)
    public static let worldIPv6 = Identity(rawValue: 10)
    public static let firstAllocated: UInt32 = 256
    public var isReserved: Bool { self.rawValue < 256 }
}
