import AgoraLedger
import AgoraPrimitives
import ArgumentParser
import Foundation

/// Ledger throughput: signed transfers validated (sanity and signature) and applied, with the
/// block's reward, state root and diff, on one core. Beside it, the same run's rate of bare
/// Ed25519 verification — the floor of any ledger that checks signatures one by one.
struct ChainBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chain-bench",
        abstract: "Measure signed transactions validated and applied per second on one core."
    )

    @Option(help: "Transactions per repetition.") var transactions = 20_000
    @Option(help: "Transactions per block.") var blockSize = 2_000
    @Option(help: "Funded accounts sending to each other.") var accounts = 1_000
    @Option(help: "Repetitions (median and spread are reported).") var reps = 5
    @Flag(help: "Last line of stdout: one JSON object with tx_per_second (median).") var json = false

    func validate() throws {
        guard (1_000...1_000_000).contains(transactions), (1...10_000).contains(blockSize), (2...100_000).contains(accounts),
              (1...50).contains(reps) else {
            throw ValidationError("--transactions 1000...1000000, --block-size 1...10000, --accounts 2...100000, --reps 1...50")
        }
    }

    func run() throws {
        let keys = (0..<accounts).map { SigningKey(deterministicLabel: "chain-bench/\($0)") }
        var genesis = Genesis.devnet(name: "agora-bench")
        genesis.parameters.maxBlockTransactions = UInt32(blockSize)
        genesis.allocations = keys.map { Genesis.Allocation(account: $0.account, amount: 1_000_000 * Amount.unitsPerCoin) }
        genesis.faucet = nil
        let miner = SigningKey(deterministicLabel: "chain-bench/miner").account
        printError("signing \(transactions) transfers from \(accounts) accounts…")
        var nonces = [UInt64](repeating: 0, count: accounts)
        let signed: [Transaction] = (0..<transactions).map { index in
            let from = index % accounts, to = (index * 7 + 1) % accounts == from ? (from + 1) % accounts : (index * 7 + 1) % accounts
            defer { nonces[from] += 1 }
            return Transaction.signed(by: keys[from], chainID: genesis.parameters.chainID, nonce: nonces[from], fee: genesis.parameters.minimumFee,
                                      payload: .transfer(to: keys[to].account, amount: UInt64(index % 1_000 + 1)))
        }
        let messages = signed.map(\.signingBytes)

        func seconds(_ body: () -> Void) -> Double {
            let start = DispatchTime.now()
            body()
            return Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        }
        var ledgerRates: [Double] = [], verifyRates: [Double] = []
        for _ in 0..<reps {
            var state = LedgerState(genesis: genesis)
            _ = state.stateRoot()
            var failures = 0
            let elapsed = seconds {
                var height: UInt64 = 1
                var index = 0
                while index < signed.count {
                    let context = BlockContext(height: height, time: 1_800_000_000 + height, miner: miner)
                    var fees: UInt64 = 0
                    for transaction in signed[index..<min(index + blockSize, signed.count)] {
                        if transaction.sanityCheck(state.parameters) != nil || state.apply(transaction, in: context) != nil { failures += 1; continue }
                        fees += transaction.fee
                    }
                    state.payReward(to: miner, height: height, fees: fees)
                    _ = state.stateRoot()
                    _ = state.takeDiff()
                    index += blockSize
                    height += 1
                }
            }
            guard failures == 0, state.invariantViolations().isEmpty else { throw CommandFailure("benchmark transactions failed (\(failures))") }
            ledgerRates.append(Double(signed.count) / elapsed)
            var valid = 0
            let verifyElapsed = seconds {
                for (transaction, message) in zip(signed, messages) where transaction.sender.verifies(transaction.signature, of: message) { valid += 1 }
            }
            guard valid == signed.count else { throw CommandFailure("signatures failed to verify") }
            verifyRates.append(Double(signed.count) / verifyElapsed)
        }
        let ledger = BenchCommand.stats(ledgerRates), verify = BenchCommand.stats(verifyRates)
        func format(_ value: Double) -> String { String(Int(value.rounded())) }
        print("transactions: \(transactions) transfers in blocks of \(blockSize), \(accounts) accounts, 1 thread, \(reps) reps")
        print("ledger (sanity + signature + apply + state root + diff): \(format(ledger.median)) tx/s (min \(format(ledger.min)), max \(format(ledger.max)))")
        print("Ed25519 verify alone (swift-crypto/BoringSSL):          \(format(verify.median)) verifies/s (min \(format(verify.min)), max \(format(verify.max)))")
        print(String(format: "ratio ledger / bare verify: %.2f", ledger.median / verify.median))
        if json {
            print("{\"tx_per_second\": \(format(ledger.median)), \"verify_per_second\": \(format(verify.median))}")
        }
    }
}
