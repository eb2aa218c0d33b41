// Contacts grid: "tick all on this page" and a live count of ticked rows. The grid works without it.
document.addEventListener("change", (event) => {
  const all = event.target.closest("[data-check-all]");
  if (all) {
    document.querySelectorAll('input[name="ids"][form="bulk-form"]').forEach((box) => { box.checked = all.checked; });
  }
  if (all || event.target.matches('input[name="ids"]')) {
    const n = document.querySelectorAll('input[name="ids"][form="bulk-form"]:checked').length;
    const label = document.querySelector("[data-selected-count]");
    if (label) label.textContent = n ? `(${n})` : "";
    if (n) {
      const selected = document.querySelector('input[name="scope"][value="selected"]');
      if (selected) selected.checked = true;
    }
  }
});
