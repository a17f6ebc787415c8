/// Why the ledger refused a transaction. Raw values are stable forever (clients match on them);
/// new cases take new numbers. Checks run in a fixed order, so the same transaction in the same
/// state is always refused for the same reason.
public enum Rejection: UInt16, Error, Sendable, CaseIterable {
    // Transaction sanity (no state needed).
    case wrongChain = 1
    case badSignature = 2
    case feeBelowMinimum = 3
    case tooLarge = 4
    case malformedPayload = 5
    // Sender.
    case unknownSender = 10
    case nonceTooLow = 11
    case nonceTooHigh = 12
    case insufficientBalance = 13
    case amountOverflow = 14
    case zeroAmount = 15
    // Transfer.
    case transferToSelf = 20
    // Providers.
    case providerAlreadyRegistered = 30
    case providerNotRegistered = 31
    case providerRetired = 32
    case bondBelowMinimum = 33
    case endpointInvalid = 34
    case noOffers = 35
    case offersNotSortedOrUnique = 36
    case offerInvalid = 37
    case unknownModel = 38
    case capacityInvalid = 39
    // Stake.
    case insufficientStake = 50
    case unbondBreaksProviderBond = 51
    case tooManyUnbondings = 52
    case nothingToWithdraw = 53
    // Models.
    case modelAlreadyRegistered = 60
    case modelNameInvalid = 61
    case ownerFeeTooHigh = 62
    // Channels.
    case channelProviderUnavailable = 70
    case modelNotOffered = 71
    case channelAlreadyOpen = 72
    case depositBelowMinimum = 73
    case expiryInvalid = 74
    case unknownChannel = 75
    case channelNotOpen = 76
    case notChannelClient = 77
    case notChannelProvider = 78
    case notChannelParty = 79
    case receiptStaleOpening = 80
    case receiptBadSignature = 81
    case nothingToClaim = 82
    case channelNotClosing = 83
    case challengeWindowOpen = 84
    case channelClosed = 85
    case agreementBadSignature = 86
    case agreementAboveDeposit = 87
    // Jobs.
    case timeoutInvalid = 100
    case tooManyAllowedProviders = 101
    case unknownJob = 102
    case jobNotPosted = 103
    case jobNotLocked = 104
    case jobNotCompleted = 105
    case notJobClient = 106
    case notJobProvider = 107
    case providerNotAllowed = 108
    case reputationTooLow = 109
    case tooFewCompletedJobs = 110
    case jobDeadlinePassed = 111
    case jobNotExpired = 112
    case tooManyOutputPieces = 113
    case outputEmpty = 114
    case jobAlreadyRated = 115
    case comparisonInvalid = 116
    case maxOutputTokensInvalid = 117
    case outputTokensAboveMaximum = 118
    case jobSettled = 119
    case emptyRating = 120
    /// A dispute whose transcript's counts cost what the job paid or more.
    case noOvercharge = 121
    // Slashing.
    case nothingToSlash = 130
    case numericsNotAuditable = 131
    case modelNotAuditable = 132
    case challengeReplayed = 133
    case challengeExpired = 134
    case challengeMismatch = 135
    case transcriptBadSignature = 136
    case challengeTooLarge = 137
    case challengeNotJudged = 138
    case challengeNotReplayable = 139
    case feeBelowByteFee = 140

    /// snake_case name for RPC answers and CLI messages. (Rejection is deliberately not
    /// CustomStringConvertible: the case name comes from `String(describing:)`.)
    public var name: String {
        String(describing: self).reduce(into: "") { out, c in
            if c.isUppercase { out += "_" + c.lowercased() } else { out.append(c) }
        }
    }

    /// The name and the stable code, as messages show them.
    public var summary: String { "\(name) (\(rawValue))" }
}
