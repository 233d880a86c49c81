// Bulk selection on a list: a checkbox per row ([data-bulk-row], in the bulk form through
// its form= attribute), a select-all ([data-bulk-all]), and the action bar's count and
// buttons. Without this script the form still works: the server asks to confirm and
// reports an empty selection.
(() => {
  const rowsOf = (form) =>
    [...document.querySelectorAll("input[data-bulk-row]")].filter((box) => box.form === form);

  const update = (form) => {
    const rows = rowsOf(form);
    const checked = rows.filter((box) => box.checked).length;
    const count = form.querySelector("[data-bulk-count]");
    if (count) {
      count.textContent = checked
        ? `${checked} selected`
        : "Select rows for a bulk action";
    }
    for (const button of form.querySelectorAll("[data-bulk-action]")) {
      button.disabled = checked === 0;
    }
    for (const all of document.querySelectorAll("input[data-bulk-all]")) {
      if (all.form === form) {
        all.checked = rows.length > 0 && checked === rows.length;
        all.indeterminate = checked > 0 && checked < rows.length;
      }
    }
  };

  const updateAll = () => {
    for (const form of document.querySelectorAll("form[data-bulk]")) {
      update(form);
    }
  };

  document.addEventListener("change", (event) => {
    const box = event.target;
    if (!box.form || !box.form.matches("form[data-bulk]")) {
      return;
    }
    if (box.matches("[data-bulk-all]")) {
      for (const row of rowsOf(box.form)) {
        row.checked = box.checked;
      }
    }
    if (box.matches("[data-bulk-all], [data-bulk-row]")) {
      update(box.form);
    }
  });
  document.addEventListener("DOMContentLoaded", updateAll);
  document.addEventListener("htmx:afterSwap", updateAll);
  window.addEventListener("pageshow", updateAll); // back to the list: the browser's restored boxes
})();
