#if canImport(Glibc)
import Glibc
#endif

/// One in-memory file (`memfd_create`), rewritten with each fuzz input, for the code that
/// only reads paths: `path` (`/proc/self/fd/N`) opens it afresh, at offset 0, every time.
/// Nothing is left on disk, even after a crash.
final class InputFile {
    let descriptor: Int32
    let path: String

    /// `name` shows in `/proc/PID/fd` and in error messages' resolved paths; it does not matter otherwise.
    init(name: String) {
        // Glibc's module map leaves memfd_create (sys/mman.h, _GNU_SOURCE) out; glibc has had it since 2.27.
        typealias MemfdCreate = @convention(c) (UnsafePointer<CChar>, UInt32) -> Int32
        guard let symbol = dlsym(nil, "memfd_create") else { fatalError("flowmon-fuzz: memfd_create is not available") }
        let descriptor = unsafeBitCast(symbol, to: MemfdCreate.self)(name, 1 /* MFD_CLOEXEC */)
        guard descriptor >= 0 else { fatalError("flowmon-fuzz: memfd_create failed: errno \(errno)") }
        self.descriptor = descriptor
        self.path = "/proc/self/fd/\(descriptor)"
    }

    deinit { close(self.descriptor) }

    /// Makes the file's content exactly `bytes`.
    func replace(with bytes: UnsafeRawBufferPointer) {
        guard ftruncate(self.descriptor, 0) == 0 else { fatalError("flowmon-fuzz: ftruncate failed: errno \(errno)") }
        var offset = 0
        while offset < bytes.count {
            let written = pwrite(self.descriptor, bytes.baseAddress! + offset, bytes.count - offset, off_t(offset))
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { fatalError("flowmon-fuzz: pwrite failed: errno \(errno)") }
            offset += written
        }
    }
}
