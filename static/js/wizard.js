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

// WhatsApp: show the template fields or the session text, whichever the message type uses.
function syncWhatsApp() {
  const mode = document.querySelector("input[name='whatsapp-mode']:checked");
  if (!mode) return;
  const session = mode.value === "session";
  const show = (id, visible) => {
    const field = document.getElementById(id)?.closest(".field");
    if (field) field.hidden = !visible;
  };
  show("id_whatsapp-template", !session);
  show("id_whatsapp-variables", !session);
  show("id_whatsapp-session_text", session);
}
document.addEventListener("change", syncWhatsApp);
document.addEventListener("DOMContentLoaded", syncWhatsApp);

// Fields that only matter for one choice (data-show-if="send_mode=scheduled") hide otherwise.
// Without JavaScript everything shows; the server ignores what the choice does not use.
function syncShowIf() {
  document.querySelectorAll("[data-show-if]").forEach((block) => {
    const [name, wanted] = block.dataset.showIf.split("=");
    const inputs = document.querySelectorAll(`[name="${name}"]`);
    let value = "";
    inputs.forEach((input) => {
      if (input.type === "radio") { if (input.checked) value = input.value; } else value = input.value;
    });
    block.hidden = value !== wanted;
  });
}
document.addEventListener("change", syncShowIf);
document.addEventListener("DOMContentLoaded", syncShowIf);
