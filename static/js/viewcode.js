// "View code": the request as curl, Python and JavaScript, rendered by the
// server (the playground's dialog, loaded with htmx; the run page has it
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
      const area = Object.assign(document.createElement("textarea"), { value: text, className: "visually-hidden" });
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

  // The playground's dialog (presets:code, loaded into #modal by htmx).
  document.addEventListener("htmx:afterSwap", (e) => initTabs(e.detail.target));
})();
