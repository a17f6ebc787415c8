import AgoraMarket
import AgoraNodeAPI
import AgoraPrimitives
import Logging

extension Bridge {
    /// Notes that an answer on `provider`'s channel ended without its end of stream; the channel
    /// keeper compares the books once no answer streams on the channel.
    func answerCut(on provider: AccountID) { book.answerCut(provider) }

    /// Compares `provider`'s books of its channel with the bridge's count, once no answer streams
    /// on it (a running answer's tokens in flight would count as a gap), and settles the
    /// difference as `Reconciliation` decides: paid up to one credit window after the bridge's own
    /// crash, otherwise left unpaid, and the channel closed if it has too little credit left.
    /// Left for a later call when the provider cannot be reached, or when an answer started on the
    /// channel while its books were read; compared again when the provider still generated one.
    func reconcile(_ provider: AccountID) async {
        guard let meter = book.startComparison(provider) else { return }
        var candidate = candidatesCache?.first { $0.account == provider }
        if candidate == nil {
            try? await refreshCandidates()
            candidate = candidatesCache?.first { $0.account == provider }
        }
        guard let candidate else { return book.booksUnreadable(provider) }
        let gateway = GatewayClient(endpoint: candidate.endpoint, connections: connections)
        let books: ProviderBooks?
        do { books = try await gateway.books(meter.channel, client: key, chainID: meter.chainID) } catch { return book.booksUnreadable(provider) }
        // An answer the provider is still generating on the channel — one this bridge lost when it
        // stopped — changes the books when it ends (its count is settled then): settled now, as the
        // channel's next answer may wait on that credit, and compared again once it has ended.
        let final = (books?.answersRunning ?? 0) == 0
        let windowTokens = await creditWindowTokens(of: candidate, gateway)
        guard let decision = book.booksRead(provider, openCounter: books?.openCounter, books: books?.usage ?? Usage(), windowTokens: windowTokens,
                                            final: final)
        else { return }
        let metadata: Logger.Metadata = ["provider": "\(provider)", "books": "\(books?.usage ?? Usage())", "counted": "\(meter.usage)"]
        switch decision {
        case .square:
            return
        case .pay(let more):
            metrics.booksPaid.increment()
            logger.notice("paying the provider's count of answers cut when the bridge last stopped", metadata: metadata)
            if let (receipt, signature) = signReceipt(adding: more, to: candidate, settle: true) { try? await gateway.sendReceipt(receipt, signature) }
        case .tolerate(let gap):
            metrics.booksTolerated.increment()
            logger.notice("the provider's books hold \(Amount.format(gap)) AGR beyond the bridge's count; left unpaid", metadata: metadata)
        case .close(let gap):
            metrics.booksClosed.increment()
            logger.warning("the provider's books hold \(Amount.format(gap)) AGR beyond the bridge's count; closing the channel", metadata: metadata)
            await close(provider)
        }
    }
}

extension Bridge {
    /// A channel open or closing on chain that this bridge has no record of (its channel file was
    /// lost, or another bridge process on the same wallet opened it). An open one is resumed from
    /// the provider's books where the bridge can check them: the last receipt carries its own
    /// signature, the opening's price is the provider's current offer, and the tokens beyond that
    /// receipt are paid as after a crash, at most one credit window. Otherwise the channel is
    /// closed (the provider claims its receipts), and the provider is used again once it is
    /// closed and can be opened afresh.
    func recover(_ view: ChannelView, candidate: Candidate, chainID: String) async -> ChannelBook.Outcome {
        let gateway = GatewayClient(endpoint: candidate.endpoint, connections: connections)
        // Unreadable books (the provider unreachable) cannot be checked: the channel is closed.
        if view.status == .open, let books = try? await Optional(gateway.books(view.id, client: key, chainID: chainID)),
           let resumed = resumable(books, view: view, candidate: candidate, windowTokens: await creditWindowTokens(of: candidate, gateway), chainID: chainID) {
            logger.notice("resumed a channel this bridge had no record of from the provider's books",
                          metadata: ["provider": "\(candidate.account)", "signed": "\(Amount.format(resumed.signed))"])
            return .recovered(resumed)
        }
        metrics.booksClosed.increment()
        logger.warning("closing a channel this bridge has no record of and cannot resume", metadata: ["provider": "\(candidate.account)"])
        if view.status == .open { _ = try? await node.signAndSubmit(.channelClose(channel: view.id), key: key) }
        // Tracked as closing, so the channel keeper finalizes it and the refund comes back; what it
        // cost is counted from the chain's claim once it is closed.
        return .orphaned(ClientMeter(chainID: chainID, channel: view.id, openCounter: view.openCounter, price: candidate.price, deposit: view.deposit,
                                     signed: view.claimed))
    }

    /// The meter of `view`'s opening as the provider's `books` show it, if the bridge can check
    /// them; nil if not.
    private func resumable(_ books: ProviderBooks?, view: ChannelView, candidate: Candidate, windowTokens: UInt64, chainID: String) -> ClientMeter? {
        guard let books else {
            // No record: the provider served nothing on this opening (unless the chain shows a claim).
            guard view.claimed == 0 else { return nil }
            return ClientMeter(chainID: chainID, channel: view.id, openCounter: view.openCounter, price: candidate.price, deposit: view.deposit)
        }
        guard books.openCounter == view.openCounter, books.price == candidate.price else { return nil }
        let receipt = books.receipt(signedBy: key.account, chainID: chainID)
        // A receipt the bridge did not sign, or for another channel or opening, proves nothing.
        if books.receipt != nil && receipt == nil { return nil }
        if let receipt, receipt.channel != view.id || receipt.openCounter != view.openCounter { return nil }
        let signed = receipt?.cumulativeAmount ?? 0
        let window = candidate.price.cost(prompt: 0, completion: windowTokens) ?? 0
        guard signed >= view.claimed, let owed = candidate.price.cost(prompt: books.promptTokens, completion: books.completionTokens),
              owed - min(owed, signed) <= window else { return nil }
        return ClientMeter(chainID: chainID, channel: view.id, openCounter: view.openCounter, price: candidate.price, deposit: view.deposit,
                           nextSequence: (books.lastSequence ?? 0) + 1, usage: books.usage, signed: signed)
    }

    /// The provider's declared credit window, read again from its info when the directory's
    /// reading failed; 0 when unknown (then no gap can be paid or tolerated).
    private func creditWindowTokens(of candidate: Candidate, _ gateway: GatewayClient) async -> UInt64 {
        if let tokens = candidate.creditWindowTokens { return tokens }
        let declared = (try? await gateway.info())?["credit_window_tokens"] as? Int
        return UInt64(max(0, declared ?? 0))
    }
}
