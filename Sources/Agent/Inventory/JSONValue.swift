/// A JSON value (RFC 8259 section 3) as `JSONParser` reads it: the tree the inventory
/// loaders walk through `JSONReader`.
///
/// Numbers keep whether their text was an integer (no fraction, no exponent, within Int's
/// range), so messages print `the number 7` and integer fields need no floating-point check.
package enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case integer(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    package var isNull: Bool {
        if case .null = self { return true }
        return false
    }
}

/// A JSON object's members in text order. Lookups search from the end, so of two members
/// with one name the last counts (RFC 8259 section 4 leaves duplicates to the reader; this is
/// what most readers, Go's encoding/json among them, do). The objects of Kubernetes' JSON
/// have tens of members at most, where a linear search beats hashing every key.
package struct JSONObject: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    package var members: [(key: String, value: JSONValue)]

    package init(members: [(key: String, value: JSONValue)] = []) {
        self.members = members
    }

    package init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.members = elements.map { (key: $0.0, value: $0.1) }
    }

    package subscript(key: String) -> JSONValue? {
        var index = self.members.count
        while index > 0 {
            index -= 1
            if self.members[index].key == key { return self.members[index].value }
        }
        return nil
    }

    /// The same members in the same order.
    package static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        lhs.members.count == rhs.members.count
            && zip(lhs.members, rhs.members).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }

    /// The members with distinct names (the last of each), in text order.
    package var distinctMembers: [(key: String, value: JSONValue)] {
        var seen = Set<String>()
        seen.reserveCapacity(self.members.count)
        var result: [(key: String, value: JSONValue)] = []
        result.reserveCapacity(self.members.count)
        for member in self.members.reversed() where seen.insert(member.key).inserted {
            result.append(member)
        }
        result.reverse()
        return result
    }
}
