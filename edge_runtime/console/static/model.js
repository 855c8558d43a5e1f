// Live training and hosting status: polls the model once a second and reloads when it settles.
"use strict";
(() => {
  const box = document.getElementById("model-status");
  if (!box) return;
  const done = box.dataset.done.split(" ");
  const status = document.getElementById("status");
  const message = document.getElementById("status-message");
  if (done.includes(status.textContent) && status.textContent !== "HOSTING_FAILED") return;
  const started = status.textContent;
  async function poll() {
    try {
      const response = await fetch(box.dataset.statusUrl, { headers: { Accept: "application/json" } });
      const data = await response.json();
      status.textContent = data.status;
      message.textContent = data.message;
      if (data.status !== started && done.includes(data.status)) { window.location.reload(); return; }
    } catch (err) { /* a missed poll is retried */ }
    setTimeout(poll, 1000);
  }
  setTimeout(poll, 500);
})();
