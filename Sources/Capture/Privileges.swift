import CPcap

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Giving up root once the capture handle is open, as `tcpdump -Z user` does: the open
/// socket keeps working, and a bug in decoding can no longer act as root.
package enum Privileges {
    /// Switches the whole process (every thread) to `user`'s user and group IDs, with that
    /// group as the only supplementary group, then checks that root cannot be regained.
    /// Call it after `LiveCapture` is open: opening needs CAP_NET_RAW, which the switch drops.
    ///
    /// The corresponding C functions are `getpwnam_r`, `setgroups`, `setgid` and `setuid`.
    ///
    /// `keeping` (CAP_ numbers) stay effective after the switch, and nothing else: the eBPF
    /// datapath keeps CAP_BPF and CAP_NET_ADMIN to attach its programs to the interfaces pods
    /// create later (and root still cannot be regained: CAP_SETUID is gone).
    package static func drop(to user: String, keeping: [Int] = []) throws(CaptureError) {
        try self.drop(to: self.account(named: user), keeping: keeping)
    }

    /// A user's name and IDs, as `getpwnam_r` gives them.
    struct Account: Equatable {
        var name: String
        var userID: uid_t
        var groupID: gid_t
    }

    /// Looks `name` up in the user database (including NSS sources).
    ///
    /// The corresponding C function is `getpwnam_r`.
    static func account(named name: String) throws(CaptureError) -> Account {
        var size = 16_384
        while true {
            var entry = passwd()
            var result: UnsafeMutablePointer<passwd>?
            let status = withUnsafeTemporaryAllocation(of: CChar.self, capacity: size) { buffer in
                getpwnam_r(name, &entry, buffer.baseAddress!, buffer.count, &result)
            }
            if status == ERANGE && size < 1 << 20 {
                size *= 4
                continue
            }
            if status != 0 {
                throw CaptureError(.noSuchUser, "cannot look up user '\(name)': \(String(cString: strerror(status)))")
            }
            guard result != nil else { throw CaptureError(.noSuchUser, "no such user '\(name)'") }
            return Account(name: name, userID: entry.pw_uid, groupID: entry.pw_gid)
        }
    }

    /// Switches to `account`: supplementary groups, then group, then user (the order that
    /// still has the privilege for each step), then verifies.
    ///
    /// The corresponding C functions are `setgroups`, `setgid`, `setuid`, `getuid`, `geteuid`,
    /// `getgid` and `getegid`.
    static func drop(to account: Account, keeping: [Int] = []) throws(CaptureError) {
        func fail(_ what: String) -> CaptureError {
            CaptureError(.permissionDenied, "cannot drop privileges to '\(account.name)': \(what)")
        }
        func failErrno(_ operation: String) -> CaptureError {
            fail("\(operation): \(String(cString: strerror(errno)))")
        }
        if !keeping.isEmpty && flowmon_keep_capabilities_across_setuid() != 0 { throw failErrno("prctl(PR_SET_KEEPCAPS)") }
        var groups = [account.groupID]
        guard setgroups(1, &groups) == 0 else { throw failErrno("setgroups") }
        guard setgid(account.groupID) == 0 else { throw failErrno("setgid") }
        guard setuid(account.userID) == 0 else { throw failErrno("setuid") }
        guard getuid() == account.userID, geteuid() == account.userID,
            getgid() == account.groupID, getegid() == account.groupID
        else {
            throw fail("user and group IDs are \(getuid())/\(geteuid()) and \(getgid())/\(getegid()) after setuid")
        }
        if !keeping.isEmpty {
            let capabilities = keeping.reduce(UInt64(0)) { $0 | 1 << UInt64($1) }
            guard flowmon_set_capabilities(capabilities) == 0 else { throw failErrno("capset") }
        }
        if account.userID != 0 && setuid(0) == 0 {
            throw fail("root can still be regained with setuid(0)")
        }
    }
}
