import AgoraGateway
import AgoraLedger
import AgoraMarket
import AgoraPrimitives
import Foundation
import Testing

/// The provider's durable channel records: what a restart gets back.
@Suite struct ReceiptStoreTests {
    let channel = Hash256.sha256([7])

    func account(opening: UInt64 = 1, last: UInt64, recent: UInt64, receipted: UInt64) -> ProviderMeter.ChannelBooks {
        ProviderMeter.ChannelBooks(openCounter: opening, client: SigningKey(deterministicLabel: "store/client").account, deposit: 1_000,
                              price: Price(promptPerMillion: 1, completionPerMillion: 2), lastSequence: last,
                              recentSequences: recent, usage: Usage(promptTokens: 3, completionTokens: 4), receipted: receipted)
    }

    @Test func theReplayWindowSurvivesARestartAndSavesOutOfOrderMerge() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("agora-store-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("receipts.sqlite").path
        do {
            let store = try ReceiptStore(path: path)
            try await store.save(channel, account(last: 10, recent: 0b1011, receipted: 5))
            // An older state saved late never takes the window back...
            try await store.save(channel, account(last: 8, recent: 0b1, receipted: 5))
            // ...and two states at the same highest sequence keep every sequence either had used.
            try await store.save(channel, account(last: 10, recent: 0b0101, receipted: 6))
        }
        let restored = try ReceiptStore(path: path).loadAll()
        #expect(restored.count == 1)
        #expect(restored.first?.0 == channel)
        #expect(restored.first?.1 == account(last: 10, recent: 0b1111, receipted: 6))
    }

    /// A reopened channel's sequences start again from 1: its record must not keep the earlier
    /// opening's highest sequence (every request of the new opening would be refused as a replay
    /// after a restart), and a late save from the earlier opening must not overwrite it.
    @Test func aLaterOpeningReplacesTheRecordAndAnEarlierOneNeverComesBack() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("agora-store-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("receipts.sqlite").path
        do {
            let store = try ReceiptStore(path: path)
            try await store.save(channel, account(opening: 1, last: 500, recent: .max, receipted: 900))
            try await store.save(channel, account(opening: 2, last: 2, recent: 0b11, receipted: 10))
            try await store.save(channel, account(opening: 1, last: 501, recent: .max, receipted: 950))
        }
        let restored = try ReceiptStore(path: path).loadAll()
        #expect(restored.first?.1 == account(opening: 2, last: 2, recent: 0b11, receipted: 10))
    }
}
