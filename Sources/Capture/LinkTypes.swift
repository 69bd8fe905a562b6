// TEMPORARY SKELETON; replaced by the capture module's version.
public func linkTypeName(_ linkType: UInt32) -> String { "LINKTYPE_\(linkType)" }
