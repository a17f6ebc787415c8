/// Binary Merkle root over an ordered list of leaves. Leaves and inner nodes are hashed under
/// different domain tags (so an inner node can never pass as a leaf), and an odd node at the end
/// of a level is carried up unchanged rather than duplicated (so no two lists share a root).
public enum Merkle {
    public static func root(_ leaves: [Hash256]) -> Hash256 {
        if leaves.isEmpty { return Hash256.tagged(.merkleLeaf, []) }
        var level = leaves.map { Hash256.tagged(.merkleLeaf, $0.bytes) }
        while level.count > 1 {
            var next = [Hash256]()
            next.reserveCapacity((level.count + 1) / 2)
            var index = 0
            while index + 1 < level.count {
                next.append(Hash256.tagged(.merkleNode, level[index].bytes + level[index + 1].bytes))
                index += 2
            }
            if index < level.count { next.append(level[index]) }
            level = next
        }
        return level[0]
    }
}
