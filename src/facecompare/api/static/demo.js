"use strict";
// facecompare demo: two images (file, drag and drop, or camera) -> POST /aiface/face-compare/v1.
(function () {
  const API = "/aiface/face-compare/v1";
  const FLAGS = ["verified_document", "image1_is_document", "image2_is_document", "blur_detection"];
  const LEVELS = [
    ["err_0001", "Same person", "false accept rate 0.001 %"],
    ["err_001", "Same person", "false accept rate 0.01 %"],
    ["err_01", "Probably the same person", "false accept rate 0.1 %"],
  ];
  const slots = {};
  const $ = (id) => document.getElementById(id);
  const keyInput = $("key");
  keyInput.value = sessionStorage.getItem("facecompare-key") || "";
  keyInput.addEventListener("input", () => {
    sessionStorage.setItem("facecompare-key", keyInput.value.trim());
    update();
  });

  function update() {
    $("compare").disabled = !(slots.image1 && slots.image1.data && slots.image2 && slots.image2.data);
  }

  function draw(slot, face) {
    const { canvas, image } = slot;
    if (!image) return;
    canvas.width = image.naturalWidth || image.videoWidth || image.width;
    canvas.height = image.naturalHeight || image.videoHeight || image.height;
    const ctx = canvas.getContext("2d");
    ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
    if (face) {
      const w = Math.max(3, Math.round(canvas.width / 150));
      ctx.lineWidth = w;
      ctx.strokeStyle = "#2f6fde";
      ctx.strokeRect(face.x, face.y, face.width, face.height);
      ctx.fillStyle = "#2f6fde";
      ctx.font = `${w * 6}px system-ui, sans-serif`;
      ctx.fillText(`face ${face.score.toFixed(2)}`, face.x, Math.max(w * 6, face.y - w));
    }
  }

  function setImage(slot, dataUrl) {
    const img = new Image();
    img.onload = () => {
      slot.image = img;
      slot.data = dataUrl.slice(dataUrl.indexOf(",") + 1);
      slot.drop.classList.add("filled");
      slot.faceText.textContent = `${img.naturalWidth}×${img.naturalHeight} px`;
      draw(slot, null);
      update();
    };
    img.onerror = () => { slot.faceText.textContent = "this file cannot be shown"; };
    img.src = dataUrl;
  }

  function readFile(slot, file) {
    if (!file) return;
    const reader = new FileReader();
    reader.onload = () => setImage(slot, String(reader.result));
    reader.readAsDataURL(file);
  }

  function stopCamera(slot) {
    if (slot.stream) slot.stream.getTracks().forEach((t) => t.stop());
    slot.stream = null;
    slot.video.hidden = true;
    slot.canvas.hidden = false;
    slot.snap.hidden = true;
  }

  async function startCamera(slot) {
    try {
      slot.stream = await navigator.mediaDevices.getUserMedia({ video: { width: 1280, height: 720 } });
    } catch (err) {
      slot.faceText.textContent = `camera unavailable: ${err.name || err}`;
      return;
    }
    slot.video.srcObject = slot.stream;
    slot.video.hidden = false;
    slot.canvas.hidden = true;
    slot.drop.classList.add("filled");
    slot.snap.hidden = false;
  }

  function snap(slot) {
    const c = document.createElement("canvas");
    c.width = slot.video.videoWidth;
    c.height = slot.video.videoHeight;
    c.getContext("2d").drawImage(slot.video, 0, 0);
    stopCamera(slot);
    setImage(slot, c.toDataURL("image/jpeg", 0.95));
  }

  document.querySelectorAll(".slot").forEach((el) => {
    const slot = {
      param: el.dataset.param,
      drop: el.querySelector(".drop"),
      canvas: el.querySelector("canvas"),
      video: el.querySelector("video"),
      file: el.querySelector(".file"),
      snap: el.querySelector(".snap"),
      faceText: el.querySelector(".face"),
    };
    slots[slot.param] = slot;
    slot.drop.addEventListener("click", () => { if (!slot.stream) slot.file.click(); });
    slot.drop.addEventListener("keydown", (e) => { if (e.key === "Enter") slot.file.click(); });
    slot.file.addEventListener("change", () => readFile(slot, slot.file.files[0]));
    slot.drop.addEventListener("dragover", (e) => { e.preventDefault(); slot.drop.classList.add("over"); });
    slot.drop.addEventListener("dragleave", () => slot.drop.classList.remove("over"));
    slot.drop.addEventListener("drop", (e) => {
      e.preventDefault();
      slot.drop.classList.remove("over");
      readFile(slot, e.dataTransfer.files[0]);
    });
    el.querySelector(".cam").addEventListener("click", () => startCamera(slot));
    slot.snap.addEventListener("click", () => snap(slot));
  });

  function showScale(confidence, thresholds) {
    const scale = $("scale");
    scale.querySelectorAll(".mark").forEach((m) => m.remove());
    $("bar").style.width = `${confidence === null ? 0 : confidence}%`;
    if (!thresholds) return;
    for (const [name] of LEVELS) {
      const mark = document.createElement("div");
      mark.className = "mark";
      mark.style.left = `${thresholds[name]}%`;
      mark.innerHTML = `<span>${name}</span>`;
      scale.appendChild(mark);
    }
  }

  function row(name, value) {
    const tr = document.createElement("tr");
    const a = document.createElement("td");
    const b = document.createElement("td");
    a.textContent = name;
    b.textContent = value;
    tr.append(a, b);
    return tr;
  }

  function show(status, data, flags) {
    const result = $("result");
    const verdict = $("verdict");
    const tbody = $("numbers").querySelector("tbody");
    tbody.replaceChildren();
    result.hidden = false;
    $("error").textContent = "";
    verdict.className = "";
    const ok = typeof data.confidence === "number" && !data.error_message;
    for (const p of ["image1", "image2"]) {
      const face = ok ? data[p === "image1" ? "face1" : "face2"] : null;
      // On an ID document the face is found in the cropped, straightened document, so its
      // box is not in the photo's coordinates: it is described, not drawn.
      const onDocument = flags.includes(`${p}_is_document`) || flags.includes("verified_document");
      draw(slots[p], onDocument ? null : face);
      if (!face) slots[p].faceText.textContent = "";
      else if (onDocument) slots[p].faceText.textContent = `portrait ${face.width}×${face.height} px (on the document crop), detector score ${face.score.toFixed(2)}`;
      else slots[p].faceText.textContent = `face ${face.width}×${face.height} px at (${face.x}, ${face.y}), detector score ${face.score.toFixed(2)}`;
    }
    if (ok) {
      const t = data.thresholds;
      const level = LEVELS.find(([name]) => data.confidence >= t[name]);
      verdict.textContent = level ? `${level[1]} (${level[2]})` : "Different people";
      verdict.className = level ? "same" : "different";
      showScale(data.confidence, t);
      tbody.append(row("confidence", data.confidence.toFixed(2)));
      for (const [name, , label] of LEVELS.slice().reverse()) {
        tbody.append(row(`${name} (${label})`, `${t[name].toFixed(2)} ${data.confidence >= t[name] ? "✔ reached" : "✘ not reached"}`));
      }
      result.dataset.state = "done";
    } else {
      verdict.textContent = "No comparison";
      showScale(null, null);
      $("error").textContent = `${data.error_message || "no answer"} (HTTP ${status})`;
      result.dataset.state = "error";
    }
    tbody.append(row("flags sent", flags.length ? flags.join(", ") : "none"));
    $("meta").textContent = `request_id ${data.request_id || "?"} · time_used ${data.time_used ?? "?"} s`;
  }

  $("compare").addEventListener("click", async () => {
    const body = { image1: slots.image1.data, image2: slots.image2.data };
    const flags = FLAGS.filter((f) => $(f).checked);
    for (const f of flags) body[f] = true;
    const button = $("compare");
    button.disabled = true;
    button.textContent = "Comparing…";
    $("result").dataset.state = "busy";
    try {
      const res = await fetch(API, {
        method: "POST",
        headers: { "content-type": "application/json", "x-aigen-key": keyInput.value.trim() },
        body: JSON.stringify(body),
      });
      let data;
      try { data = await res.json(); } catch (e) { data = { error_message: "the answer is not JSON" }; }
      show(res.status, data, flags);
    } catch (err) {
      show(0, { error_message: `network error: ${err}` }, flags);
    } finally {
      button.textContent = "Compare";
      update();
    }
  });
})();
