// Small progressive enhancements; every page works without them. No inline scripts (CSP).
document.addEventListener("click", (event) => {
  const dismiss = event.target.closest("[data-dismiss]");
  if (dismiss) dismiss.parentElement.remove();

  const copy = event.target.closest("[data-copy]");
  if (copy) {
    const input = document.querySelector(copy.dataset.copy);
    if (input) {
      input.select();
      navigator.clipboard?.writeText(input.value);
      copy.textContent = "Copied";
    }
  }

  const confirmable = event.target.closest("[data-confirm]");
  if (confirmable && !window.confirm(confirmable.dataset.confirm)) event.preventDefault();
});

// Close an open <details> menu when clicking elsewhere.
document.addEventListener("click", (event) => {
  document.querySelectorAll("details.menu[open]").forEach((menu) => {
    if (!menu.contains(event.target)) menu.removeAttribute("open");
  });
});
