// Labelling: N / A mark normal or anomaly, S saves the painted mask as an anomaly; P / E paint or erase,
// 1-9 pick a class, [ and ] change the brush, arrows move through the filtered images.
"use strict";
(() => {
  const editor = document.getElementById("editor");
  if (!editor) return;
  const picture = document.getElementById("picture");
  const canvas = document.getElementById("mask");
  const ctx = canvas.getContext("2d");
  const brush = document.getElementById("brush");
  const classButtons = Array.from(document.querySelectorAll("#classes button[data-class]"));
  let color = classButtons.length ? classButtons[0].dataset.color : null;
  let erasing = false, painted = false, drawing = false;

  function pick(button) {
    classButtons.forEach((b) => b.classList.toggle("on", b === button));
    color = button.dataset.color;
    erasing = false;
  }
  if (classButtons.length) pick(classButtons[0]);
  classButtons.forEach((b) => b.addEventListener("click", () => pick(b)));

  function setup() {
    canvas.width = picture.naturalWidth;
    canvas.height = picture.naturalHeight;
    if (!editor.dataset.mask) return;
    const mask = new Image();
    mask.onload = () => {
      ctx.drawImage(mask, 0, 0, canvas.width, canvas.height);
      const pixels = ctx.getImageData(0, 0, canvas.width, canvas.height);
      for (let i = 0; i < pixels.data.length; i += 4) {  // white is background: transparent while painting
        if (pixels.data[i] > 250 && pixels.data[i + 1] > 250 && pixels.data[i + 2] > 250) pixels.data[i + 3] = 0;
      }
      ctx.putImageData(pixels, 0, 0);
      painted = true;
    };
    mask.src = editor.dataset.mask;
  }
  picture.complete ? setup() : picture.addEventListener("load", setup);

  let last = null;
  function dab(ev) {  // a round-capped stroke from the last point, so fast moves leave no gaps
    const rect = canvas.getBoundingClientRect();
    const x = (ev.clientX - rect.left) * canvas.width / rect.width;
    const y = (ev.clientY - rect.top) * canvas.height / rect.height;
    const radius = Math.max(Number(brush.value) * canvas.width / 512, 0.5);
    ctx.globalCompositeOperation = erasing ? "destination-out" : "source-over";
    ctx.strokeStyle = ctx.fillStyle = color || "#000000";
    ctx.lineWidth = 2 * radius;
    ctx.lineCap = "round";
    ctx.beginPath();
    if (last) { ctx.moveTo(last.x, last.y); ctx.lineTo(x, y); ctx.stroke(); }
    else { ctx.arc(x, y, radius, 0, Math.PI * 2); ctx.fill(); }
    last = { x, y };
    painted = true;
  }
  canvas.addEventListener("pointerdown", (ev) => {
    if (!color && !erasing) { Console.say("Add a class first: the mask is painted in class colours."); return; }
    drawing = true; canvas.setPointerCapture(ev.pointerId); dab(ev);
  });
  canvas.addEventListener("pointermove", (ev) => drawing && dab(ev));
  canvas.addEventListener("pointerup", () => { drawing = false; last = null; });

  async function save(label) {
    const body = { label, mask: label === 1 && painted ? canvas.toDataURL("image/png") : null };
    try {
      await Console.call(editor.dataset.save, JSON.stringify(body), "application/json");
      const word = label ? "anomaly" : "normal";
      const current = document.getElementById("current-label");
      current.textContent = word; current.className = "label-" + word;
      Console.say("Saved as " + word + (body.mask ? " with its mask" : "") + ".", "ok");
      if (editor.dataset.next) window.location.href = editor.dataset.next;
    } catch (err) {
      Console.say(err.message, "error");
    }
  }
  document.getElementById("mark-normal").addEventListener("click", () => save(0));
  document.getElementById("mark-anomaly").addEventListener("click", () => save(1));
  document.getElementById("save-mask").addEventListener("click", () => save(1));
  document.getElementById("tool-paint").addEventListener("click", () => { erasing = false; });
  document.getElementById("tool-erase").addEventListener("click", () => { erasing = true; });
  document.getElementById("clear-mask").addEventListener("click", () => {
    ctx.clearRect(0, 0, canvas.width, canvas.height); painted = false;
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.target.tagName === "INPUT" || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const key = ev.key.toLowerCase();
    if (key === "n") save(0);
    else if (key === "a") save(1);
    else if (key === "s") { ev.preventDefault(); save(1); }
    else if (key === "p") erasing = false;
    else if (key === "e") erasing = true;
    else if (key === "[") brush.value = Math.max(1, Number(brush.value) - 2);
    else if (key === "]") brush.value = Math.min(64, Number(brush.value) + 2);
    else if (key === "arrowright" && editor.dataset.next) window.location.href = editor.dataset.next;
    else if (key === "arrowleft" && editor.dataset.prev) window.location.href = editor.dataset.prev;
    else if (/^[1-9]$/.test(key) && classButtons[Number(key) - 1]) pick(classButtons[Number(key) - 1]);
  });
})();
