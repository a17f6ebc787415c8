import AgoraPrimitives

/// Unsigned 256-bit integers for targets and chain work: exactly the arithmetic difficulty needs,
/// in integers, so every node computes the same bits.
public struct UInt256: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Most significant word first, like `Hash256`.
    public private(set) var words: [UInt64]

    public static let zero = UInt256(words: [0, 0, 0, 0])
    public static let one = UInt256(words: [0, 0, 0, 1])
    public static let max = UInt256(words: [.max, .max, .max, .max])

    init(words: [UInt64]) { precondition(words.count == 4); self.words = words }
    public init(_ value: UInt64) { self.init(words: [0, 0, 0, value]) }
    public init(_ hash: Hash256) { self.init(words: [hash.w0, hash.w1, hash.w2, hash.w3]) }

    public var hash: Hash256 { Hash256(w0: words[0], w1: words[1], w2: words[2], w3: words[3]) }
    public var isZero: Bool { words.allSatisfy { $0 == 0 } }
    public var description: String { "0x" + hash.hex }

    public static func < (a: UInt256, b: UInt256) -> Bool { a.words.lexicographicallyPrecedes(b.words) }

    /// The sum, or nil on overflow.
    public func adding(_ other: UInt256) -> UInt256? {
        var result = [UInt64](repeating: 0, count: 4)
        var carry: UInt64 = 0
        for i in (0..<4).reversed() {
            let (partial, overflow1) = words[i].addingReportingOverflow(other.words[i])
            let (sum, overflow2) = partial.addingReportingOverflow(carry)
            result[i] = sum
            carry = (overflow1 ? 1 : 0) + (overflow2 ? 1 : 0)
        }
        return carry == 0 ? UInt256(words: result) : nil
    }

    /// The difference; the caller ensures `other <= self`.
    public func subtracting(_ other: UInt256) -> UInt256 {
        precondition(other <= self, "UInt256 underflow")
        var result = [UInt64](repeating: 0, count: 4)
        var borrow: UInt64 = 0
        for i in (0..<4).reversed() {
            let (partial, overflow1) = words[i].subtractingReportingOverflow(other.words[i])
            let (difference, overflow2) = partial.subtractingReportingOverflow(borrow)
            result[i] = difference
            borrow = (overflow1 ? 1 : 0) + (overflow2 ? 1 : 0)
        }
        return UInt256(words: result)
    }

    /// The product with a word, or nil on overflow.
    public func multiplied(by factor: UInt64) -> UInt256? {
        var result = [UInt64](repeating: 0, count: 4)
        var carry: UInt64 = 0
        for i in (0..<4).reversed() {
            let (high, low) = words[i].multipliedFullWidth(by: factor)
            let (sum, overflow) = low.addingReportingOverflow(carry)
            result[i] = sum
            carry = high + (overflow ? 1 : 0)
        }
        return carry == 0 ? UInt256(words: result) : nil
    }

    /// Quotient and remainder by a nonzero word.
    public func divided(by divisor: UInt64) -> (quotient: UInt256, remainder: UInt64) {
        precondition(divisor != 0, "division by zero")
        var result = [UInt64](repeating: 0, count: 4)
        var remainder: UInt64 = 0
        for i in 0..<4 {
            (result[i], remainder) = divisor.dividingFullWidth((high: remainder, low: words[i]))
        }
        return (UInt256(words: result), remainder)
    }

    /// Quotient by a nonzero 256-bit number: shift-and-subtract long division (256 steps; used
    /// once per header, for its work).
    public func divided(by divisor: UInt256) -> UInt256 {
        precondition(!divisor.isZero, "division by zero")
        var quotient = UInt256.zero
        var remainder = UInt256.zero
        for bit in 0..<256 {
            remainder = remainder.shiftedLeftByOne(inserting: self.bit(bit))
            if remainder >= divisor {
                remainder = remainder.subtracting(divisor)
                quotient.words[bit / 64] |= 1 << UInt64(63 - bit % 64)
            }
        }
        return quotient
    }

    /// Bit `index` counted from the most significant.
    private func bit(_ index: Int) -> UInt64 { words[index / 64] >> UInt64(63 - index % 64) & 1 }

    private func shiftedLeftByOne(inserting low: UInt64) -> UInt256 {
        var result = [UInt64](repeating: 0, count: 4)
        for i in 0..<4 {
            let carryIn = i < 3 ? words[i + 1] >> 63 : low
            result[i] = words[i] << 1 | carryIn
        }
        return UInt256(words: result)
    }
}
