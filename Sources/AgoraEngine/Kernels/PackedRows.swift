import CAgoraKernels

/// A weight matrix's rows regrouped sixteen at a time for the SIMD kernels (layout in
/// agora_kernels.h): the block b of sixteen rows sits together, scales first, with every row's
/// bytes in the same vector lane. Same byte count as the rows themselves; rows past the last
/// whole group stay with the one-row kernels. Built once at load, read-only after.
final class PackedRows: @unchecked Sendable {
    let type: TensorType
    let kernelType: Int32
    /// Rows per group: a 512-bit vector's int32 lanes (two 256-bit halves of eight).
    static let rowsPerGroup = Int(AGORA_PACKED_ROWS)
    let groups: Int
    let groupBytes: Int
    /// Rows in whole groups; the rest (fewer than rowsPerGroup) are done one row at a time.
    var packedRows: Int { groups * Self.rowsPerGroup }
    private let rowBytes: Int
    private let bytes: UnsafeMutableRawPointer
    /// Where `bytes` lives, when it is not an allocation of its own.
    private let arena: WeightArena?

    /// The packed copy of a matrix, or nil for types without packed kernels and for fewer than
    /// one group of rows (decided before anything is allocated).
    static func make(type: TensorType, rows: Int, columns: Int, data: UnsafeRawPointer, arena: WeightArena? = nil) -> PackedRows? {
        let kernelType: Int32
        switch type {
        case .q8_0: kernelType = AGORA_PACKED_Q8_0
        case .q4_0: kernelType = AGORA_PACKED_Q4_0
        case .q4_1: kernelType = AGORA_PACKED_Q4_1
        case .q5_0: kernelType = AGORA_PACKED_Q5_0
        case .iq4_NL: kernelType = AGORA_PACKED_IQ4_NL
        case .q4_K: kernelType = AGORA_PACKED_Q4_K
        case .q5_K: kernelType = AGORA_PACKED_Q5_K
        case .q6_K: kernelType = AGORA_PACKED_Q6_K
        default: return nil
        }
        guard rows >= rowsPerGroup else { return nil }
        return PackedRows(type: type, kernelType: kernelType, rows: rows, columns: columns, data: data, arena: arena)
    }

    private init(type: TensorType, kernelType: Int32, rows: Int, columns: Int, data: UnsafeRawPointer, arena: WeightArena?) {
        self.type = type
        self.kernelType = kernelType
        groups = rows / Self.rowsPerGroup
        groupBytes = columns / type.blockElements * agora_packed_block_bytes(kernelType)
        if let arena, let bytes = arena.allocate(byteCount: groups * groupBytes) {
            self.bytes = bytes
            self.arena = arena
        } else {
            bytes = .allocate(byteCount: groups * groupBytes, alignment: 64)
            self.arena = nil
        }

        rowBytes = type.rowBytes(elements: columns)!
        for r in 0..<packedRows {
            forEachPiece(ofRow: r) { packedOffset, rowOffset, count in
                (bytes + packedOffset).copyMemory(from: data + r * rowBytes + rowOffset, byteCount: count)
            }
        }
    }

    /// The original bytes of row `r` (< packedRows), e.g. for an embedding lookup, so the file's
    /// copy of packed rows is never read again.
    func restore(row r: Int, into out: UnsafeMutableRawPointer) {
        forEachPiece(ofRow: r) { packedOffset, rowOffset, count in
            (out + rowOffset).copyMemory(from: bytes + packedOffset, byteCount: count)
        }
    }

    /// Where each piece of row r lives in the packed layout: (packed offset, offset in the row, bytes).
    @inline(__always)
    private func forEachPiece(ofRow r: Int, _ body: (Int, Int, Int) -> Void) {
        let blocks = groupBytes / agora_packed_block_bytes(kernelType)
        let blockBytes = groupBytes / blocks
        let sourceBlockBytes = rowBytes / blocks
        // Per source block: its fp16 fields (d; m for Q4_1; dmin for Q4_K and Q5_K — at the
        // block's start, but for Q6_K at its end), then every other byte in order, four at a time
        // (for Q5_0 the fifth bits come first; for K-quants the packed scales, then any high bits,
        // then the quants).
        let scaleFields = [.q4_1, .q4_K, .q5_K].contains(type) ? 2 : 1
        let fieldsFirst = type != .q6_K
        let quantBytes = sourceBlockBytes - 2 * scaleFields
        let (g, j) = r.quotientAndRemainder(dividingBy: Self.rowsPerGroup)
        let half = j / 8, lane = j % 8
        for b in 0..<blocks {
            let packed = g * groupBytes + b * blockBytes, source = b * sourceBlockBytes
            let fields = fieldsFirst ? source : source + quantBytes, quants = fieldsFirst ? source + 2 * scaleFields : source
            for field in 0..<scaleFields { body(packed + field * 32 + j * 2, fields + field * 2, 2) }
            // Four bytes of row j per 64-byte chunk k: lane j % 8 of the chunk's half j / 8.
            for k in 0..<(quantBytes / 4) {
                let line = type == .q6_K ? Int(agora_q6k_line(Int32(k))) : k
                body(packed + 32 * scaleFields + line * 64 + half * 32 + lane * 4, quants + k * 4, 4)
            }
        }
    }

    deinit { if arena == nil { bytes.deallocate() } }

    @inline(__always)
    func group(_ g: Int) -> UnsafePointer<UInt8> {
        UnsafePointer((bytes + g * groupBytes).assumingMemoryBound(to: UInt8.self))
    }
}
