import CPcap

/// The libpcap name of a LINKTYPE_ value, for example 274 -> "ETHERNET_MPACKET" and
/// 101 -> "RAW"; "LINKTYPE_<n>" if libpcap has no name for it.
///
/// The corresponding C function is `pcap_datalink_val_to_name` (which takes a DLT_
/// value, so the LINKTYPE_ value is mapped first).
package func linkTypeName(_ linkType: UInt32) -> String {
    guard let dlt = dataLinkType(forLinkType: linkType), let name = pcap_datalink_val_to_name(dlt) else {
        return "LINKTYPE_\(linkType)"
    }
    return String(cString: name)
}

/// The DLT_ value libpcap uses for a LINKTYPE_ value from a file, or `nil` if it does
/// not fit in a C `int`.
///
/// Files carry LINKTYPE_ values; libpcap's API (`pcap_open_dead`, `pcap_datalink_val_to_name`)
/// takes DLT_ values. They are equal except for a few historical numbers, which this maps
/// as libpcap's `linktype_to_dlt` does on this platform.
func dataLinkType(forLinkType linkType: UInt32) -> Int32? {
    switch linkType {
    case 100: return DLT_ATM_RFC1483  // LINKTYPE_ATM_RFC1483
    case 101: return DLT_RAW  // LINKTYPE_RAW
    case 102: return DLT_SLIP_BSDOS  // LINKTYPE_SLIP_BSDOS
    case 103: return DLT_PPP_BSDOS  // LINKTYPE_PPP_BSDOS
    case 106: return DLT_ATM_CLIP  // LINKTYPE_ATM_CLIP
    default: return linkType <= UInt32(Int32.max) ? Int32(linkType) : nil
    }
}

/// The largest captured length libpcap accepts for a link type (its `max_snaplen_for_dlt`):
/// 262144 (`MAXIMUM_SNAPLEN`) except for the few link types whose packets can be bigger.
func maximumSnapshotLength(forLinkType linkType: UInt32) -> UInt32 {
    switch linkType {
    case 231: return 128 * 1024 * 1024  // D-Bus messages
    case 279: return 8 * 1024 * 1024  // EBHSCR
    case 249: return 1024 * 1024  // USBPcap
    default: return 262_144
    }
}

/// The snapshot length libpcap uses for a file or interface: the recorded one, or the
/// link type's maximum if the recorded one is 0 or above it (libpcap's `pcap_adjust_snapshot`).
func adjustedSnapshotLength(_ snapshotLength: UInt32, linkType: UInt32) -> UInt32 {
    let maximum = maximumSnapshotLength(forLinkType: linkType)
    return snapshotLength == 0 || snapshotLength > maximum ? maximum : snapshotLength
}
