// Service worker for web push, served at /push/<token>/sw.js so its scope is that page.
// Payload (channels/providers/webpush.py): {title, body, url, icon, image, id}.

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("push", (event) => {
  let data = {};
  if (event.data) {
    try {
      data = event.data.json();
    } catch (e) {
      data = { body: event.data.text() };
    }
  }
  const options = {
    body: data.body || "",
    data: { url: data.url || "" },
  };
  if (data.icon) options.icon = data.icon;
  if (data.image) options.image = data.image;
  if (data.id) options.tag = data.id; // a retried delivery replaces, never duplicates
  event.waitUntil(self.registration.showNotification(data.title || "Notification", options));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = (event.notification.data && event.notification.data.url) || "";
  if (!url) return;
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      for (const client of windows) {
        if (client.url === url && "focus" in client) return client.focus();
      }
      return self.clients.openWindow(url);
    })
  );
});

// Browsers may rotate a subscription; re-subscribe with the same key and tell the server.
self.addEventListener("pushsubscriptionchange", (event) => {
  const old = event.oldSubscription;
  if (!old || !old.options) return;
  event.waitUntil(
    self.registration.pushManager.subscribe(old.options).then((subscription) => {
      const json = subscription.toJSON();
      return fetch(self.registration.scope + "subscribe", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        credentials: "omit",
        body: JSON.stringify({ endpoint: json.endpoint, keys: json.keys, user_agent: navigator.userAgent, replaces: old.endpoint }),
      });
    })
  );
});
