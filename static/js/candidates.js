// The candidates grid: with n > 1 (or best_of) the choices stand side by
// side, each with its finish reason and token count, and any two of them can
// be diffed word by word. The diff is history's (the same component as
// compare's): rendered and escaped by the server, fetched as a partial.
(function () {
  "use strict";

  // history's diff partial (named on this script's tag by the template).
  const DIFF_URL = document.currentScript?.dataset.diffUrl;  // {% url %}, from the page

  // A choice column's footer: finish reason and tokens.
  function foot(col) {
    let el = col.querySelector(".choice-foot");
    if (!el) {
      el = document.createElement("div");
      el.className = "choice-foot muted";
      const finish = Object.assign(document.createElement("span"), { className: "choice-finish" });
      const tokens = Object.assign(document.createElement("span"), { className: "choice-tokens" });
      el.append(finish, tokens);
      col.querySelector(".stream-text").after(el);
    }
    return el;
  }

  // Counted as the output streams: exact when logprobs name each token,
  // otherwise the streamed chunks (one token each from OpenAI and llama.cpp,
  // more where chunks were coalesced), marked as an estimate.
  function counted(col, tokens, exact) {
    col.tokenCount = (col.tokenCount || 0) + tokens;
    col.tokensExact = col.tokensExact !== false && exact;
    const n = col.tokenCount;
    const el = foot(col).querySelector(".choice-tokens");
    el.textContent = `${col.tokensExact ? "" : "~"}${n} token${n === 1 ? "" : "s"}`;
    el.title = col.tokensExact ? "counted from logprobs" : "counted as streamed chunks (turn logprobs on for an exact count)";
  }

  function finished(col, reason) {
    const el = foot(col).querySelector(".choice-finish");
    el.textContent = `finish: ${reason || "none"}`;
    col.dataset.finish = reason || "";
  }

  // Below a run's output with two or more choices: pick two, see the diff
  // (choice 0 against choice 1 straight away).
  function diffPicker(output, run) {
    const indexes = [...output.querySelectorAll(".choice[data-index]")].map((c) => Number(c.dataset.index));
    remove(output);
    if (indexes.length < 2) return;
    const box = document.createElement("div");
    box.className = "candidates-diff";
    const head = Object.assign(document.createElement("h2"), { textContent: "Diff of two choices" });
    const a = select("a", indexes, indexes[0]);
    const b = select("b", indexes, indexes[1]);
    const target = Object.assign(document.createElement("div"), { className: "candidates-diff-result" });
    target.setAttribute("aria-live", "polite");
    const show = async () => {
      const query = new URLSearchParams({ a: `${run}:${a.select.value}`, b: `${run}:${b.select.value}` });
      query.set("label_a", `choice ${a.select.value}`);
      query.set("label_b", `choice ${b.select.value}`);
      const response = await fetch(`${DIFF_URL}?${query}`, { credentials: "same-origin" });
      // Server-rendered and escaped: the only markup inserted.
      target.innerHTML = response.ok ? await response.text() : "";
      if (!response.ok) target.textContent = "The diff could not be made.";
    };
    a.select.addEventListener("change", show);
    b.select.addEventListener("change", show);
    const row = document.createElement("div");
    row.className = "diff-picker";
    row.append(head, a.label, b.label);
    box.append(row, target);
    output.after(box);
    show();
  }

  function select(name, indexes, value) {
    const label = Object.assign(document.createElement("label"), { textContent: `${name.toUpperCase()} ` });
    const el = document.createElement("select");
    el.name = `candidate-${name}`;
    for (const i of indexes) el.append(new Option(`Choice ${i}`, String(i)));
    el.value = String(value);
    label.append(el);
    return { label, select: el };
  }

  function remove(output) {
    const next = output.nextElementSibling;
    if (next && next.classList.contains("candidates-diff")) next.remove();
  }

  window.Candidates = { foot, counted, finished, diffPicker, remove };
})();
