#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Memory for a model's packed weights: large anonymous mappings aligned to 2 MiB and, where the
/// system has them, advised as transparent huge pages. A decode step streams every weight once;
/// with 4 KiB pages a 100 MB model is ~25,000 pages a token, far more than the TLB holds, so
/// each page costs a page walk. With 2 MiB pages it is ~50. Bump allocation: weights live as long
/// as their model, and the mappings go when the last matrix holding them does. Filled by the one
/// thread that loads the model.
final class WeightArena: @unchecked Sendable {
    static let hugePage = 2 << 20
    /// Mapped at a time (rounded up to a whole huge page for a larger request).
    static let chunkBytes = 64 << 20

    private var mappings: [(base: UnsafeMutableRawPointer, length: Int)] = []
    private var next: UnsafeMutableRawPointer?
    private var left = 0

    init() {}

    /// `byteCount` bytes aligned to 64, valid while this arena lives; nil if the system has no
    /// memory to map (the caller then allocates on its own).
    func allocate(byteCount: Int) -> UnsafeMutableRawPointer? {
        let size = (byteCount + 63) & ~63
        if size > left {
            let chunk = max(Self.chunkBytes, (size + Self.hugePage - 1) / Self.hugePage * Self.hugePage)
            let length = chunk + Self.hugePage
            guard let raw = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), raw != MAP_FAILED else { return nil }
            mappings.append((raw, length))
            let aligned = UnsafeMutableRawPointer(bitPattern: (Int(bitPattern: raw) + Self.hugePage - 1) / Self.hugePage * Self.hugePage)!
            #if os(Linux)
            // Advice only: without transparent huge pages the memory is simply ordinary pages.
            _ = madvise(aligned, chunk, Int32(MADV_HUGEPAGE))
            #endif
            next = aligned
            left = chunk
        }
        let pointer = next!
        next = pointer + size
        left -= size
        return pointer
    }

    deinit {
        for mapping in mappings { munmap(mapping.base, mapping.length) }
    }
}
