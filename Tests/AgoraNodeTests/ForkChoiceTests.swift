import AgoraLedger
import AgoraNodeCore
import AgoraPrimitives
import Testing

/// Fork choice and reorganization in the node core: the branch with the most work wins, state
/// follows it exactly, and what the losing branch confirmed goes back to the mempool.
@Suite struct ForkChoiceTests {
    let genesis = Genesis.devnet()
    let faucet = SigningKey(deterministicLabel: Genesis.devnetFaucetLabel)
    let time: UInt64 = 1_800_000_000

    func transfer(nonce: UInt64, to label: String) -> Transaction {
        Transaction.signed(by: faucet, chainID: genesis.parameters.chainID, nonce: nonce, fee: genesis.parameters.minimumFee,
                           payload: .transfer(to: SigningKey(deterministicLabel: label).account, amount: 5 * Amount.unitsPerCoin))
    }

    /// A branch of `count` dev-sealed blocks from genesis, mined by `miner`, the first holding `transactions`.
    func branch(_ count: Int, miner: String, transactions: [Transaction] = []) -> (blocks: [Block], core: ChainCore) {
        var core = ChainCore(genesis: genesis, mode: .devSealing)
        for transaction in transactions { _ = core.submit(transaction, time: time) }
        let blocks = (0..<count).map { index in core.sealBlock(time: time + UInt64(index), miner: SigningKey(deterministicLabel: miner).account).block }
        return (blocks, core)
    }

    /// A record as it stood some blocks deep: what a provider waiting for confirmations reads.
    @Test func aRecordReadsAsItStoodSomeBlocksDeep() {
        let alice = StateKey.account(SigningKey(deterministicLabel: "alice").account)
        let (_, core) = branch(4, miner: "a", transactions: [transfer(nonce: 0, to: "alice")])
        // The transfer is in block 1; the tip is block 4.
        guard case .account(let tip)?? = core.value(alice, confirmations: 1) else { Issue.record("no account at the tip"); return }
        #expect(tip.balance == 5 * Amount.unitsPerCoin)
        guard case .account(let deep)?? = core.value(alice, confirmations: 4) else { Issue.record("no account 4 blocks deep"); return }
        #expect(deep == tip)
        // Five deep is genesis: no such account yet. Six deep is below genesis: unknowable.
        #expect(core.value(alice, confirmations: 5) == .some(nil))
        #expect(core.value(alice, confirmations: 6) == nil)
        #expect(core.value(alice, confirmations: 0) == nil)
    }

    @Test func theBranchWithMoreWorkWinsAndTheLosersTransactionsArePendingAgain() {
        let losingTransfer = transfer(nonce: 0, to: "alice")
        let (short, _) = branch(3, miner: "a", transactions: [losingTransfer])
        let (long, longCore) = branch(5, miner: "b")
        var core = ChainCore(genesis: genesis, mode: .devSealing)
        for block in short { #expect(core.acceptBlock(block, now: time).problem == nil) }
        #expect(core.tipHash == short.last!.hash && !core.mempool.contains(losingTransfer.id))
        // The first blocks of the long branch have less or equal work: no switch yet.
        for block in long.prefix(3) {
            let (update, problem) = core.acceptBlock(block, now: time)
            #expect(problem == nil && update.isEmpty)
        }
        #expect(core.tipHash == short.last!.hash)
        // The fourth tips the balance: three blocks leave, four come.
        let (update, problem) = core.acceptBlock(long[3], now: time)
        #expect(problem == nil)
        #expect(update.disconnected.map(\.hash) == short.reversed().map(\.hash))
        #expect(update.connected.map(\.block.hash) == long.prefix(4).map(\.hash))
        #expect(core.tipHash == long[3].hash && core.tip.stateRoot == long[3].header.stateRoot)
        #expect(core.mempool.contains(losingTransfer.id))
        _ = core.acceptBlock(long[4], now: time)
        #expect(core.tipHash == longCore.tipHash && core.state.sortedRecords().map(\.key) == longCore.state.sortedRecords().map(\.key))
        #expect(core.state.invariantViolations() == [])
        // And back again when the first branch outgrows it: nothing is lost either way.
        var regrown = ChainCore(genesis: genesis, mode: .devSealing)
        for block in short { _ = regrown.acceptBlock(block, now: time) }
        var more: [Block] = []
        for index in 0..<3 { more.append(regrown.sealBlock(time: time + 10 + UInt64(index), miner: SigningKey(deterministicLabel: "a").account).block) }
        for block in more { _ = core.acceptBlock(block, now: time) }
        #expect(core.tipHash == more.last!.hash && core.tip.stateRoot == more.last!.header.stateRoot)
        #expect(!core.mempool.contains(losingTransfer.id))
    }

    @Test func aBranchWithAnInvalidBlockIsCutThereAndTheOldTipRestored() {
        let (short, _) = branch(2, miner: "a")
        var (long, _) = branch(4, miner: "b")
        var core = ChainCore(genesis: genesis, mode: .devSealing)
        for block in short { _ = core.acceptBlock(block, now: time) }
        let before = core.state.sortedRecords().map(\.key)
        // Block 3 of the long branch claims a state root its transactions do not produce. Its
        // descendants' parent hashes no longer match the altered header, so rebuild them on it.
        long[2].header.stateRoot = .max
        long[3].header.parent = long[2].hash
        for block in long.prefix(2) { #expect(core.acceptBlock(block, now: time).problem == nil) }
        #expect(core.acceptBlock(long[2], now: time).problem == .body(.stateRootMismatch))
        #expect(core.tipHash == short.last!.hash && core.state.sortedRecords().map(\.key) == before)
        // Its child is refused as a descendant of an invalid block.
        #expect(core.acceptBlock(long[3], now: time).problem == .knownInvalid)
        #expect(core.tipHash == short.last!.hash)
    }
}
