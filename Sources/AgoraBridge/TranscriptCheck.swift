import AgoraEngine
import AgoraLedger
import AgoraMarket
import AgoraOpenAI
import AgoraPrimitives

/// A provider's signed account of one answer, as it arrived with the answer's end.
struct SignedTranscript: Sendable {
    var transcript: TranscriptCommitment
    var signature: Signature
    /// The generated token ids the transcript's output digest covers.
    var output: [Int32]
}

/// What the bridge checks of a provider's transcript before it pays an answer's last tokens: that
/// the provider signed it, for this request (chain, channel, sequence, body and seed), with the
/// generation's parameters and prompt the bridge planned itself from the same body, and that its
/// output token ids are the text the bridge received. A transcript that passes binds the provider
/// to what it claims to have run; whether it really ran it is the audit's question.
enum TranscriptCheck {
    /// Nil when the transcript is what the provider owes; otherwise why not.
    static func problem(with signed: SignedTranscript, provider: AccountID, model: Hash256, header: RequestHeader, chainID: String,
                        job: GenerationJob, received: String, finish: String?, tokenizer: Tokenizer) -> String? {
        let transcript = signed.transcript
        guard provider.verifies(signed.signature, of: transcript.signingBytes(chainID: chainID)), transcript.provider == provider else {
            return "the transcript is not signed by the provider"
        }
        guard transcript.model == model else { return "the transcript names another model" }
        guard transcript.request == header.digest(chainID: chainID) else { return "the transcript names another request" }
        guard transcript.parametersDigest == job.parametersDigest else { return "the transcript names other generation parameters" }
        guard transcript.promptDigest == TranscriptCommitment.digest(tokens: job.prompt) else { return "the transcript names another prompt" }
        guard transcript.outputDigest == TranscriptCommitment.digest(tokens: signed.output), Int(transcript.outputTokens) == signed.output.count else {
            return "the transcript's output digest does not cover the token ids sent with it"
        }
        let ending = TranscriptCommitment.Ending(finishReason: finish)
        guard transcript.ending == ending else { return "the transcript claims another ending than the stream's" }
        guard let text = shownText(of: signed.output, stops: job.stopSequences, tokenizer: tokenizer) else { return "an output token is outside the vocabulary" }
        // A cut answer's text may stop short of its ids.
        guard ending == .cut ? text.hasPrefix(received) : text == received else { return "the output token ids are not the text received" }
        return nil
    }

    /// Token ids decoded as the server shows text: stop sequences cut, held text released at a
    /// natural end. Nil if an id is outside the vocabulary.
    static func shownText(of tokens: [Int32], stops: [String], tokenizer: Tokenizer) -> String? {
        guard tokens.allSatisfy({ $0 >= 0 && Int($0) < tokenizer.vocabulary.tokens.count }) else { return nil }
        var detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
        var filter = StopSequenceFilter(stops)
        var text = ""
        for token in tokens { text += filter.push(detokenizer.append(token)).0 }
        if !filter.stopped { text += filter.flush(detokenizer.finish()) }
        return text
    }
}
