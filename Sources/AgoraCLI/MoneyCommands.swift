import AgoraNodeClient
import AgoraPrimitives
import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore

/// `agora spend`: what a bridge has spent, of its budget, and on which channels.
struct SpendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "spend", abstract: "Show what a bridge has spent: budget, each channel's deposit, amount signed and tokens.")
    @Option(help: "Bridge URL.") var bridge = "http://127.0.0.1:8080"
    @Flag(help: "Print the bridge's JSON (amounts in base units: 1 AGR = 10^9).") var json = false

    func run() async throws {
        let (object, raw) = try await fetchJSON(bridge + "/v1/spend", what: "the bridge")
        if json { print(raw); return }
        let spent = units(object["spent"]), budget = units(object["budget"])
        print("spent \(Amount.format(spent)) AGR of a \(Amount.format(budget)) AGR budget (\(Amount.format(budget - min(budget, spent))) AGR left)")
        for channel in object["channels"] as? [[String: Any]] ?? [] {
            print("  provider \(channel["provider"] as? String ?? "?"): deposit \(Amount.format(units(channel["deposit"]))) AGR, "
                  + "signed \(Amount.format(units(channel["signed"]))) AGR for \(units(channel["prompt_tokens"])) prompt + \(units(channel["completion_tokens"])) completion tokens")
        }
        for caught in object["caught"] as? [[String: Any]] ?? [] {
            print("  caught \(caught["provider"] as? String ?? "?"): \(caught["why"] as? String ?? "")")
        }
    }
}

/// `agora earnings`: what a provider has been paid, claimed and may still claim (on its own machine).
struct EarningsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "earnings", abstract: "Show what a provider has earned: received, claimed on chain, claimable, per client channel.")
    @Option(help: "The provider's URL (its --port; this machine only).") var provider: String
    @Flag(help: "Print the provider's JSON (amounts in base units: 1 AGR = 10^9).") var json = false

    func run() async throws {
        let (object, raw) = try await fetchJSON(provider + "/v1/provider/earnings", what: "the provider")
        if json { print(raw); return }
        print("received \(Amount.format(units(object["received"]))) AGR · claimed on chain \(Amount.format(units(object["claimed"]))) AGR · "
              + "claimable \(Amount.format(units(object["claimable"]))) AGR")
        print("\(units(object["answers"])) answers, \(units(object["completion_tokens"])) completion tokens, "
              + "\(units(object["payment_waits"])) waits for payment")
        for channel in object["channels"] as? [[String: Any]] ?? [] {
            print("  client \(channel["client"] as? String ?? "?") (\(channel["status"] as? String ?? "?")): received \(Amount.format(units(channel["received"]))) AGR, "
                  + "claimed \(Amount.format(units(channel["claimed"]))) AGR, claimable \(Amount.format(units(channel["claimable"]))) AGR")
        }
    }
}

private func units(_ value: Any?) -> UInt64 { UInt64(clamping: value as? Int ?? 0) }

/// A JSON object from `url`, with its text; errors in plain words.
private func fetchJSON(_ url: String, what: String) async throws -> ([String: Any], String) {
    do {
        // Fails at once when nothing listens (the shared client retries until its deadline).
        let response = try await NodeClient.sharedHTTP.execute(HTTPClientRequest(url: url), timeout: .seconds(30))
        let body = String(buffer: try await response.body.collect(upTo: 16 << 20))
        guard let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] else {
            throw CommandFailure("unexpected answer from \(what) at \(url)")
        }
        if let error = object["error"] as? [String: Any] { throw CommandFailure("\(what): \(error["message"] as? String ?? "error")") }
        return (object, body)
    } catch let error as CommandFailure { throw error } catch {
        let refused = "\(error)".contains("refused")
        throw CommandFailure(refused ? "nothing answers at \(url) (connection refused): is \(what) running?" : "cannot reach \(what) at \(url): \(error)")
    }
}
