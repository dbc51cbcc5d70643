// The collection as a gallery of thumbnails, newest first (GET /images, a keyset cursor per
// page, the next page loaded as the end of the grid scrolls into view), its filters kept in the
// address; and free-text search (GET /recommend/search) shown in the same grid.
import {getJSON} from "./api.js";
import {$, el, fill, imageUrl} from "./dom.js";

export const PAGE = 48;
const FILTERS = ["color", "orientation", "tag", "make", "taken_from", "taken_to"];

let shown = {key: null, next: null, loading: null, count: 0};
let observer = null;
const form = () => $("#gallery-filters");

/** Alt text from what is known of an image: its best tags, else its file name. */
export function altText(item) {
  const tags = Object.keys(item.tags || {}).slice(0, 3);
  if (tags.length) return `Photo: ${tags.join(", ")}`;
  return item.filename ? `Photo ${item.filename}` : "Photo";
}

export function tile(item, caption) {
  const id = String(item.id);
  const img = el("img", {src: item.thumbnail || imageUrl(id), alt: item.alt || altText(item), loading: "lazy",
    decoding: "async", class: "thumb"});
  if (item.width && item.height) {  // the grid keeps its shape before the thumbnails arrive
    img.width = 320;
    img.height = Math.max(1, Math.round((320 * item.height) / item.width));
  }
  return el("li", {class: "tile", "data-id": id},
    el("a", {href: `#image/${encodeURIComponent(id)}`}, img),
    caption ? el("p", {class: "caption", text: caption}) : null);
}

function params(source) {
  const out = new URLSearchParams();
  for (const name of FILTERS) {
    const value = (source.get(name) || "").trim();
    if (value) out.set(name, value);
  }
  return out;
}

function say(text) {
  $("#gallery-count").textContent = text;
}

function error(text) {
  $("#gallery-error").textContent = text || "";
}

async function loadMore() {
  if (shown.loading || shown.next === undefined || shown.mode !== "collection") return;
  const key = shown.key;
  const query = new URLSearchParams(shown.filters);
  query.set("limit", String(PAGE));
  if (shown.next) query.set("cursor", shown.next);
  const grid = $("#gallery-grid");
  grid.setAttribute("aria-busy", "true");
  shown.loading = getJSON(`/images?${query}`);
  try {
    const body = await shown.loading;
    if (shown.key !== key) return;   // the filters changed meanwhile
    grid.append(...body.images.map((item) => tile(item)));
    shown.count = body.count;
    shown.next = body.next ?? undefined;
    const total = grid.children.length;
    say(body.count ? `${body.count} image${body.count === 1 ? "" : "s"}${total < body.count ? `, ${total} shown` : ""}`
      : "No images match these filters.");
    $("#gallery-more-button").hidden = shown.next === undefined;
  } catch (exc) {
    if (shown.key === key) error(exc.message);
  } finally {
    if (shown.key === key) shown.loading = null;
    grid.setAttribute("aria-busy", "false");
  }
  // A tall screen may show the end of the grid already: keep filling it.
  if (shown.key === key && shown.next !== undefined && nearEnd()) loadMore();
}

function nearEnd() {
  const rect = $("#gallery-more").getBoundingClientRect();
  return rect.top < window.innerHeight + 400;
}

function reset(key, mode, heading) {
  shown = {key, mode, next: null, loading: null, count: 0, filters: null};
  fill($("#gallery-grid"));
  error("");
  say("");
  $("#gallery-more-button").hidden = true;
  $("#gallery-heading").textContent = heading;
}

/** The collection for the filters in ``query`` (URLSearchParams from the address). */
export function showCollection(query) {
  const filters = params(query);
  const key = `collection?${filters}`;
  form().hidden = false;
  for (const name of FILTERS) form().elements.namedItem(name).value = filters.get(name) || "";
  if (shown.key === key) return;   // back from an image: the grid and its scroll are as they were
  reset(key, "collection", filters.toString() ? "Collection, filtered" : "Collection");
  shown.filters = filters;
  loadMore();
}

/** Search results for ``q``, with how each matched. */
export async function showSearch(q) {
  const key = `search?${q}`;
  form().hidden = true;
  $("#search-q").value = q;
  if (shown.key === key) return;
  reset(key, "search", `Search: “${q}”`);
  document.title = `Viewfinder — search “${q}”`;
  if (!q) return;
  try {
    const body = await getJSON(`/recommend/search?${new URLSearchParams({q, limit: String(PAGE)})}`);
    if (shown.key !== key) return;
    const via = Object.entries(body.tag_resolution || {}).filter(([, r]) => r.label).map(([w, r]) => `${w} → ${r.label}`);
    fill($("#gallery-grid"), body.results.map((r) => {
      const by = Object.keys((r.why.search || {}).matched_by || {});
      return tile({...r, alt: `Photo found for ${q}`}, by.length ? `matched by ${by.join(", ")}` : "");
    }));
    say(`${body.count} found${body.clip ? "" : " (without CLIP: by tags and descriptions)"}` +
      (via.length ? `; understood as ${via.join(", ")}` : ""));
  } catch (exc) {
    if (shown.key === key) error(exc.message);
  }
}

/** ``config``: /ui/config.json, whose color_families the colour filter offers. */
export function init(config) {
  const colours = form().elements.namedItem("color");
  colours.append(...(config.color_families || []).map((f) => el("option", {value: f, text: f})));
  form().addEventListener("submit", (e) => {
    e.preventDefault();
    const filters = params(new FormData(form()));
    location.hash = filters.toString() ? `gallery?${filters}` : "gallery";
  });
  $("#filter-clear").addEventListener("click", () => { location.hash = "gallery"; });
  $("#gallery-more-button").addEventListener("click", () => loadMore());
  observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) loadMore();
  }, {rootMargin: "400px"});
  observer.observe($("#gallery-more"));
}
