/// Greedy pair merging over a word's symbols, shared by both tokenizer families: repeatedly merge
/// the adjacent pair with the best priority (ties: leftmost), until no pair qualifies. A binary heap
/// with lazy invalidation keeps this O(n log n), so a hostile long word cannot stall the tokenizer.
struct SymbolMerger {
    struct Candidate {
        var priority: Double   // smaller merges first
        var left: Int
        var right: Int
        var length: Int        // combined length when queued; stale if the symbols changed since

        func before(_ other: Candidate) -> Bool {
            priority < other.priority || (priority == other.priority && left < other.left)
        }
    }

    /// Symbols as (start, length) in units of the word; `length == 0` marks a symbol merged away.
    private(set) var starts: [Int]
    private(set) var lengths: [Int]
    private var next: [Int]
    private var previous: [Int]
    private var heap: [Candidate] = []

    init(symbolLengths: [Int]) {
        var s: [Int] = []
        var position = 0
        for l in symbolLengths { s.append(position); position += l }
        starts = s
        lengths = symbolLengths
        next = (0..<symbolLengths.count).map { $0 + 1 < symbolLengths.count ? $0 + 1 : -1 }
        previous = (0..<symbolLengths.count).map { $0 - 1 }
    }

    /// Runs the merges. `priority(start, length)` gives the priority of the span that merging
    /// would create, or nil when that span may not be merged.
    mutating func run(priority: (_ leftStart: Int, _ leftLength: Int, _ rightLength: Int) -> Double?) {
        func consider(_ left: Int, _ right: Int) {
            guard left >= 0, right >= 0 else { return }
            if let p = priority(starts[left], lengths[left], lengths[right]) {
                push(Candidate(priority: p, left: left, right: right, length: lengths[left] + lengths[right]))
            }
        }
        for i in 0..<max(0, lengths.count - 1) { consider(i, i + 1) }
        while let top = pop() {
            let l = top.left, r = top.right
            guard lengths[l] > 0, lengths[r] > 0, next[l] == r, lengths[l] + lengths[r] == top.length else { continue }
            lengths[l] += lengths[r]
            lengths[r] = 0
            next[l] = next[r]
            if next[r] >= 0 { previous[next[r]] = l }
            consider(previous[l], l)
            consider(l, next[l])
        }
    }

    /// The surviving symbols as (start, length), in order.
    var symbols: [(start: Int, length: Int)] {
        var out: [(Int, Int)] = []
        var i = lengths.isEmpty ? -1 : 0
        while i >= 0 { out.append((starts[i], lengths[i])); i = next[i] }
        return out
    }

    private mutating func push(_ c: Candidate) {
        heap.append(c)
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard heap[i].before(heap[parent]) else { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    private mutating func pop() -> Candidate? {
        guard !heap.isEmpty else { return nil }
        let top = heap[0]
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var i = 0
            while true {
                let a = 2 * i + 1, b = a + 1
                var best = i
                if a < heap.count && heap[a].before(heap[best]) { best = a }
                if b < heap.count && heap[b].before(heap[best]) { best = b }
                if best == i { break }
                heap.swapAt(i, best)
                i = best
            }
        }
        return top
    }
}
