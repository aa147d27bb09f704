// The parameter controls that need a little behaviour: stop sequences and
// logit_bias filled from the saved form, tool_choice offering the tools'
// names, response_format's schema editor, several prompts, sliders beside
// numeric fields, and the prompt's token count.
(function () {
  "use strict";

  // Numeric fields with a documented range: a slider beside the number box.
  // The box is what is sent (the slider has no data-field); the slider only
  // sets it. An empty box is "unset" and sends nothing: the slider then rests
  // on the default, dimmed, until it is moved.
  function sliderStep(min, max, integer) {
    if (integer) return 1;
    return 10 ** Math.floor(Math.log10((max - min) / 100));  // 0..2 -> 0.01, -100..100 -> 1
  }
  function decimals(step) {
    return step >= 1 ? 0 : Math.round(-Math.log10(step));
  }
  function sliders(root) {
    root.querySelectorAll("[data-slider-for]").forEach((slider) => {
      const wrap = slider.closest(".number-control");
      const box = wrap.querySelector("[data-field]");
      const min = Number(slider.min);
      const max = Number(slider.max);
      const step = sliderStep(min, max, slider.dataset.integer === "1");
      slider.step = String(step);
      if (slider.dataset.exclusiveMin !== undefined) slider.min = String(min + step);
      const rest = slider.dataset.default !== "" ? Number(slider.dataset.default) : min;

      function fromBox() {
        const raw = box.value.trim();
        const n = Number(raw);
        const unset = raw === "" && !box.validity.badInput;
        wrap.classList.toggle("is-unset", unset);
        if (unset) slider.value = String(rest);
        else if (raw !== "" && Number.isFinite(n)) slider.value = String(Math.min(max, Math.max(min, n)));
      }
      slider.addEventListener("input", () => {
        box.value = String(Number(Number(slider.value).toFixed(decimals(step))));
        wrap.classList.remove("is-unset");
        box.dispatchEvent(new Event("input", { bubbles: true }));
      });
      box.addEventListener("input", fromBox);
      box.addEventListener("change", fromBox);
      wrap.querySelector("[data-unset]")?.addEventListener("click", () => {
        box.value = "";
        box.dispatchEvent(new Event("input", { bubbles: true }));
        box.focus();
      });
      fromBox();
    });
  }
  // Compare's panes are made on the page: each gets its sliders from here.
  window.Controls = { sliders };

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

  sliders(form);

  // The prompt's token count, where the backend can tokenize (the embedded
  // model): asked for a moment after typing stops, never while a key is held.
  const counter = document.getElementById("token-count");
  if (counter) {
    let timer = null;
    let asked = 0;
    function input() {
      if (form.dataset.mode === "chat") {
        return {
          messages: [...document.querySelectorAll("#messages .message")].map((row) => ({
            role: row.querySelector("[data-m=role]").value,
            content: row.querySelector("[data-m=content]").value,
          })),
        };
      }
      const texts = [...form.querySelectorAll("[data-prompt]")].map((t) => t.value);
      if (form.querySelector("#prompt-tokens")?.checked) {
        try { return { prompt: JSON.parse(texts[0]) }; } catch (e) { return null; }
      }
      return { prompt: texts.length === 1 ? texts[0] : texts };
    }
    async function count() {
      const model = form.querySelector("[name=model]").value;
      const payload = input();
      if (!model || !payload) { counter.textContent = ""; return; }
      const mine = ++asked;
      try {
        const response = await fetch(counter.dataset.url, {
          method: "POST",
          headers: { "Content-Type": "application/json", "X-CSRFToken": form.querySelector("[name=csrfmiddlewaretoken]")?.value || "" },
          body: JSON.stringify({ mode: form.dataset.mode, model, ...payload }),
          credentials: "same-origin",
        });
        const data = await response.json();
        if (mine !== asked) return;  // a newer count is on its way
        counter.textContent = typeof data.tokens === "number"
          ? `${data.tokens} prompt token${data.tokens === 1 ? "" : "s"}` : "";
      } catch (e) {
        if (mine === asked) counter.textContent = "";
      }
    }
    function later(e) {
      if (e && e.target.closest?.(".params")) return;  // parameters do not change the prompt
      clearTimeout(timer);
      timer = setTimeout(count, 400);
    }
    form.addEventListener("input", later);
    form.addEventListener("change", later);
    const messages = document.getElementById("messages");
    if (messages) new MutationObserver(() => later()).observe(messages, { childList: true });
    later();
  }
})();
