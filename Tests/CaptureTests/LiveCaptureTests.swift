import FlowCore
import Foundation
import Testing

@testable import Capture

#if canImport(Glibc)
import Glibc
#endif

/// Live capture on the loopback interface and on throwaway interfaces. Needs root.
@Suite(.enabled(if: liveTestsEnabled, liveTestsReason), .timeLimit(.minutes(1)))
struct LiveCaptureTests {
    /// What a test keeps of each packet: everything but the borrowed bytes, plus a few of them.
    struct Seen {
        var linkType: UInt32
        var nanoseconds: Int64
        var originalLength: UInt32
        var capturedLength: Int
        var etherType: UInt16?
        var udpDestinationPort: UInt16?
        var payloadTail: [UInt8]
    }

    /// Dispatches until `expected` packets arrived or `seconds` passed.
    func collect(_ capture: LiveCapture, expected: Int, seconds: Int64 = 5) throws(CaptureError) -> [Seen] {
        var seen: [Seen] = []
        let deadline = wallClockNanoseconds() + seconds * 1_000_000_000
        while seen.count < expected && wallClockNanoseconds() < deadline {
            _ = try capture.dispatch(maxPackets: 64) { packet in
                let bytes = packet.bytes
                seen.append(
                    Seen(
                        linkType: packet.linkType, nanoseconds: packet.time.nanoseconds,
                        originalLength: packet.originalLength, capturedLength: bytes.count,
                        etherType: bytes.bigEndian(at: 12), udpDestinationPort: bytes.bigEndian(at: 14 + 20 + 2),
                        payloadTail: Array(bytes.rawBuffer.suffix(8))))
            }
        }
        return seen
    }

    @Test func capturesUDPDatagramsOnLoopbackWithNanosecondTimes() throws {
        let receiver = try LoopbackReceiver()
        defer { receiver.close() }
        let capture = try LiveCapture(options: .init(interface: "lo", filter: "udp port \(receiver.port)"))
        #expect(capture.interfaceName == "lo")
        #expect(capture.linkType == 1)  // Linux gives lo an all-zero Ethernet header: DLT_EN10MB
        #expect(capture.nanosecondTimestamps)
        #expect(capture.snapshotLength == 262_144)
        #expect(capture.warnings.isEmpty)

        let payload: [UInt8] = Array("flowmon-live-test".utf8)
        let count = 25
        let before = wallClockNanoseconds()
        #expect(sendLoopbackDatagrams(count: count, port: receiver.port, payload: payload) == count)
        let seen = try collect(capture, expected: count)
        let after = wallClockNanoseconds()

        #expect(seen.count == count)
        for packet in seen {
            #expect(packet.linkType == 1)
            #expect(packet.etherType == 0x0800)
            #expect(packet.udpDestinationPort == receiver.port)
            #expect(packet.originalLength == UInt32(14 + 20 + 8 + payload.count))
            #expect(packet.capturedLength == Int(packet.originalLength))
            #expect(packet.payloadTail == Array(payload.suffix(8)))
            #expect(packet.nanoseconds >= before - 1_000_000_000 && packet.nanoseconds <= after + 1_000_000_000)
        }
        // Times are in order, and some are not whole microseconds (they would all be with µs stamps).
        #expect(zip(seen, seen.dropFirst()).allSatisfy { $0.nanoseconds <= $1.nanoseconds })
        #expect(seen.contains { $0.nanoseconds % 1000 != 0 })

        let statistics = capture.statistics()
        #expect(statistics.received >= UInt64(count))
        #expect(statistics.droppedByKernel == 0)
        #expect(statistics.droppedByInterface == 0)
    }

    @Test func aSmallSnapshotLengthTruncatesPackets() throws {
        let receiver = try LoopbackReceiver()
        defer { receiver.close() }
        let capture = try LiveCapture(options: .init(interface: "lo", snaplen: 40, filter: "udp port \(receiver.port)"))
        sendLoopbackDatagrams(count: 3, port: receiver.port, payload: [UInt8](repeating: 7, count: 100))
        let seen = try collect(capture, expected: 3)
        #expect(seen.count == 3)
        #expect(seen.allSatisfy { $0.capturedLength == 40 && $0.originalLength == 14 + 20 + 8 + 100 })
    }

    @Test func dispatchReturnsZeroWhenNothingArrivesBeforeTheTimeout() throws {
        let receiver = try LoopbackReceiver()  // a port nobody sends to
        defer { receiver.close() }
        let capture = try LiveCapture(
            options: .init(interface: "lo", timeoutMilliseconds: 50, filter: "udp port \(receiver.port)"))
        let start = wallClockNanoseconds()
        var calls = 0
        let count = try capture.dispatch(maxPackets: 10) { _ in calls += 1 }
        #expect(count == 0)
        #expect(calls == 0)
        #expect(wallClockNanoseconds() - start < 3_000_000_000)
        #expect(!capture.isStopped)
    }

    @Test func stopFromAnotherThreadEndsABlockedDispatch() throws {
        let receiver = try LoopbackReceiver()
        defer { receiver.close() }
        // Without stop(), dispatch would wait a minute.
        let capture = try LiveCapture(
            options: .init(interface: "lo", timeoutMilliseconds: 60_000, filter: "udp port \(receiver.port)"))
        let stopper = Thread {
            usleep(200_000)
            capture.stop()
        }
        stopper.start()
        let count = try capture.dispatch(maxPackets: 10) { _ in }
        #expect(count == 0)
        #expect(capture.isStopped)
        // Once stopped, dispatch returns at once.
        #expect(try capture.dispatch(maxPackets: 10) { _ in } == 0)
    }

    @Test func aPacketArrivingDuringTheWaitIsDeliveredWhenTheBlockTimesOut() throws {
        let receiver = try LoopbackReceiver()
        defer { receiver.close() }
        let capture = try LiveCapture(
            options: .init(interface: "lo", timeoutMilliseconds: 400, filter: "udp port \(receiver.port)"))
        let start = wallClockNanoseconds()
        let port = receiver.port
        let sender = Thread {
            usleep(200_000)
            sendLoopbackDatagrams(count: 1, port: port, payload: [1])
        }
        sender.start()
        var count = 0
        while count == 0 && wallClockNanoseconds() - start < 5_000_000_000 {
            count = try capture.dispatch(maxPackets: 10) { _ in }
        }
        #expect(count == 1)
        #expect(wallClockNanoseconds() - start < 2_000_000_000)
    }

    @Test func anInterfaceDeletedDuringCaptureEndsItWithAnError() throws {
        let name = "flowmontest2"
        removeTestInterface(name)
        try #require(runIP(["link", "add", name, "type", "veth", "peer", "name", "flowmontest3"]).status == 0)
        defer { removeTestInterface(name) }
        runIP(["link", "set", "flowmontest3", "up"])
        runIP(["link", "set", name, "up"])
        let capture = try LiveCapture(options: .init(interface: name, timeoutMilliseconds: 50))
        // Down is waited out, as libpcap and tcpdump do.
        runIP(["link", "set", name, "down"])
        for _ in 0..<3 { _ = try capture.dispatch(maxPackets: 10) { _ in } }
        removeTestInterface(name)
        let error = #expect(throws: CaptureError.self) {
            for _ in 0..<100 { _ = try capture.dispatch(maxPackets: 10) { _ in } }
        }
        #expect(error?.kind == .io)
        // libpcap's read or the socket check may notice first; both say the same.
        #expect(error?.description.lowercased() == "capture on 'flowmontest2' failed: the interface disappeared")
    }

    @Test func theAnyInterfaceGivesLinuxCookedHeadersV2() throws {
        let receiver = try LoopbackReceiver()
        defer { receiver.close() }
        let capture = try LiveCapture(options: .init(interface: "any", filter: "udp port \(receiver.port)"))
        #expect(capture.linkType == 276)
        sendLoopbackDatagrams(count: 2, port: receiver.port, payload: [1, 2, 3, 4])
        let seen = try collect(capture, expected: 2)
        #expect(seen.count >= 2)
        #expect(seen.allSatisfy { $0.linkType == 276 && $0.originalLength == 20 + 20 + 8 + 4 })
    }

    @Test func interfacesIncludeLoopbackAndAnyAndTheDefaultIsNeither() throws {
        let names = LiveCapture.interfaces()
        #expect(names.contains("lo"))
        #expect(names.contains("any"))
        if let name = try? LiveCapture.defaultInterface() {
            #expect(name != "lo" && name != "any")
            #expect(names.contains(name))
        }
    }

    // MARK: Errors

    @Test func aMissingInterfaceIsNamedWithTheAvailableOnes() {
        let error = #expect(throws: CaptureError.self) {
            try LiveCapture(options: .init(interface: "flowmonnosuch0"))
        }
        #expect(error?.kind == .noSuchInterface)
        let message = error?.description ?? ""
        #expect(message.hasPrefix("no such interface 'flowmonnosuch0' (available: "))
        #expect(message.hasSuffix(")"))
        #expect(message.contains("lo"))
    }

    @Test func aBadFilterExpressionIsRefused() {
        let error = #expect(throws: CaptureError.self) {
            try LiveCapture(options: .init(interface: "lo", filter: "udp port"))
        }
        #expect(error?.kind == .badFilter)
        #expect(error?.description.hasPrefix("invalid filter expression 'udp port': ") == true)
        #expect((error?.description.count ?? 0) > "invalid filter expression 'udp port': ".count)
    }

    @Test func anInterfaceThatIsDownIsRefused() throws {
        let name = "flowmontest0"
        let created = addDownTestInterface(name, peer: "flowmontest1")
        defer { removeTestInterface(name) }
        try #require(created.created, "could not add a test interface: \(created.error)")
        let error = #expect(throws: CaptureError.self) {
            try LiveCapture(options: .init(interface: name))
        }
        #expect(error?.kind == .interfaceDown)
        #expect(error?.description == "interface 'flowmontest0' is down")
    }

    @Test(arguments: [
        (LiveCapture.Options(interface: "lo", snaplen: 0), "invalid capture option: snapshot length must be 1...262144 (got 0)"),
        (LiveCapture.Options(interface: "lo", bufferSizeMiB: 4096), "invalid capture option: buffer size in MiB must be 1...2047 (got 4096)"),
        (LiveCapture.Options(interface: "lo", timeoutMilliseconds: 0), "invalid capture option: timeout in milliseconds must be 1...2147483647 (got 0)"),
        (LiveCapture.Options(interface: ""), "invalid capture option: the interface name is empty"),
    ])
    func optionsOutOfRangeAreRefused(options: LiveCapture.Options, message: String) {
        let error = #expect(throws: CaptureError.self) { try LiveCapture(options: options) }
        #expect(error?.kind == .invalidOption)
        #expect(error?.description == message)
    }

    @Test func linkTypeValuesMapFromLibpcapsDataLinkTypes() {
        #expect(linkTypeValue(forDataLinkType: 1) == 1)  // DLT_EN10MB
        #expect(linkTypeValue(forDataLinkType: 12) == 101)  // DLT_RAW on Linux
        #expect(linkTypeValue(forDataLinkType: 113) == 113)  // DLT_LINUX_SLL
        #expect(linkTypeValue(forDataLinkType: 276) == 276)  // DLT_LINUX_SLL2
    }
}

/// Dropping root after opening a capture. Each drop happens in a forked child, so the test
/// process keeps root.
@Suite(.enabled(if: liveTestsEnabled, liveTestsReason), .timeLimit(.minutes(1)))
struct LiveCapturePrivilegeTests {
    @Test func aMissingUserIsNamed() {
        let error = #expect(throws: CaptureError.self) { try Privileges.drop(to: "flowmon-no-such-user") }
        #expect(error?.kind == .noSuchUser)
        #expect(error?.description == "no such user 'flowmon-no-such-user'")
    }

    @Test func droppingToNobodyIsPermanentAndTheOpenCaptureKeepsWorking() throws {
        // Looked up and opened in the parent; the child only makes system calls and reads the ring.
        let account = try Privileges.account(named: "nobody")
        #expect(account.userID != 0)
        let receiver = try LoopbackReceiver()
        defer { receiver.close() }
        let capture = try LiveCapture(options: .init(interface: "lo", filter: "udp port \(receiver.port)"))
        let port = receiver.port
        let status = runInForkedChild {
            do { try Privileges.drop(to: account) } catch { _exit(10) }
            if getuid() != account.userID || geteuid() != account.userID || getegid() != account.groupID { _exit(11) }
            if setuid(0) == 0 || seteuid(0) == 0 { _exit(12) }
            // Raw sockets need CAP_NET_RAW, which is gone.
            let raw = socket(AF_PACKET, Int32(SOCK_RAW.rawValue), 0)
            if raw >= 0 { _exit(13) }
            // So is a new capture, with a message that says what to do.
            do throws(CaptureError) {
                _ = try LiveCapture(options: .init(interface: "lo"))
                _exit(17)
            } catch {
                let expected = "permission denied capturing on 'lo': flowmon needs CAP_NET_RAW (and CAP_NET_ADMIN for promiscuous mode or a larger buffer); run as root or grant them with setcap"
                if error.kind != .permissionDenied || error.description != expected { _exit(18) }
            }
            if sendLoopbackDatagrams(count: 3, port: port, payload: [9, 9, 9]) != 3 { _exit(14) }
            var received = 0
            let deadline = wallClockNanoseconds() + 5_000_000_000
            while received < 3 && wallClockNanoseconds() < deadline {
                do { received += try capture.dispatch(maxPackets: 16) { _ in } } catch { _exit(15) }
            }
            _exit(received == 3 ? 0 : 16)
        }
        // 10 drop failed, 11 wrong IDs, 12 root regained, 13 raw socket allowed, 14 send failed,
        // 15 dispatch failed, 16 packets missing, 17 a new capture opened, 18 wrong error for it.
        #expect(status == 0)
    }

    @Test func droppingWithoutTheRightToChangeGroupsFails() throws {
        let account = try Privileges.account(named: "nobody")
        let status = runInForkedChild {
            // A second drop, already as nobody: setgroups is refused.
            do { try Privileges.drop(to: account) } catch { _exit(10) }
            do throws(CaptureError) {
                try Privileges.drop(to: Privileges.Account(name: "root", userID: 0, groupID: 0))
                _exit(11)
            } catch {
                let expected = "cannot drop privileges to 'root': setgroups: Operation not permitted"
                _exit(error.kind == .permissionDenied && error.description == expected ? 0 : 12)
            }
        }
        #expect(status == 0)
    }
}
