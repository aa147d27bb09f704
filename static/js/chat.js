// The chat page's message list editor: add, remove, reorder, edit messages
// (system, user, assistant, tool; name; tool_call_id; assistant tool_calls;
// content as text or as content blocks). playground.js reads it on Run.
// A reply that calls tools gets a result form per call (toolform.js): the
// tool-call loop, below.
(function () {
  "use strict";

  const list = document.getElementById("messages");
  const template = document.getElementById("message-template");
  if (!list || !template) return;

  function syncRole(row) {
    const role = row.querySelector("[data-m=role]").value;
    row.dataset.role = role;
    row.querySelector(".m-tool-call-id").hidden = role !== "tool";
    row.querySelector(".m-tool-calls").hidden = role !== "assistant";
  }

  function add(message, before) {
    const row = template.content.firstElementChild.cloneNode(true);
    const m = message || { role: "user", content: "" };
    row.querySelector("[data-m=role]").value = m.role;
    const blocks = Array.isArray(m.content);
    row.querySelector("[data-m=content-kind]").value = blocks ? "blocks" : "text";
    row.querySelector("[data-m=content]").value = blocks ? JSON.stringify(m.content, null, 2) : m.content ?? "";
    row.querySelector("[data-m=name]").value = m.name || "";
    row.querySelector("[data-m=tool_call_id]").value = m.tool_call_id || "";
    row.querySelector("[data-m=tool_calls]").value = m.tool_calls ? JSON.stringify(m.tool_calls, null, 2) : "";
    syncRole(row);
    list.insertBefore(row, before || null);
    return row;
  }

  list.addEventListener("change", (e) => {
    if (e.target.matches("[data-m=role]")) syncRole(e.target.closest(".message"));
  });

  list.addEventListener("click", (e) => {
    const button = e.target.closest("button[data-action]");
    if (!button) return;
    const row = button.closest(".message");
    switch (button.dataset.action) {
      case "remove": row.remove(); break;
      case "up": if (row.previousElementSibling) list.insertBefore(row, row.previousElementSibling); break;
      case "down": if (row.nextElementSibling) list.insertBefore(row.nextElementSibling, row); break;
    }
  });

  document.getElementById("add-message")?.addEventListener("click", () => {
    const last = list.lastElementChild;
    const role = last && last.querySelector("[data-m=role]").value === "user" ? "assistant" : "user";
    add({ role, content: "" }).querySelector("[data-m=content]").focus();
  });

  // A reply with tool calls offers to add each tool's result message.
  document.addEventListener("click", (e) => {
    const button = e.target.closest(".add-tool-result");
    if (!button) return;
    const row = add({ role: "tool", content: "", tool_call_id: button.dataset.id });
    row.querySelector("[data-m=content]").focus();
    button.disabled = true;
  });

  // ---- the tool-call loop: a reply that calls tools gets a form per call
  // (toolform.js); sending them adds a tool message per call and runs the
  // next turn, in the same conversation (the page's hidden `conversation`).

  // Automatic turns in a row (mocks on auto-reply) before the page waits for
  // the user: a model that calls a tool for ever must not run for ever.
  const MAX_AUTO_TURNS = 5;
  let autoTurns = 0;

  function declaredTools() {
    const tools = {};
    try {
      const list = JSON.parse(document.querySelector("[data-field=tools]")?.value || "[]");
      for (const t of Array.isArray(list) ? list : []) if (t && t.function) tools[t.function.name] = t.function;
    } catch (e) { /* not JSON yet: every call is edited as JSON */ }
    return tools;
  }

  function sendResults(panels, status) {
    const results = panels.map((p) => p.read());
    if (results.some((r) => r.errors.length)) {
      status.textContent = "Some results are not valid; see the fields.";
      return;
    }
    // This turn's tool messages (after the last assistant one): ids repeat across turns.
    const rows = [...list.querySelectorAll(".message")];
    const turn = rows.slice(rows.findLastIndex((r) => r.dataset.role === "assistant") + 1);
    panels.forEach((p, i) => {
      const content = JSON.stringify(results[i].value === undefined ? null : results[i].value);
      const row = turn.find((r) => r.dataset.role === "tool" && r.querySelector("[data-m=tool_call_id]").value === p.call.id);
      if (row) row.querySelector("[data-m=content]").value = content;
      else add({ role: "tool", content, tool_call_id: p.call.id });
    });
    window.Playground.run();
  }

  function toolLoop(result, reply, mayAuto) {
    const tools = declaredTools();
    const panels = reply.tool_calls.map((call) => window.ToolForm.panel(call, tools[call.function?.name]));
    const first = result.querySelector('.choice-final[data-index="0"]') || result;
    for (const p of panels) {
      const shown = [...first.querySelectorAll(".tool-call")].find((c) => c.dataset.id === p.call.id);
      (shown || first).append(p.el);
    }
    const status = Object.assign(document.createElement("span"), { className: "muted tool-loop-status", role: "status" });
    const send = Object.assign(document.createElement("button"), {
      type: "button", className: "tool-loop-send", title: "Enter",
      textContent: panels.length > 1 ? "Send results and continue" : "Send result and continue",
    });
    send.addEventListener("click", () => sendResults(panels, status));
    const box = Object.assign(document.createElement("div"), { className: "tool-loop" });
    box.append(send, status);
    first.append(box);
    // Enter in a one-line result field (Ctrl/Cmd+Enter in any) sends the
    // results, rather than the run form without them.
    first.addEventListener("keydown", (e) => {
      if (e.key !== "Enter" || !e.target.closest(".tool-form")) return;
      if (!e.target.matches("input") && !(e.ctrlKey || e.metaKey)) return;
      e.preventDefault();
      e.stopPropagation();
      sendResults(panels, status);
    });
    if (mayAuto && panels.every((p) => p.mock?.auto)) {
      if (autoTurns < MAX_AUTO_TURNS) {
        autoTurns += 1;
        status.textContent = "Answered with the saved mocks.";
        setTimeout(() => sendResults(panels, status));
      } else {
        status.textContent = `Stopped after ${MAX_AUTO_TURNS} automatic turns in a row; send to go on.`;
        autoTurns = 0;
      }
    } else {
      autoTurns = 0;
      panels[0]?.el.querySelector("input, select, textarea")?.focus();
    }
  }

  window.ChatEditor = {
    add,
    // The reply joins the conversation, then an empty user turn to go on with,
    // or, when it calls tools, a form for each result.
    afterReply(result, reply) {
      if (!reply) return;
      add(reply);
      if (reply.tool_calls && window.ToolForm) {
        toolLoop(result, reply, true);
        return;
      }
      autoTurns = 0;
      if (!reply.tool_calls) add({ role: "user", content: "" }).querySelector("[data-m=content]").focus();
    },
  };

  const initial = JSON.parse(document.getElementById("initial-messages").textContent);
  initial.forEach((m) => add(m));
  // Reopened on a reply that called tools: its forms are back (no auto-reply).
  const last = initial[initial.length - 1];
  const shown = document.getElementById("result");
  if (last && last.role === "assistant" && last.tool_calls && window.ToolForm && shown?.querySelector(".tool-call")) {
    toolLoop(shown, last, false);
  }
})();
