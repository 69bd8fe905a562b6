#ifndef FLOWMON_CPCAP_SHIM_H
#define FLOWMON_CPCAP_SHIM_H
#include <pcap/pcap.h>
/* eventfd, which LiveCapture.stop() writes to wake a dispatch waiting in poll. */
#ifdef __linux__
#include <sys/eventfd.h>
#endif
/* prctl(2) and capset(2), which Swift cannot call (prctl is variadic; glibc does not wrap capset):
 * Privileges.drop keeps the eBPF datapath's capabilities across `--user`. */
#ifdef __linux__
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
static inline int flowmon_keep_capabilities_across_setuid(void) {
    return prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L);
}
/* Sets the effective and permitted sets to `capabilities` (a bit per CAP_ number), the inheritable set to none. */
static inline int flowmon_set_capabilities(unsigned long long capabilities) {
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2] = {
        {(__u32)capabilities, (__u32)capabilities, 0},
        {(__u32)(capabilities >> 32), (__u32)(capabilities >> 32), 0},
    };
    return (int)syscall(SYS_capset, &header, data);
}
#endif
#endif
