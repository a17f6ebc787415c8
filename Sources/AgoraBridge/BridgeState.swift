import AgoraLedger
import AgoraMarket
import AgoraNodeClient
import AgoraPrimitives
import Foundation

/// The bridge's channels on disk, so a restarted bridge resumes them: without its last sequence
/// and signed amount it could not use a channel it opened before.
///
/// Written ahead: the bridge saves a receipt's amount before the receipt leaves (`Bridge.signReceipt`),
/// and reserves request sequences on disk a batch at a time before it uses them (`Bridge.header`).
/// Saved only after each answer, a bridge killed mid-answer came back behind the provider: on a
/// channel's first answer it had no record at all and refused the still-open channel as another
/// run's; later, it signed again amounts the provider already held, so its next answers went
/// unpaid by that much, and past a credit window the provider stopped serving it. The write is
/// atomic (a new file renamed over the old), not synced: it survives the process, not the machine.
struct BridgeState: Codable {
    struct Entry: Codable {
        var provider: AccountID
        var chainID: String
        var channel: Hash256
        var openCounter: UInt64
        var price: Price
        var deposit: UInt64
        var nextSequence: UInt64
        var usage: Usage
        var signed: UInt64
    }
    var channels: [Entry]
    var settledSpend: UInt64

    static func load(_ path: String) -> BridgeState? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(BridgeState.self, from: data)
    }

    func save(_ path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try encoder.encode(self).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}

extension Bridge {
    /// Restores channels saved by an earlier run that the chain still shows open at the same opening.
    /// A channel the node cannot be asked about now (not started yet, or stopping with this bridge)
    /// is restored as saved: dropped, its record would be lost at the next save, and the channel —
    /// still open on chain — closed later as one this bridge has no record of. The channel keeper
    /// reads the chain's view of it later and settles it if it has closed meanwhile.
    public func restore(from path: String) async {
        guard let saved = BridgeState.load(path) else { return }
        var restored: [AccountID] = []
        var unchecked = 0
        var settled = saved.settledSpend
        for entry in saved.channels {
            var deposit = entry.deposit
            do {
                let view = try await node.channel(entry.channel)
                guard view.status == .open, view.openCounter == entry.openCounter else {
                    settled += entry.signed
                    continue
                }
                deposit = view.deposit
            } catch NodeClientError.refused(let status, _) where status == 404 {
                // The chain never held it (another chain, or a reset devnet): nothing to resume.
                settled += entry.signed
                continue
            } catch {
                unchecked += 1
            }
            // Answers may have been cut on it when the earlier run ended: its books are compared.
            book.restore(entry.provider, ClientMeter(chainID: entry.chainID, channel: entry.channel, openCounter: entry.openCounter, price: entry.price,
                                                     deposit: deposit, nextSequence: entry.nextSequence, usage: entry.usage, signed: entry.signed),
                         now: .now)
            restored.append(entry.provider)
        }
        book.addSettled(settled)
        logger.notice("restored channels", metadata: ["count": "\(restored.count)", "unchecked": "\(unchecked)"])
        // Before the first request: a channel left a credit window behind would stall it.
        for provider in restored { await reconcile(provider) }
    }

    /// Writes the channels to `path` (atomically).
    public func save(to path: String) {
        let entries = book.meters.map { provider, meter in
            BridgeState.Entry(provider: provider, chainID: meter.chainID, channel: meter.channel, openCounter: meter.openCounter, price: meter.price,
                              deposit: meter.deposit, nextSequence: book.sequenceToResume(provider) ?? meter.nextSequence, usage: meter.usage,
                              signed: meter.signed)
        }
        do { try BridgeState(channels: entries, settledSpend: book.settled).save(path) } catch {
            logger.error("cannot save bridge state", metadata: ["error": "\(error)"])
        }
    }
}
