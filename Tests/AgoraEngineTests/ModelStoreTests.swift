import AgoraModelStore
import Foundation
import Testing

struct ModelStoreTests {
    /// A damaged cached file (wrong bytes, and a stale verification record) is detected and
    /// replaced by a verified download; a verified file is then left alone.
    @Test func damagedCacheIsRefetchedAndVerified() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("agora-store-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let store = ModelStore(root: root)
        let target = store.path(of: .smollm2)
        try FileManager.default.createDirectory(at: store.modelsDirectory, withIntermediateDirectories: true)
        try Data("not a model".utf8).write(to: target)
        try Data("\(KnownModel.smollm2.sha256) 11 0".utf8).write(to: target.appendingPathExtension("verified"))
        let url = try store.fetch(.smollm2)
        #expect(url == target)
        #expect(try ModelStore.sha256(of: url) == KnownModel.smollm2.sha256)
        let modified = try FileManager.default.attributesOfItem(atPath: url.path)[.modificationDate] as? Date
        _ = try store.fetch(.smollm2)
        #expect(try FileManager.default.attributesOfItem(atPath: url.path)[.modificationDate] as? Date == modified)
        #expect(throws: ModelStoreError.self) { try store.resolve("no-such-model") }
    }
}
