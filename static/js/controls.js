// The parameter controls that need a little behaviour: stop sequences and
// logit_bias filled from the saved form, tool_choice offering the tools'
// names, response_format's schema editor, several prompts.
(function () {
  "use strict";

  const form = document.getElementById("run-form");
  if (!form) return;

  function initial(id) {
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  // stop: a string or up to 4 strings.
  const stop = initial("initial-stop");
  const stopInputs = form.querySelectorAll("[data-stop]");
  (typeof stop === "string" ? [stop] : stop || []).forEach((v, i) => {
    if (stopInputs[i]) stopInputs[i].value = v;
  });

  // logit_bias: a token -> bias table.
  const rows = form.querySelector(".logit-bias-rows");
  function addBias(token = "", bias = "") {
    const tr = document.createElement("tr");
    tr.className = "logit-bias-row";
    tr.innerHTML =
      '<td><input data-bias-token inputmode="numeric" aria-label="token id"></td>' +
      '<td><input data-bias-value type="number" min="-100" max="100" step="any" aria-label="bias"></td>' +
      '<td><button type="button" class="icon remove-bias" title="Remove">✕</button></td>';
    tr.querySelector("[data-bias-token]").value = token;
    tr.querySelector("[data-bias-value]").value = bias;
    rows.appendChild(tr);
    return tr;
  }
  if (rows) {
    Object.entries(initial("initial-logit-bias") || {}).forEach(([t, b]) => addBias(t, b));
    form.querySelector(".add-bias").addEventListener("click", () => addBias().querySelector("input").focus());
    rows.addEventListener("click", (e) => {
      if (e.target.closest(".remove-bias")) e.target.closest("tr").remove();
    });
  }

  // tool_choice: auto / none / required, or one of the tools defined above.
  const toolChoice = form.querySelector("[data-kind=tool_choice]");
  const tools = form.querySelector("[data-field=tools]");
  function refreshToolChoice() {
    if (!toolChoice) return;
    const current = toolChoice.value;
    toolChoice.querySelectorAll("option[data-tool]").forEach((o) => o.remove());
    let names = [];
    try {
      const parsed = JSON.parse(tools?.value || "[]");
      names = (Array.isArray(parsed) ? parsed : []).map((t) => t?.function?.name).filter(Boolean);
    } catch (e) { /* the validator reports bad JSON on Run */ }
    for (const name of names) {
      const o = document.createElement("option");
      o.value = `function:${name}`;
      o.textContent = `function: ${name}`;
      o.dataset.tool = "";
      toolChoice.appendChild(o);
    }
    if ([...toolChoice.options].some((o) => o.value === current)) toolChoice.value = current;
  }
  if (toolChoice) {
    refreshToolChoice();
    const init = toolChoice.dataset.initial;
    if (init && init.startsWith("{")) {
      try { toolChoice.value = `function:${JSON.parse(init).function.name}`; } catch (e) { /* ignore */ }
    }
    tools?.addEventListener("input", refreshToolChoice);
  }

  // response_format: the schema editor shows for json_schema only.
  const rfType = form.querySelector("[data-rf=type]");
  rfType?.addEventListener("change", () => {
    form.querySelector(".rf-schema").hidden = rfType.value !== "json_schema";
  });

  // Several prompts are sent as an array of strings.
  const prompts = form.querySelector(".prompts");
  form.querySelector("#add-prompt")?.addEventListener("click", () => {
    const row = document.createElement("div");
    row.className = "prompt-row";
    row.innerHTML = '<textarea data-prompt rows="4" aria-label="Prompt"></textarea>' +
      '<button type="button" class="icon remove-prompt" title="Remove">✕</button>';
    prompts.appendChild(row);
    row.querySelector("textarea").focus();
  });
  prompts?.addEventListener("click", (e) => {
    if (e.target.closest(".remove-prompt")) e.target.closest(".prompt-row").remove();
  });
})();
