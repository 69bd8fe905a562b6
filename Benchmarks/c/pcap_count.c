/*
 * pcap_count -- baseline: the cheapest possible libpcap read loop.
 *
 * Reads a pcap/pcapng file with pcap_open_offline() + pcap_next_ex() and counts
 * packets and captured bytes. It touches no packet data, so its time is the floor
 * for any tool that reads the same file through libpcap (file I/O + record parsing).
 *
 *   gcc -O2 -Wall -Wextra -o pcap_count pcap_count.c -lpcap
 *   ./pcap_count FILE        ->  "packets N bytes N"
 */
#include <pcap/pcap.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE\n", argv[0]);
        return 2;
    }
    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(argv[1], errbuf);
    if (p == NULL) {
        fprintf(stderr, "pcap_count: %s\n", errbuf);
        return 1;
    }

    unsigned long long packets = 0, bytes = 0;
    struct pcap_pkthdr *hdr;
    const unsigned char *data;
    int rc;
    while ((rc = pcap_next_ex(p, &hdr, &data)) == 1) {
        packets++;
        bytes += hdr->caplen;
    }
    /* rc == PCAP_ERROR_BREAK (-2) is a clean end of file; -1 is a read error (e.g. truncated file). */
    if (rc == PCAP_ERROR)
        fprintf(stderr, "pcap_count: %s (after %llu packets)\n", pcap_geterr(p), packets);

    printf("packets %llu bytes %llu\n", packets, bytes);
    pcap_close(p);
    return rc == PCAP_ERROR ? 1 : 0;
}
