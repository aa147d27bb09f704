// The logprob heatmap: each output token tinted by its probability, the
// probability shown on hover and on keyboard focus (colour is never the only
// signal), and a panel listing a clicked token's top alternatives, each of
// which can start a branch ("continue from here with this token instead").
//
// Tokens are inserted as text; nothing from the model is ever markup.
(function () {
  "use strict";

  // Probability bands, likeliest first: the tint grows as the probability
  // falls, so the surprising tokens stand out. The CSS (inspect.css) maps
  // each band to a translucent colour that reads on light and dark themes.
  const BANDS = [
    [0.9, "≥ 90%"],
    [0.6, "60–90%"],
    [0.3, "30–60%"],
    [0.1, "10–30%"],
    [0, "< 10%"],
  ];

  function band(p) {
    return BANDS.findIndex(([floor]) => p >= floor);
  }

  function fmtProb(logprob) {
    const p = Math.exp(logprob) * 100;
    return p >= 99.995 ? "100%" : `${p.toFixed(2)}%`;
  }

  // One delta's logprobs, either shape (chat's content list, completions'
  // legacy arrays), as [{token, logprob, alternatives: [{token, logprob}]}].
  function items(logprobs) {
    if (Array.isArray(logprobs.content)) {
      return logprobs.content.map((t) => ({
        token: t.token,
        logprob: t.logprob,
        alternatives: (t.top_logprobs || []).map((a) => ({ token: a.token, logprob: a.logprob })),
      }));
    }
    if (Array.isArray(logprobs.tokens)) {
      return logprobs.tokens.map((token, i) => ({
        token,
        logprob: (logprobs.token_logprobs || [])[i],
        alternatives: Object.entries((logprobs.top_logprobs || [])[i] || {})
          .map(([t, lp]) => ({ token: t, logprob: lp })),
      }));
    }
    return [];
  }

  function label(token) {
    return JSON.stringify(token);
  }

  // Tokens with their probabilities: one focusable span per token.
  function tokenSpans(logprobs) {
    return items(logprobs).map((item) => {
      const span = document.createElement("span");
      span.className = "token";
      span.textContent = item.token;
      if (typeof item.logprob === "number") {
        const prob = fmtProb(item.logprob);
        span.dataset.prob = prob;
        span.dataset.band = band(Math.exp(item.logprob));
        // The hover text: the token, then its alternatives, one a line.
        span.title = [`${label(item.token)} ${prob}`,
          ...item.alternatives.map((a) => `${label(a.token)} ${fmtProb(a.logprob)}`)].join("\n");
        span.setAttribute("aria-label", `${item.token} (${prob})`);
        span.setAttribute("role", "button");
        span.tabIndex = -1;
        // Kept on the element for the alternatives panel, never as markup.
        span.heat = item;
      }
      return span;
    });
  }

  // The legend: what each tint means.
  function legend() {
    const box = document.createElement("div");
    box.className = "heat-legend";
    box.append(Object.assign(document.createElement("span"), {
      className: "muted", textContent: "Token probability:",
    }));
    BANDS.forEach(([, text], i) => {
      const key = document.createElement("span");
      key.className = "token";
      key.dataset.band = i;
      key.textContent = text;
      box.append(key);
    });
    box.append(Object.assign(document.createElement("span"), {
      className: "muted", textContent: "Click or press Enter on a token for its alternatives.",
    }));
    return box;
  }

  // Keyboard: one tab stop per output column (the first token, then the one
  // last focused); arrows move between tokens, Enter or Space opens the panel.
  function rove(text, span) {
    text.querySelectorAll(".token[tabindex='0']").forEach((t) => { if (t !== span) t.tabIndex = -1; });
    span.tabIndex = 0;
  }

  function ensureTabStop(text) {
    const first = text.querySelector(".token[data-prob]");
    if (first && !text.querySelector(".token[tabindex='0']")) first.tabIndex = 0;
  }

  // The alternatives panel of `span` (a token of column `col`). `onBranch`
  // (col, tokenIndex, token) starts a branch; without it there is no button.
  function openPanel(span, onBranch) {
    closePanel();
    const col = span.closest(".choice");
    const text = span.closest(".stream-text");
    const tokens = [...text.querySelectorAll(".token[data-prob]")];
    const position = tokens.indexOf(span);
    const item = span.heat;
    const panel = document.createElement("div");
    panel.className = "alt-panel";
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", "Alternatives for this token");
    const head = document.createElement("div");
    head.className = "alt-head";
    head.append(Object.assign(document.createElement("code"), { textContent: label(item.token) }));
    head.append(document.createTextNode(` ${span.dataset.prob} · token ${position + 1}`));
    const close = Object.assign(document.createElement("button"), {
      type: "button", className: "icon alt-close", textContent: "✕", title: "Close (Esc)",
    });
    close.addEventListener("click", () => { closePanel(); span.focus(); });
    head.append(close);
    panel.append(head);

    const alternatives = [...item.alternatives];
    if (!alternatives.some((a) => a.token === item.token)) alternatives.push(item);
    alternatives.sort((a, b) => b.logprob - a.logprob);
    const list = document.createElement("ol");
    list.className = "alt-list";
    for (const alt of alternatives) {
      const li = document.createElement("li");
      const p = Math.exp(alt.logprob);
      li.append(Object.assign(document.createElement("code"), { textContent: label(alt.token) }));
      li.append(Object.assign(document.createElement("meter"), { min: 0, max: 1, value: p }));
      li.append(Object.assign(document.createElement("span"), {
        className: "alt-prob", textContent: fmtProb(alt.logprob),
      }));
      if (alt.token === item.token) {
        li.className = "alt-sampled";
        li.append(Object.assign(document.createElement("span"), { className: "muted", textContent: "sampled" }));
      } else if (onBranch && col.dataset.branchable !== "false") {
        const button = Object.assign(document.createElement("button"), {
          type: "button", className: "secondary alt-branch", textContent: "Branch",
        });
        button.dataset.token = alt.token;
        button.title = `Branch from here: continue with ${label(alt.token)} instead`;
        button.setAttribute("aria-label", `Branch from here with ${label(alt.token)}`);
        button.addEventListener("click", () => { closePanel(); onBranch(col, position, alt.token); });
        li.append(button);
      }
      list.append(li);
    }
    if (alternatives.length < 2) {
      panel.append(Object.assign(document.createElement("p"), {
        className: "muted",
        textContent: "No alternatives were returned: set top_logprobs (chat) or logprobs ≥ 1 (completions).",
      }));
    }
    panel.append(list);
    span.classList.add("is-open");
    panel.heatToken = span;
    col.append(panel);
    (panel.querySelector(".alt-branch") || close).focus({ preventScroll: true });
  }

  function closePanel() {
    document.querySelectorAll(".alt-panel").forEach((panel) => {
      panel.heatToken?.classList.remove("is-open");
      panel.remove();
    });
  }

  // Clicks and keys on the tokens of `container` (event delegation, so it
  // works for tokens that stream in later).
  function attach(container, onBranch) {
    container.addEventListener("click", (e) => {
      const span = e.target.closest(".token[data-prob]");
      if (!span || !span.heat) return;
      rove(span.closest(".stream-text"), span);
      openPanel(span, onBranch);
    });
    container.addEventListener("keydown", (e) => {
      const panel = e.target.closest(".alt-panel");
      if (panel && e.key === "Escape") {
        e.preventDefault();
        e.stopPropagation(); // Esc here closes the panel; it does not stop a run
        const span = panel.heatToken;
        closePanel();
        span?.focus();
        return;
      }
      const span = e.target.closest(".token[data-prob]");
      if (!span || !span.heat) return;
      const text = span.closest(".stream-text");
      const tokens = [...text.querySelectorAll(".token[data-prob]")];
      const i = tokens.indexOf(span);
      let next = null;
      if (e.key === "ArrowRight" || e.key === "ArrowDown") next = tokens[i + 1];
      else if (e.key === "ArrowLeft" || e.key === "ArrowUp") next = tokens[i - 1];
      else if (e.key === "Home") next = tokens[0];
      else if (e.key === "End") next = tokens[tokens.length - 1];
      else if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        openPanel(span, onBranch);
        return;
      } else return;
      e.preventDefault();
      if (next) { rove(text, next); next.focus(); }
    });
  }

  // A column's text got tokens: make sure it has a tab stop, and the output
  // area a legend.
  function tokensAdded(text, area) {
    ensureTabStop(text);
    if (area && !area.previousElementSibling?.classList.contains("heat-legend")) {
      area.before(legend());
    }
  }

  function clear(area) {
    closePanel();
    if (area && area.previousElementSibling?.classList.contains("heat-legend")) {
      area.previousElementSibling.remove();
    }
  }

  window.Heatmap = { tokenSpans, items, fmtProb, legend, attach, tokensAdded, clear, closePanel };
})();
