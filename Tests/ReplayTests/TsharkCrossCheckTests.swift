import Foundation
import Testing

/// flowmon's TCP and UDP connection and packet counts against tshark's conversation table
/// (`Captures/real/TSHARK-CONV.md`, written by `scripts/tshark-conv-summary --write` with
/// tshark 4.0.17). Where the two differ by design, the row below says what flowmon reports
/// and why; every other capture must agree exactly.
struct TsharkCrossCheckTests {
    struct Counts: Equatable, CustomStringConvertible {
        var tcpFlows = 0, tcpPackets = 0, udpFlows = 0, udpPackets = 0
        var description: String { "TCP \(tcpFlows)/\(tcpPackets) UDP \(udpFlows)/\(udpPackets)" }
    }

    /// Expected flowmon counts where tshark's differ, with the reason.
    static let differences: [String: (Counts, String)] = [
        "damaged-record-header-after-2pkts.pcap": (Counts(tcpFlows: 1, tcpPackets: 1),
            "tshark reads 2 records in another record layout; flowmon, like libpcap and tcpdump, reads the layout the magic announces: 1 record, then the error"),
        "eth-ipv4-frag-tcp-out-of-order.pcap": (Counts(tcpFlows: 2, tcpPackets: 6),
            "tshark reassembles the 4 fragments into one frame; flowmon counts every fragment as a packet of its connection"),
        "raw229-ipv6-frag-tcp.pcap": (Counts(tcpFlows: 1, tcpPackets: 3),
            "tshark reassembles 3 IPv6 fragments into one frame; flowmon counts each"),
        "geneve-tcp-ssh-icmp.pcap": (Counts(tcpFlows: 1, tcpPackets: 33),
            "tshark's 4 UDP conversations are the outer tunnel packets, which flowmon reports as tunnel metadata of the inner flows (the two directions carry different VNIs, 0xa and 0xb, which --tunnel-key auto joins as tshark does; vni would make 2 TCP flows)"),
        "raw228-ipv4-options-tcp.pcap": (Counts(tcpFlows: 1, tcpPackets: 8),
            "Wireshark shows the last hop of a loose/strict source route option as ip.dst; flowmon keys on the header's destination address"),
        "malformed-tcp-bad-data-offset.pcap": (Counts(tcpFlows: 1, tcpPackets: 2),
            "tshark leaves malformed TCP segments out of its conversations; flowmon counts them by address and port (with decoder.tcp.hlen_too_large)"),
        "malformed-too-small-headers.pcap": (Counts(tcpFlows: 2, tcpPackets: 2, udpFlows: 2, udpPackets: 4),
            "tshark leaves malformed segments out of its conversations; flowmon counts those whose ports were readable"),
        "vxlan-4789-icmp-arp.pcap": (Counts(udpFlows: 2, udpPackets: 2),
            "tshark counts the outer UDP/4789 packets; flowmon's flows are the inner ones (ICMP echo), and only the 2 frames carrying ARP are counted as their outer UDP flow"),
        "vxlan-8472-linux-default-port.pcap": (Counts(udpFlows: 2, udpPackets: 2),
            "as for vxlan-4789-icmp-arp.pcap, on Cilium's and Linux's default VXLAN port"),
        "gre-ipv4-tcp-udp-icmp.pcap": (Counts(tcpFlows: 1, tcpPackets: 22, udpFlows: 4, udpPackets: 10),
            "the 2 ICMP port unreachables quote a DNS query of this capture and are counted on its UDP flow (related, as Cilium's conntrack and Suricata do); tshark lists them as ICMP"),
        // Synthetic captures (Captures/synthetic/*.md give the expected flows).
        "udp-icmp.pcap": (Counts(udpFlows: 3, udpPackets: 8),
            "the ICMP port unreachable is counted on the UDP flow it answers (case b of udp-icmp.md); tshark lists it as ICMP"),
        "fragments.pcap": (Counts(udpFlows: 4, udpPackets: 14),
            "tshark counts one frame per reassembled datagram and leaves out the 2 orphan fragments; flowmon counts every attributed fragment"),
        "idle-timeouts.pcap": (Counts(tcpFlows: 6, tcpPackets: 50, udpFlows: 3, udpPackets: 4),
            "tshark applies no idle timeouts; flowmon's defaults split one UDP flow (31 s gap), one established TCP (301 s gap) and one closed TCP (late ACK after 11 s)"),
        "overlay-cilium.pcap": (Counts(tcpFlows: 1, tcpPackets: 10, udpFlows: 1, udpPackets: 2),
            "tshark adds 6 outer tunnel conversations (the VNI is the sender's identity and differs by direction; --tunnel-key auto joins the directions, vni would split each flow in two)"),
        "overlay-flannel.pcap": (Counts(tcpFlows: 1, tcpPackets: 10, udpFlows: 1, udpPackets: 2),
            "tshark adds 4 outer tunnel conversations"),
        "overlay-segments.pcap": (Counts(tcpFlows: 2, tcpPackets: 20),
            "tshark adds 4 outer tunnel conversations; both keep the one 5-tuple in two segments apart"),
    ]

    static var rows: [(String, Counts)] {
        let table = (try? String(contentsOf: Fixture.captures.appendingPathComponent("real/TSHARK-CONV.md"), encoding: .utf8)) ?? ""
        return table.split(separator: "\n").compactMap { line -> (String, Counts)? in
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count > 7, cells[1].hasPrefix("`"), let tcp = Int(cells[3]), let tcpFrames = Int(cells[4]),
                  let udp = Int(cells[5]), let udpFrames = Int(cells[6]) else { return nil }
            return (cells[1].trimmingCharacters(in: CharacterSet(charactersIn: "`")),
                    Counts(tcpFlows: tcp, tcpPackets: tcpFrames, udpFlows: udp, udpPackets: udpFrames))
        }
    }

    /// The table covers Captures/real/ and Captures/synthetic/.
    static func path(of name: String) -> URL {
        let real = Fixture.captures.appendingPathComponent("real/\(name)")
        return FileManager.default.fileExists(atPath: real.path) ? real : Fixture.captures.appendingPathComponent("synthetic/\(name)")
    }

    @Test func theTableListsEveryRealAndSyntheticFixture() {
        let listed = Set(Self.rows.map(\.0))
        let fixtures = Set(["real", "synthetic"].flatMap {
            Fixture.captureFiles(in: Fixture.captures.appendingPathComponent($0)).map(\.lastPathComponent)
        })
        #expect(listed == fixtures)
    }

    @Test(arguments: rows.map(\.0))
    func flowCountsAgreeWithTshark(name: String) throws {
        let tshark = try #require(Self.rows.first { $0.0 == name }?.1)
        let result = try replay(Self.path(of: name))
        var counts = Counts()
        for flow in result.flows {
            let details = flow["flow"] as? [String: Any] ?? [:]
            let packets = (details["pkts_toserver"] as? Int ?? 0) + (details["pkts_toclient"] as? Int ?? 0)
            switch flow["proto"] as? String {
            case "TCP": counts.tcpFlows += 1; counts.tcpPackets += packets
            case "UDP": counts.udpFlows += 1; counts.udpPackets += packets
            default: break
            }
        }
        if let (expected, reason) = Self.differences[name] {
            #expect(counts == expected, "\(name): \(reason)")
            #expect(counts != tshark, "\(name) now agrees with tshark: remove its row from `differences`")
        } else {
            #expect(counts == tshark, "\(name): flowmon \(counts), tshark \(tshark)")
        }
    }
}
