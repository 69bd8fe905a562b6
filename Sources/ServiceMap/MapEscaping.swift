/// Escaping for the three languages a map is written in. Every name on a map (namespace,
/// pod, workload, label, policy, file name) comes from outside and may hold any character;
/// these functions make it text in its context and nothing else.
package enum MapEscaping {
    /// Text or a quoted attribute value in HTML and inline SVG: `& < > " '` become character
    /// references, and control characters other than tab and newline (which HTML and XML do
    /// not allow, escaped or not) become U+FFFD.
    package static func html(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { Self.htmlNeedsEscape($0) }) else { return text }
        var result = ""
        result.reserveCapacity(text.utf8.count + 16)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            case "\t", "\n": result.unicodeScalars.append(scalar)
            default:
                result.unicodeScalars.append(Self.isControl(scalar) ? "\u{FFFD}" : scalar)
            }
        }
        return result
    }

    static func htmlNeedsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "&", "<", ">", "\"", "'": true
        case "\t", "\n": false
        default: Self.isControl(scalar)
        }
    }

    /// Control characters (C0, DEL, C1) and the noncharacters U+FFFE/U+FFFF.
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0xFFFE || scalar.value == 0xFFFF
    }

    /// A JSON string literal (with its quotes) that is also safe inside an HTML `<script>`
    /// element: besides JSON's escapes, `<`, `>` and `&` are written as `\u003c` ...
    /// (so no `</script>` or `<!--` can appear) and U+2028/U+2029 as `\u2028`/`\u2029`.
    package static func scriptJSONString(_ text: String) -> String {
        var result = "\""
        result.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case "<", ">", "&", "'", "\u{2028}", "\u{2029}":
                result += Self.unicodeEscape(scalar.value)
            default:
                if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) {
                    result += Self.unicodeEscape(scalar.value)
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }

    static func unicodeEscape(_ value: UInt32) -> String {
        let hex = String(value, radix: 16)
        return "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }

    /// The inside of a double-quoted Graphviz DOT string: `"` and `\` are escaped (so `\n`,
    /// `\N`, `\G` ... in a name stay text, not label escapes), a newline becomes DOT's `\n`,
    /// and other control characters become U+FFFD.
    package static func dot(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            default: result.unicodeScalars.append(Self.isControl(scalar) ? "\u{FFFD}" : scalar)
            }
        }
        return result
    }
}
