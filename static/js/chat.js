// The chat page's message list editor: add, remove, reorder, edit messages
// (system, user, assistant, tool; name; tool_call_id; assistant tool_calls;
// content as text or as content blocks). playground.js reads it on Run.
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

  window.ChatEditor = {
    add,
    // The reply joins the conversation, then an empty user turn to go on with.
    afterReply(result, reply) {
      if (!reply) return;
      add(reply);
      if (!reply.tool_calls) add({ role: "user", content: "" }).querySelector("[data-m=content]").focus();
    },
  };

  const initial = JSON.parse(document.getElementById("initial-messages").textContent);
  initial.forEach((m) => add(m));
})();
