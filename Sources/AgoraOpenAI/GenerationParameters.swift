import AgoraEngine
import AgoraPrimitives

extension GenerationJob {
    /// The job's parameters beside its prompt, in canonical bytes: the token limit, every sampling
    /// parameter (floats by their bits, biases in token order), the seed and the stop sequences.
    /// A transcript names them by digest, so the client that planned the same request from the same
    /// body can tell that the provider generated with the parameters it asked for.
    public var parametersDigest: Hash256 {
        var writer = CanonicalWriter()
        writer.fixed(DomainTag.generationParameters.bytes)
        let s = sampling
        writer.u64(UInt64(maxTokens)); writer.u32(s.temperature.bitPattern); writer.u64(UInt64(s.topK)); writer.u32(s.topP.bitPattern)
        writer.u32(s.minP.bitPattern); writer.u32(s.repetitionPenalty.bitPattern); writer.u32(s.frequencyPenalty.bitPattern)
        writer.u32(s.presencePenalty.bitPattern); writer.u64(UInt64(s.penaltyWindow))
        let biases = s.logitBias.sorted { $0.key < $1.key }
        writer.u32(UInt32(biases.count))
        for (token, bias) in biases { writer.u32(UInt32(bitPattern: token)); writer.u32(bias.bitPattern) }
        writer.u64(s.seed)
        writer.u32(UInt32(stopSequences.count))
        for stop in stopSequences { writer.string(stop) }
        return Hash256.sha256(writer.bytes)
    }
}
