/// Writes a copy of a GGUF model with its weight matrices in another tensor type (metadata kept).
/// One-dimensional tensors (norms, biases) stay as they are; a matrix whose rows are not a whole
/// number of the target's blocks keeps its type.
public enum Requantize {
    /// `progress` hears (tensors done, tensors in all) after each tensor.
    public static func convert(_ file: GGUFFile, to type: TensorType, progress: (Int, Int) -> Void = { _, _ in }) -> GGUFWriter {
        var writer = GGUFWriter()
        writer.alignment = file.alignment
        for key in file.metadataKeys where key != "general.alignment" && key != "general.file_type" {
            writer.set(key, file.metadata[key]!)
        }
        for (done, t) in file.tensors.enumerated() {
            defer { progress(done + 1, file.tensors.count) }
            let source = file.bytes(of: t)
            let columns = t.shape[0], rows = t.elementCount / columns
            guard t.shape.count >= 2, t.type != type, columns % type.blockElements == 0 else {
                writer.tensors.append(.init(name: t.name, shape: t.shape, type: t.type, data: Array(source)))
                continue
            }
            let sourceRowBytes = t.type.rowBytes(elements: columns)!
            var data: [UInt8] = []
            data.reserveCapacity(rows * type.rowBytes(elements: columns)!)
            var row = [Float](repeating: 0, count: columns)
            for r in 0..<rows {
                row.withUnsafeMutableBufferPointer { buffer in
                    Dequantize.row(t.type, source.baseAddress! + r * sourceRowBytes, into: buffer.baseAddress!, count: columns)
                }
                data += Quantize.row(type, row)
            }
            writer.tensors.append(.init(name: t.name, shape: t.shape, type: type, data: data))
        }
        return writer
    }
}
