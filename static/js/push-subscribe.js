// Web push subscribe page (templates/channels/push_subscribe.html). No inline script (CSP).
// Flow: ask permission -> register the service worker -> subscribe with the tenant's VAPID key
// -> POST the subscription (endpoint, keys, user agent, optional email) to the page's endpoint.
(function () {
  "use strict";

  function keyBytes(base64url) {
    const padding = "=".repeat((4 - (base64url.length % 4)) % 4);
    const raw = atob((base64url + padding).replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(raw, (ch) => ch.charCodeAt(0));
  }

  function supported() {
    return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
  }

  async function subscribe(root) {
    await navigator.serviceWorker.register(root.dataset.swUrl, { scope: root.dataset.scope });
    const registration = await navigator.serviceWorker.ready;
    let subscription = await registration.pushManager.getSubscription();
    if (!subscription) {
      subscription = await registration.pushManager.subscribe({
        userVisibleOnly: true,
        applicationServerKey: keyBytes(root.dataset.publicKey),
      });
    }
    const json = subscription.toJSON();
    const email = root.querySelector("input[name=email]");
    const response = await fetch(root.dataset.subscribeUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "omit",
      body: JSON.stringify({
        endpoint: json.endpoint,
        keys: json.keys,
        user_agent: navigator.userAgent,
        email: email ? email.value.trim() : "",
      }),
    });
    if (!response.ok) {
      let detail = "";
      try { detail = (await response.json()).error || ""; } catch (e) { /* not JSON */ }
      throw new Error(detail || "The subscription could not be saved (" + response.status + ").");
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const root = document.getElementById("push-subscribe");
    if (!root) return;
    const button = root.querySelector("[data-push-enable]");
    const status = root.querySelector("[data-push-status]");
    const say = (text, kind) => {
      status.textContent = text;
      status.className = "push-status" + (kind ? " push-status-" + kind : "");
    };

    if (!supported()) {
      button.disabled = true;
      say("This browser does not support web notifications.", "error");
      return;
    }
    if (Notification.permission === "denied") {
      say("Notifications are blocked for this site. Allow them in your browser's site settings, then try again.", "error");
    }

    button.addEventListener("click", async () => {
      button.disabled = true;
      say("Asking your browser…");
      try {
        const permission = await Notification.requestPermission();
        if (permission !== "granted") {
          say("Notifications were not allowed.", "error");
          return;
        }
        await subscribe(root);
        button.textContent = "Notifications enabled";
        say("You're subscribed. You'll get notifications even when this page is closed.", "success");
      } catch (error) {
        say(error.message || "Something went wrong; please try again.", "error");
      } finally {
        if (button.textContent !== "Notifications enabled") button.disabled = false;
      }
    });
  });
})();
