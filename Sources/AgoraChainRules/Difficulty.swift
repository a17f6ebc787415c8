import AgoraPrimitives

/// Targets and work. A block is valid when its hash, read as a number, is below its target; the
/// work a block proves is the expected number of attempts that takes, `2^256 / (target + 1)`, and
/// the best chain is the one with the most work in all.
public enum Difficulty {
    /// Blocks whose times set the next target.
    public static let retargetWindow: UInt64 = 16

    /// The target at which a block takes `attempts` tries on average: the easiest target divided
    /// by it (genesis files state their starting difficulty this way).
    public static func target(expectedAttempts attempts: UInt64) -> Hash256 {
        UInt256.max.divided(by: max(attempts, 1)).quotient.hash
    }

    /// `floor(2^256 / (target + 1))`, computed as `(2^256 - 1 - target) / (target + 1) + 1` so that
    /// no step leaves 256 bits. The easiest target proves one attempt.
    public static func work(target: Hash256) -> UInt256 {
        let value = UInt256(target)
        guard let divisor = value.adding(.one) else { return .one }
        return UInt256.max.subtracting(value).divided(by: divisor).adding(.one) ?? .max
    }

    /// The target of the block after `parent`, from how long the last `windowBlocks` blocks took
    /// (`span` seconds) against `targetBlockSeconds` each. Slower blocks make the target larger
    /// (easier). The step is damped — a quarter of the measured deviation, itself clamped to
    /// between half and double the expected span — so one odd timestamp moves the target by at
    /// most 12.5 % down or 25 % up, and the target never passes the easiest value.
    public static func nextTarget(parentTarget: Hash256, windowBlocks: UInt64, span: UInt64, targetBlockSeconds: UInt64) -> Hash256 {
        guard windowBlocks > 0, targetBlockSeconds > 0 else { return parentTarget }
        let expected = windowBlocks * targetBlockSeconds
        let actual = min(max(span, expected / 2), expected * 2)
        let damped = (3 * expected + actual) / 4
        // parent × damped / expected, dividing first: targets are far larger than `expected`, and
        // the remainder's share is added back, so the result is exact to within one unit.
        let (quotient, remainder) = UInt256(parentTarget).divided(by: expected)
        guard let scaled = quotient.multiplied(by: damped) else { return .max }
        let (high, low) = remainder.multipliedFullWidth(by: damped)
        let (carry, _) = expected.dividingFullWidth((high: high, low: low))
        guard let next = scaled.adding(UInt256(carry)) else { return .max }
        return next.isZero ? Hash256(w0: 0, w1: 0, w2: 0, w3: 1) : next.hash
    }
}
