internal import CBPF
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// flowmon's two TC programs attached to one interface: at its ingress (packets it receives)
/// and egress (packets it sends).
///
/// - **tcx links** (Linux 6.6 and later): BPF links owned by flowmon's descriptors, placed
///   before any other program on the hook (`BPF_F_BEFORE`), so they see every packet even
///   where a CNI's program decides its fate. They go away with the process, however it ends.
/// - **clsact filters** (older kernels, or `--ebpf-attach tc`): direct-action filters on the
///   interface's clsact qdisc (created when missing, and left in place: other programs may
///   use it), identified by flowmon's handle and priority (`handle`, `priority`). A killed run
///   leaves them behind; `removeLeftovers` finds them by handle, priority and program name.
///
/// The programs return TC_ACT_UNSPEC (TCX_NEXT): the next filter or program runs as if they
/// were not there.
package final class TCAttachment {
    package enum Mode: String, Sendable, CaseIterable {
        /// tcx where the kernel has it, clsact otherwise.
        case auto
        case tcx
        case tc
    }

    /// flowmon's clsact filters: handle 0x464d ("FM") at priority 1, the first to run.
    package static let handle: UInt32 = 0x464d
    package static let priority: UInt32 = 1
    /// `BPF_TCX_INGRESS` and `BPF_TCX_EGRESS` (Linux 6.6), which libbpf 1.1's headers predate.
    static let tcxIngress = bpf_attach_type(rawValue: 46)
    static let tcxEgress = bpf_attach_type(rawValue: 47)
    /// `BPF_F_BEFORE`: attach ahead of the programs already on the hook.
    static let attachBefore: UInt32 = 1 << 3

    package let interface: Int32
    /// `.tcx` or `.tc`: how this interface's programs are attached.
    package let mode: Mode
    private var links: [Int32] = []
    private var detached = false

    /// Attaches `ingress` and `egress` to `interface`, as `mode` says (`.auto`: tcx, else tc).
    init(interface: Int32, ingress: Int32, egress: Int32, mode: Mode) throws(KernelCaptureError) {
        self.interface = interface
        if mode != .tc {
            let ingressLink = Self.tcxLink(ingress, interface, Self.tcxIngress)
            if ingressLink >= 0 {
                let egressLink = Self.tcxLink(egress, interface, Self.tcxEgress)
                guard egressLink >= 0 else {
                    close(ingressLink)
                    throw Self.failure(interface, "tcx egress", -egressLink)
                }
                self.links = [ingressLink, egressLink]
                self.mode = .tcx
                return
            }
            // EINVAL: a kernel without tcx (before 6.6).
            if mode == .tcx || -ingressLink != EINVAL { throw Self.failure(interface, "tcx ingress", -ingressLink) }
        }
        self.mode = .tc
        for (program, point) in [(ingress, BPF_TC_INGRESS), (egress, BPF_TC_EGRESS)] {
            // Replacing the filter of a flowmon that runs would end its capture, silently.
            if let holder = Self.runningFlowmon(on: interface, point) {
                if point == BPF_TC_EGRESS { Self.detachFilter(interface, BPF_TC_INGRESS) }
                throw KernelCaptureError("interface \(Self.label(interface)) is captured by another flowmon (process \(holder)) with clsact filters; stop it, or attach with tcx links (--ebpf-attach tcx, Linux 6.6+), which do not exclude each other")
            }
            var hook = Self.hook(interface, point)
            let created = bpf_tc_hook_create(&hook)
            guard created == 0 || created == -EEXIST else { throw Self.failure(interface, "the clsact qdisc", -created) }
            var options = Self.filterOptions()
            options.prog_fd = program
            options.flags = UInt32(BPF_TC_F_REPLACE.rawValue)
            let attached = bpf_tc_attach(&hook, &options)
            guard attached == 0 else {
                if point == BPF_TC_EGRESS { Self.detachFilter(interface, BPF_TC_INGRESS) }
                throw Self.failure(interface, "a clsact filter", -attached)
            }
        }
    }

    /// Takes the programs off the interface (once).
    func detach() {
        guard !self.detached else { return }
        self.detached = true
        for link in self.links { close(link) }
        if self.mode == .tc {
            Self.detachFilter(self.interface, BPF_TC_INGRESS)
            Self.detachFilter(self.interface, BPF_TC_EGRESS)
        }
    }

    /// Removes the clsact filters a killed flowmon left on `interfaces`: those at flowmon's
    /// handle and priority whose program is one of flowmon's (by name) and held by no running
    /// process (a running flowmon's are its capture). Returns the interfaces cleaned. (tcx links
    /// need no cleaning: they end with the process that held them.)
    package static func removeLeftovers(on interfaces: [Int32]) -> [Int32] {
        var cleaned: [Int32] = []
        for interface in interfaces {
            var removed = false
            for point in [BPF_TC_INGRESS, BPF_TC_EGRESS] {
                guard let program = Self.flowmonFilter(on: interface, point), Self.holder(ofProgram: program) == nil else { continue }
                Self.detachFilter(interface, point)
                removed = true
            }
            if removed { cleaned.append(interface) }
        }
        return cleaned
    }

    // MARK: libbpf

    private static func tcxLink(_ program: Int32, _ interface: Int32, _ type: bpf_attach_type) -> Int32 {
        var options = bpf_link_create_opts()
        options.sz = MemoryLayout<bpf_link_create_opts>.size
        options.flags = Self.attachBefore
        let link = bpf_link_create(program, interface, type, &options)
        return link >= 0 ? link : -errno
    }

    private static func hook(_ interface: Int32, _ point: bpf_tc_attach_point) -> bpf_tc_hook {
        var hook = bpf_tc_hook()
        hook.sz = MemoryLayout<bpf_tc_hook>.offset(of: \.parent)! + MemoryLayout<UInt32>.size
        hook.ifindex = interface
        hook.attach_point = point
        return hook
    }

    /// The options naming flowmon's filter. `sz` of libbpf's options structs (here and in the
    /// hook) is the end of their last field, as libbpf's `LIBBPF_OPTS` sets it, not
    /// `MemoryLayout.size`: libbpf refuses (EINVAL) options whose bytes past the last field it
    /// knows are not zero, and a Swift copy of the struct does not keep its tail padding zero.
    /// With the full size, a filter now and then failed to attach, and leftovers were not found
    /// or removed.
    private static func filterOptions() -> bpf_tc_opts {
        var options = bpf_tc_opts()
        options.sz = MemoryLayout<bpf_tc_opts>.offset(of: \.priority)! + MemoryLayout<UInt32>.size
        options.handle = Self.handle
        options.priority = Self.priority
        return options
    }

    private static func detachFilter(_ interface: Int32, _ point: bpf_tc_attach_point) {
        var hook = Self.hook(interface, point)
        var options = Self.filterOptions()
        _ = bpf_tc_detach(&hook, &options)
    }

    /// The ID of the program of flowmon's filter on the interface's hook, if one of flowmon's
    /// programs is there.
    private static func flowmonFilter(on interface: Int32, _ point: bpf_tc_attach_point) -> UInt32? {
        var hook = Self.hook(interface, point)
        var options = Self.filterOptions()
        guard bpf_tc_query(&hook, &options) == 0, Self.isFlowmonProgram(id: options.prog_id) else { return nil }
        return options.prog_id
    }

    /// The process (not this one) whose flowmon filter is on the interface's hook, if it runs.
    private static func runningFlowmon(on interface: Int32, _ point: bpf_tc_attach_point) -> Int32? {
        Self.flowmonFilter(on: interface, point).flatMap(Self.holder(ofProgram:))
    }

    /// A process other than this one that holds a descriptor of the program (its loader, while
    /// it runs; a killed one holds none), from /proc/PID/fdinfo. Processes whose descriptors
    /// cannot be read (another user's, without root) are not seen.
    private static func holder(ofProgram id: UInt32) -> Int32? {
        let files = FileManager.default
        let me = getpid()
        for entry in (try? files.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), pid != me,
                  let descriptors = try? files.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else { continue }
            for descriptor in descriptors
            where (try? files.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(descriptor)")) == "anon_inode:bpf-prog" {
                let info = (try? String(contentsOfFile: "/proc/\(pid)/fdinfo/\(descriptor)", encoding: .utf8)) ?? ""
                if info.split(separator: "\n").contains("prog_id:\t\(id)") { return pid }
            }
        }
        return nil
    }

    /// Whether the program with this ID is one of flowmon's (`flowmon_ingress`, `flowmon_egress`).
    private static func isFlowmonProgram(id: UInt32) -> Bool {
        let descriptor = bpf_prog_get_fd_by_id(id)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var info = bpf_prog_info()
        var length = UInt32(MemoryLayout<bpf_prog_info>.size)
        guard bpf_obj_get_info_by_fd(descriptor, &info, &length) == 0 else { return false }
        let name = withUnsafeBytes(of: info.name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        return name == "flowmon_ingress" || name == "flowmon_egress"
    }

    private static func failure(_ interface: Int32, _ what: String, _ error: Int32) -> KernelCaptureError {
        let reason = error == EPERM ? "permission denied (CAP_NET_ADMIN and CAP_BPF)" : String(cString: strerror(error))
        return KernelCaptureError(permission: error == EPERM,
                                  "cannot attach flowmon's BPF programs to interface \(Self.label(interface)) (\(what)): \(reason)")
    }

    /// 'name' of the interface, or "index N" when it has none (any more).
    private static func label(_ interface: Int32) -> String {
        var name = [CChar](repeating: 0, count: Int(IF_NAMESIZE) + 1)
        return if_indextoname(UInt32(bitPattern: interface), &name) != nil
            ? "'\(String(decoding: name.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self))'"
            : "index \(interface)"
    }
}
