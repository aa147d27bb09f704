// Save preset and View code post the playground's current form: the dialogs
// themselves are Django-form partials that htmx loads into base.html's #modal
// and posts; this adds the form (window.Playground.collect(), the model and
// the mode) to whatever a [data-playground-request] element sends.
(function () {
  "use strict";

  const form = document.getElementById("run-form");
  if (!form) return;

  document.addEventListener("htmx:configRequest", (e) => {
    if (!e.detail.elt.closest("[data-playground-request]") || !window.Playground) return;
    let body;
    try {
      window.Playground.clearErrors();
      body = window.Playground.collect();
    } catch (err) {
      // The playground shows which field is wrong; say so where the user looks.
      e.preventDefault();
      const list = document.querySelector("#preset-dialog .preset-errors");
      if (list) list.textContent = "Some fields are not valid; see the form.";
      else document.getElementById("modal").textContent = "";
      return;
    }
    e.detail.parameters.mode = form.dataset.mode;
    e.detail.parameters.model = form.querySelector("[name=model]").value;
    e.detail.parameters.body = JSON.stringify(body);
    // The tool-call loop's saved results (toolform.js), kept beside the body.
    if (window.ToolForm?.mocks) e.detail.parameters.tool_mocks = JSON.stringify(window.ToolForm.mocks);
  });
})();
