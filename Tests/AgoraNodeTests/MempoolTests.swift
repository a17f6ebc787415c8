import AgoraLedger
import AgoraNodeCore
import AgoraPrimitives
import Testing

@Suite struct MempoolTests {
    let alice = SigningKey(deterministicLabel: "mempool/alice")
    let bob = SigningKey(deterministicLabel: "mempool/bob")
    let to = SigningKey(deterministicLabel: "mempool/to").account

    func transfer(_ key: SigningKey, nonce: UInt64, fee: UInt64, amount: UInt64 = 1) -> Transaction {
        Transaction.signed(by: key, chainID: "t", nonce: nonce, fee: fee, payload: .transfer(to: to, amount: amount))
    }

    @Test func selectsByFeeButKeepsEachSendersNonceOrder() {
        var pool = Mempool()
        // Alice's later transaction pays more, but cannot go before her first.
        #expect(pool.add(transfer(alice, nonce: 1, fee: 900), accountNonce: 0).isSuccess)
        #expect(pool.add(transfer(alice, nonce: 0, fee: 100), accountNonce: 0).isSuccess)
        #expect(pool.add(transfer(bob, nonce: 0, fee: 500), accountNonce: 0).isSuccess)
        let chosen = pool.select(maxCount: 10, maxBytes: 1 << 20) { _ in 0 }
        #expect(chosen.map(\.fee) == [500, 100, 900])
        #expect(pool.select(maxCount: 2, maxBytes: 1 << 20) { _ in 0 }.map(\.fee) == [500, 100])
        // A gap holds a sender back entirely.
        #expect(pool.select(maxCount: 10, maxBytes: 1 << 20) { $0 == alice.account ? 5 : 0 }.map(\.fee) == [500])
        #expect(pool.nextNonce(for: alice.account, accountNonce: 0) == 2)
    }

    @Test func replacementNeedsAFeeBumpAndDuplicatesAreRefused() {
        var pool = Mempool()
        let first = transfer(alice, nonce: 0, fee: 1_000)
        #expect(pool.add(first, accountNonce: 0).isSuccess)
        #expect(pool.add(first, accountNonce: 0) == .failure(.duplicate))
        #expect(pool.add(transfer(alice, nonce: 0, fee: 1_099, amount: 2), accountNonce: 0) == .failure(.replacementUnderpriced(minimumFee: 1_100)))
        let replacement = transfer(alice, nonce: 0, fee: 1_100, amount: 2)
        #expect(pool.add(replacement, accountNonce: 0).isSuccess)
        #expect(pool.count == 1 && pool.contains(replacement.id) && !pool.contains(first.id))
    }

    @Test func boundsEvictTheCheapestTailOrRefuse() {
        var pool = Mempool(bounds: .init(maxTransactions: 3, maxBytes: 1 << 20, maxPerSender: 4))
        #expect(pool.add(transfer(alice, nonce: 0, fee: 300), accountNonce: 0).isSuccess)
        #expect(pool.add(transfer(alice, nonce: 1, fee: 200), accountNonce: 0).isSuccess)
        #expect(pool.add(transfer(bob, nonce: 0, fee: 250), accountNonce: 0).isSuccess)
        // Full: a cheaper transaction is refused; a dearer one evicts the cheapest tail (alice's nonce 1).
        #expect(pool.add(transfer(bob, nonce: 1, fee: 100), accountNonce: 0) == .failure(.full))
        let dear = transfer(bob, nonce: 1, fee: 400)
        #expect(pool.add(dear, accountNonce: 0).isSuccess)
        #expect(pool.count == 3 && pool.nextNonce(for: alice.account, accountNonce: 0) == 1)
        // Too far ahead, or already used.
        #expect(pool.add(transfer(alice, nonce: 9, fee: 999), accountNonce: 0) == .failure(.ledger(.nonceTooHigh)))
        #expect(pool.add(transfer(alice, nonce: 0, fee: 999), accountNonce: 1) == .failure(.ledger(.nonceTooLow)))
        // Bytes are bounded too.
        var small = Mempool(bounds: .init(maxTransactions: 100, maxBytes: 300, maxPerSender: 4))
        #expect(small.add(transfer(alice, nonce: 0, fee: 5), accountNonce: 0).isSuccess)
        #expect(small.add(transfer(bob, nonce: 0, fee: 1), accountNonce: 0) == .failure(.full))
        #expect(small.totalBytes <= 300)
    }

    @Test func pruneDropsWhatABlockMadeStale() {
        var pool = Mempool()
        for nonce in 0..<UInt64(4) { #expect(pool.add(transfer(alice, nonce: nonce, fee: 10), accountNonce: 0).isSuccess) }
        pool.prune { _ in 2 }
        #expect(pool.count == 2)
        #expect(pool.all().map(\.nonce) == [2, 3])
    }
}

extension Result {
    var isSuccess: Bool { if case .success = self { true } else { false } }
}
