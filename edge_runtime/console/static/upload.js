// Many images at once, by drag and drop or the file input: sent one per request, two at a time, with
// progress; a refused file (not an image, too large) is named with the server's reason.
"use strict";
(() => {
  const zone = document.getElementById("dropzone");
  if (!zone) return;
  const input = document.getElementById("files");
  const bar = document.getElementById("upload-progress");
  const status = document.getElementById("upload-status");
  async function send(files) {
    files = Array.from(files);
    if (!files.length) return;
    const total = files.reduce((sum, f) => sum + f.size, 0) || 1;
    const done = new Array(files.length).fill(0);
    const failures = [];
    let next = 0, stored = 0;
    bar.hidden = false;
    const update = () => {
      bar.value = done.reduce((a, b) => a + b, 0) / total;
      status.textContent = `${stored} of ${files.length} stored` + (failures.length ? `, ${failures.length} refused` : "");
    };
    async function worker() {
      while (next < files.length) {
        const i = next++;
        const file = files[i];
        try {
          await Console.upload(zone.dataset.url, file, { "X-File-Name": encodeURIComponent(file.name) },
                               (part) => { done[i] = part * file.size; update(); });
          stored++;
        } catch (err) {
          failures.push(err.message);
        }
        done[i] = file.size;
        update();
      }
    }
    await Promise.all([worker(), worker()]);
    if (failures.length) {
      Console.say(failures.join("\n"), "error");
    } else {
      window.location.reload();
    }
  }
  input.addEventListener("change", () => send(input.files));
  zone.addEventListener("dragover", (ev) => { ev.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (ev) => { ev.preventDefault(); zone.classList.remove("over"); send(ev.dataTransfer.files); });
})();
