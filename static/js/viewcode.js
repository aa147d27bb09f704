// "View code": the request as curl, Python and JavaScript, rendered by the
// server (POST /presets/code/ for the playground's form; the run page has it
// inline). Tabs and one-click copy buttons work wherever the snippets are.
(function () {
  "use strict";

  function selectTab(root, lang) {
    root.querySelectorAll("[data-tab]").forEach((b) => {
      b.setAttribute("aria-selected", String(b.dataset.tab === lang));
      b.classList.toggle("secondary", b.dataset.tab !== lang);  // the chosen tab is filled
    });
    root.querySelectorAll(".code-snippet").forEach((s) => (s.hidden = s.dataset.lang !== lang));
  }

  function initTabs(scope) {
    scope.querySelectorAll("[data-code-tabs]").forEach((root) => selectTab(root, "curl"));
  }

  async function copy(text) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch (e) {
      // Older browsers, or no clipboard permission: select and copy.
      const area = Object.assign(document.createElement("textarea"), { value: text });
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.append(area);
      area.select();
      const ok = document.execCommand("copy");
      area.remove();
      return ok;
    }
  }

  document.addEventListener("click", async (e) => {
    const tab = e.target.closest("[data-code-tabs] [data-tab]");
    if (tab) {
      selectTab(tab.closest("[data-code-tabs]"), tab.dataset.tab);
      return;
    }
    const button = e.target.closest("[data-copy]");
    if (button) {
      const pre = document.getElementById(button.dataset.copy);
      const ok = await copy(pre.textContent);
      button.textContent = ok ? "Copied" : "Copy failed";
      setTimeout(() => (button.textContent = "Copy"), 1500);
    }
  });

  initTabs(document);

  // The playground's button.
  const button = document.getElementById("view-code-button");
  const form = document.getElementById("run-form");
  if (!button || !form || !window.Playground) return;
  let dialog = null;

  button.addEventListener("click", async () => {
    if (!dialog) {
      document.body.append(document.getElementById("code-dialog-template").content.cloneNode(true));
      dialog = document.getElementById("code-dialog");
    }
    const target = dialog.querySelector(".code-dialog-body");
    let body;
    try {
      window.Playground.clearErrors();
      body = window.Playground.collect();
    } catch (err) {
      target.textContent = "Some fields are not valid JSON; see the form.";
      dialog.showModal();
      return;
    }
    target.textContent = "Loading…";
    if (!dialog.open) dialog.showModal();
    try {
      const response = await fetch(button.dataset.url, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Accept: "text/html",
          "X-CSRFToken": form.querySelector("[name=csrfmiddlewaretoken]")?.value || "",
        },
        // A template is shown rendered with the panel's values (variables.js).
        body: JSON.stringify({ mode: form.dataset.mode, model: form.querySelector("[name=model]").value, body,
                               variables: window.Variables && window.Variables.values() }),
        credentials: "same-origin",
      });
      // Server-rendered and escaped by Django's templates.
      target.innerHTML = await response.text();
      initTabs(target);
    } catch (err) {
      target.textContent = "The server could not be reached.";
    }
  });
})();
