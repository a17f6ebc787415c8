import AgoraWeb

/// The provider's page at `/`: earnings (received, claimed, claimable, per client channel), load
/// and throughput, payment waits, and the claims settled on chain. Its data
/// (`/v1/provider/earnings`) is answered to the provider's own machine only.
enum ProviderPage {
    static let page = WebPage(name: "provider", title: "Provider", script: script)

    static let script = #"""
    "use strict";
    const { el, getJSON, agr, short, ago, card, table, lineChart, show, fail, nav, every } = Agora;
    nav([["Earnings", "#earnings"], ["Channels", "#channels"], ["Settlements", "#settlements"]]);

    async function refresh() {
      let data;
      try { data = await getJSON("/v1/provider/earnings"); } catch (error) {
        if (error.status === 403) { show(el("p", { class: "error" }, "This page shows a provider's books on the provider's own machine only: open it there (http://127.0.0.1:PORT/).")); return; }
        throw error;
      }
      const samples = data.samples, start = samples.length ? samples[0].time : 0;
      const rate = samples.slice(1).map((s, i) => ({ x: s.time - start, y: (s.completion_tokens - samples[i].completion_tokens) / Math.max(1, s.time - samples[i].time) }));
      show(
        el("h1", { id: "earnings" }, "Earnings"),
        el("p", { class: "muted" }, "Provider " + data.provider + " · " + data.model_name + (data.stage ? " · " + data.stage : "") +
           " · " + agr(data.price.prompt_per_million) + " / " + agr(data.price.completion_per_million) + " per million prompt / completion tokens"),
        el("div", { class: "cards" },
          card("Received (receipted)", agr(data.received), "received"), card("Claimed on chain", agr(data.claimed), "claimed"),
          card("Claimable", agr(data.claimable), "claimable"), card("Answers", String(data.answers), "answers"),
          card("Answering now", String(data.answers_running)), card("Completion tokens", String(data.completion_tokens)),
          card("Payment waits", data.payment_waits + " (" + data.payment_wait_seconds.toFixed(1) + " s)")),
        el("h2", {}, "Received over time"),
        lineChart(samples.map(s => ({ x: s.time - start, y: s.received / 1e9 })), { title: "AGR receipted by clients", format: v => v.toFixed(6) }),
        el("h2", {}, "Throughput"),
        lineChart(rate, { title: "completion tokens per second", format: v => v.toFixed(1) }),
        el("h2", { id: "channels" }, "Client channels"),
        table([
          { title: "Client", value: c => el("span", { class: "mono" }, short(c.client, 18)) }, { title: "Status", value: c => c.status || "—" },
          { title: "Deposit", value: c => agr(c.deposit), num: true }, { title: "Tokens in / out", value: c => c.prompt_tokens + " / " + c.completion_tokens, num: true },
          { title: "Received", value: c => agr(c.received), num: true }, { title: "Claimed", value: c => agr(c.claimed), num: true },
          { title: "Claimable", value: c => agr(c.claimable), num: true },
        ], data.channels, "No client has paid for an answer yet."),
        el("h2", { id: "settlements" }, "Settlements on chain"),
        table([
          { title: "When", value: s => ago(s.time) }, { title: "Channel", value: s => el("span", { class: "mono" }, short(s.channel, 16)) },
          { title: "Amount", value: s => agr(s.amount), num: true }, { title: "Transaction", value: s => s.transaction, mono: true },
        ], data.settlements, "No claim has been settled by this process yet."));
    }

    every(5000, refresh);
    """#
}
