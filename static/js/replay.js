// "Re-run and compare" on a history run: the same request again, through the
// run engine over the playground's websocket (so it streams, is checkpointed
// and kept in history like any playground run), shown beside the original
// with both runs' metrics, then a word diff of each choice against the
// original's (history's diff partial, rendered and escaped by the server).
(function () {
  "use strict";

  const script = document.currentScript;
  const button = document.getElementById("replay-button");
  const request = JSON.parse(document.getElementById("replay-request")?.textContent || "null");
  if (!button || !request) return;
  const section = document.getElementById("replay");
  const text = document.getElementById("replay-text");
  const result = document.getElementById("replay-result");
  const diff = document.getElementById("replay-diff");
  const link = section.querySelector(".replay-link");
  const original = script.dataset.run;
  const choices = (script.dataset.choices || "0").split(",").filter((c) => c !== "");
  let socket = null;
  let run = null; // the re-run, once the server started it
  let lastSeq = 0; // its last event shown: a reconnect resumes from there
  let retries = 0;
  let sent = false; // the run message went out on an open socket

  function choiceText(index) {
    let el = text.querySelector(`[data-index="${index}"]`);
    if (!el) {
      el = document.createElement("div");
      el.className = "replay-choice";
      el.dataset.index = index;
      text.append(el);
    }
    return el;
  }

  function start() {
    button.disabled = true;
    section.hidden = false;
    text.textContent = "";
    result.className = "muted";
    result.textContent = "Starting…";
    diff.className = "replay-diff muted";
    diff.textContent = "The diff appears when the re-run ends.";
    link.hidden = true;
    run = null;
    sent = false;
    lastSeq = 0;
    retries = 0;
    connect();
    section.scrollIntoView({ block: "start" });
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const mine = new WebSocket(`${scheme}://${location.host}/ws/run/`);
    socket = mine;
    mine.addEventListener("open", () => {
      retries = 0;
      if (run) {
        // Back after a drop: the re-run went on on the server; catch up.
        mine.send(JSON.stringify({ type: "subscribe", run, after: lastSeq }));
        result.className = "muted";
        result.textContent = "Reconnected; streaming…";
        return;
      }
      mine.send(JSON.stringify({
        type: "run", ref: "replay", mode: request.mode, model: request.model,
        conversation: null, body: request.body,
      }));
      sent = true;
    });
    mine.addEventListener("message", (e) => { if (socket === mine) handle(JSON.parse(e.data)); });
    mine.addEventListener("close", (e) => {
      if (socket !== mine) return; // closed here, after the end
      socket = null;
      result.className = "error";
      if (e.code === 4401) {
        // Signed out (another tab, an expired session): retrying cannot help.
        result.textContent = run
          ? "Signed out: sign in again, then reload; the re-run goes on and is kept in history."
          : "Signed out: sign in again, then reload to re-run.";
        button.disabled = false;
      } else if (!run) {
        // Its "started" never came: the server may or may not have it.
        result.textContent = sent
          ? "The connection was lost as the re-run was starting; if it started, it is kept in history."
          : "The connection was lost before the re-run started; nothing was sent.";
        button.disabled = false;
      } else {
        // The re-run goes on on the server: reconnect and resume it.
        result.textContent = "Connection lost; reconnecting…";
        const delay = Math.min(250 * 2 ** retries, 5000);
        retries += 1;
        setTimeout(() => { if (!socket && run) connect(); }, delay);
      }
    });
  }

  function handle(m) {
    if (m.seq) lastSeq = Math.max(lastSeq, m.seq);
    switch (m.type) {
      case "errors": {
        const why = m.errors.map((e) => (e.field ? `${e.field}: ` : "") + e.message).join("; ");
        result.className = "error";
        // Refused at the start, or (back after a drop) the re-run can no
        // longer be followed: then there is no end to diff against.
        result.textContent = run ? `The re-run could not be followed after the connection dropped: ${why}` : why;
        if (run) diff.textContent = "No diff: the re-run's end was not seen here; it is in history if it was stored.";
        finishSocket();
        break;
      }
      case "started":
        run = m.run;
        result.textContent = "Streaming…";
        break;
      case "meta":
        // A run's events open with its Meta; after a drop, a re-run that
        // ended meanwhile is sent whole from history: shown instead of the
        // part the page had, not after it.
        text.textContent = "";
        break;
      case "delta":
        if (m.text) choiceText(m.index).append(document.createTextNode(m.text));
        break;
      case "error":
        result.className = "error";
        result.textContent = m.message;
        break;
      case "done":
        // Server-rendered, sanitized: the re-run's metrics.
        result.className = "";
        if (m.html) result.innerHTML = m.html;
        else result.textContent = `The run ended: ${m.status}.`;
        // History's URL from the page ({% url %}), for the re-run's uuid.
        link.href = script.dataset.runUrl.replace("00000000-0000-0000-0000-000000000000", m.run);
        link.hidden = false;
        finishSocket();
        showDiff(m.run);
        break;
    }
  }

  function finishSocket() {
    button.disabled = false;
    run = null;
    if (socket) { const s = socket; socket = null; s.close(); }
  }

  async function showDiff(rerun) {
    diff.className = "replay-diff";
    diff.textContent = "";
    for (const index of choices) {
      const query = new URLSearchParams({
        a: `${original}:${index}`, b: `${rerun}:${index}`, label_a: "the original", label_b: "the re-run",
      });
      const response = await fetch(`${script.dataset.diffUrl}?${query}`, { credentials: "same-origin" });
      const box = document.createElement("div");
      box.className = "replay-diff-choice";
      if (choices.length > 1) box.append(Object.assign(document.createElement("h3"), { textContent: `Choice ${index}` }));
      const body = document.createElement("div");
      // Server-rendered and escaped: the only markup inserted.
      if (response.ok) body.innerHTML = await response.text();
      else body.textContent = "The diff could not be made.";
      box.append(body);
      diff.append(box);
    }
  }

  button.addEventListener("click", start);
})();
