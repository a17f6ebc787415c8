import AgoraLedger
import AgoraPrimitives
import Testing

@Suite struct BlockTests {
    /// A block of `transactions` on top of `w`'s state, with the right state root.
    func makeBlock(_ w: World, _ transactions: [Transaction]) -> Block {
        var scratch = w.state
        var fees: UInt64 = 0
        for t in transactions { #expect(scratch.apply(t, in: w.context) == nil); fees += t.fee }
        scratch.payReward(to: w.miner, height: w.height, fees: fees)
        let header = BlockHeader(chainID: w.parameters.chainID, height: w.height, parent: .zero, time: w.context.time,
                                 transactionRoot: Block.transactionRoot(transactions), stateRoot: scratch.stateRoot(),
                                 miner: w.miner, target: .max)
        return Block(header: header, transactions: transactions)
    }

    @Test func aValidBlockAppliesAndItsDiffRollsItBack() throws {
        var w = World()
        let root = w.state.stateRoot()
        let block = makeBlock(w, [w.transaction(w.alice, .transfer(to: w.bob.account, amount: 5)),
                                  w.transaction(w.alice, .transfer(to: w.carol.account, amount: 7), nonce: 1)])
        #expect(block.sanityCheck(w.parameters) == nil)
        #expect(w.state.applyBlockBody(block) == nil)
        #expect(w.state.stateRoot() == block.header.stateRoot)
        let diff = w.state.takeDiff()
        #expect(try StateDiff(canonicalBytes: diff.canonicalBytes) == diff)
        #expect(diff.entries.map(\.key) == diff.entries.map(\.key).sorted())
        w.state.revert(diff)
        #expect(w.state.stateRoot() == root)
    }

    @Test func aBadStateRootOrTransactionChangesNothing() {
        var w = World()
        let root = w.state.stateRoot()
        var block = makeBlock(w, [w.transaction(w.alice, .transfer(to: w.bob.account, amount: 5))])
        block.header.stateRoot = .zero
        #expect(w.state.applyBlockBody(block) == .stateRootMismatch)
        #expect(w.state.stateRoot() == root)
        let replay = w.transaction(w.alice, .transfer(to: w.bob.account, amount: 5))
        let twice = Block(header: block.header, transactions: [replay, replay])
        #expect(w.state.applyBlockBody(twice) == .transaction(index: 1, .nonceTooLow))
        #expect(w.state.stateRoot() == root)
        #expect(w.state.takeDiff().entries.isEmpty)
    }

    @Test func sanityCatchesTamperingWithoutState() {
        let w = World()
        let block = makeBlock(w, [w.transaction(w.alice, .transfer(to: w.bob.account, amount: 5))])
        var tampered = block
        tampered.transactions[0].fee += 1
        #expect(tampered.sanityCheck(w.parameters) == .transactionRootMismatch)
        tampered.header.transactionRoot = Block.transactionRoot(tampered.transactions)
        #expect(tampered.sanityCheck(w.parameters) == .transaction(index: 0, .badSignature))
        var other = block
        other.header.chainID = "x"
        #expect(other.sanityCheck(w.parameters) == .wrongChain)
        #expect(block.header.hash != other.header.hash)
        #expect(try! Block.decode(block.canonicalBytes) == block)
    }
}
