/// Amounts are `UInt64` base units: 1 AGR = 10^9 units. Never floats: text is parsed and printed
/// digit by digit.
public enum Amount {
    public static let unitsPerCoin: UInt64 = 1_000_000_000
    public static let decimals = 9
    /// What the integer amounts in Agora's JSON answers count, as each answer carrying them says.
    public static let unitLabel = "base units: 1 AGR = 1000000000 units"

    /// `x * numerator / denominator` rounded down, computed in 128 bits; nil if the result does
    /// not fit in 64 bits or the denominator is zero.
    public static func mulDiv(_ x: UInt64, _ numerator: UInt64, _ denominator: UInt64) -> UInt64? {
        guard denominator != 0 else { return nil }
        let product = x.multipliedFullWidth(by: numerator)
        guard product.high < denominator else { return nil }
        return denominator.dividingFullWidth(product).quotient
    }

    /// `a + b`, nil on overflow.
    public static func add(_ a: UInt64, _ b: UInt64) -> UInt64? {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? nil : sum
    }

    /// "12.5" → 12_500_000_000. At most 9 decimals; no sign, no exponent; nil on anything else.
    public static func parse(coins text: String) -> UInt64? {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, !whole.isEmpty || parts.count == 2, whole.allSatisfy(\.isASCIIDigit) else { return nil }
        let fraction = parts.count == 2 ? parts[1] : ""
        guard fraction.count <= decimals, fraction.allSatisfy(\.isASCIIDigit), !(whole.isEmpty && fraction.isEmpty) else { return nil }
        let wholeUnits = whole.isEmpty ? 0 : UInt64(whole)
        let fractionUnits = UInt64(fraction + String(repeating: "0", count: decimals - fraction.count))
        guard let wholeUnits, let fractionUnits else { return nil }
        let (scaled, overflow) = wholeUnits.multipliedReportingOverflow(by: unitsPerCoin)
        guard !overflow else { return nil }
        return add(scaled, fractionUnits)
    }

    /// 12_500_000_000 → "12.5".
    public static func format(_ units: UInt64) -> String {
        let whole = units / unitsPerCoin, fraction = units % unitsPerCoin
        if fraction == 0 { return "\(whole)" }
        var digits = String(fraction)
        digits = String(repeating: "0", count: decimals - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast() }
        return "\(whole).\(digits)"
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
