#ifndef FLOWMON_CPCAP_SHIM_H
#define FLOWMON_CPCAP_SHIM_H
#include <pcap/pcap.h>
#endif
