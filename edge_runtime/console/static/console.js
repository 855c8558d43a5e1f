// Shared helpers: confirmation for destructive forms, JSON calls with the CSRF token, messages.
"use strict";
const Console = (() => {
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;
  function say(text, kind) {
    const box = document.getElementById("message");
    box.textContent = text;
    box.className = "flash " + (kind || "error");
    box.hidden = !text;
  }
  async function call(url, body, contentType) {
    const headers = { "X-CSRF-Token": csrf(), "Accept": "application/json" };
    if (contentType) headers["Content-Type"] = contentType;
    const response = await fetch(url, { method: "POST", headers, body, credentials: "same-origin" });
    const data = await response.json().catch(() => ({ error: "the server answered " + response.status }));
    if (!response.ok) throw new Error(data.error || ("the server answered " + response.status));
    return data;
  }
  function upload(url, file, headers, onProgress) {
    // XMLHttpRequest: fetch has no upload progress events.
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.setRequestHeader("X-CSRF-Token", csrf());
      xhr.setRequestHeader("Accept", "application/json");
      for (const [k, v] of Object.entries(headers || {})) xhr.setRequestHeader(k, v);
      xhr.upload.onprogress = (ev) => ev.lengthComputable && onProgress && onProgress(ev.loaded / ev.total);
      xhr.onload = () => {
        let data = {};
        try { data = JSON.parse(xhr.responseText); } catch (e) { data = { error: "the server answered " + xhr.status }; }
        xhr.status < 300 ? resolve(data) : reject(new Error(data.error || ("the server answered " + xhr.status)));
      };
      xhr.onerror = () => reject(new Error("the upload of " + file.name + " failed (network)"));
      xhr.send(file);
    });
  }
  document.addEventListener("submit", (ev) => {
    const text = ev.target.dataset && ev.target.dataset.confirm;
    if (text && !window.confirm(text)) ev.preventDefault();
  });
  return { csrf, say, call, upload };
})();
// Pages of running work (a packaging job) reload themselves until it finishes.
(() => {
  const section = document.querySelector("[data-refresh]");
  if (section) setTimeout(() => window.location.reload(), 1000 * Number(section.dataset.refresh));
})();
