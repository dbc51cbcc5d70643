// Many files, dropped or chosen: one POST /gather/uploads per file (field `files`) so each
// has its own progress bar, then GET /images/<id> until the pipeline has enriched or failed it.
// Uploading needs a sign-in with the `write` scope: signed out, the file chooser is disabled and
// says so, and a drop is answered with the same words.
import {getJSON, unauthorized} from "./api.js";
import {$, el, fill, imageUrl, shortId} from "./dom.js";
import {colourSwatch} from "./recommend.js";
import * as session from "./session.js";

const CONCURRENT = 3;
const POLL_MS = 1000;
const POLL_FOR_MS = 15 * 60 * 1000;
const queue = [];
let running = 0;

function row(file) {
  const progress = el("progress", {max: 1, value: 0, "aria-label": `upload of ${file.name}`});
  const upload = el("span", {class: "upload-state", text: "waiting"});
  const tr = el("tr", {class: "upload", "data-file": file.name},
    el("th", {scope: "row", text: file.name}),
    el("td", {}, progress, " ", upload),
    el("td", {class: "image-id"}),
    el("td", {class: "pipeline", role: "status"}),
    el("td", {class: "preview"}));
  $("#uploads tbody").append(tr);
  return {tr, progress, upload};
}

function send(file, r) {
  return new Promise((resolve) => {
    const data = new FormData();
    data.append("files", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/gather/uploads");
    xhr.responseType = "text";
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) r.progress.value = e.loaded / e.total;
      r.upload.textContent = e.lengthComputable ? `${Math.round((100 * e.loaded) / e.total)}%` : "sending…";
    });
    xhr.addEventListener("load", () => {
      r.progress.value = 1;
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { /* plain-text error */ }
      if (xhr.status === 202 && body && body.images && body.images.length) {
        const image = body.images[0];
        r.upload.textContent = image.duplicate ? "already stored" : "stored";
        r.tr.dataset.state = "stored";
        resolve(image.id);
      } else {
        let reason = body && body.rejected && body.rejected.length ? body.rejected[0].reason
          : (body && body.error) || xhr.responseText || xhr.statusText;
        if (xhr.status === 401) reason = unauthorized(reason);
        r.upload.textContent = `refused: ${reason} (HTTP ${xhr.status})`;
        r.tr.dataset.state = "refused";
        r.tr.classList.add("failed");
        resolve(null);
      }
    });
    const fail = (what) => () => {
      r.upload.textContent = what;
      r.tr.dataset.state = "refused";
      r.tr.classList.add("failed");
      resolve(null);
    };
    xhr.addEventListener("error", fail("network error: the gateway could not be reached"));
    xhr.addEventListener("abort", fail("aborted"));
    r.upload.textContent = "sending…";
    xhr.send(data);
  });
}

function describe(image) {
  const parts = [image.status];
  if (image.status === "enriched") {
    const tags = image.tags ? Object.keys(image.tags) : [];
    if (image.tags_status && image.tags_status !== "ok") parts.push(`tags ${image.tags_status}`);
    else parts.push(tags.length ? `tags: ${tags.join(", ")}` : "no tags found");
    if (image.exif && image.exif.Make) parts.push(`camera ${image.exif.Make}`);
    if (image.country) parts.push(image.country);
  } else if (image.status === "failed") {
    const reasons = (image.dead_letters || []).map((d) => `${d.stage}: ${d.reason}`);
    parts.push(image.error || reasons.join("; ") || "no reason recorded");
  } else {
    parts.push("in the pipeline…");
  }
  return parts.join(" · ");
}

async function follow(id, r) {
  const cell = r.tr.querySelector(".pipeline");
  const deadline = Date.now() + POLL_FOR_MS;
  for (;;) {
    try {
      const image = await getJSON(`/images/${encodeURIComponent(id)}`);
      r.tr.dataset.status = image.status;
      cell.textContent = describe(image);
      if (image.status === "enriched" || image.status === "failed") {
        r.tr.classList.toggle("failed", image.status === "failed");
        if (image.status === "enriched") {
          fill(r.tr.querySelector(".preview"),
            el("img", {src: imageUrl(id), alt: `Thumbnail of ${r.tr.dataset.file}`, class: "mini"}),
            (image.colors || []).map((c) => colourSwatch(c.hex)));
        }
        return;
      }
    } catch (exc) {
      cell.textContent = exc.message;
    }
    if (Date.now() > deadline) {
      cell.textContent += " (stopped watching)";
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

async function work() {
  while (running < CONCURRENT && queue.length) {
    const [file, r] = queue.shift();
    running += 1;
    send(file, r).then((id) => {
      running -= 1;
      work();
      if (id) {
        fill(r.tr.querySelector(".image-id"),
          el("a", {href: `/images/${encodeURIComponent(id)}`, target: "_blank", rel: "noopener",
                   title: id, "data-id": id, text: shortId(id)}));
        follow(id, r);
      }
    });
  }
}

export function add(files) {
  $("#upload-error").textContent = "";
  const list = Array.from(files || []);
  if (!list.length) return;
  if (!session.check("write", "upload", $("#upload-error"))) return;
  for (const file of list) queue.push([file, row(file)]);
  work();
}

export function init() {
  const input = $("#upload-files");
  input.addEventListener("change", () => {
    add(input.files);
    input.value = "";   // the same file may be chosen again
  });
  const zone = $("#dropzone");
  for (const name of ["dragenter", "dragover"]) {
    zone.addEventListener(name, (e) => {
      e.preventDefault();
      e.dataTransfer.dropEffect = "copy";
      zone.classList.add("over");
    });
  }
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    const files = Array.from(e.dataTransfer.files || []);
    if (!files.length) $("#upload-error").textContent = "Nothing to upload: drop image files.";
    add(files);
  });
  session.onChange(() => {
    const why = session.refusal("write", "upload");
    input.disabled = Boolean(why);
    zone.classList.toggle("locked", Boolean(why));
    $("#upload-signin").textContent = why;
    if (!why) $("#upload-error").textContent = "";
  });
  // A file dropped next to the zone would make the browser leave the page.
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());
}
