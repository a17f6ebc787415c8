import AgoraChainRules
import AgoraLedger
import AgoraPrimitives
import Dispatch
import Logging
import ServiceLifecycle

/// `agora node --mine`: Proof-of-AI attempts on the current tip, one forward pass each, on a
/// thread of their own. After every attempt the miner looks at the tip: when a better block has
/// arrived it starts over on it at once, and it takes a fresh template every few seconds so new
/// transactions get in.
public struct Miner: Service {
    let node: Node
    let engine: ConsensusModelThread
    let miner: AccountID
    let logger: Logger
    /// Longest time one template is mined before it is rebuilt with the current mempool.
    let templateLifetime: Duration

    public init(node: Node, engine: ConsensusModelThread, miner: AccountID, logger: Logger, templateLifetime: Duration = .seconds(5)) {
        self.node = node; self.engine = engine; self.miner = miner; self.logger = logger; self.templateLifetime = templateLifetime
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            var nonce = UInt64.random(in: 0...UInt64.max / 2)
            while !Task.isCancelled {
                await node.judgePendingChallenges()
                let (template, epochKey) = await node.blockTemplate(miner: miner)
                let started = ContinuousClock.now
                var header = template.header
                while !Task.isCancelled {
                    header.nonce = nonce
                    nonce &+= 1
                    let attempt: (header: BlockHeader, found: ProofOfAI.QuizScore?)
                    do { attempt = try await engine.attempt(header, epochKey: epochKey) } catch {
                        logger.error("mining attempt failed", metadata: ["error": "\(error)"])
                        try await Task.sleep(for: .seconds(1))
                        break
                    }
                    if let score = attempt.found {
                        let block = Block(header: attempt.header, transactions: template.transactions)
                        if let problem = await node.submitMined(block, score: score) {
                            logger.warning("mined block refused", metadata: ["block.height": "\(block.header.height)", "problem": "\(problem)"])
                        } else {
                            node.metrics.minedBlocks.increment()
                            logger.info("mined block", metadata: ["block.height": "\(block.header.height)", "block.transactions": "\(block.transactions.count)"])
                        }
                        break
                    }
                    if await node.tipHash != template.header.parent || ContinuousClock.now - started > templateLifetime { break }
                }
            }
        }
    }
}
