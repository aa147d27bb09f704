// The compare page: 2–6 panes (a model and its parameters each) run the same
// input at once over one websocket, each streaming into its own column.
//
// As on the playground, model output is inserted with textContent only; the
// only markup inserted is what the server rendered and sanitized (a run's
// result: metrics and markdown).
(function () {
  "use strict";

  const form = document.getElementById("compare-form");
  if (!form) return;
  const mode = form.dataset.mode;
  const state = JSON.parse(document.getElementById("compare-state").textContent);
  const panesEl = document.getElementById("panes");
  const template = document.getElementById("pane-template");
  const runAllButton = document.getElementById("run-all");
  const stopAllButton = document.getElementById("stop-all");
  const addButton = document.getElementById("add-pane");
  const statusLine = document.getElementById("compare-status");
  const generalErrors = document.getElementById("general-errors");
  const blindBox = document.getElementById("blind");
  const diffA = document.getElementById("diff-a");
  const diffB = document.getElementById("diff-b");
  const diffButton = document.getElementById("diff-button");
  const maxBytes = Number(form.dataset.maxMessageBytes) || Infinity;
  const csrf = JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"];

  let comparison = state.comparison;
  let lastRound = null;
  let panes = [];
  let round = null; // the round in flight: {pending: Set of pane ids, runs, ...}
  let continued = false; // chat: a round has run; the next ones go on per pane
  let nextId = 1;
  const synced = new Set(); // field names kept equal across panes
  const byRun = new Map(); // run id -> pane
  const sharedMessages = mode === "chat" ? state.shared.messages || [] : [];
  let sharedCount = sharedMessages.length;

  // ---- the websocket --------------------------------------------------------

  let socket = null;
  let queued = []; // messages waiting for the socket to open, in order
  let retries = 0;

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/ws/run/`);
    socket.addEventListener("open", () => {
      retries = 0;
      // Back after a drop: each pane's run went on on the server; catch up.
      if (round) {
        for (const pane of panes) {
          if (pane.run && round.pending.has(pane.id)) {
            socket.send(JSON.stringify({ type: "subscribe", run: pane.run, after: pane.lastSeq }));
          }
        }
      }
      // Then what was pressed meanwhile (a Stop all stops what this socket
      // watches: the panes just subscribed).
      const pending = queued;
      queued = [];
      pending.forEach((m) => socket.send(JSON.stringify(m)));
    });
    socket.addEventListener("message", (e) => handle(JSON.parse(e.data)));
    socket.addEventListener("close", (e) => {
      socket = null;
      if (!round) return;
      if (e.code === 4401) {
        // Signed out (another tab, an expired session): retrying cannot help.
        for (const pane of panes) {
          if (round && round.pending.has(pane.id)) paneEnded(pane, "Signed out");
        }
        statusLine.textContent = "Signed out: sign in again, then reload to follow the round.";
        return;
      }
      // A round still queued never left the page: it goes out once
      // connected. A pane whose run was sent but not started never will.
      if (!queued.some((m) => m.type === "run")) {
        for (const pane of panes) {
          if (!pane.run && round && round.pending.has(pane.id)) {
            paneEnded(pane, "Connection lost before the run started; nothing was sent.");
          }
        }
      }
      if (!round) return;
      statusLine.textContent = "Connection lost; reconnecting…";
      const delay = Math.min(250 * 2 ** retries, 5000);
      retries += 1;
      setTimeout(() => { if (!socket) connect(); }, delay);
    });
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
    else { queued.push(message); if (!socket) connect(); }
  }

  // ---- panes ------------------------------------------------------------------

  function $(pane, selector) { return pane.el.querySelector(selector); }

  function makePane(config) {
    const el = template.content.firstElementChild.cloneNode(true);
    const pane = {
      id: config.id, el, run: null, conversation: null, thread: null, sent: null,
      lastSeq: 0, status: null, model: "",
    };
    el.dataset.pane = config.id;
    el.querySelector(".pane-model").value = config.model || "";
    window.Controls?.sliders(el);
    setBody(pane, config.body || {});
    adapt(pane);
    return pane;
  }

  // The pane's fields its model does not accept: disabled with the reason,
  // kept, and not sent (static/js/capabilities.js, as on the playground).
  function adapt(pane) {
    const caps = window.Capabilities?.adapt(pane.el, $(pane, ".pane-model").value);
    if (caps) $(pane, ".extras-policy").textContent = window.Capabilities.POLICY[caps.unknown_fields] || "";
    countParams(pane);
  }

  function newId() {
    while (panes.some((p) => p.id === `p${nextId}`)) nextId += 1;
    return `p${nextId++}`;
  }

  function layout() {
    panes.forEach((pane, i) => {
      panesEl.appendChild(pane.el);
      $(pane, ".pane-label").textContent = hidden() ? `Pane ${"ABCDEF"[i]}` : `Pane ${i + 1}`;
      $(pane, "[data-action=left]").disabled = i === 0;
      $(pane, "[data-action=right]").disabled = i === panes.length - 1;
      $(pane, "[data-action=remove]").disabled = panes.length <= state.min_panes || !!round;
      $(pane, "[data-action=duplicate]").disabled = panes.length >= state.max_panes || !!round;
    });
    panesEl.dataset.count = panes.length;
    addButton.disabled = panes.length >= state.max_panes || !!round;
    form.classList.toggle("blind", blindBox.checked);
    refreshDiffChoices();
  }

  // Blind mode hides the models until the user picks the better pane.
  function hidden() { return blindBox.checked && !form.classList.contains("revealed"); }

  // ---- pane parameters ----------------------------------------------------------

  function controlText(el, value) {
    if (value === undefined || value === null) return "";
    switch (el.dataset.kind) {
      case "boolean": return value ? "true" : "false";
      case "json": return JSON.stringify(value, null, 2);
      default: return typeof value === "string" ? value : JSON.stringify(value);
    }
  }

  // A value set from here, not typed: a slider beside the box follows it
  // (a change event that does not bubble, so it is not synced again).
  function setValue(el, value) {
    el.value = value;
    el.dispatchEvent(new Event("change"));
  }

  function setBody(pane, body) {
    const extras = { ...body };
    pane.el.querySelectorAll("[data-field]").forEach((el) => {
      setValue(el, controlText(el, body[el.dataset.field]));
      delete extras[el.dataset.field];
    });
    // What no control holds is the pane's extra parameters.
    $(pane, "[data-pane-extras]").value = Object.keys(extras).length ? JSON.stringify(extras, null, 2) : "";
    countParams(pane);
  }

  function unaccepted(el) { return Boolean(el.closest(".unaccepted")); }

  function fieldError(pane, name, message) {
    const slot = pane && name ? $(pane, `[data-error-for="${CSS.escape(String(name).split(/[.[]/)[0])}"]`) : null;
    const line = Object.assign(document.createElement("div"), { className: "field-error", textContent: message });
    if (slot) { slot.appendChild(line); slot.closest("details").open = true; }
    else if (pane) $(pane, ".pane-errors").appendChild(line);
    else generalErrors.appendChild(line);
  }

  // What every pane sends alike, from the shared input above the panes.
  const SHARED_FIELDS = {
    prompt: "the prompt above the panes is every pane's",
    messages: "the messages above the panes are every pane's",
  };

  // Empty means unset, and unset fields are not sent.
  function readBody(pane) {
    const body = {};
    let bad = false;
    pane.el.querySelectorAll("[data-field]").forEach((el) => {
      if (unaccepted(el)) return; // this pane's model does not take it
      const name = el.dataset.field;
      const raw = el.value;
      if (el.validity && el.validity.badInput) { fieldError(pane, name, `${name} must be a number`); bad = true; return; }
      if (raw.trim() === "") return;
      switch (el.dataset.kind) {
        case "number":
        case "integer": {
          const n = Number(raw);
          body[name] = Number.isFinite(n) ? n : raw; // the validator names a bad one
          break;
        }
        case "boolean": body[name] = raw === "true"; break;
        case "json":
          try { body[name] = JSON.parse(raw); } catch (e) {
            fieldError(pane, name, `${name} is not valid JSON: ${e.message}`);
            bad = true;
          }
          break;
        default: body[name] = raw;
      }
    });
    try {
      const extras = window.Capabilities?.parseExtras(
        $(pane, "[data-pane-extras]").value, pane.el, (name, message) => fieldError(pane, name, message),
        SHARED_FIELDS);
      Object.assign(body, extras);
    } catch (e) { bad = true; }
    if (bad) throw new Error("invalid parameters");
    return body;
  }

  function countParams(pane) {
    const set = [...pane.el.querySelectorAll("[data-field], [data-pane-extras]")]
      .filter((el) => el.value.trim() !== "" && !unaccepted(el)).length;
    $(pane, ".param-count").textContent = set ? `(${set} set)` : "";
  }

  function syncValue(source, name) {
    for (const pane of panes) {
      const el = $(pane, `[data-field="${CSS.escape(name)}"]`);
      if (el && el !== source) { setValue(el, source.value); countParams(pane); }
    }
  }

  function setSynced(name, on) {
    if (on) synced.add(name); else synced.delete(name);
    for (const pane of panes) {
      const box = $(pane, `[data-sync="${CSS.escape(name)}"]`);
      if (box) box.checked = on;
    }
  }

  // A field starts synced when every pane has the same value for it.
  function initialSync() {
    const first = panes[0];
    first.el.querySelectorAll("[data-field]").forEach((el) => {
      const name = el.dataset.field;
      const same = panes.every((p) => $(p, `[data-field="${CSS.escape(name)}"]`).value === el.value);
      setSynced(name, same);
    });
  }

  panesEl.addEventListener("input", (e) => {
    if (e.target.matches("[data-pane-extras]")) { countParams(paneOf(e.target)); return; }
    const el = e.target.closest("[data-field]");
    if (!el) return;
    if (synced.has(el.dataset.field)) syncValue(el, el.dataset.field);
    countParams(paneOf(el));
  });
  panesEl.addEventListener("change", (e) => {
    const picker = e.target.closest(".pane-model");
    if (picker) { adapt(paneOf(picker)); return; }
    const box = e.target.closest("[data-sync]");
    if (box) {
      setSynced(box.dataset.sync, box.checked);
      // Turned on: every pane takes this pane's value.
      if (box.checked) syncValue($(paneOf(box), `[data-field="${CSS.escape(box.dataset.sync)}"]`), box.dataset.sync);
      return;
    }
    const el = e.target.closest("select[data-field]");
    if (el && synced.has(el.dataset.field)) syncValue(el, el.dataset.field);
  });

  function paneOf(el) {
    const article = el.closest(".pane");
    return panes.find((p) => p.el === article);
  }

  function paneById(id) { return panes.find((p) => p.id === id); }

  // ---- add, remove, duplicate, reorder ---------------------------------------------

  function rawConfig(pane) {
    const body = {};
    pane.el.querySelectorAll("[data-field]").forEach((el) => { body[el.dataset.field] = el.value; });
    return { model: $(pane, ".pane-model").value, raw: body, extras: $(pane, "[data-pane-extras]").value };
  }

  function addPane(after) {
    if (panes.length >= state.max_panes || round) return;
    const source = after || panes[panes.length - 1];
    const pane = makePane({ id: newId(), model: "", body: {} });
    const { model, raw, extras } = rawConfig(source);
    pane.el.querySelector(".pane-model").value = model;
    pane.el.querySelectorAll("[data-field]").forEach((el) => setValue(el, raw[el.dataset.field] ?? ""));
    $(pane, "[data-pane-extras]").value = extras;
    pane.el.querySelectorAll("[data-sync]").forEach((box) => { box.checked = synced.has(box.dataset.sync); });
    adapt(pane);
    // A pane added mid-conversation starts from the first round's messages.
    pane.thread = continued ? [...sharedMessages] : null;
    countParams(pane);
    panes.splice(panes.indexOf(source) + 1, 0, pane);
    layout();
    return pane;
  }

  panesEl.addEventListener("click", (e) => {
    const button = e.target.closest("button");
    if (!button) return;
    const pane = paneOf(button);
    if (!pane) return;
    if (button.classList.contains("pane-stop")) {
      if (pane.run) send({ type: "stop", run: pane.run });
      return;
    }
    if (button.classList.contains("pane-vote")) { vote(pane); return; }
    const i = panes.indexOf(pane);
    switch (button.dataset.action) {
      case "left": if (i > 0) [panes[i - 1], panes[i]] = [panes[i], panes[i - 1]]; break;
      case "right": if (i < panes.length - 1) [panes[i + 1], panes[i]] = [panes[i], panes[i + 1]]; break;
      case "duplicate": addPane(pane); return;
      case "remove":
        if (panes.length <= state.min_panes || round) return;
        panes.splice(i, 1);
        pane.el.remove();
        break;
      default: return;
    }
    layout();
  });
  addButton.addEventListener("click", () => addPane());

  // ---- the shared input --------------------------------------------------------------

  function readMessages() {
    return [...document.querySelectorAll("#messages .message")].map((row) => {
      const m = { role: row.querySelector("[data-m=role]").value };
      const content = row.querySelector("[data-m=content]").value;
      m.content = row.querySelector("[data-m=content-kind]").value === "blocks" ? JSON.parse(content) : content;
      const name = row.querySelector("[data-m=name]").value.trim();
      if (name) m.name = name;
      if (m.role === "tool") m.tool_call_id = row.querySelector("[data-m=tool_call_id]").value.trim();
      if (m.role === "assistant") {
        const calls = row.querySelector("[data-m=tool_calls]").value.trim();
        if (calls) { m.tool_calls = JSON.parse(calls); if (m.content === "") m.content = null; }
      }
      return m;
    });
  }

  function showContinued() {
    document.getElementById("first-round").hidden = true;
    document.getElementById("next-round").hidden = false;
  }

  // ---- running ---------------------------------------------------------------------------

  function clearErrors() {
    generalErrors.textContent = "";
    for (const pane of panes) {
      $(pane, ".pane-errors").textContent = "";
      pane.el.querySelectorAll("[data-error-for]").forEach((el) => (el.textContent = ""));
    }
  }

  function runAll() {
    if (round) return;
    clearErrors();
    let shared;
    let next = null;
    if (mode === "completions") {
      shared = { prompt: document.getElementById("prompt").value };
    } else if (!continued) {
      try { shared = { messages: readMessages() }; } catch (e) {
        fieldError(null, "messages", `A message is not valid JSON: ${e.message}`);
        return;
      }
    } else {
      next = document.getElementById("next-message").value;
      if (next.trim() === "") { fieldError(null, null, "Write the next message first."); return; }
    }
    const runs = [];
    const configs = [];
    let bad = false;
    for (const pane of panes) {
      let body;
      try { body = readBody(pane); } catch (e) { bad = true; continue; }
      const model = $(pane, ".pane-model").value;
      configs.push({ id: pane.id, model, body: { ...body } });
      if (mode === "completions") body.prompt = shared.prompt;
      else if (next === null) body.messages = shared.messages;
      else body.messages = [...(pane.thread || sharedMessages), { role: "user", content: next }];
      pane.sent = body.messages || null;
      runs.push({ ref: pane.id, mode, model, conversation: pane.conversation, body, source: "compare" });
    }
    if (bad) return;
    const message = { type: "run", runs };
    const size = new TextEncoder().encode(JSON.stringify(message)).length;
    if (size > maxBytes) {
      fieldError(null, null, `The request is ${(size / 1048576).toFixed(1)} MB; this server takes at most ` +
        `${(maxBytes / 1048576).toFixed(1)} MB (PLAYGROUND_MAX_MESSAGE_BYTES).`);
      return;
    }
    if (mode === "chat" && next === null) {
      sharedMessages.splice(0, sharedMessages.length, ...shared.messages);
      sharedCount = sharedMessages.length;
    }
    const ids = panes.map((p) => p.id);
    // pending: panes not done yet; awaiting: panes not started (or refused) yet.
    round = { pending: new Set(ids), awaiting: new Set(ids), runs: {}, configs, shared: shared || state.shared };
    if (blindBox.checked) {
      // Blind: the panes in a random order, so none is known by its place.
      form.classList.remove("revealed");
      for (let i = panes.length - 1; i > 0; i -= 1) {
        const j = Math.floor(Math.random() * (i + 1));
        [panes[i], panes[j]] = [panes[j], panes[i]];
      }
      for (const pane of panes) pane.el.classList.remove("winner");
    }
    for (const pane of panes) startPane(pane);
    setRunning(true, "Starting…");
    send(message);
  }

  function startPane(pane) {
    if (pane.run) byRun.delete(pane.run);
    pane.run = null;
    pane.lastSeq = 0;
    pane.status = null;
    $(pane, ".pane-output").textContent = "";
    $(pane, ".pane-result").textContent = "";
    $(pane, ".pane-vote").hidden = true;
    showThread(pane);
    paneStatus(pane, "Starting…");
    pane.el.classList.add("is-running");
  }

  // Chat after the first round: the turns of this pane's own thread so far.
  function showThread(pane) {
    const box = $(pane, ".pane-thread");
    box.textContent = "";
    if (mode !== "chat" || !pane.sent) return;
    for (const m of pane.sent.slice(sharedCount)) {
      const turn = document.createElement("div");
      turn.className = "turn";
      turn.dataset.role = m.role;
      const role = Object.assign(document.createElement("span"), { className: "role", textContent: m.role });
      const text = typeof m.content === "string" ? m.content : JSON.stringify(m.content);
      turn.append(role, document.createTextNode(` ${text}`));
      box.appendChild(turn);
    }
  }

  function paneStatus(pane, text) { $(pane, ".pane-status").textContent = text; }

  function setRunning(on, text) {
    runAllButton.disabled = on;
    stopAllButton.disabled = !on;
    statusLine.textContent = text || "";
    form.classList.toggle("is-running", on);
    layout();
  }

  function stopAll() {
    if (!round) return;
    const waiting = queued.findIndex((m) => m.type === "run");
    if (waiting >= 0) {
      queued.splice(waiting, 1); // never left the page
      for (const pane of panes) paneEnded(pane, "Stopped before it started.");
      return;
    }
    send({ type: "stop" });
  }

  function column(pane, index) {
    const output = $(pane, ".pane-output");
    let col = output.querySelector(`.choice[data-index="${index}"]`);
    if (!col) {
      col = document.createElement("div");
      col.className = "choice";
      col.dataset.index = index;
      const head = Object.assign(document.createElement("div"), { className: "choice-head", textContent: `Choice ${index}` });
      const text = Object.assign(document.createElement("div"), { className: "stream-text" });
      const calls = Object.assign(document.createElement("pre"), { className: "tool-call-stream" });
      col.append(head, text, calls);
      const after = [...output.children].find((c) => Number(c.dataset.index) > index);
      output.insertBefore(col, after || null);
      output.dataset.choices = output.children.length;
    }
    return col;
  }

  function onDelta(pane, m) {
    const col = column(pane, m.index);
    if (m.text) col.querySelector(".stream-text").append(document.createTextNode(m.text));
    if (m.tool_calls) {
      const pre = col.querySelector(".tool-call-stream");
      for (const call of m.tool_calls) {
        const fn = call.function || {};
        pre.append(document.createTextNode((fn.name ? `\n${fn.name}(` : "") + (fn.arguments || "")));
      }
    }
  }

  function handle(m) {
    if (m.type === "errors") {
      const pane = m.ref ? paneById(m.ref) : m.run ? byRun.get(m.run) : null;
      m.errors.forEach((err) => fieldError(pane, err.field, err.message));
      if (pane && round) { round.awaiting.delete(pane.id); maybeSave(round); }
      if (pane) paneEnded(pane, "Not started");
      else if (round && !panes.some((p) => p.run)) for (const p of panes) paneEnded(p, "Not started");
      return;
    }
    if (m.type === "started") {
      const pane = paneById(m.ref);
      if (!pane || !round) return;
      pane.run = m.run;
      pane.conversation = m.conversation;
      byRun.set(m.run, pane);
      round.runs[pane.id] = m.run;
      round.awaiting.delete(pane.id);
      $(pane, ".pane-stop").disabled = false;
      paneStatus(pane, "Waiting for the first token…");
      maybeSave(round);
      return;
    }
    const pane = byRun.get(m.run);
    if (!pane || pane.run !== m.run) return;
    if (m.seq) pane.lastSeq = Math.max(pane.lastSeq, m.seq);
    switch (m.type) {
      case "meta":
        // A run's events open with its Meta: one that comes again (the run
        // is sent whole from the database) replaces what the pane had.
        $(pane, ".pane-output").textContent = "";
        $(pane, ".pane-errors").textContent = "";
        break;
      case "delta":
        if (pane.status !== "streaming") { pane.status = "streaming"; paneStatus(pane, "Streaming…"); }
        onDelta(pane, m);
        break;
      case "notice":
        $(pane, ".pane-errors").append(Object.assign(document.createElement("p"), { className: "notice", textContent: m.message }));
        break;
      case "error":
        $(pane, ".pane-errors").append(Object.assign(document.createElement("p"), { className: "error", textContent: m.message }));
        break;
      case "done":
        finishPane(pane, m);
        break;
    }
  }

  function finishPane(pane, m) {
    const result = $(pane, ".pane-result");
    // Server-rendered, sanitized: metrics, markdown and tool calls.
    if (m.html) result.innerHTML = m.html;
    else result.textContent = `The run ended: ${m.status}.`;
    if (mode === "chat") {
      showMarkdown(pane, m.status);
      pane.thread = [...(pane.sent || []), ...(m.reply ? [m.reply] : [])];
    }
    pane.status = m.status;
    paneEnded(pane, "");
  }

  // Chat: the reply as rendered markdown in place of the streamed text.
  function showMarkdown(pane, status) {
    if (status !== "completed") return;
    $(pane, ".pane-result").querySelectorAll(".choice-final").forEach((final) => {
      const col = column(pane, Number(final.dataset.index));
      const md = final.querySelector(".markdown");
      if (md && md.textContent.trim() !== "") {
        col.querySelector(".stream-text").replaceWith(Object.assign(md, { className: "markdown stream-text" }));
      }
    });
  }

  function paneEnded(pane, text) {
    if (text !== undefined) paneStatus(pane, text);
    pane.el.classList.remove("is-running");
    $(pane, ".pane-stop").disabled = true;
    if (!round) return;
    round.pending.delete(pane.id);
    if (round.pending.size === 0) roundDone();
  }

  async function roundDone() {
    const done = round;
    round = null;
    setRunning(false, "");
    if (Object.keys(done.runs).length === 0) return;
    if (mode === "chat") {
      continued = true;
      showContinued();
      document.getElementById("next-message").value = "";
    }
    refreshDiffChoices();
    done.saving = done.saving || saveRound(done);
    await done.saving;
    if (!done.saved) return;
    statusLine.textContent = "Saved.";
    if (hidden() && lastRound) {
      for (const pane of panes) $(pane, ".pane-vote").hidden = !(pane.run && done.runs[pane.id]);
    }
  }

  // The round is kept as soon as every pane's run started, so a reload in
  // the middle finds it (and follows its runs to the end).
  function maybeSave(r) {
    if (r.awaiting.size === 0 && !r.saving && Object.keys(r.runs).length) r.saving = saveRound(r);
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // The comparison is created with the first round.
  async function saveRound(done) {
    const data = new FormData();
    data.append("comparison", comparison || "");
    data.append("mode", mode);
    if (blindBox.checked) data.append("blind", "on");
    data.append("shared_input", JSON.stringify(done.shared));
    data.append("panes", JSON.stringify(done.configs));
    data.append("runs", JSON.stringify(done.runs));
    try {
      let response;
      let answer;
      // A run is stored while its upstream request is on its way: right
      // after "started" it may not be there yet; try again shortly.
      for (let attempt = 0; attempt < 20; attempt += 1) {
        response = await fetch(form.dataset.saveUrl, {
          method: "POST", body: data, headers: { "X-CSRFToken": csrf }, credentials: "same-origin",
        });
        answer = await response.json();
        const missing = (answer.errors || []).some((e) => e.message === "run not found");
        if (response.ok || !missing) break;
        await sleep(250);
      }
      if (!response.ok) {
        (answer.errors || []).forEach((e) => fieldError(null, null, `Not saved: ${e.message}`));
        return;
      }
      done.saved = true;
      const first = !comparison;
      comparison = answer.uuid;
      lastRound = answer.round;
      history.replaceState(null, "", answer.url);
      form.dataset.comparison = comparison;
      if (first && window.htmx) window.htmx.ajax("GET", `${answer.url}share/`, { target: "#share" });
    } catch (e) {
      fieldError(null, null, "The comparison could not be saved; the runs are in history.");
    }
  }

  // ---- diff ---------------------------------------------------------------------------------

  function refreshDiffChoices() {
    const options = [];
    panes.forEach((pane, i) => {
      if (!pane.run || !pane.status) return;
      // The choices that came back (a pane that failed before any has none).
      const indexes = [...$(pane, ".pane-output").querySelectorAll(".choice")].map((c) => Number(c.dataset.index));
      const name = hidden() ? `Pane ${"ABCDEF"[i]}` : `Pane ${i + 1} · ${modelName(pane)}`;
      for (const index of indexes) {
        options.push([`${pane.run}:${index}`, indexes.length > 1 ? `${name} · choice ${index}` : name]);
      }
    });
    for (const [select, pick] of [[diffA, 0], [diffB, 1]]) {
      const current = select.value;
      select.textContent = "";
      for (const [value, label] of options) select.append(new Option(label, value));
      if (options.some(([v]) => v === current)) select.value = current;
      else if (options[pick]) select.value = options[pick][0];
    }
    diffButton.disabled = options.length < 2;
    document.getElementById("diff-hint").hidden = options.length >= 2;
    diffA.hidden = diffB.hidden = options.length < 2;
  }

  function modelName(pane) {
    const select = $(pane, ".pane-model");
    return select.selectedOptions[0] ? select.selectedOptions[0].textContent.split(" · ")[0] : "";
  }

  // ---- blind mode --------------------------------------------------------------------------

  blindBox.addEventListener("change", () => layout());

  async function vote(pane) {
    const data = new FormData();
    data.append("round", lastRound);
    data.append("pane", pane.id);
    const response = await fetch(`${location.pathname}vote/`, {
      method: "POST", body: data, headers: { "X-CSRFToken": csrf }, credentials: "same-origin",
    });
    // Server-rendered and escaped: the names revealed and the wins per model.
    document.getElementById("wins").innerHTML = await response.text();
    if (!response.ok) return;
    for (const p of panes) $(p, ".pane-vote").hidden = true;
    pane.el.classList.add("winner");
    form.classList.add("revealed");
    layout();
  }

  // ---- wiring -----------------------------------------------------------------------------------

  form.addEventListener("submit", (e) => { e.preventDefault(); runAll(); });
  stopAllButton.addEventListener("click", stopAll);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); runAll(); }
    else if (e.key === "Escape" && round) { e.preventDefault(); stopAll(); }
  });

  // The panes as configured, with what each last showed (a reopened comparison).
  panes = state.panes.map((config) => makePane(config));
  const live = [];
  panes.forEach((pane) => {
    const stored = state.results[pane.id];
    if (!stored) return;
    pane.run = stored.run;
    pane.status = stored.status;
    pane.conversation = stored.conversation;
    pane.sent = stored.sent;
    pane.thread = stored.thread;
    byRun.set(pane.run, pane);
    showThread(pane);
    if (stored.status === "running") { live.push(pane); return; }
    for (const t of stored.texts) column(pane, t.index).querySelector(".stream-text").textContent = t.text;
    $(pane, ".pane-result").innerHTML = stored.html; // server-rendered, sanitized
    if (mode === "chat") showMarkdown(pane, stored.status);
  });
  if (mode === "chat" && Object.keys(state.results).length) { continued = true; showContinued(); }
  initialSync();
  if (live.length) {
    // Reopened while its last round streams (a reload, another tab): follow
    // each running pane from its first event (the socket subscribes on open).
    round = { pending: new Set(live.map((p) => p.id)), awaiting: new Set(), runs: {}, saved: true };
    round.saving = Promise.resolve();
    for (const pane of live) {
      round.runs[pane.id] = pane.run;
      pane.status = null;
      pane.el.classList.add("is-running");
      $(pane, ".pane-stop").disabled = false;
      paneStatus(pane, "Streaming…");
    }
    setRunning(true, "Streaming…");
  }
  layout();
  window.Compare = { runAll, stopAll, panes: () => panes };
  connect();
})();
