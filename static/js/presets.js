// "Save preset" in the playground: the current form (window.Playground.collect(),
// the model and the mode) is posted as JSON; the server validates it through
// the catalogue and answers with the saved preset or the errors.
(function () {
  "use strict";

  const button = document.getElementById("save-preset-button");
  const form = document.getElementById("run-form");
  if (!button || !form) return;

  let dialog = null;

  function csrfToken() {
    return form.querySelector("[name=csrfmiddlewaretoken]")?.value || "";
  }

  function setup() {
    // The dialog has a form of its own, so it lives outside the run form.
    const template = document.getElementById("preset-dialog-template");
    document.body.append(template.content.cloneNode(true));
    dialog = document.getElementById("preset-dialog");
    dialog.querySelector("[name=name]").value = button.dataset.presetName || "";
    dialog.querySelector("[name=description]").value = button.dataset.presetDescription || "";
    dialog.querySelector("form").addEventListener("submit", onSubmit);
  }

  function showErrors(errors) {
    const list = dialog.querySelector(".preset-errors");
    list.textContent = "";
    for (const e of errors) {
      const li = document.createElement("li");
      li.textContent = e.field && e.field !== "body" ? `${e.field}: ${e.message}` : e.message;
      list.append(li);
    }
  }

  async function onSubmit(e) {
    const action = e.submitter?.value;
    if (action === "close") return; // method=dialog closes it
    e.preventDefault();
    const saved = dialog.querySelector(".preset-saved");
    saved.textContent = "";
    showErrors([]);
    let body;
    window.Playground.clearErrors();
    try {
      body = window.Playground.collect();
    } catch (err) {
      showErrors([{ message: "Some fields are not valid; see the form." }]);
      return;
    }
    const url = action === "version" ? button.dataset.versionUrl : button.dataset.url;
    const payload = {
      name: dialog.querySelector("[name=name]").value,
      description: dialog.querySelector("[name=description]").value,
      mode: form.dataset.mode,
      model: form.querySelector("[name=model]").value,
      body,
      // The tool-call loop's saved results (toolform.js), kept beside the body.
      tool_mocks: window.ToolForm?.mocks,
    };
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify(payload),
        credentials: "same-origin",
      });
    } catch (err) {
      showErrors([{ message: "The server could not be reached." }]);
      return;
    }
    const data = await response.json().catch(() => ({ errors: [{ message: `Not saved (${response.status}).` }] }));
    if (!response.ok) {
      showErrors(data.errors || [{ message: `Not saved (${response.status}).` }]);
      return;
    }
    saved.textContent = `Saved “${data.name}”, version ${data.version}. `;
    const link = Object.assign(document.createElement("a"), { href: data.url, className: "preset-link", textContent: "See the preset" });
    saved.append(link);
    // From now on this page can add versions to the preset just saved.
    button.dataset.versionUrl = `${data.url}save/`;
    if (!dialog.querySelector(".save-version")) {
      const again = Object.assign(document.createElement("button"), {
        type: "submit", value: "version", className: "save-version", textContent: "Save as a new version",
      });
      const saveNew = dialog.querySelector(".save-new");
      saveNew.classList.add("secondary");
      saveNew.before(again);
    }
  }

  button.addEventListener("click", () => {
    if (!dialog) setup();
    dialog.showModal();
    dialog.querySelector("[name=name]").focus();
  });
})();
