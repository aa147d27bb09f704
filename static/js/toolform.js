// Forms generated from a tool's JSON schema (the `tools` parameter's
// function.parameters), for the chat page's tool-call loop (chat.js): string,
// number/integer, enum, boolean, nested objects and arrays, required marked,
// defaults and a starting value filled in. Anything else (anyOf, $ref, an
// object without properties) is edited as JSON text.
//
// Also the saved tool results ("mocks", by tool name) that a preset keeps:
// {name: {result, auto}}; with auto set, chat.js answers a call to that tool
// on its own.
//
// Every label and value is set as text or as a property, never as HTML.
(function () {
  "use strict";

  let ids = 0;

  function h(tag, props, ...children) {
    const el = Object.assign(document.createElement(tag), props || {});
    el.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
    return el;
  }

  // A field the user got wrong: read() shows the message beside the field.
  // `empty`: the field was just left blank (an optional object left all
  // blank is simply unset).
  class Bad extends Error {
    constructor(message, empty) { super(message); this.empty = !!empty; }
  }

  function kindOf(schema) {
    if (Array.isArray(schema.enum) && schema.enum.length) return "enum";
    let type = schema.type;
    if (Array.isArray(type)) type = type.find((t) => t !== "null");
    if (!type && schema.properties) type = "object";
    if (!type && schema.items) type = "array";
    if (type === "object" && !schema.properties) return "json";
    return ["string", "number", "integer", "boolean", "object", "array"].includes(type) ? type : "json";
  }

  function pretty(value) {
    return value === undefined ? "" : JSON.stringify(value, null, 2);
  }

  // ---- one control per schema: {el, read(path, errors) -> value, or
  // undefined when unset}; a field's own mistake is thrown as Bad

  function control(schema, value, path, required, id) {
    if (value === undefined) value = schema.default;
    switch (kindOf(schema)) {
      case "string": return textInput(schema, value, path, required, id);
      case "number":
      case "integer": return numberInput(schema, value, path, required, id);
      case "boolean": {
        const el = h("input", { type: "checkbox", id, checked: value === true });
        return { el, read: () => el.checked };
      }
      case "enum": return enumSelect(schema, value, path, required, id);
      case "object": return objectFields(schema, value, path, !required);
      case "array": return arrayItems(schema, value, path);
      default: return jsonText(value, path, required, id);
    }
  }

  function textInput(schema, value, path, required, id) {
    const el = h("input", { type: "text", id, value: typeof value === "string" ? value : "" });
    return {
      el,
      read(at = path) {
        if (el.value === "" && required) throw new Bad(`${at} is required`, true);
        return el.value === "" ? undefined : el.value;
      },
    };
  }

  function numberInput(schema, value, path, required, id) {
    const integer = kindOf(schema) === "integer";
    const el = h("input", { type: "number", id, step: integer ? "1" : "any",
      value: typeof value === "number" ? String(value) : "" });
    return {
      el,
      read(at = path) {
        if (el.validity.badInput) throw new Bad(`${at} must be a number`);
        if (el.value.trim() === "") {
          if (required) throw new Bad(`${at} is required`, true);
          return undefined;
        }
        const n = Number(el.value);
        if (integer && !Number.isInteger(n)) throw new Bad(`${at} must be a whole number`);
        if (typeof schema.minimum === "number" && n < schema.minimum) throw new Bad(`${at} must be at least ${schema.minimum}`);
        if (typeof schema.maximum === "number" && n > schema.maximum) throw new Bad(`${at} must be at most ${schema.maximum}`);
        return n;
      },
    };
  }

  function enumSelect(schema, value, path, required, id) {
    const el = h("select", { id });
    if (!required) el.append(h("option", { value: "", textContent: "(unset)" }));
    schema.enum.forEach((choice, i) => {
      const text = typeof choice === "string" ? choice : JSON.stringify(choice);
      el.append(h("option", { value: String(i), textContent: text }));
    });
    const at = schema.enum.findIndex((c) => JSON.stringify(c) === JSON.stringify(value));
    if (at >= 0) el.value = String(at);
    return { el, read: () => (el.value === "" ? undefined : schema.enum[Number(el.value)]) };
  }

  function jsonText(value, path, required, id) {
    const el = h("textarea", { id, rows: 3, value: pretty(value), placeholder: "JSON" });
    return {
      el,
      read(at = path) {
        if (el.value.trim() === "") {
          if (required) throw new Bad(`${at} is required`, true);
          return undefined;
        }
        try { return JSON.parse(el.value); } catch (e) { throw new Bad(`${at} is not valid JSON: ${e.message}`); }
      },
    };
  }

  // A labelled row: the control, the schema's description, and its error.
  function row(name, schema, value, path, required) {
    const id = `tf-${++ids}`;
    const inner = control(schema, value, path, required, id);
    const label = h("label", { htmlFor: id, className: "tf-label" }, name,
      required ? h("span", { className: "tf-required", title: "required", textContent: " *" }) : null);
    const error = h("div", { className: "tf-error", role: "alert" });
    const el = h("div", { className: "tf-row" }, label, inner.el,
      schema.description ? h("div", { className: "tf-help muted", textContent: schema.description }) : null, error);
    el.dataset.path = path;
    el.dataset.kind = kindOf(schema);
    return {
      el,
      read(errors, at) {
        error.textContent = "";
        // Nested rows show their own errors and add them to `errors`.
        try { return inner.read(at, errors); } catch (e) {
          if (!(e instanceof Bad)) throw e;
          error.textContent = e.message;
          errors.push(e);
          return undefined;
        }
      },
    };
  }

  function objectFields(schema, value, path, optional) {
    const given = value && typeof value === "object" && !Array.isArray(value) ? value : {};
    const required = new Set(schema.required || []);
    const rows = Object.entries(schema.properties).map(([name, sub]) => {
      const own = sub && typeof sub === "object" ? sub : {};
      return [name, row(name, own, given[name], path ? `${path}.${name}` : name, required.has(name))];
    });
    const el = h("fieldset", { className: "tf-object" }, ...rows.map(([, r]) => r.el));
    return {
      el,
      read(at, errors) {
        const out = {};
        const mine = [];
        for (const [name, r] of rows) {
          const v = r.read(mine, at ? `${at}.${name}` : name);
          if (v !== undefined) out[name] = v;
        }
        if (optional && Object.keys(out).length === 0 && mine.every((e) => e.empty)) {
          el.querySelectorAll(".tf-error").forEach((e) => (e.textContent = ""));
          return undefined;
        }
        errors.push(...mine);
        return out;
      },
    };
  }

  function arrayItems(schema, value, path) {
    const itemSchema = schema.items && typeof schema.items === "object" && !Array.isArray(schema.items) ? schema.items : {};
    const list = h("ol", { className: "tf-items" });
    const items = [];
    function addItem(v) {
      const item = row(`item`, itemSchema, v, `${path}[]`, true);
      const remove = h("button", { type: "button", className: "icon tf-remove", title: "Remove item", textContent: "✕" });
      const li = h("li", { className: "tf-item" }, item.el, remove);
      const entry = { li, item };
      remove.addEventListener("click", () => { items.splice(items.indexOf(entry), 1); li.remove(); });
      items.push(entry);
      list.append(li);
      return li;
    }
    (Array.isArray(value) ? value : []).forEach(addItem);
    const add = h("button", { type: "button", className: "secondary tf-add", textContent: "Add item" });
    add.addEventListener("click", () => addItem(undefined).querySelector("input, select, textarea")?.focus());
    const el = h("div", { className: "tf-array" }, list, add);
    return {
      el,
      read(at, errors) {
        return items.map(({ item }, i) => item.read(errors, `${at}[${i}]`)).filter((v) => v !== undefined);
      },
    };
  }

  // ---- the whole form for one schema -------------------------------------------

  // {el, read() -> {value, errors}}: `value` pre-fills it (else the schema's defaults).
  function build(schema, value) {
    schema = schema && typeof schema === "object" ? schema : {};
    const root = kindOf(schema) === "object"
      ? objectFields(schema, value, "", false)
      : row("result", schema, value, "result", false);
    return {
      el: root.el,
      read() {
        const errors = [];
        const out = kindOf(schema) === "object" ? root.read("", errors) : root.read(errors, "result");
        return { value: out, errors: errors.map((e) => e.message) };
      },
    };
  }

  // ---- saved results ("mocks") --------------------------------------------------------

  const saved = document.getElementById("tool-mocks");
  // Keyed by tool names from model output: no prototype, so "constructor"
  // or "toString" is no saved mock.
  const mocks = Object.assign(Object.create(null), saved ? JSON.parse(saved.textContent) : null);

  // The result form for one call: the generated fields, "edit as JSON",
  // and saving the result as this tool's mock.
  // {el, call, name, mock, read() -> {value, errors}}
  function panel(call, tool) {
    const fn = call.function || {};
    const name = fn.name || "";
    const schema = (tool && tool.parameters) || {};
    let start;
    if (mocks[name]) start = mocks[name].result;
    else {
      // What the model asked for, where it fits the schema: a place to start.
      try { start = JSON.parse(fn.arguments || ""); } catch (e) { start = undefined; }
    }
    let form = build(schema, start);
    const fields = h("div", { className: "tf-fields" }, form.el);
    const raw = h("textarea", { className: "tf-raw", rows: 6, hidden: true, ariaLabel: `Result of ${name} as JSON` });
    const rawError = h("div", { className: "tf-error", role: "alert" });
    const asJSON = h("input", { type: "checkbox", className: "tf-as-json" });
    asJSON.addEventListener("change", () => {
      if (asJSON.checked) {
        const { value } = form.read();
        raw.value = pretty(value);
      } else {
        try { form = build(schema, JSON.parse(raw.value)); } catch (e) { form = build(schema, undefined); }
        fields.replaceChildren(form.el);
        rawError.textContent = "";
      }
      raw.hidden = !asJSON.checked;
      fields.hidden = asJSON.checked;
    });

    function read() {
      if (!asJSON.checked) return form.read();
      rawError.textContent = "";
      try { return { value: JSON.parse(raw.value), errors: [] }; } catch (e) {
        rawError.textContent = `The result is not valid JSON: ${e.message}`;
        return { value: undefined, errors: [rawError.textContent] };
      }
    }

    const status = h("span", { className: "tf-mock-status muted", role: "status" });
    const auto = h("input", { type: "checkbox", className: "tf-auto", checked: !!mocks[name]?.auto });
    const save = h("button", { type: "button", className: "secondary tf-save-mock", textContent: "Save as mock" });
    const forget = h("button", { type: "button", className: "secondary tf-forget-mock", textContent: "Forget mock", hidden: !mocks[name] });
    function saveMock() {
      const { value, errors } = read();
      if (errors.length) {
        status.textContent = "Not saved: see the fields.";
        return false;
      }
      mocks[name] = { result: value === undefined ? null : value, auto: auto.checked };
      forget.hidden = false;
      status.textContent = "Saved for this page; Save preset keeps it.";
      return true;
    }
    save.addEventListener("click", saveMock);
    auto.addEventListener("change", () => {
      if (mocks[name]) { mocks[name].auto = auto.checked; status.textContent = auto.checked ? "Will reply on its own." : ""; }
      else if (auto.checked && !saveMock()) auto.checked = false;
    });
    forget.addEventListener("click", () => {
      delete mocks[name];
      auto.checked = false;
      forget.hidden = true;
      status.textContent = "Forgotten.";
    });

    const el = h("div", { className: "tool-form" },
      h("div", { className: "tf-head" }, "Result of ", h("code", { textContent: name }),
        tool ? null : h("span", { className: "muted", textContent: " (not among the tools: edit it as JSON)" })),
      fields, raw, rawError,
      h("div", { className: "tf-actions" },
        h("label", { className: "inline-check" }, asJSON, " edit as JSON"),
        save, forget,
        h("label", { className: "inline-check", title: "A call to this tool gets the saved result and the next turn runs on its own" },
          auto, " auto-reply with saved mock"),
        status));
    el.dataset.tool = name;
    el.dataset.callId = call.id || "";
    return { el, call, name, read, get mock() { return mocks[name]; } };
  }

  window.ToolForm = { build, panel, mocks };
})();
