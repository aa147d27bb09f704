// Every page: the theme toggle, the keyboard-shortcut list (`?`), the
// dialog that the Django-form partials are loaded into with htmx, and the
// small behaviours templates ask for with data attributes instead of inline
// handlers (data-confirm, data-select-on-click).
(function () {
  "use strict";

  const root = document.documentElement;
  const toggle = document.getElementById("theme-toggle");
  const dark = window.matchMedia("(prefers-color-scheme: dark)");

  function current() {
    return root.dataset.theme || (dark.matches ? "dark" : "light");
  }
  function show() {
    const theme = current();
    toggle.setAttribute("aria-pressed", String(theme === "dark"));
    toggle.querySelector(".theme-label").textContent = theme === "dark" ? "Light" : "Dark";
    toggle.title = theme === "dark" ? "Switch to the light theme" : "Switch to the dark theme";
  }
  function flip() {
    const next = current() === "dark" ? "light" : "dark";
    root.dataset.theme = next;
    // Remembered, and applied by base.html's head script before the next page paints.
    try { localStorage.setItem("theme", next); } catch (e) { /* private mode: this page only */ }
    show();
  }
  if (toggle) {
    toggle.addEventListener("click", flip);
    dark.addEventListener("change", show);
    show();
  }

  const shortcuts = document.getElementById("shortcuts");
  document.getElementById("shortcuts-button")?.addEventListener("click", () => shortcuts.showModal());

  function typing(target) {
    return target.closest("input, textarea, select, [contenteditable]");
  }
  document.addEventListener("keydown", (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey) return;
    if (e.key === "?" && !typing(e.target) && !document.querySelector("dialog[open]")) {
      e.preventDefault();
      shortcuts.showModal();
    } else if (e.altKey && (e.key === "t" || e.key === "T" || e.code === "KeyT")) {
      e.preventDefault();
      flip();
    }
  });

  // The form dialogs: a button with hx-get="…" hx-target="#modal" loads a
  // partial (a Django form) into #modal, which opens; the partial posts
  // itself with hx-post and is swapped in again with its errors; on success
  // the server answers with a [data-dialog-done] mark (and out-of-band
  // updates of the page), and the dialog closes.
  const modal = document.getElementById("modal");
  document.addEventListener("htmx:afterSwap", (e) => {
    if (!modal) return;
    if (modal.querySelector("[data-dialog-done]")) modal.close();
    else if (e.detail.target === modal && !modal.open) modal.showModal();
  });
  // A form refused with 400 comes back with its errors beside its fields:
  // swap it in (htmx leaves 4xx answers out by default).
  document.addEventListener("htmx:beforeSwap", (e) => {
    const target = e.detail.target;
    if (e.detail.xhr.status === 400 && target && target.closest("#modal, .htmx-form")) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });
  modal?.addEventListener("close", () => { modal.textContent = ""; });
  modal?.addEventListener("click", (e) => {
    if (e.target.closest("[data-close-modal]")) {
      e.preventDefault();  // a Cancel link is for pages without the dialog
      modal.close();
    }
  });

  // <form data-confirm="Delete this run?">: asked before it is sent; Cancel
  // sends nothing. Delegated, so forms swapped in later by htmx have it too.
  document.addEventListener("submit", (e) => {
    const form = e.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) {
      e.preventDefault();
      e.stopImmediatePropagation();  // nor by htmx
    }
  }, true);
  // <input data-select-on-click>: a link to copy, selected whole on click.
  document.addEventListener("click", (e) => {
    e.target.closest?.("input[data-select-on-click]")?.select();
  });
})();
