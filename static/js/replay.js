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
  let run = null;

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
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/ws/run/`);
    socket.addEventListener("open", () => socket.send(JSON.stringify({
      type: "run", ref: "replay", mode: request.mode, model: request.model,
      conversation: null, body: request.body,
    })));
    socket.addEventListener("message", (e) => handle(JSON.parse(e.data)));
    const mine = socket;
    mine.addEventListener("close", () => {
      if (socket !== mine) return; // closed here, after the end
      // Dropped before the end: a started run goes on on the server and is
      // kept in history; say so rather than wait forever.
      socket = null;
      result.className = "error";
      result.textContent = run ? "The connection was lost; the re-run goes on and is kept in history."
        : "The connection was lost before the re-run started; nothing was sent.";
      button.disabled = false;
    });
    section.scrollIntoView({ block: "start" });
  }

  function handle(m) {
    switch (m.type) {
      case "errors":
        result.className = "error";
        result.textContent = m.errors.map((e) => (e.field ? `${e.field}: ` : "") + e.message).join("; ");
        finishSocket();
        break;
      case "started":
        run = m.run;
        result.textContent = "Streaming…";
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
