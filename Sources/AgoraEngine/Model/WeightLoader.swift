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

    func vector(_ name: String, _ n: Int) throws(GGUFError) -> [Float] {
        guard let t = file.tensor(named: name) else { throw .missingTensor(name) }
        guard t.shape == [n] else { throw .wrongTensorShape(tensor: name, expected: [n], found: t.shape) }
        return [Float](unsafeUninitializedCapacity: n) { buffer, count in
            Dequantize.row(t.type, file.bytes(of: t).baseAddress!, into: buffer.baseAddress!, count: n)
            count = n
        }
    }
}
