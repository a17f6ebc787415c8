/// Bech32m (BIP-350): the checksummed text form of addresses. A typo in up to four characters is
/// always detected, and the alphabet avoids look-alike characters.
public enum Bech32m {
    private static let alphabet = Array("qpzry9x8gf2tvdw0s3jn54khce6mua7l".utf8)
    private static let constant: UInt32 = 0x2bc8_30a3
    private static let generators: [UInt32] = [0x3b6a_57b2, 0x2650_8e6d, 0x1ea1_19fa, 0x3d42_33dd, 0x2a14_62b3]
    /// Longest text accepted, as in BIP-173.
    public static let maxLength = 90

    public static func encode(humanPart: String, data: [UInt8]) -> String {
        let values = convertBits(data, from: 8, to: 5, pad: true)!
        let human = Array(humanPart.utf8)
        let checksum = makeChecksum(human: human, values: values)
        let body = (values + checksum).map { alphabet[Int($0)] }
        return String(decoding: human + [UInt8(ascii: "1")] + body, as: UTF8.self)
    }

    /// The human part and the data; nil on any error (mixed case, bad character, bad checksum).
    public static func decode(_ text: String) -> (humanPart: String, data: [UInt8])? {
        let utf8 = Array(text.utf8)
        guard utf8.count <= maxLength, utf8.allSatisfy({ (33...126).contains($0) }) else { return nil }
        let hasLower = utf8.contains { (97...122).contains($0) }, hasUpper = utf8.contains { (65...90).contains($0) }
        guard !(hasLower && hasUpper) else { return nil }
        let lower = utf8.map { (65...90).contains($0) ? $0 + 32 : $0 }
        guard let separator = lower.lastIndex(of: UInt8(ascii: "1")), separator >= 1, lower.count - separator - 1 >= 6 else { return nil }
        let human = Array(lower[..<separator])
        var values = [UInt8]()
        for c in lower[(separator + 1)...] {
            guard let value = alphabet.firstIndex(of: c) else { return nil }
            values.append(UInt8(value))
        }
        guard polymod(expand(human) + values) == constant else { return nil }
        guard let data = convertBits(Array(values.dropLast(6)), from: 5, to: 8, pad: false) else { return nil }
        return (String(decoding: human, as: UTF8.self), data)
    }

    private static func polymod(_ values: [UInt8]) -> UInt32 {
        var check: UInt32 = 1
        for value in values {
            let top = check >> 25
            check = (check & 0x1ff_ffff) << 5 ^ UInt32(value)
            for bit in 0..<5 where (top >> UInt32(bit)) & 1 == 1 { check ^= generators[bit] }
        }
        return check
    }

    private static func expand(_ human: [UInt8]) -> [UInt8] {
        human.map { $0 >> 5 } + [0] + human.map { $0 & 31 }
    }

    private static func makeChecksum(human: [UInt8], values: [UInt8]) -> [UInt8] {
        let mod = polymod(expand(human) + values + [0, 0, 0, 0, 0, 0]) ^ constant
        return (0..<6).map { UInt8((mod >> UInt32(5 * (5 - $0))) & 31) }
    }

    private static func convertBits(_ data: [UInt8], from: Int, to: Int, pad: Bool) -> [UInt8]? {
        var accumulator = 0, bits = 0
        var out = [UInt8]()
        let maxValue = (1 << to) - 1
        for value in data {
            guard Int(value) >> from == 0 else { return nil }
            accumulator = accumulator << from | Int(value)
            bits += from
            while bits >= to {
                bits -= to
                out.append(UInt8((accumulator >> bits) & maxValue))
            }
        }
        if pad {
            if bits > 0 { out.append(UInt8((accumulator << (to - bits)) & maxValue)) }
        } else if bits >= from || (accumulator << (to - bits)) & maxValue != 0 {
            return nil
        }
        return out
    }
}
