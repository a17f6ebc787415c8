import AgoraWeb

/// The bridge's page at `/`: a chat window that streams answers through the bridge's own OpenAI
/// API (each answer's provider, tokens and cost under it; Stop ends the request, and the bridge
/// then sends the provider its paid stop), the spending dashboard, and the providers as this
/// bridge ranks them.
enum BridgePage {
    static let page = WebPage(name: "bridge", title: "Bridge", script: script)

    static let script = #"""
    "use strict";
    const { el, getJSON, agr, short, card, table, lineChart, show, fail, nav, every } = Agora;
    nav([["Chat", "#chat"], ["Spending", "#spending"], ["Providers", "#providers"]]);

    const history = [];
    // A chat answer's length bound: a long answer costs more, and Stop ends one sooner.
    const maxTokens = 512;
    let model = null, controller = null;
    const messages = el("div", { class: "chat", id: "messages" });
    const prompt = el("textarea", { id: "prompt", rows: "3", placeholder: "Ask anything; the answer is paid per token through the market." });
    const send = el("button", { id: "send", type: "submit" }, "Send");
    // Greedy by default: SmolLM2-sized models wander at OpenAI's default temperature of 1.
    const temperature = el("select", { id: "temperature", title: "temperature" },
      el("option", { value: "0" }, "temperature 0"), el("option", { value: "0.7" }, "0.7"), el("option", { value: "1" }, "1"));
    const stop = el("button", { id: "stop", type: "button", class: "secondary", disabled: true, onclick: () => controller && controller.abort() }, "Stop");
    const form = el("form", { class: "search", onsubmit: event => { event.preventDefault(); ask(); } }, prompt, temperature, send, stop);
    const spending = el("div", { id: "spending-body" }, el("p", { class: "muted" }, "Loading…"));
    const providers = el("div", { id: "providers-body" }, el("p", { class: "muted" }, "Loading…"));
    show(el("h1", { id: "chat" }, "Chat"), messages, form,
         el("h1", { id: "spending" }, "Spending"), spending,
         el("h1", { id: "providers" }, "Providers, as this bridge ranks them"), providers);
    prompt.addEventListener("keydown", event => { if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); ask(); } });

    async function ask() {
      const text = prompt.value.trim();
      if (!text || controller) return;
      if (!model) {
        const list = await getJSON("/v1/models").catch(() => ({ data: [] }));
        model = list.data.length ? list.data[0].id : null;
      }
      history.push({ role: "user", content: text });
      messages.append(el("div", { class: "message user" }, text));
      prompt.value = "";
      const answer = el("span", { class: "text" }), meta = el("div", { class: "meta" }, "waiting for a provider…");
      messages.append(el("div", { class: "message assistant" }, answer, meta));
      controller = new AbortController();
      send.disabled = true; stop.disabled = false;
      let agora = null, usage = null, finish = null, failure = null;
      try {
        if (!model) throw new Error("no provider offers a model through this bridge yet");
        const response = await fetch("/v1/chat/completions", {
          method: "POST", headers: { "Content-Type": "application/json" }, signal: controller.signal,
          body: JSON.stringify({ model, messages: history, max_tokens: maxTokens, temperature: Number(temperature.value), stream: true, stream_options: { include_usage: true } }),
        });
        if (!response.ok) {
          const body = await response.json().catch(() => null);
          throw new Error(body && body.error ? body.error.message : "HTTP " + response.status);
        }
        const reader = response.body.getReader(), decoder = new TextDecoder();
        let pending = "";
        meta.textContent = "streaming…";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          pending += decoder.decode(value, { stream: true });
          const lines = pending.split("\n");
          pending = lines.pop();
          for (const line of lines) {
            if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
            const chunk = JSON.parse(line.slice(6));
            if (chunk.error) { failure = chunk.error.message; continue; }
            for (const choice of chunk.choices || []) {
              if (choice.delta && choice.delta.content) answer.textContent += choice.delta.content;
              if (choice.finish_reason) finish = choice.finish_reason;
            }
            if (chunk.agora) agora = chunk.agora;
            if (chunk.usage) usage = chunk.usage;
          }
        }
        if (failure) throw new Error(failure);
        history.push({ role: "assistant", content: answer.textContent });
        const parts = [];
        if (agora) parts.push("answered by " + short(agora.provider, 18) + (agora.stages ? " (a pipeline of " + agora.stages.length + " stages)" : ""));
        if (usage) parts.push(usage.prompt_tokens + " prompt + " + usage.completion_tokens + " completion tokens");
        if (agora) parts.push("cost " + agr(agora.cost));
        if (finish) parts.push("finish: " + finish);
        meta.textContent = parts.join(" · ");
        meta.className = "meta done";
      } catch (error) {
        history.pop();
        if (error.name === "AbortError") { meta.textContent = "stopped: the provider was asked to stop, and is paid for what it sent"; meta.className = "meta stopped"; }
        else { meta.textContent = "failed: " + error.message; meta.className = "meta bad"; }
      } finally {
        controller = null; send.disabled = false; stop.disabled = true;
        refreshSpending().catch(() => {});
      }
    }

    async function refreshSpending() {
      const [spend, samples] = await Promise.all([getJSON("/v1/spend"), getJSON("/v1/spend/history")]);
      const start = samples.samples.length ? samples.samples[0].time : 0;
      spending.replaceChildren(
        el("div", { class: "cards" }, card("Spent", agr(spend.spent), "spent"), card("Budget", agr(spend.budget)),
           card("Left", agr(Math.max(0, spend.budget - spend.spent))), card("Channels", String(spend.channels.length))),
        el("h2", {}, "Spent over time"),
        lineChart(samples.samples.map(s => ({ x: s.time - start, y: s.spent / 1e9 })), { title: "AGR spent (sampled every few seconds)", format: v => v.toFixed(6) }),
        el("h2", {}, "Channels"),
        table([
          { title: "Provider", value: c => el("span", { class: "mono" }, short(c.provider, 18)) },
          { title: "Deposit", value: c => agr(c.deposit), num: true }, { title: "Signed to it", value: c => agr(c.signed), num: true },
          { title: "Prompt tokens", value: c => String(c.prompt_tokens), num: true }, { title: "Completion tokens", value: c => String(c.completion_tokens), num: true },
          { title: "Price in / out per M", value: c => agr(c.price.prompt_per_million) + " / " + agr(c.price.completion_per_million) },
        ], spend.channels, "No channel is open yet: the first request opens one."),
        ...(spend.caught.length ? [el("h2", {}, "Providers caught lying"), table([{ title: "Provider", value: c => c.provider, mono: true }, { title: "Why", value: c => c.why }], spend.caught)] : []));
    }

    async function refreshProviders() {
      const ranking = await getJSON("/v1/bridge/providers");
      providers.replaceChildren(
        table([
          { title: "#", value: p => String(p.rank), num: true }, { title: "Provider", value: p => el("span", { class: "mono" }, short(p.provider, 18)) },
          { title: "Price in / out per M", value: p => agr(p.price.prompt_per_million) + " / " + agr(p.price.completion_per_million) },
          { title: "Reputation", value: p => String(p.reputation), num: true },
          { title: "Latency", value: p => p.latency_seconds === null ? "—" : (p.latency_seconds * 1000).toFixed(0) + " ms", num: true },
          { title: "Tokens/s", value: p => p.tokens_per_second === null ? "—" : p.tokens_per_second.toFixed(1), num: true },
          { title: "Verifiable", value: p => p.verifiable ? "yes" : "no" }, { title: "Score", value: p => p.score.toFixed(3), num: true },
        ], ranking.ranked, "No provider serves this model within the bridge's limits."),
        ...(ranking.stages.length ? [el("h2", {}, "Pipeline stages"), table([
          { title: "Provider", value: s => el("span", { class: "mono" }, short(s.provider, 18)) }, { title: "Blocks", value: s => s.blocks },
          { title: "Price in / out per M", value: s => agr(s.price.prompt_per_million) + " / " + agr(s.price.completion_per_million) },
        ], ranking.stages)] : []));
    }

    every(5000, async () => { await Promise.all([refreshSpending(), refreshProviders()]); });
    """#
}
