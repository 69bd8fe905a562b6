// Swift 6.3.1 (x86_64 Linux) miscompile: `swiftc -O -sanitize=address minimal.swift && ./minimal`
// reports heap-use-after-free; -Onone is clean. In the loop, the optimizer releases (frees)
// the buffer of the discarded `Array(boxes)` before it copies the elements into it.
final class Box {}

struct Boxes: RandomAccessCollection {
    var storage: [Box]
    var startIndex: Int { 0 }
    var endIndex: Int { storage.count }
    subscript(position: Int) -> Box { storage[position] }
}

@inline(never)
func discardCopies(_ boxes: Boxes) {
    for _ in 0..<2 {
        _ = Array(boxes)
    }
}

discardCopies(Boxes(storage: [Box(), Box()]))
print("done")
