/// Reads named tensors of a model file with their shapes checked: matrices in place (or packed
/// once into their SIMD layout, the file's pages then released), vectors dequantized to F32.
struct WeightLoader {
    let file: GGUFFile
    let config: ModelConfig
    let arena: WeightArena

    func matrix(_ name: String, columns: Int, rows: Int) throws(GGUFError) -> WeightMatrix {
        guard let t = file.tensor(named: name) else { throw .missingTensor(name) }
        guard t.shape == [columns, rows] else { throw .wrongTensorShape(tensor: name, expected: [columns, rows], found: t.shape) }
        let m = WeightMatrix(name: name, type: t.type, rows: rows, columns: columns, data: file.bytes(of: t).baseAddress!, arena: arena)
        // Packed one matrix at a time, so at most one matrix is resident twice while loading.
        if m.isPacked { file.releaseResidentPages(of: t) }
        return m
    }

    /// Rows `rows` of a matrix stored fused with others (Phi-3's attn_qkv, its gate and up
    /// projections in one ffn_up): a matrix of its own over those rows, read in place.
    func matrix(_ name: String, columns: Int, rows: Range<Int>, of totalRows: Int) throws(GGUFError) -> WeightMatrix {
        guard let t = file.tensor(named: name) else { throw .missingTensor(name) }
        guard t.shape == [columns, totalRows] else { throw .wrongTensorShape(tensor: name, expected: [columns, totalRows], found: t.shape) }
        guard let rowBytes = t.type.rowBytes(elements: columns), rows.lowerBound >= 0, rows.upperBound <= totalRows else {
            throw .badTensorShape(tensor: name, reason: "rows \(rows) of \(totalRows)")
        }
        let m = WeightMatrix(name: "\(name)[\(rows.lowerBound)..<\(rows.upperBound)]", type: t.type, rows: rows.count, columns: columns,
                             data: file.bytes(of: t).baseAddress! + rows.lowerBound * rowBytes, arena: arena)
        if m.isPacked && rows.upperBound == totalRows { file.releaseResidentPages(of: t) }
        return m
    }

    func vector(_ name: String, _ n: Int) throws(GGUFError) -> [Float] {
        guard let t = file.tensor(named: name) else { throw .missingTensor(name) }
        guard t.shape == [n] else { throw .wrongTensorShape(tensor: name, expected: [n], found: t.shape) }
        return [Float](unsafeUninitializedCapacity: n) { buffer, count in
            Dequantize.row(t.type, file.bytes(of: t).baseAddress!, into: buffer.baseAddress!, count: n)
            count = n
        }
    }
}
