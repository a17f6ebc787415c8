import AgoraMarket
import AgoraPrimitives
import Logging

/// Why a channel's books are to be compared with the provider's.
enum BooksCheck: Sendable {
    /// Restored after the bridge's earlier run ended: answers may have been cut mid-way, and the
    /// tokens counted but not yet signed then are lost with it.
    case afterClientCrash
    /// An answer on it ended without the provider's end of stream (broken off, failed, timed out,
    /// or cut by the bridge when the provider did not stop): tokens in flight may be owed.
    case afterProviderCut
}

extension Bridge {
    /// Notes that an answer on `provider`'s channel ended without its end of stream; the channel
    /// keeper compares the books once no answer streams on the channel.
    func answerCut(on provider: AccountID) {
        if unreconciled[provider] == nil { unreconciled[provider] = .afterProviderCut }
    }

    /// Compares `provider`'s books of its channel with the bridge's count, once no answer streams
    /// on it (a running answer's tokens in flight would count as a gap), and settles the
    /// difference as `Reconciliation` decides: paid up to one credit window after the bridge's own
    /// crash, otherwise left unpaid, and the channel closed if it has too little credit left.
    /// Left for a later call when the provider cannot be reached.
    func reconcile(_ provider: AccountID) async {
        guard let reason = unreconciled[provider], streams(provider) == 0, let meter = meters[provider] else { return }
        // A channel already closing is settled on chain by the provider's claim.
        if retiring.contains(provider) { unreconciled[provider] = nil; return }
        if candidatesCache?.contains(where: { $0.account == provider }) != true { try? await refreshCandidates() }
        guard let candidate = candidatesCache?.first(where: { $0.account == provider }) else { return }
        let gateway = GatewayClient(endpoint: candidate.endpoint, http: http)
        let books: ProviderBooks?
        do { books = try await gateway.books(meter.channel) } catch { return }
        var windowTokens = candidate.creditWindowTokens
        if windowTokens == nil, let declared = (try? await gateway.info())?["credit_window_tokens"] as? Int { windowTokens = UInt64(max(0, declared)) }
        // Anything may have happened during the awaits: compare only a still quiet, unchanged channel.
        guard streams(provider) == 0, meters[provider] == meter, unreconciled[provider] == reason else { return }
        unreconciled[provider] = nil
        // No record of the opening: the provider served nothing on it, so nothing can be owed.
        guard let books, books.openCounter == meter.openCounter else { return }
        let decision = Reconciliation.decide(own: meter.usage, books: books.usage, price: meter.price, windowTokens: windowTokens ?? 0,
                                             afterClientCrash: reason == .afterClientCrash)
        let metadata: Logger.Metadata = ["provider": "\(provider)", "books": "\(books.usage)", "counted": "\(meter.usage)"]
        switch decision {
        case .square:
            return
        case .pay(let more):
            logger.notice("paying the provider's count of answers cut when the bridge last stopped", metadata: metadata)
            if let (receipt, signature) = count(candidate, more, settle: true) { try? await gateway.sendReceipt(receipt, signature) }
        case .tolerate(let gap):
            logger.notice("the provider's books hold \(Amount.format(gap)) AGR beyond the bridge's count; left unpaid", metadata: metadata)
        case .close(let gap):
            logger.warning("the provider's books hold \(Amount.format(gap)) AGR beyond the bridge's count; closing the channel", metadata: metadata)
            await close(provider, meter)
        }
    }
}
