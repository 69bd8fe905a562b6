/// Why the eBPF datapath could not start or attach: a sentence for the user, and whether a
/// missing privilege is the cause (the caller falls back to libpcap under `--datapath auto`).
package struct KernelCaptureError: Error, CustomStringConvertible {
    package var message: String
    package var isPermission: Bool

    package init(permission: Bool = false, _ message: String) {
        self.message = message
        self.isPermission = permission
    }

    package var description: String { self.message }
}
