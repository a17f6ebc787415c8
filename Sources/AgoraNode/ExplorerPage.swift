import AgoraWeb

/// The node's explorer at `/`: the tip and recent blocks with each block's Proof-of-AI work,
/// block, transaction and account pages, providers, channels, jobs, models and audits, and search
/// by height, hash or address — all read from this node's own `/v1/` API, and kept live by
/// `/v1/events`.
enum ExplorerPage {
    static let page = WebPage(name: "explorer", title: "Chain explorer", script: script)

    static let script = #"""
    "use strict";
    const { el, getJSON, agr, short, ago, card, table, fields, lineChart, show, fail, nav, live } = Agora;
    nav([["Blocks", "#/"], ["Providers", "#/providers"], ["Channels", "#/channels"], ["Jobs", "#/jobs"], ["Models", "#/models"], ["Audits", "#/audits"]]);

    const link = (href, text, mono = true) => el("a", { href, class: mono ? "mono" : "" }, text);
    const blockLink = (id, text) => link("#/block/" + id, text === undefined ? String(id) : text);
    const txLink = id => link("#/tx/" + id, short(id, 16));
    const accountLink = address => address ? link("#/account/" + address, short(address, 18)) : "—";
    const price = perMillion => agr(perMillion) + " / M tokens";

    function searchForm(initial) {
      const input = el("input", { type: "text", id: "search", placeholder: "Block height or hash, transaction id, or ag1… address", value: initial || "" });
      return el("form", { class: "search", onsubmit: event => { event.preventDefault(); search(input.value.trim()); } },
        input, el("button", { type: "submit", id: "search-button" }, "Search"));
    }

    async function search(text) {
      if (!text) return;
      if (/^\d+$/.test(text)) { location.hash = "#/block/" + text; return; }
      if (/^ag1[0-9a-z]+$/.test(text)) { location.hash = "#/account/" + text; return; }
      if (/^[0-9a-fA-F]{64}$/.test(text)) {
        const status = await getJSON("/v1/transactions/" + text).catch(() => null);
        if (status && status.status !== "unknown") { location.hash = "#/tx/" + text; return; }
        const block = await getJSON("/v1/blocks/" + text).catch(() => null);
        if (block) { location.hash = "#/block/" + text; return; }
      }
      show(searchForm(text), el("p", { class: "error" }, "Nothing on this chain matches " + text + "."));
    }

    async function home() {
      const [status, blocks, pending] = await Promise.all([getJSON("/v1/status"), getJSON("/v1/blocks?limit=60"), getJSON("/v1/transactions")]);
      const times = blocks.slice().reverse();
      const gaps = times.slice(1).map((b, i) => ({ x: b.height, y: b.time - times[i].time }));
      show(
        searchForm(),
        el("div", { class: "cards" },
          card("Height", String(status.height), "height"), card("Tip", short(status.tip, 16)), card("Chain", status.chain_id),
          card("Mempool", status.mempool_transactions + " transactions"), card("Last block", blocks.length ? ago(blocks[0].time) : "—"),
          card("Sealing", status.dev ? "dev (timer)" : "Proof of AI")),
        el("h2", {}, "Seconds between blocks"),
        lineChart(gaps, { title: "block time (s), last " + gaps.length + " blocks", format: v => v.toFixed(0) + " s" }),
        el("h2", {}, "Recent blocks"),
        table([
          { title: "Height", value: b => blockLink(b.height) },
          { title: "Hash", value: b => blockLink(b.hash, short(b.hash, 16)) },
          { title: "Time", value: b => ago(b.time) },
          { title: "Miner", value: b => accountLink(b.miner) },
        ], blocks.slice(0, 20)),
        el("h2", {}, "Waiting in the mempool"),
        table([
          { title: "Transaction", value: t => txLink(t.id) }, { title: "Kind", value: t => t.kind },
          { title: "Sender", value: t => accountLink(t.sender) }, { title: "Fee", value: t => agr(t.fee), num: true },
        ], pending, "The mempool is empty."));
    }

    async function block(id) {
      const [view, work] = await Promise.all([getJSON("/v1/blocks/" + id), getJSON("/v1/blocks/" + id + "/work")]);
      const h = view.header;
      const workPart = work.sealing === "proof_of_ai"
        ? [el("h2", {}, "Proof of AI"),
           fields([["Loss", work.loss === null || work.loss === undefined ? "not scored by this node (it took the block before it last started)" : work.loss.toFixed(6) + " nats over " + work.answer_tokens + " answer tokens"],
                   ["Target", el("span", { class: "mono" }, work.target)], ["Work digest", el("span", { class: "mono" }, work.work_digest)]]),
           table([{ title: "Quiz question", value: q => q.question }, { title: "Reference answer", value: q => q.answer }], work.quiz)]
        : [el("h2", {}, "Sealing"), el("p", { class: "muted" }, work.sealing === "dev" ? "Sealed by a dev node's timer: no Proof-of-AI work." : "The genesis block.")];
      show(searchForm(),
        el("h1", {}, "Block " + h.height),
        fields([["Hash", el("span", { class: "mono", id: "block-hash" }, h.hash)], ["Parent", blockLink(h.parent, h.parent)],
                ["Time", new Date(h.time * 1000).toISOString() + " (" + ago(h.time) + ")"], ["Miner", accountLink(h.miner)],
                ["Transactions", String(view.transactions.length)], ["State root", el("span", { class: "mono" }, h.state_root)]]),
        ...workPart,
        el("h2", {}, "Transactions"),
        table([{ title: "Id", value: t => txLink(t.id) }, { title: "Kind", value: t => t.kind }, { title: "Sender", value: t => accountLink(t.sender) },
               { title: "Fee", value: t => agr(t.fee), num: true }], view.transactions, "No transactions."));
    }

    function payload(transaction) {
      const pairs = Object.keys(transaction.fields).sort().map(key => {
        const value = transaction.fields[key];
        return [key, /^ag1[0-9a-z]{20,}$/.test(value) ? accountLink(value) : el("span", { class: "mono" }, value)];
      });
      return pairs.length ? fields(pairs) : el("p", { class: "muted" }, "No fields.");
    }

    async function transaction(id) {
      const status = await getJSON("/v1/transactions/" + id);
      let found = null;
      if (status.height !== undefined && status.height !== null) {
        const view = await getJSON("/v1/blocks/" + status.height);
        found = view.transactions.find(t => t.id === id);
      } else if (status.status === "pending") {
        found = (await getJSON("/v1/transactions")).find(t => t.id === id);
      }
      const rows = [["Id", el("span", { class: "mono", id: "tx-id" }, id)], ["Status", el("span", { id: "tx-status" }, status.status)]];
      if (status.height !== undefined && status.height !== null) rows.push(["Block", blockLink(status.height)]);
      if (status.rejection) rows.push(["Rejected", status.rejection]);
      if (found) rows.push(["Kind", el("span", { id: "tx-kind" }, found.kind)], ["Sender", accountLink(found.sender)], ["Nonce", String(found.nonce)], ["Fee", agr(found.fee)]);
      show(searchForm(), el("h1", {}, "Transaction"), fields(rows), ...(found ? [el("h2", {}, "Payload"), payload(found)] : []));
    }

    async function account(address) {
      const [view, history, provider] = await Promise.all([getJSON("/v1/accounts/" + address), getJSON("/v1/accounts/" + address + "/transactions?limit=50"),
                                                           getJSON("/v1/providers/" + address).catch(() => null)]);
      show(searchForm(), el("h1", {}, "Account"),
        fields([["Address", el("span", { class: "mono" }, view.address)], ["Balance", el("span", { id: "balance" }, agr(view.balance))],
                ["Bonded stake", agr(view.bonded)], ["Nonce", String(view.nonce)],
                ["Unbonding", view.unbonding.length ? view.unbonding.map(u => agr(u.amount) + " at " + u.release_height).join(", ") : "—"]]),
        ...(provider ? [el("h2", {}, "As a provider"), providerTable([provider])] : []),
        el("h2", {}, "Recent transactions"),
        table([{ title: "Block", value: e => blockLink(e.height) }, { title: "Id", value: e => txLink(e.transaction.id) },
               { title: "Kind", value: e => e.transaction.kind }, { title: "Sender", value: e => accountLink(e.transaction.sender) }],
              history, "No transactions in the last blocks this node looks through."));
    }

    function providerTable(providers) {
      return table([
        { title: "Provider", value: p => accountLink(p.address) }, { title: "Endpoint", value: p => p.endpoint, mono: true },
        { title: "Offers", value: p => p.offers.map(o => {
            const layers = o.layer_end > o.layer_start ? " blocks " + o.layer_start + "-" + (o.layer_end - 1) : "";
            return short(o.model, 10) + layers + ": in " + price(o.price_in) + ", out " + price(o.price_out);
          }).join("; ") },
        { title: "Bond", value: p => agr(p.bonded), num: true }, { title: "Score", value: p => String(p.score), num: true },
        { title: "Audits passed / failed", value: p => p.audits.passed + " / " + p.audits.failed, num: true },
        { title: "Slashes", value: p => String(p.slashes), num: true }, { title: "Status", value: p => p.retired ? "retired" : "active" },
      ], providers, "No provider is registered.");
    }

    async function providers() { show(el("h1", {}, "Providers"), providerTable(await getJSON("/v1/providers?include_retired=true"))); }

    async function channels() {
      show(el("h1", {}, "Payment channels"), table([
        { title: "Channel", value: c => el("span", { class: "mono" }, short(c.id, 16)) }, { title: "Client", value: c => accountLink(c.client) },
        { title: "Provider", value: c => accountLink(c.provider) }, { title: "Status", value: c => c.status },
        { title: "Deposit", value: c => agr(c.deposit), num: true }, { title: "Claimed", value: c => agr(c.claimed), num: true },
        { title: "Expires at", value: c => String(c.expiry), num: true },
      ], await getJSON("/v1/channels"), "No channel has been opened."));
    }

    async function jobs() {
      show(el("h1", {}, "On-chain jobs"), table([
        { title: "Job", value: j => el("span", { class: "mono" }, short(j.id, 16)) }, { title: "Client", value: j => accountLink(j.client) },
        { title: "Status", value: j => j.status }, { title: "Provider", value: j => accountLink(j.provider) },
        { title: "Escrowed", value: j => agr(j.max_cost), num: true }, { title: "Deadline", value: j => String(j.deadline), num: true },
      ], await getJSON("/v1/jobs"), "No job has been posted."));
    }

    async function models() {
      show(el("h1", {}, "Models"), table([
        { title: "Name", value: m => m.name }, { title: "Id", value: m => el("span", { class: "mono" }, short(m.id, 16)) },
        { title: "Owner", value: m => accountLink(m.owner) }, { title: "Owner's fee", value: m => (m.owner_fee_basis_points / 100) + " %", num: true },
        { title: "Source", value: m => m.source, mono: true },
      ], await getJSON("/v1/models"), "No model is registered."));
    }

    async function audits() {
      show(el("h1", {}, "Audits"), table([
        { title: "Transcript", value: a => el("span", { class: "mono" }, short(a.transcript, 16)) }, { title: "Provider", value: a => accountLink(a.provider) },
        { title: "Verdict", value: a => a.verdict }, { title: "Block", value: a => blockLink(a.height) },
        { title: "Slashed", value: a => agr(a.slashed), num: true }, { title: "Refunded", value: a => agr(a.refunded), num: true },
      ], await getJSON("/v1/audits"), "No answer has been challenged."));
    }

    async function route() {
      const [, page, id] = (location.hash || "#/").split("/");
      try {
        if (!page) await home();
        else if (page === "block") await block(id);
        else if (page === "tx") await transaction(id);
        else if (page === "account") await account(id);
        else if (page === "providers") await providers();
        else if (page === "channels") await channels();
        else if (page === "jobs") await jobs();
        else if (page === "models") await models();
        else if (page === "audits") await audits();
        else show(el("p", { class: "error" }, "No such page."));
      } catch (error) { show(searchForm(), fail(error)); }
    }

    // One redraw at a time: events that arrive during one (a block every half second on a dev
    // chain) ask for a single redraw after it, never a pile of them.
    let drawing = false, again = false;
    async function redraw() {
      if (drawing) { again = true; return; }
      drawing = true;
      try { await route(); } finally {
        drawing = false;
        if (again) { again = false; redraw(); }
      }
    }

    window.addEventListener("hashchange", redraw);
    redraw();
    // Live: a new block or transaction redraws the page being looked at (the front page and
    // lists; a pending transaction's page, an account's).
    const events = new EventSource("/v1/events");
    events.onopen = () => live(true, "live");
    events.onerror = () => live(false, "reconnecting…");
    events.onmessage = message => {
      const event = JSON.parse(message.data);
      if (event.type === "hello") return;
      // Not while someone types a search.
      if (document.activeElement && document.activeElement.id === "search") return;
      const page = (location.hash || "#/").split("/")[1];
      // A confirmed transaction's page does not change; a pending one's does.
      if (page === "tx" && document.getElementById("tx-status") && document.getElementById("tx-status").textContent === "confirmed") return;
      if (!page || page === "tx" || page === "account" || ["providers", "channels", "jobs", "audits", "models"].includes(page)) redraw();
    };
    """#
}
