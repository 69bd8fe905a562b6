#ifndef FLOWMON_CPCAP_SHIM_H
#define FLOWMON_CPCAP_SHIM_H
#include <pcap/pcap.h>
/* eventfd, which LiveCapture.stop() writes to wake a dispatch waiting in poll. */
#ifdef __linux__
#include <sys/eventfd.h>
#endif
#endif
