// The form adapts to the chosen model: a field the model does not accept is
// shown disabled with why ("llama.cpp ignores echo") instead of being sent and
// dropped at run time, and comes back when another model accepts it. The
// capabilities come from the server (Model.capabilities(), json_script
// "model-capabilities"): {uuid: {refused: {field: reason}, unknown_fields}}.
// A disabled field keeps its value; playground.js (and compare.js, per pane)
// does not send it.
//
// Also the Extra parameters editor: a JSON object of provider-specific fields
// (top_k, min_p, ...) merged into the body at the top level.
(function () {
  "use strict";

  const data = document.getElementById("model-capabilities");
  if (!data) return;
  const capabilities = JSON.parse(data.textContent);
  const EVERYTHING = { refused: {}, unknown_fields: "forward" };
  const POLICY = {
    forward: "This model's provider receives them as they are.",
    drop: "This model's provider drops them (each with a notice).",
    refuse: "This model's provider refuses them: a run with any is not started.",
  };
  const CONTROLS = "input, select, textarea, button";

  // The playground's .field, or a compare pane's .pfield.
  function box(control) {
    return control.closest(".field, .pfield") || control;
  }

  function setEnabled(control, enabled) {
    // A number box's slider and unset button go with it.
    const group = control.closest(".number-control") || control;
    const targets = group.matches(CONTROLS) ? [group] : [...group.querySelectorAll(CONTROLS)];
    targets.forEach((el) => { el.disabled = !enabled; });
  }

  // Every [data-field] control under root, for the model with this uuid.
  function adapt(root, model) {
    const caps = capabilities[model] || EVERYTHING;
    root.querySelectorAll("[data-field]").forEach((control) => {
      const name = control.dataset.field;
      const reason = caps.refused[name];
      const container = box(control);
      container.classList.toggle("unaccepted", Boolean(reason));
      setEnabled(control, !reason);
      let note = container.querySelector(".unaccepted-reason");
      if (reason) {
        if (!note) {
          note = document.createElement("div");
          note.className = "unaccepted-reason";
          container.appendChild(note);
        }
        note.textContent = reason;
        container.title = reason;
      } else if (note) {
        note.remove();
        container.removeAttribute("title");
      }
    });
    return caps;
  }

  // An Extra parameters editor's text (`root`'s own [data-field] controls
  // are the catalogue's) as an object, {} when empty; a mistake is shown
  // with fieldError("extra_parameters", message) and thrown. `reserved`:
  // other names the page sets itself, each with why.
  function parseExtras(text, root, fieldError, reserved = {}) {
    if (!text.trim()) return {};
    let value;
    try { value = JSON.parse(text); } catch (e) {
      fieldError("extra_parameters", `Extra parameters are not valid JSON: ${e.message}`);
      throw e;
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      fieldError("extra_parameters", 'Extra parameters must be a JSON object, e.g. {"top_k": 40}');
      throw new Error("extra parameters are not an object");
    }
    const set = Object.keys(value).find((k) => k in reserved);
    if (set) {
      fieldError("extra_parameters", `${set}: ${reserved[set]}, not an extra parameter`);
      throw new Error("an extra parameter is set by the page");
    }
    const own = new Set(["model", ...[...root.querySelectorAll("[data-field]")].map((el) => el.dataset.field)]);
    const taken = Object.keys(value).filter((k) => own.has(k));
    if (taken.length) {
      fieldError("extra_parameters", `${taken.join(", ")}: set with the form's own control, not as an extra parameter`);
      throw new Error("an extra parameter is a catalogue field");
    }
    return value;
  }

  // Compare's panes each adapt to their own model (compare.js calls adapt).
  window.Capabilities = { adapt, parseExtras, POLICY };
  const form = document.getElementById("run-form");
  if (!form) return;
  const picker = form.querySelector("[name=model]");
  const extrasInput = form.querySelector("[data-extras]");
  const policyLine = form.querySelector(".extras-policy");

  function apply() {
    const caps = adapt(form, picker?.value);
    if (policyLine) policyLine.textContent = POLICY[caps.unknown_fields] || "";
  }

  // The body's extras, or {}; a mistake is shown on the editor and thrown, as
  // playground.js does for its own controls.
  function extras(fieldError) {
    return parseExtras(extrasInput ? extrasInput.value : "", form, fieldError);
  }

  picker?.addEventListener("change", apply);
  apply();
  Object.assign(window.Capabilities, { apply, extras });
})();
