/*
 * packet_blaster -- sends a capture's frames out of one interface at a chosen rate, faster than
 * tcpreplay can: the live-capture benchmark's sender (scripts/bench-live-rate).
 *
 * It reads a classic pcap file (Ethernet link type, either byte order, micro- or nanosecond
 * time stamps) into memory once, checking every record, then sends its frames in a loop
 * through an AF_PACKET SOCK_RAW socket bound to the interface, with PACKET_QDISC_BYPASS (the
 * frame goes straight to the driver's transmit function, as pktgen does, without the queueing
 * discipline), many frames per system call with sendmmsg(2). Time stamps in the file are
 * ignored: the pace is the target rate.
 *
 * Pacing is a token bucket on CLOCK_MONOTONIC: credit grows at the target rate, and the sender
 * waits (clock_nanosleep to an absolute time, or a short spin for waits below 50 us) until
 * about a millisecond's worth of frames is due, then sends all the credit it has in one
 * sendmmsg (at most --batch frames). Low rates therefore send small batches spaced in time,
 * high rates full batches back to back. Credit beyond two batches (or 2 ms of frames, if more)
 * is not kept: a sender that was held up longer (preempted, a slow system call) does not catch
 * up with a burst; what it missed is reported as `behind`, and the achieved rate is then below
 * the target. --unlimited sends full batches as fast as the socket takes them.
 *
 * ENOBUFS (the driver refused the frame: for a veth, its peer's backlog was full; the kernel
 * counts it in the interface's tx_dropped) is counted and the same frame sent again after a
 * short pause, so `sent` is exactly the number of frames the interface accepted. Any other
 * error stops the run with a message naming the frame.
 *
 *   cc -O2 -Wall -Wextra -o packet_blaster packet_blaster.c
 *   packet_blaster -i IF [--pps N | --unlimited] [--count N] [--seconds S] [--batch N]
 *                  [--no-bypass] [--json] FILE
 *   -> "sent N frames (B bytes) in S s: R pps, M Mbit/s (target T pps); sendmmsg calls C
 *       (mean batch X), ENOBUFS retries E, behind schedule by D frames"
 *
 * Needs CAP_NET_RAW. Without --count or --seconds it sends the file's frames once; with
 * either it loops over them until the first limit is reached; SIGINT/SIGTERM stop it early
 * (the report still counts what was sent).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_BATCH 1024          /* UIO_MAXIOV: the most messages one sendmmsg takes */
#define MAX_RECORD 262144       /* libpcap's largest snapshot length */
#define ETHER_HEADER 14
#define VLAN_TAG 4

static const char *program = "packet_blaster";
static volatile sig_atomic_t stopping = 0;

static void on_signal(int signal_number) { (void)signal_number; stopping = 1; }

static void fail(const char *format, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    fprintf(stderr, "%s: error: ", program);
    vfprintf(stderr, format, arguments);
    fputc('\n', stderr);
    va_end(arguments);
    exit(1);
}

static void usage_error(const char *format, ...) __attribute__((format(printf, 1, 2), noreturn));
static void usage_error(const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    fprintf(stderr, "%s: ", program);
    vfprintf(stderr, format, arguments);
    fprintf(stderr, " (see --help)\n");
    va_end(arguments);
    exit(2);
}

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* ---- the capture file ---------------------------------------------------------------- */

struct capture {
    unsigned char *data;        /* the whole file */
    size_t size;
    struct iovec *frames;       /* one per record, pointing into data */
    size_t count;
    size_t cut;                 /* records shorter than the frame on the wire (snaplen) */
    uint64_t bytes;             /* sum of the frames' lengths */
};

static unsigned char *read_all(const char *path, size_t *size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail("%s: %s", path, strerror(errno));
    size_t capacity = 1 << 20, used = 0;
    unsigned char *data = malloc(capacity);
    if (!data) fail("%s: out of memory", path);
    for (;;) {
        if (used == capacity) {
            capacity *= 2;
            unsigned char *grown = realloc(data, capacity);
            if (!grown) fail("%s: out of memory reading %zu bytes", path, capacity);
            data = grown;
        }
        ssize_t n = read(fd, data + used, capacity - used);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail("%s: %s", path, strerror(errno));
        if (n == 0) break;
        used += (size_t)n;
    }
    close(fd);
    *size = used;
    return data;
}

static uint32_t u32(const unsigned char *p, int big_endian) {
    return big_endian ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
                      : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* Classic pcap (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-04.html): a 24-byte
 * file header (magic, version 2.4, snaplen, link type), then records of a 16-byte header
 * (seconds, micro- or nanoseconds, captured length, original length) and the frame. */
static void load_capture(const char *path, struct capture *c) {
    memset(c, 0, sizeof *c);
    c->data = read_all(path, &c->size);
    if (c->size < 4) fail("%s: not a pcap file (%zu bytes, shorter than a pcap magic number)", path, c->size);
    uint32_t magic = u32(c->data, 0);
    int big_endian;
    if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d) big_endian = 0;
    else if (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1) big_endian = 1;
    else if (magic == 0x0a0d0d0a)
        fail("%s: a pcapng file; packet_blaster reads classic pcap (convert it: tcpdump -r %s -w OUT.pcap)", path, path);
    else
        fail("%s: not a pcap file (magic 0x%08" PRIx32 "; a pcap file starts with 0xa1b2c3d4 or 0xa1b23c4d "
             "in either byte order)", path, magic);
    if (c->size < 24) fail("%s: pcap file header cut: %zu of 24 bytes", path, c->size);
    uint32_t version = u32(c->data + 4, big_endian);
    uint16_t major = big_endian ? version >> 16 : version & 0xffff;
    if (major != 2) fail("%s: pcap version %u, expected 2", path, major);
    uint32_t link_type = u32(c->data + 20, big_endian) & 0x03ffffff;  /* the upper bits hold FCS details */
    if (link_type != 1)
        fail("%s: link type %" PRIu32 ", not Ethernet (1): an AF_PACKET raw socket on an Ethernet interface "
             "sends Ethernet frames", path, link_type);

    size_t capacity = 1024, offset = 24;
    c->frames = malloc(capacity * sizeof *c->frames);
    if (!c->frames) fail("%s: out of memory", path);
    while (offset < c->size) {
        size_t record = c->count + 1;
        if (c->size - offset < 16)
            fail("%s: record %zu at byte %zu: header cut (%zu of 16 bytes)", path, record, offset, c->size - offset);
        uint32_t captured = u32(c->data + offset + 8, big_endian);
        uint32_t original = u32(c->data + offset + 12, big_endian);
        if (captured > MAX_RECORD)
            fail("%s: record %zu at byte %zu: captured length %" PRIu32 " is more than %d (a damaged file?)",
                 path, record, offset, captured, MAX_RECORD);
        if (c->size - offset - 16 < captured)
            fail("%s: record %zu at byte %zu: frame cut (%" PRIu32 " bytes announced, %zu in the file)",
                 path, record, offset, captured, c->size - offset - 16);
        if (captured < ETHER_HEADER)
            fail("%s: record %zu at byte %zu: %" PRIu32 " bytes, shorter than an Ethernet header (14)",
                 path, record, offset, captured);
        if (captured < original) c->cut++;
        if (c->count == capacity) {
            capacity *= 2;
            struct iovec *grown = realloc(c->frames, capacity * sizeof *c->frames);
            if (!grown) fail("%s: out of memory (%zu records)", path, capacity);
            c->frames = grown;
        }
        c->frames[c->count].iov_base = c->data + offset + 16;
        c->frames[c->count].iov_len = captured;
        c->bytes += captured;
        c->count++;
        offset += 16 + (size_t)captured;
    }
    if (c->count == 0) fail("%s: a pcap file with no frames", path);
}

/* ---- the socket ---------------------------------------------------------------------- */

static int open_socket(const char *interface, int bypass, const struct capture *c, const char *path) {
    unsigned index = if_nametoindex(interface);
    if (index == 0) fail("no such interface '%s'", interface);
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);  /* protocol 0: sends only, receives nothing */
    if (fd < 0) {
        if (errno == EPERM || errno == EACCES)
            fail("cannot open an AF_PACKET socket: %s (needs CAP_NET_RAW: run as root)", strerror(errno));
        fail("cannot open an AF_PACKET socket: %s", strerror(errno));
    }
    struct ifreq request;
    memset(&request, 0, sizeof request);
    snprintf(request.ifr_name, sizeof request.ifr_name, "%s", interface);
    if (ioctl(fd, SIOCGIFFLAGS, &request) < 0) fail("%s: SIOCGIFFLAGS: %s", interface, strerror(errno));
    if (!(request.ifr_flags & IFF_UP)) fail("interface '%s' is down (ip link set %s up)", interface, interface);
    if (ioctl(fd, SIOCGIFMTU, &request) < 0) fail("%s: SIOCGIFMTU: %s", interface, strerror(errno));
    size_t mtu = (size_t)request.ifr_mtu;
    /* The kernel takes a frame of MTU + 14 bytes, 4 more when it carries an 802.1Q/802.1ad tag. */
    for (size_t i = 0; i < c->count; i++) {
        const unsigned char *frame = c->frames[i].iov_base;
        int tagged = (frame[12] == 0x81 && frame[13] == 0x00) || (frame[12] == 0x88 && frame[13] == 0xa8);
        if (c->frames[i].iov_len > mtu + ETHER_HEADER + (tagged ? VLAN_TAG : 0))
            fail("%s: record %zu is %zu bytes, more than %s's MTU of %zu allows (%zu with its Ethernet header%s)",
                 path, i + 1, c->frames[i].iov_len, interface, mtu, mtu + ETHER_HEADER + (tagged ? VLAN_TAG : 0),
                 tagged ? " and VLAN tag" : "");
    }
    struct sockaddr_ll address;
    memset(&address, 0, sizeof address);
    address.sll_family = AF_PACKET;
    address.sll_ifindex = (int)index;
    if (bind(fd, (struct sockaddr *)&address, sizeof address) < 0) fail("bind to '%s': %s", interface, strerror(errno));
    int on = 1;
    if (bypass && setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &on, sizeof on) < 0)
        fail("PACKET_QDISC_BYPASS: %s (Linux 3.14 or later; --no-bypass goes through the qdisc)", strerror(errno));
    return fd;
}

/* ---- sending ------------------------------------------------------------------------- */

struct totals {
    uint64_t sent, bytes, calls, enobufs, behind;
};

/* Sends frames next, next+1, ... (wrapping) until n were accepted; returns how many were
 * (fewer only when a signal stops the run). ENOBUFS: counted, the frame sent again after a
 * pause that grows while the interface keeps refusing, up to a second in all. */
static size_t send_frames(int fd, const struct capture *c, size_t *next, size_t n, struct totals *t,
                          const char *interface) {
    static struct mmsghdr messages[MAX_BATCH];
    size_t done = 0;
    uint64_t refused_since = 0, pause = 20000;
    while (done < n) {
        size_t batch = n - done;
        for (size_t i = 0; i < batch; i++) {
            size_t frame = (*next + i) % c->count;
            memset(&messages[i].msg_hdr, 0, sizeof messages[i].msg_hdr);
            messages[i].msg_hdr.msg_iov = &c->frames[frame];
            messages[i].msg_hdr.msg_iovlen = 1;
        }
        int r = sendmmsg(fd, messages, (unsigned)batch, 0);
        t->calls++;
        if (r > 0) {
            for (int i = 0; i < r; i++) t->bytes += c->frames[(*next + (size_t)i) % c->count].iov_len;
            *next = (*next + (size_t)r) % c->count;
            done += (size_t)r;
            refused_since = 0;
            pause = 20000;
            continue;
        }
        if (r < 0 && errno == EINTR) {
            if (stopping) break;
            continue;
        }
        if (r < 0 && errno == ENOBUFS) {
            t->enobufs++;
            uint64_t now = now_ns();
            if (refused_since == 0) refused_since = now;
            else if (now - refused_since > 1000000000u)
                fail("%s refused every frame for a second (ENOBUFS, %" PRIu64 " times in all)", interface, t->enobufs);
            struct timespec wait = {0, (long)pause};
            nanosleep(&wait, NULL);
            if (pause < 1000000) pause *= 2;
            if (stopping) break;
            continue;
        }
        size_t frame = *next % c->count;
        fail("sending record %zu (%zu bytes) on %s: %s", frame + 1, c->frames[frame].iov_len, interface,
             r < 0 ? strerror(errno) : "sendmmsg sent nothing");
    }
    t->sent += done;
    return done;
}

static void wait_until(uint64_t deadline) {
    for (;;) {
        uint64_t now = now_ns();
        if (now >= deadline || stopping) return;
        if (deadline - now < 50000) continue;  /* spin: a sleep this short overshoots */
        struct timespec t = {(time_t)(deadline / 1000000000u), (long)(deadline % 1000000000u)};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
    }
}

static void usage(void) {
    printf("usage: %s -i IF [--pps N | --unlimited] [--count N] [--seconds S] [--batch N] [--no-bypass] [--json] FILE\n"
           "Sends FILE's frames (classic pcap, Ethernet) out of interface IF through an AF_PACKET socket with\n"
           "PACKET_QDISC_BYPASS and sendmmsg, looping over the file.\n"
           "  -i, --interface IF  the interface (needs CAP_NET_RAW)\n"
           "  -p, --pps N         target rate in frames per second (token bucket on CLOCK_MONOTONIC)\n"
           "  -u, --unlimited     as fast as the socket takes them (the default)\n"
           "  -n, --count N       frames to send (default: the file's, once)\n"
           "  -t, --seconds S     stop after S seconds (with --count: whichever comes first)\n"
           "  -b, --batch N       most frames per sendmmsg call, 1..%d (default 256)\n"
           "      --no-bypass     go through the interface's queueing discipline\n"
           "      --json          print the result as one JSON object\n",
           program, MAX_BATCH);
}

static double parse_number(const char *text, const char *option, double low, double high) {
    char *end;
    errno = 0;
    double value = strtod(text, &end);
    if (errno || end == text || *end || !(value >= low && value <= high))
        usage_error("%s: '%s' is not a number from %g to %g", option, text, low, high);
    return value;
}

int main(int argc, char **argv) {
    const char *interface = NULL;
    double pps = 0, seconds = 0;
    uint64_t count = 0;
    size_t max_batch = 256;
    int bypass = 1, json = 0;
    enum { NO_BYPASS = 1000, JSON };
    static const struct option options[] = {
        {"interface", required_argument, 0, 'i'}, {"pps", required_argument, 0, 'p'},
        {"unlimited", no_argument, 0, 'u'},       {"count", required_argument, 0, 'n'},
        {"seconds", required_argument, 0, 't'},   {"batch", required_argument, 0, 'b'},
        {"no-bypass", no_argument, 0, NO_BYPASS}, {"json", no_argument, 0, JSON},
        {"help", no_argument, 0, 'h'},            {0, 0, 0, 0},
    };
    int option;
    while ((option = getopt_long(argc, argv, "i:p:un:t:b:h", options, NULL)) != -1) {
        switch (option) {
        case 'i': interface = optarg; break;
        case 'p': pps = parse_number(optarg, "--pps", 1, 1e9); break;
        case 'u': pps = 0; break;
        case 'n': count = (uint64_t)parse_number(optarg, "--count", 1, 1e15); break;
        case 't': seconds = parse_number(optarg, "--seconds", 0.001, 1e7); break;
        case 'b': max_batch = (size_t)parse_number(optarg, "--batch", 1, MAX_BATCH); break;
        case NO_BYPASS: bypass = 0; break;
        case JSON: json = 1; break;
        case 'h': usage(); return 0;
        default: usage_error("unknown option");
        }
    }
    if (!interface) usage_error("--interface is required");
    if (optind != argc - 1) usage_error("expected one capture file");
    const char *path = argv[optind];

    struct capture c;
    load_capture(path, &c);
    int fd = open_socket(interface, bypass, &c, path);
    if (count == 0 && seconds == 0) count = c.count;
    if (c.cut) fprintf(stderr, "%s: note: %zu of %zu records were cut by the capture's snapshot length; sent as cut\n",
                       program, c.cut, c.count);

    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;  /* no SA_RESTART: a blocked send returns EINTR */
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);  /* wake up on time, not up to 50 us late */

    /* A batch is about a millisecond of frames at the target rate (at least 1, at most
     * --batch); credit is capped at two batches or 2 ms of frames, whichever is more. */
    size_t want = pps > 0 ? (size_t)(pps / 1000) : max_batch;
    if (want < 1) want = 1;
    if (want > max_batch) want = max_batch;
    double cap = 2.0 * (double)want;
    if (cap < pps * 0.002) cap = pps * 0.002;
    struct totals t = {0, 0, 0, 0, 0};
    size_t next = 0;
    uint64_t start = now_ns(), last = start;
    uint64_t deadline = seconds > 0 ? start + (uint64_t)(seconds * 1e9) : UINT64_MAX;
    double credit = 0, behind = 0;
    while (!stopping) {
        uint64_t remaining = count ? count - t.sent : UINT64_MAX;
        if (remaining == 0) break;
        uint64_t now = now_ns();
        if (now >= deadline) break;
        size_t batch;
        if (pps > 0) {
            credit += (double)(now - last) * pps / 1e9;
            last = now;
            if (credit > cap) {
                behind += credit - cap;
                credit = cap;
            }
            size_t needed = remaining < want ? (size_t)remaining : want;
            if (credit < (double)needed) {
                uint64_t due = now + (uint64_t)(((double)needed - credit) / pps * 1e9) + 1;
                wait_until(due < deadline ? due : deadline);
                continue;
            }
            batch = (size_t)credit;
            if (batch > max_batch) batch = max_batch;
        } else {
            batch = max_batch;
        }
        if (batch > remaining) batch = (size_t)remaining;
        size_t sent = send_frames(fd, &c, &next, batch, &t, interface);
        credit -= (double)sent;
    }
    double elapsed = (double)(now_ns() - start) / 1e9;
    t.behind = (uint64_t)behind;
    double rate = elapsed > 0 ? (double)t.sent / elapsed : 0;
    double mbits = elapsed > 0 ? (double)t.bytes * 8 / elapsed / 1e6 : 0;
    double mean = t.calls ? (double)t.sent / (double)t.calls : 0;
    if (json) {
        printf("{\"sent\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"seconds\":%.6f,\"pps\":%.0f,\"mbit_per_s\":%.1f,"
               "\"target_pps\":%.0f,\"sendmmsg_calls\":%" PRIu64 ",\"mean_batch\":%.1f,\"enobufs_retries\":%" PRIu64
               ",\"behind\":%" PRIu64 ",\"frames_in_file\":%zu,\"interrupted\":%s}\n",
               t.sent, t.bytes, elapsed, rate, mbits, pps, t.calls, mean, t.enobufs, t.behind, c.count,
               stopping ? "true" : "false");
    } else {
        char target[64];
        if (pps > 0) snprintf(target, sizeof target, "target %.0f pps", pps);
        else snprintf(target, sizeof target, "unlimited");
        printf("sent %" PRIu64 " frames (%" PRIu64 " bytes) in %.3f s: %.0f pps, %.1f Mbit/s (%s); sendmmsg calls %" PRIu64
               " (mean batch %.1f), ENOBUFS retries %" PRIu64 ", behind schedule by %" PRIu64 " frames%s\n",
               t.sent, t.bytes, elapsed, rate, mbits, target, t.calls, mean, t.enobufs, t.behind,
               stopping ? " (interrupted)" : "");
    }
    close(fd);
    return 0;
}
