// Template variables on the playground: `{{name}}` in the prompt, the suffix
// or any message's content shows a field for its value. A run sends the
// template as written plus the values; the server renders it (apps/catalog/
// templating.py, where the syntax is: `\{{` is a literal `{{`).
(function () {
  "use strict";

  const form = document.getElementById("run-form");
  const panel = document.getElementById("variables-panel");
  if (!form || !panel) return;
  const list = panel.querySelector(".variables-list");
  // The same token as the server's: the escape first, so `\{{x}}` is text.
  const TOKEN = /\\\{\{|\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;
  const TEXTS = "[data-prompt], [data-field=suffix], [data-m=content]";
  const initial = document.getElementById("initial-variables");
  const values = initial ? JSON.parse(initial.textContent) || {} : {};
  let names = [];

  function scan() {
    const found = [];
    form.querySelectorAll(TEXTS).forEach((el) => {
      for (const m of el.value.matchAll(TOKEN)) {
        if (m[1] && !found.includes(m[1])) found.push(m[1]);
      }
    });
    return found;
  }

  function draw() {
    const found = scan();
    if (found.join("\n") === names.join("\n")) return;
    names = found;
    panel.hidden = names.length === 0;
    list.textContent = "";
    for (const name of names) {
      const label = document.createElement("label");
      label.className = "field variable";
      label.append(document.createTextNode(name));
      const input = document.createElement("textarea");
      input.rows = 1;
      input.dataset.variable = name;
      input.value = values[name] || "";
      input.addEventListener("input", () => (values[name] = input.value));
      label.append(input);
      list.append(label);
    }
  }

  form.addEventListener("input", (e) => { if (e.target.matches(TEXTS)) draw(); });
  // Messages added, removed or loaded by chat.js.
  new MutationObserver(draw).observe(form, { childList: true, subtree: true });
  draw();

  // View code shows the request rendered: its post (presets.js fills in the
  // form) carries the values too.
  document.addEventListener("htmx:configRequest", (e) => {
    const values = window.Variables.values();
    if (values && e.detail.elt.closest("[data-playground-request]")) {
      e.detail.parameters.variables = JSON.stringify(values);
    }
  });

  window.Variables = {
    names: () => names.slice(),
    // The values to send with a run: null when the body has no variable. An
    // empty field is left out, so the server's error names the variable.
    values() {
      if (!names.length) return null;
      const out = {};
      for (const name of names) if (values[name]) out[name] = values[name];
      return out;
    },
  };
})();
