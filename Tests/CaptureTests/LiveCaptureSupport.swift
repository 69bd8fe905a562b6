import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

// MARK: When live tests run

/// Live capture needs CAP_NET_RAW (and CAP_NET_ADMIN to add interfaces). Tests run as root
/// here and in CI; elsewhere they are skipped, except that with CI=true they must run (and
/// fail loudly if not root).
let liveTestsEnabled = geteuid() == 0 || ProcessInfo.processInfo.environment["CI"] == "true"
let liveTestsReason: Comment = "live capture tests need root (CAP_NET_RAW, CAP_NET_ADMIN); set CI=true to force them"

// MARK: UDP on loopback

/// A UDP socket bound to 127.0.0.1 on a port the kernel picks, so the filter can name a port
/// nobody else uses. Closed by `close()`.
struct LoopbackReceiver {
    let descriptor: Int32
    let port: UInt16

    init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var address = loopbackAddress(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                bind(descriptor, address, length) == 0 && getsockname(descriptor, address, &length) == 0
            }
        }
        guard bound else {
            Glibc.close(descriptor)
            throw POSIXError(.init(rawValue: errno) ?? .EIO)
        }
        self.descriptor = descriptor
        self.port = UInt16(bigEndian: address.sin_port)
    }

    func close() { _ = Glibc.close(self.descriptor) }
}

func loopbackAddress(port: UInt16) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    return address
}

/// Sends `count` datagrams carrying `payload` to 127.0.0.1:`port`; returns how many were sent.
/// Only system calls, so a forked child may call it.
@discardableResult
func sendLoopbackDatagrams(count: Int, port: UInt16, payload: [UInt8]) -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    guard descriptor >= 0 else { return 0 }
    defer { _ = Glibc.close(descriptor) }
    var address = loopbackAddress(port: port)
    var sent = 0
    for _ in 0..<count {
        let result = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                payload.withUnsafeBytes { bytes in
                    sendto(descriptor, bytes.baseAddress, bytes.count, 0, address, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        if result == payload.count { sent += 1 }
    }
    return sent
}

/// Nanoseconds since the epoch (CLOCK_REALTIME, the clock packet time stamps use).
func wallClockNanoseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}

// MARK: Interfaces

/// Runs `ip ARGUMENTS`; returns its exit status and standard error.
@discardableResult
func runIP(_ arguments: [String]) -> (status: Int32, error: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["ip"] + arguments
    let errorPipe = Pipe()
    process.standardError = errorPipe
    process.standardOutput = FileHandle.nullDevice
    do { try process.run() } catch { return (-1, "\(error)") }
    let error = String(decoding: errorPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, error)
}

/// Creates interface `name`, left down: a dummy interface, or a veth pair (`name` and
/// `peer`) where the kernel has no dummy driver. Removed by `removeTestInterface`.
func addDownTestInterface(_ name: String, peer: String) -> (created: Bool, error: String) {
    removeTestInterface(name)  // a leftover from a run that crashed
    if runIP(["link", "add", name, "type", "dummy"]).status == 0 { return (true, "") }
    let veth = runIP(["link", "add", name, "type", "veth", "peer", "name", peer])
    return (veth.status == 0, veth.error)
}

/// Deletes interface `name` (and a veth peer with it); quiet if it does not exist.
func removeTestInterface(_ name: String) {
    if runIP(["link", "show", name]).status == 0 { runIP(["link", "del", name]) }
}

// MARK: Child processes

/// Runs `body` in a forked child and returns its exit status (or 128 + signal). `body` must
/// call only what is safe after `fork` in a multithreaded process (system calls, no locks
/// another thread may hold) and must end with `_exit`.
func runInForkedChild(_ body: () -> Never) -> Int32 {
    let child = fork()
    if child == 0 { body() }
    guard child > 0 else { return -1 }
    var status: Int32 = 0
    while waitpid(child, &status, 0) < 0 && errno == EINTR {}
    let signal = status & 0x7F
    return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
}
