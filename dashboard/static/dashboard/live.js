// Lists that refresh themselves. htmx polls each [data-live] region (its own URL, filters
// and page included) and swaps in the rows; a poll is skipped while the operator is busy
// with the list, so a refresh never drops a checked row, an open form or a half-typed
// reason. A file rather than an inline script or an hx-trigger filter: the
// Content-Security-Policy runs neither.
(() => {
  const busyWith = (region) => {
    if (document.querySelector("input[data-bulk-row]:checked")) {
      return "rows are selected";
    }
    if (region.querySelector("details[open]")) {
      return "a form is open";
    }
    const active = document.activeElement;
    const typing = "input:not([type=checkbox]):not([type=radio]):not([type=submit]), select, textarea";
    if (active && region.contains(active) && active.matches(typing)) {
      return "a field is in use";
    }
    return "";
  };

  const show = (region) => {
    const reason = busyWith(region);
    for (const status of document.querySelectorAll("[data-live-status]")) {
      status.textContent = reason
        ? `Live refresh paused: ${reason}`
        : status.dataset.liveText;
      status.classList.toggle("paused", Boolean(reason));
    }
    return reason;
  };

  document.addEventListener("htmx:beforeRequest", (event) => {
    const region = event.detail.elt;
    if (region.matches("[data-live]") && show(region)) {
      event.preventDefault();
    }
  });

  // A poll after the session ended is answered by the login page: go there as a whole page
  // rather than drawing it inside the list.
  document.addEventListener("htmx:beforeSwap", (event) => {
    const region = event.detail.elt;
    const answered = new URL(event.detail.xhr.responseURL || window.location.href);
    if (region.matches("[data-live]") && answered.pathname.endsWith("/login/")) {
      event.detail.shouldSwap = false;
      window.location.reload();
    }
  });

  const refreshStatus = () => {
    for (const region of document.querySelectorAll("[data-live]")) {
      show(region);
    }
  };
  for (const name of ["change", "toggle", "focusin", "focusout"]) {
    document.addEventListener(name, () => setTimeout(refreshStatus), true);
  }
})();
