// Text forms for configuration files and RPC (JSON). These are for people and tools; nothing
// hashed or signed ever goes through them.

/// Decodes a single string and parses it, with `expected` in the error when it does not parse.
private func decodeText<T>(_ decoder: any Decoder, expected: String, _ parse: (String) -> T?) throws -> T {
    let text = try decoder.singleValueContainer().decode(String.self)
    guard let value = parse(text) else {
        throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "expected \(expected), got \(text)"))
    }
    return value
}

extension Hash256: Codable {
    public init(from decoder: any Decoder) throws { self = try decodeText(decoder, expected: "64 hex digits", Hash256.init(hex:)) }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }
}

extension AccountID: Codable {
    public init(from decoder: any Decoder) throws { self = try decodeText(decoder, expected: "an ag1… address", AccountID.init(address:)) }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(address)
    }
}
