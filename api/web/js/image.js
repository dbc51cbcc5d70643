// One image on a page of its own (#image/<id>): the photo with the boxes the detector found
// drawn over it (a toggle), its four colours, tags with scores and sources, the EXIF fields it
// has in readable units, a pin on an offline world map, near-duplicates, more like this, and
// like / dislike.
import {api, getJSON} from "./api.js";
import {$, el, fill, imageUrl, shortId, time} from "./dom.js";
import {tile} from "./gallery.js";
import * as session from "./session.js";
import {colourSwatch} from "./recommend.js";

const MORE = 12;
let current = null;   // the id shown, so that a late answer for another image is dropped
let world = null;

function svg(tag, attrs = {}, text) {
  // The namespace of the page's own SVG elements (no address written out in the page's code).
  const node = document.createElementNS($("#image-boxes").namespaceURI, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

const round = (value, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

/** EXIF fields, as a person reads them; unknown fields keep their raw value. */
export function readable(exif) {
  const out = [];
  const add = (name, value) => { if (value !== undefined && value !== null && value !== "") out.push([name, String(value)]); };
  add("Camera", [exif.Make, exif.Model].filter(Boolean).join(" "));
  add("Lens", exif.LensModel);
  if (exif.DateTimeOriginal) add("Taken", time(exif.DateTimeOriginal));
  if (exif.ExposureTime) {
    add("Exposure", exif.ExposureTime >= 1 ? `${round(exif.ExposureTime)} s` : `1/${Math.round(1 / exif.ExposureTime)} s`);
  }
  if (exif.FNumber) add("Aperture", `f/${round(exif.FNumber)}`);
  if (exif.FocalLength) add("Focal length", `${round(exif.FocalLength)} mm`);
  if (exif.ISOSpeedRatings) add("ISO", exif.ISOSpeedRatings);
  if (exif.ExposureBiasValue) add("Exposure bias", `${exif.ExposureBiasValue > 0 ? "+" : ""}${round(exif.ExposureBiasValue)} EV`);
  if (exif.Latitude !== undefined && exif.Longitude !== undefined) {
    add("Position", `${Math.abs(round(exif.Latitude, 4))}° ${exif.Latitude >= 0 ? "N" : "S"}, ` +
      `${Math.abs(round(exif.Longitude, 4))}° ${exif.Longitude >= 0 ? "E" : "W"}`);
  }
  if (exif.Altitude !== undefined) add("Altitude", `${round(exif.Altitude)} m`);
  add("Software", exif.Software);
  add("Copyright", exif.Copyright);
  return out;
}

function boxes(body) {
  const overlay = $("#image-boxes");
  overlay.replaceChildren();
  const width = body.width || 1;
  const height = body.height || 1;
  overlay.setAttribute("viewBox", `0 0 ${width} ${height}`);
  let n = 0;
  const side = Math.max(width, height);
  const stroke = Math.max(1, Math.round(side / 300));
  const font = Math.max(6, Math.round(side / 32));
  for (const [label, tag] of Object.entries(body.tags || {})) {
    for (const [x0, y0, x1, y1] of tag.boxes || []) {
      n += 1;
      const group = svg("g", {class: "box", "data-label": label});
      group.append(
        svg("rect", {x: x0, y: y0, width: x1 - x0, height: y1 - y0, "stroke-width": stroke, "data-label": label}),
        svg("text", {x: x0 + stroke * 2, y: y0 + stroke * 2, "font-size": font, "dominant-baseline": "hanging"},
          `${label} ${Math.round(tag.score * 100)}%`));
      overlay.append(group);
    }
  }
  $("#image-box-count").textContent = n ? `${n} object${n === 1 ? "" : "s"}` : "no objects detected";
  overlay.hidden = !$("#image-show-boxes").checked;
}

function tags(body) {
  const rows = [];
  for (const [label, tag] of Object.entries(body.tags || {})) rows.push([label, tag.score, `detector (${tag.count}×)`]);
  for (const [label, p] of Object.entries(body.clip_tags || {})) rows.push([label, p, "CLIP"]);
  for (const keyword of body.keywords || []) rows.push([keyword, null, "dataset"]);
  fill($("#image-tags tbody"), rows.length ? rows.map(([label, score, source]) => el("tr", {},
    el("th", {scope: "row"}, el("a", {href: `#gallery?${new URLSearchParams({tag: label})}`, text: label})),
    el("td", {text: score === null ? "—" : `${Math.round(score * 100)}%`}),
    el("td", {text: source}))) : el("tr", {}, el("td", {colspan: 3, text: "no tags"})));
}

function colours(body) {
  fill($("#image-colors"), (body.colors || []).map((c) => el("li", {},
    colourSwatch(c.hex), el("span", {class: "hex", text: c.hex}), ` ${c.name || ""} · ${c.family || ""} · `,
    el("span", {class: "coverage", text: `${round(c.coverage)}%`}))));
  if (!(body.colors || []).length) fill($("#image-colors"), el("li", {text: "not known yet"}));
}

async function place(body) {
  const exif = body.exif || {};
  const map = $("#image-map");
  const has = typeof exif.Latitude === "number" && typeof exif.Longitude === "number";
  $("#image-country").textContent = has
    ? `${body.country ? `${body.country}: ` : ""}${readable({Latitude: exif.Latitude, Longitude: exif.Longitude})[0][1]}`
    : "No position recorded.";
  map.hidden = !has;
  map.replaceChildren();
  if (!has) return;
  if (!world) world = getJSON("/ui/world.json").catch(() => ({points: []}));
  const {points} = await world;
  // Equirectangular, north up: x = longitude, y = −latitude (the SVG's y grows downwards).
  map.append(svg("path", {class: "land", d: points.map(([lat, lon]) => `M${lon} ${-lat}h0.01`).join("")}));
  map.append(svg("circle", {class: "pin", cx: exif.Longitude, cy: -exif.Latitude, r: 3,
    "data-lat": exif.Latitude, "data-lon": exif.Longitude}));
}

async function related(id) {
  const similar = $("#image-similar");
  fill(similar, el("li", {class: "hint", text: "looking…"}));
  try {
    const body = await getJSON(`/recommend/similar/${encodeURIComponent(id)}?limit=${MORE}`);
    if (current !== id) return;
    fill(similar, body.results.length ? body.results.map((r) => tile({...r, alt: `Photo like ${shortId(id)}`}))
      : el("li", {class: "hint", text: "nothing alike yet"}));
  } catch (exc) {
    if (current === id) fill(similar, el("li", {class: "hint", text: exc.message}));
  }
}

async function opinion(id, signal) {
  const out = $("#image-outcome");
  out.className = "outcome";
  if (!session.check("write", signal, out)) return;
  try {
    await api("POST", "/recommend/feedback", {image: id, signal});
    document.querySelectorAll("#image-actions button.opinion").forEach((b) =>
      b.setAttribute("aria-pressed", String(b.dataset.signal === signal)));
    out.textContent = `${signal === "like" ? "Liked" : "Disliked"}: sent to ${session.user()}'s profile`;
    out.className = "outcome sent";
  } catch (exc) {
    out.textContent = exc.message;
    out.className = "outcome error";
  }
}

/** The page for image ``id``. */
export async function show(id) {
  current = id;
  $("#image-error").textContent = "";
  $("#image-heading").textContent = `Image ${shortId(id)}`;
  document.title = `Viewfinder — image ${shortId(id)}`;
  const photo = $("#image-photo");
  photo.removeAttribute("src");
  photo.alt = "";
  fill($("#image-duplicates"));
  fill($("#image-similar"));
  fill($("#image-actions"),
    ...[["like", "Like"], ["dislike", "Dislike"]].map(([signal, label]) => session.gate(el("button", {
      type: "button", class: `opinion ${signal}`, "data-signal": signal, "aria-pressed": "false", text: label,
      onclick: () => opinion(id, signal),
    }), "write", signal, {context: `image ${shortId(id)}`})),
    el("a", {href: imageUrl(id, false), target: "_blank", rel: "noopener", text: "Original file"}));
  $("#image-outcome").textContent = "";
  let body;
  try {
    body = await getJSON(`/images/${encodeURIComponent(id)}`);
  } catch (exc) {
    if (current === id) $("#image-error").textContent = exc.message;
    return;
  }
  if (current !== id) return;
  const labels = Object.keys(body.tags || {}).concat(Object.keys(body.clip_tags || {}), body.keywords || []);
  $("#image-heading").textContent = body.filename || `Image ${shortId(id)}`;
  document.title = `Viewfinder — ${body.filename || `image ${shortId(id)}`}`;
  photo.alt = labels.length ? `Photo: ${[...new Set(labels)].slice(0, 5).join(", ")}` : `Photo ${body.filename || shortId(id)}`;
  photo.src = body.url;
  photo.width = body.width || 0;
  photo.height = body.height || 0;
  boxes(body);
  colours(body);
  tags(body);
  const facts = readable(body.exif || {});
  if (body.width && body.height) facts.push(["Size", `${body.width} × ${body.height} px (${body.orientation})`]);
  if (body.size_bytes) facts.push(["File", `${round(body.size_bytes / 1024)} KiB, ${body.content_type}`]);
  facts.push(["Arrived", time(body.arrived_at)], ["Status", body.status]);
  fill($("#image-exif"), facts.map(([name, value]) => [el("dt", {text: name}), el("dd", {text: value})]));
  fill($("#image-duplicates"), (body.near_duplicates || []).length
    ? body.near_duplicates.map((d) => tile({id: d.id, alt: `Near-duplicate ${shortId(d.id)}`}, `${d.distance} bits apart`))
    : el("li", {class: "hint", text: "none"}));
  await Promise.all([place(body), related(id)]);
  if (current === id && !$("#page-image").hidden) $("#image-heading").focus({preventScroll: true});
}

export function init() {
  $("#image-show-boxes").addEventListener("change", (e) => { $("#image-boxes").hidden = !e.target.checked; });
}
