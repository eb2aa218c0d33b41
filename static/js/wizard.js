// Campaign wizard: "Use this" on an AI variant fills the channel's fields (the draft is saved
// with the form). No inline scripts (CSP); htmx does the rest.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-fill]");
  if (!button) return;
  const values = JSON.parse(button.dataset.fill);
  for (const [id, value] of Object.entries(values)) {
    const field = document.getElementById(id);
    if (!field) continue;
    field.value = value;
    field.dispatchEvent(new Event("input", { bubbles: true }));  // refreshes the SMS counter
  }
  button.textContent = "Filled ✓";
});

// Audience: the segment, list and tag choices only matter when "chosen" is selected.
function syncAudience() {
  const chosen = document.querySelector("input[name=target][value=choose]");
  const box = document.getElementById("audience-choices");
  if (chosen && box) box.classList.toggle("is-muted", !chosen.checked);
}
document.addEventListener("change", syncAudience);
document.addEventListener("DOMContentLoaded", syncAudience);
