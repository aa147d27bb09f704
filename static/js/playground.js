// The playground page: collect the form into a typed request body, send it
// over the websocket, and show the events as they arrive.
//
// Every piece of model output is inserted with textContent (never as HTML);
// the only markup inserted is the final fragment the server rendered and
// sanitized (markdown and metrics).
(function () {
  "use strict";

  // History's URLs come from the page ({% url %}), for any run's uuid.
  const NO_RUN = "00000000-0000-0000-0000-000000000000";
  const TOKENS_URL = document.currentScript?.dataset.tokensUrl || "";
  const form = document.getElementById("run-form");
  if (!form) return;
  const mode = form.dataset.mode;
  const output = document.getElementById("output");
  const result = document.getElementById("result");
  const runButton = document.getElementById("run-button");
  const stopButton = document.getElementById("stop-button");
  const statusLine = document.getElementById("run-status");
  const generalErrors = document.getElementById("general-errors");

  let socket = null;
  let running = false;
  let started = false; // the server accepted the current run
  let queued = []; // messages waiting for the socket to open, in order
  // The run this page shows, and the last event of it the page has seen: a
  // reconnect (or a reload, via data-live-run) subscribes from there, so
  // nothing is shown twice or missed.
  let currentRun = null;
  let lastSeq = 0;
  let retries = 0;
  let lastRequest = null; // the run message of the page's last run (branches continue it)

  // ---- the websocket ------------------------------------------------------

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/ws/run/`);
    socket.addEventListener("open", () => {
      retries = 0;
      const pending = queued;
      queued = [];
      pending.forEach((m) => socket.send(JSON.stringify(m)));
      if (running && started && currentRun &&
          !pending.some((m) => m.type === "subscribe" && m.run === currentRun)) {
        // Back after a drop: the run went on on the server; catch up.
        socket.send(JSON.stringify({ type: "subscribe", run: currentRun, after: lastSeq }));
        statusLine.textContent = "Reconnected; streaming…";
      }
      branchesResumed();
    });
    socket.addEventListener("message", (e) => handle(JSON.parse(e.data)));
    socket.addEventListener("close", (e) => {
      socket = null;
      if (e.code === 4401) {
        // Signed out (another tab, an expired session): retrying cannot help.
        const why = "Signed out: sign in again, then reload to follow the run.";
        if (running) setRunning(false, why);
        streamingBranches().forEach((b) => branchLost(b, why));
        return;
      }
      // The runs live on the server for a grace period: reconnect and
      // resume. What is still queued never left the page: it goes out once
      // connected (Stop takes a queued run back).
      let again = branchesCut() > 0 || queued.length > 0;
      if (running && !started && !queued.some((m) => m.type === "run" && !m.ref)) {
        setRunning(false, "Connection lost before the run started; nothing was sent.");
      } else if (running) {
        statusLine.textContent = started ? "Connection lost; reconnecting…" : "Connecting…";
        again = true;
      }
      if (!again) return;
      const delay = Math.min(250 * 2 ** retries, 5000);
      retries += 1;
      setTimeout(() => { if (!socket) connect(); }, delay);
    });
  }

  const maxBytes = Number(form.dataset.maxMessageBytes) || Infinity;

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
    else { queued.push(message); if (!socket) connect(); }
  }

  // The server refuses a request over its size limit; say so before sending it.
  function tooLarge(message) {
    const size = new TextEncoder().encode(JSON.stringify(message)).length;
    if (size <= maxBytes) return false;
    const mb = (n) => (n / 1048576).toFixed(1);
    generalErrors.append(Object.assign(document.createElement("p"), {
      className: "error",
      textContent: `The request is ${mb(size)} MB; this server takes at most ${mb(maxBytes)} MB ` +
        "(PLAYGROUND_MAX_MESSAGE_BYTES). Shorten the prompt or the content blocks.",
    }));
    return true;
  }

  // ---- collecting the form --------------------------------------------------

  function fieldError(name, message) {
    const top = name ? String(name).split(/[.[]/)[0] : null;
    const slot = top && form.querySelector(`[data-error-for="${CSS.escape(top)}"]`);
    const line = document.createElement("div");
    line.className = "field-error";
    line.textContent = message;
    (slot || generalErrors).appendChild(line);
    if (slot) slot.closest("details")?.setAttribute("open", "");
  }

  function clearErrors() {
    form.querySelectorAll("[data-error-for]").forEach((el) => (el.textContent = ""));
    generalErrors.textContent = "";
  }

  function parseJSON(name, text) {
    try { return JSON.parse(text); } catch (e) {
      fieldError(name, `${name} is not valid JSON: ${e.message}`);
      throw e;
    }
  }

  // Each control carries data-field (the catalogue name) and data-kind; empty
  // means "unset", and unset fields are not sent at all.
  function readControl(el) {
    const name = el.dataset.field;
    const kind = el.dataset.kind;
    const raw = el.value;
    switch (kind) {
      case "number":
      case "integer": {
        // A number input reports "" for text it cannot parse ("1e", "-"):
        // that is a mistake to show, not an unset field.
        if (el.validity && el.validity.badInput) {
          fieldError(name, `${name} must be a number`);
          throw new Error(`${name} is not a number`);
        }
        if (raw.trim() === "") return undefined;
        const n = Number(raw);
        // Send what was typed when it is not a number: the validator names the field.
        return Number.isFinite(n) ? n : raw;
      }
      case "boolean":
        return raw === "" ? undefined : raw === "true";
      case "json":
        return raw.trim() === "" ? undefined : parseJSON(name, raw);
      default:
        return raw === "" ? undefined : raw;
    }
  }

  function readStop() {
    const values = [...form.querySelectorAll("[data-stop]")].map((i) => i.value).filter((v) => v !== "");
    if (values.length === 0) return undefined;
    return values.length === 1 ? values[0] : values;
  }

  function readLogitBias() {
    const rows = [...form.querySelectorAll(".logit-bias-row")];
    const bias = {};
    for (const row of rows) {
      const token = row.querySelector("[data-bias-token]").value.trim();
      const input = row.querySelector("[data-bias-value]");
      if (input.validity && input.validity.badInput) {
        fieldError("logit_bias", "logit_bias values must be numbers");
        throw new Error("logit_bias value is not a number");
      }
      const value = input.value.trim();
      if (token === "" && value === "") continue;
      const n = Number(value);
      bias[token] = value !== "" && Number.isFinite(n) ? n : value;
    }
    return Object.keys(bias).length ? bias : undefined;
  }

  function readPrompt() {
    const prompts = [...form.querySelectorAll("[data-prompt]")].map((t) => t.value);
    if (form.querySelector("#prompt-tokens")?.checked) return parseJSON("prompt", prompts[0]);
    if (prompts.length === 1) return prompts[0];
    return prompts;
  }

  function readMessages() {
    return [...document.querySelectorAll("#messages .message")].map(readMessage);
  }

  function readMessage(row) {
    const m = { role: row.querySelector("[data-m=role]").value };
    const contentKind = row.querySelector("[data-m=content-kind]").value;
    const content = row.querySelector("[data-m=content]").value;
    if (contentKind === "blocks") m.content = parseJSON("messages", content);
    else m.content = content;
    const name = row.querySelector("[data-m=name]").value.trim();
    if (name) m.name = name;
    if (m.role === "tool") m.tool_call_id = row.querySelector("[data-m=tool_call_id]").value.trim();
    if (m.role === "assistant") {
      const calls = row.querySelector("[data-m=tool_calls]").value.trim();
      if (calls) {
        m.tool_calls = parseJSON("messages", calls);
        if (m.content === "") m.content = null;
      }
    }
    return m;
  }

  function readToolChoice(el) {
    const v = el.value;
    if (v === "") return undefined;
    if (v.startsWith("function:")) return { type: "function", function: { name: v.slice(9) } };
    return v;
  }

  function readResponseFormat() {
    const type = form.querySelector("[data-rf=type]").value;
    if (type === "") return undefined;
    if (type !== "json_schema") return { type };
    const schema = {
      name: form.querySelector("[data-rf=name]").value.trim(),
      schema: parseJSON("response_format", form.querySelector("[data-rf=schema]").value || "{}"),
    };
    if (form.querySelector("[data-rf=strict]").checked) schema.strict = true;
    return { type, json_schema: schema };
  }

  function readStreamOptions(el) {
    return el.value === "" ? undefined : { include_usage: el.value === "true" };
  }

  function collect() {
    const body = {};
    form.querySelectorAll("[data-field]").forEach((el) => {
      if (el.closest(".unaccepted")) return; // the model does not take it (capabilities.js)
      const name = el.dataset.field;
      let value;
      switch (el.dataset.kind) {
        case "stop": value = readStop(); break;
        case "logit_bias": value = readLogitBias(); break;
        case "prompt": value = readPrompt(); break;
        case "messages": value = readMessages(); break;
        case "tool_choice": value = readToolChoice(el); break;
        case "response_format": value = readResponseFormat(); break;
        case "stream_options": value = readStreamOptions(el); break;
        default: value = readControl(el);
      }
      if (value !== undefined) body[name] = value;
    });
    if (window.Capabilities) Object.assign(body, window.Capabilities.extras(fieldError));
    return body;
  }

  // ---- running ----------------------------------------------------------------

  function run() {
    if (running) return;
    clearErrors();
    let body;
    try { body = collect(); } catch (e) { return; }
    const model = form.querySelector("[name=model]").value;
    // The output's branch columns go with it: their runs must not stream on
    // with no Stop on the page. And the last run's legend and diff go too
    // (a refused run never gets "started", which clears them).
    stopBranches();
    window.Heatmap.clear(output);
    window.Candidates.remove(output);
    output.textContent = "";
    result.textContent = "";
    started = false;
    currentRun = null;
    lastSeq = 0;
    const message = {
      type: "run",
      mode,
      model,
      conversation: form.querySelector("[name=conversation]").value || null,
      body,
    };
    const variables = window.Variables && window.Variables.values();  // a template (variables.js)
    if (variables) message.variables = variables;
    if (tooLarge(message)) return;
    lastRequest = message;
    setRunning(true, "Starting…");
    send(message);
  }

  function stop() {
    if (!running) return;
    const waiting = queued.findIndex((m) => m.type === "run" && !m.ref);
    if (waiting >= 0) {
      // Still connecting: the run never left the page; just drop it.
      queued.splice(waiting, 1);
      setRunning(false, "Stopped before it started.");
      return;
    }
    send(currentRun ? { type: "stop", run: currentRun } : { type: "stop" });
  }

  function setRunning(on, text) {
    running = on;
    runButton.disabled = on;
    stopButton.disabled = !on;
    statusLine.textContent = text || "";
    form.classList.toggle("is-running", on);
  }

  function column(index) {
    let col = output.querySelector(`.choice[data-index="${index}"]`);
    if (!col) {
      col = document.createElement("div");
      col.className = "choice";
      col.dataset.index = index;
      const head = document.createElement("div");
      head.className = "choice-head";
      head.textContent = `Choice ${index}`;
      const text = document.createElement("div");
      text.className = "stream-text";
      const calls = document.createElement("pre");
      calls.className = "tool-call-stream";
      col.append(head, text, calls);
      // Columns in index order, whatever order the choices start in; the
      // branches after them all.
      const after = [...output.children].find((c) => c.classList.contains("branch") ||
        Number(c.dataset.index) > index);
      output.insertBefore(col, after || null);
      output.dataset.choices = output.querySelectorAll(".choice[data-index]").length;
    }
    return col;
  }

  // Text into a column: one span per token when logprobs came (the heatmap),
  // plain text otherwise.
  function append(col, m) {
    const text = col.querySelector(".stream-text");
    const spans = m.logprobs ? window.Heatmap.tokenSpans(m.logprobs) : [];
    if (spans.length) {
      text.append(...spans);
      window.Heatmap.tokensAdded(text, output);
      window.Candidates.counted(col, spans.length, true);
    } else if (m.text) {
      text.append(document.createTextNode(m.text));
      window.Candidates.counted(col, 1, false);
    }
  }

  function onDelta(m) {
    const col = column(m.index);
    append(col, m);
    if (m.tool_calls) {
      const pre = col.querySelector(".tool-call-stream");
      for (const call of m.tool_calls) {
        const fn = call.function || {};
        pre.append(document.createTextNode((fn.name ? `\n${fn.name}(` : "") + (fn.arguments || "")));
      }
    }
  }

  function handle(m) {
    // A branch's events go to its own column.
    if (branches.has(m.ref) || branches.has(m.run)) { handleBranch(m); return; }
    // Another run's events (an older run of this socket) are not this page's.
    if (m.run && m.type !== "started" && m.run !== currentRun) return;
    if (m.seq) lastSeq = Math.max(lastSeq, m.seq);
    switch (m.type) {
      case "errors":
        setRunning(false, "");
        m.errors.forEach((e) => fieldError(e.field, e.message));
        break;
      case "started":
        started = true;
        currentRun = m.run;
        lastSeq = 0;
        window.Heatmap.clear(output);
        window.Candidates.remove(output);
        form.querySelector("[name=conversation]").value = m.conversation;
        history.replaceState(null, "", `/c/${m.conversation}/`);
        statusLine.textContent = "Waiting for the first token…";
        break;
      case "meta":
        // A run's events open with its Meta, so what the page shows of the
        // run starts here: nothing yet, for a run as it streams; what it
        // had, for a run sent whole again (it ended while the page was
        // away, and comes from the database), which replaces it.
        output.querySelectorAll(".choice[data-index]").forEach((col) => col.remove());
        window.Heatmap.clear(output);
        window.Candidates.remove(output);
        generalErrors.querySelectorAll(".notice, .error").forEach((p) => p.remove());
        break;
      case "delta":
        if (statusLine.textContent !== "Streaming…") statusLine.textContent = "Streaming…";
        onDelta(m);
        break;
      case "finish":
        window.Candidates.finished(column(m.index), m.reason);
        break;
      case "notice": {
        const p = document.createElement("p");
        p.className = "notice";
        p.textContent = m.message;
        generalErrors.append(p);
        break;
      }
      case "error":
        generalErrors.append(Object.assign(document.createElement("p"), { className: "error", textContent: m.message }));
        break;
      case "done":
        finish(m);
        break;
    }
  }

  function finish(m) {
    setRunning(false, "");
    // Server-rendered, sanitized: metrics, markdown and tool calls.
    if (m.html) result.innerHTML = m.html;
    else result.textContent = `The run ended: ${m.status}.`;
    if (mode === "chat") {
      result.querySelectorAll(".choice-final").forEach((final) => {
        const col = output.querySelector(`.choice[data-index="${final.dataset.index}"]`);
        const md = final.querySelector(".markdown");
        // A heatmap stays as it streamed (its tokens are what one inspects).
        if (col && md && md.textContent.trim() !== "" && m.status === "completed" &&
            !col.querySelector(".stream-text .token[data-prob]")) {
          col.querySelector(".stream-text").replaceWith(Object.assign(md, { className: "markdown stream-text" }));
        }
      });
      if (m.status === "completed") window.ChatEditor?.afterReply(result, m.reply);
    }
    // Two or more candidates: a word diff between any two of them.
    window.Candidates.diffPicker(output, m.run);
  }

  // ---- branching from a token ---------------------------------------------------

  // The request each run of this page was started with (its column's
  // `request`): a branch continues it from a chosen token.
  const branches = new Map(); // ref and run uuid -> branch
  let branchCount = 0;

  function branchRequest(col) {
    return col.request || lastRequest;
  }

  // Column `col`, token `position` replaced by `token`: a new run that goes
  // on from the text before it plus that token. Completions: the prompt plus
  // that prefix. Chat: the conversation plus an assistant turn holding the
  // prefix, which the backend continues (llama.cpp does; OpenAI's chat
  // models answer it as a new turn instead).
  function branch(col, position, token) {
    const request = branchRequest(col);
    if (!request) return;
    // The text before the token: in a branch's column, what its request
    // already holds (the prompt or assistant turn ends with it) plus the
    // tokens before this one.
    const tokens = [...col.querySelectorAll(".stream-text .token[data-prob]")];
    const prefix = tokens.slice(0, position).map((t) => t.textContent).join("");
    const body = JSON.parse(JSON.stringify(request.body));
    // One continuation, streamed (a non-streamed chat continuation comes
    // back with the prefix repeated); echo would repeat the prompt.
    delete body.n; delete body.best_of; delete body.echo;
    body.stream = true;
    const shown = (col.branchPrefix || "") + prefix;
    if (request.mode === "chat") {
      const messages = body.messages || [];
      const last = messages[messages.length - 1];
      if (col.classList.contains("branch") && last && last.role === "assistant") {
        last.content = `${last.content}${prefix}${token}`;
      } else {
        messages.push({ role: "assistant", content: `${prefix}${token}` });
      }
      body.messages = messages;
    } else {
      let prompt = body.prompt;
      if (Array.isArray(prompt)) {
        // Several prompts: choice i answers prompt floor(i / n).
        const per = Number(request.body.n) || 1;
        prompt = prompt[Math.floor(Number(col.dataset.index || 0) / per)];
      }
      if (typeof prompt !== "string") {
        generalErrors.append(Object.assign(document.createElement("p"), {
          className: "error", textContent: "Branching needs a text prompt (not token ids).",
        }));
        return;
      }
      body.prompt = `${prompt}${prefix}${token}`;
    }
    const ref = `branch-${branchCount + 1}`;
    const message = { type: "run", ref, mode: request.mode, model: request.model, conversation: null, body };
    if (tooLarge(message)) return;
    branchCount += 1;
    const b = { ref, run: null, lastSeq: 0, col: branchColumn(col, position, token, shown), message };
    b.col.request = message;
    b.col.branchPrefix = `${shown}${token}`;
    branches.set(ref, b);
    send(message);
  }

  function branchColumn(from, position, token, prefix) {
    const col = document.createElement("div");
    col.className = "choice branch is-streaming";
    col.dataset.branch = branchCount;
    const head = document.createElement("div");
    head.className = "choice-head";
    const source = from.classList.contains("branch") ? `branch ${from.dataset.branch}` : `choice ${from.dataset.index}`;
    head.textContent = `Branch ${branchCount} · from ${source}, token ${position + 1} → ${JSON.stringify(token)}`;
    const text = document.createElement("div");
    text.className = "stream-text";
    // The text before the branch point, folded; then the chosen token.
    if (prefix) {
      const before = document.createElement("details");
      before.className = "branch-before";
      before.append(Object.assign(document.createElement("summary"), { textContent: "Text before the branch" }));
      before.append(Object.assign(document.createElement("span"), { className: "branch-prefix", textContent: prefix }));
      col.append(head, before);
    } else {
      col.append(head);
    }
    text.append(Object.assign(document.createElement("mark"), {
      className: "branch-point", textContent: token, title: "The chosen alternative",
    }));
    const status = Object.assign(document.createElement("div"), { className: "branch-result muted", textContent: "Starting…" });
    // Its own Stop: the page's Stop (Esc) is the main run's.
    const stopBranch = Object.assign(document.createElement("button"), {
      type: "button", className: "secondary branch-stop", textContent: "Stop", disabled: true,
    });
    stopBranch.addEventListener("click", () => {
      if (col.dataset.run) send({ type: "stop", run: col.dataset.run });
    });
    col.append(text, status, stopBranch);
    output.append(col);
    return col;
  }

  // A new run replaces the output: stop every branch still streaming (one
  // not started yet is stopped as soon as it is); their events are then
  // no longer shown.
  function stopBranches() {
    for (const b of new Set(branches.values())) {
      if (!b.col.classList.contains("is-streaming")) continue;
      b.col.classList.remove("is-streaming");
      const waiting = queued.indexOf(b.message);
      if (b.run) send({ type: "stop", run: b.run });
      else if (waiting >= 0) queued.splice(waiting, 1); // never left the page
      else b.stopOnStart = true;
    }
  }

  function streamingBranches() {
    return [...new Set(branches.values())].filter((b) => b.col.classList.contains("is-streaming"));
  }

  // The socket dropped: a started branch's run goes on on the server, and
  // the page resumes it from its last event once it reconnects (as the main
  // run). One whose "run" went unanswered may never have reached the server.
  // Returns how many will resume.
  function branchesCut() {
    let resuming = 0;
    for (const b of streamingBranches()) {
      b.col.querySelector(".branch-stop").disabled = true;
      const status = b.col.querySelector(".branch-result");
      if (b.run) {
        status.textContent = "Connection lost; reconnecting…";
        resuming += 1;
      } else if (queued.includes(b.message)) {
        status.textContent = "Connecting…"; // its run goes out once connected
        resuming += 1;
      } else {
        branchLost(b, "Connection lost before the branch started; nothing was sent.");
      }
    }
    return resuming;
  }

  // The page no longer follows this branch: say why.
  function branchLost(b, why) {
    b.col.classList.remove("is-streaming");
    b.col.querySelector(".branch-stop").disabled = true;
    Object.assign(b.col.querySelector(".branch-result"), { className: "branch-result error", textContent: why });
  }

  function branchesResumed() {
    for (const b of streamingBranches()) {
      if (!b.run) continue;
      socket.send(JSON.stringify({ type: "subscribe", run: b.run, after: b.lastSeq }));
      b.col.querySelector(".branch-stop").disabled = false;
      b.col.querySelector(".branch-result").textContent = "Reconnected; streaming…";
    }
  }

  function handleBranch(m) {
    const b = branches.get(m.ref) || branches.get(m.run);
    const status = b.col.querySelector(".branch-result");
    if (m.seq) b.lastSeq = Math.max(b.lastSeq, m.seq);
    switch (m.type) {
      case "errors":
        status.className = "branch-result error";
        status.textContent = m.errors.map((e) => (e.field ? `${e.field}: ` : "") + e.message).join("; ");
        b.col.classList.remove("is-streaming");
        b.col.querySelector(".branch-stop").remove();
        break;
      case "started":
        b.run = m.run;
        branches.set(m.run, b);
        if (b.stopOnStart) { send({ type: "stop", run: m.run }); break; }
        b.col.dataset.run = m.run;
        b.col.querySelector(".branch-stop").disabled = false;
        status.textContent = "Streaming…";
        break;
      case "meta": {
        // The branch's output starts here (see handle): after the chosen token.
        const point = b.col.querySelector(".stream-text .branch-point");
        while (point && point.nextSibling) point.nextSibling.remove();
        b.col.tokenCount = 0;
        b.col.tokensExact = undefined;
        status.className = "branch-result muted";
        status.textContent = "Streaming…";
        break;
      }
      case "delta":
        if (m.index === 0) append(b.col, m);
        break;
      case "finish":
        window.Candidates.finished(b.col, m.reason);
        break;
      case "error":
        status.className = "branch-result error";
        status.textContent = m.message;
        break;
      case "done":
        b.col.classList.remove("is-streaming");
        b.col.querySelector(".branch-stop").remove();
        status.className = "branch-result";
        // Server-rendered, sanitized: the branch's metrics.
        if (m.html) status.innerHTML = m.html;
        else status.textContent = `The run ended: ${m.status}.`;
        break;
    }
  }

  // ---- wiring -------------------------------------------------------------------

  form.addEventListener("submit", (e) => { e.preventDefault(); run(); });
  window.Heatmap.attach(output, branch);
  // A finished run shown again (a reload): its candidates' diff, and its
  // heatmap and finish reasons as they streamed (from history).
  const shownRun = result.querySelector(".result[data-run]");
  if (shownRun) {
    const run = shownRun.dataset.run;
    redraw(run).finally(() => { if (!running && !currentRun) window.Candidates.diffPicker(output, run); });
  }

  async function redraw(run) {
    let data;
    try {
      const response = await fetch(TOKENS_URL.replace(NO_RUN, run), { credentials: "same-origin" });
      if (!response.ok) return;
      data = await response.json();
    } catch (e) { return; }
    // A new run started meanwhile: the page is its now.
    if (running || currentRun || data.mode !== mode) return;
    if (data.model) lastRequest = { type: "run", mode, model: data.model, conversation: null, body: data.body };
    for (const c of data.choices) {
      const spans = c.logprobs ? window.Heatmap.tokenSpans(c.logprobs) : [];
      // Chat replies show as markdown; only a heatmap redraws one as tokens.
      if (!spans.length && !output.querySelector(`.choice[data-index="${c.index}"]`)) continue;
      const col = column(c.index);
      if (spans.length) {
        const text = col.querySelector(".stream-text");
        text.textContent = "";
        text.append(...spans);
        window.Heatmap.tokensAdded(text, output);
        window.Candidates.counted(col, spans.length, true);
      }
      if (c.finish_reason) window.Candidates.finished(col, c.finish_reason);
    }
  }
  stopButton.addEventListener("click", stop);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); run(); }
    else if (e.key === "Escape" && running) { e.preventDefault(); stop(); }
  });

  window.Playground = { run, stop, collect, clearErrors };

  // Opened while a run streams (a reload, another tab): show it from the
  // start and follow it to the end, with Stop working.
  if (form.dataset.liveRun) {
    currentRun = form.dataset.liveRun;
    started = true;
    setRunning(true, "Streaming…");
    queued.push({ type: "subscribe", run: currentRun, after: 0 });
  }
  connect();
})();
