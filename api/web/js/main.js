// The page's routes, all in the address so every view can be bookmarked and shared:
// #gallery?color=…&tag=… (the collection, filtered), #search?q=… (search results in the same
// gallery), #image/<id> (one image), #recommend, #upload, #status. Dashboard links, signing in,
// and each view's module.
import {getJSON} from "./api.js";
import {$, el, fill} from "./dom.js";
import * as gallery from "./gallery.js";
import * as image from "./image.js";
import * as recommend from "./recommend.js";
import * as session from "./session.js";
import * as status from "./status.js";
import * as upload from "./upload.js";

const TABS = ["gallery", "recommend", "upload", "status"];

/** The route in the address: {view, params} (view: a tab, "search" or "image"). */
export function route(hash = location.hash) {
  const [path, query = ""] = hash.replace(/^#/, "").split("?", 2);
  const params = new URLSearchParams(query);
  if (path.startsWith("image/")) return {view: "image", id: decodeURIComponent(path.slice(6)), params};
  if (path === "search") return {view: "search", params};
  return {view: TABS.includes(path) ? path : "gallery", params};
}

function selectTab(tab, focus = false) {
  for (const name of TABS) {
    const button = $(`#tab-${name}`);
    const selected = name === tab;
    button.setAttribute("aria-selected", String(selected));
    button.tabIndex = selected ? 0 : -1;
    if (selected && focus) button.focus();
  }
}

function show(focus = false) {
  const {view, id, params} = route();
  const tab = view === "search" || view === "image" ? "gallery" : view;
  selectTab(tab, focus);
  for (const name of TABS) $(`#page-${name}`).hidden = !(name === tab && view !== "image");
  $("#page-image").hidden = view !== "image";
  if (view === "status" && document.visibilityState !== "hidden") status.start();
  else status.stop();
  if (view === "gallery") gallery.showCollection(params);
  else if (view === "search") gallery.showSearch(params.get("q") || "");
  else if (view === "image") image.show(id);
  if (view !== "search") $("#search-q").value = "";
  if (view !== "image") document.title = `Viewfinder — ${view === "gallery" ? "collection" : view}`;
}

function tabs() {
  for (const name of TABS) {
    $(`#tab-${name}`).addEventListener("click", () => {
      if (location.hash === `#${name}`) show();
      else location.hash = name;
    });
  }
  $("#tabs").addEventListener("keydown", (e) => {
    const step = {ArrowRight: 1, ArrowLeft: -1}[e.key];
    if (!step) return;
    const {view} = route();
    const at = TABS.indexOf(view === "search" || view === "image" ? "gallery" : view);
    const next = TABS[(at + step + TABS.length) % TABS.length];
    history.replaceState(null, "", `#${next}`);
    show(true);
  });
  window.addEventListener("hashchange", () => show());
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") status.stop();
    else if (route().view === "status") status.start();
  });
  $("#search").addEventListener("submit", (e) => {
    e.preventDefault();
    const q = $("#search-q").value.trim();
    if (q) location.hash = `search?${new URLSearchParams({q})}`;
  });
}

function dashboards(config) {
  const links = (config.dashboards || []).map((d) =>
    el("a", {href: d.url, target: "_blank", rel: "noopener", title: d.what, "data-path": d.path, text: d.title}));
  const none = "not configured (VIEWFINDER_DASHBOARD_PORT)";
  fill($("#dashboard-links"), links.length ? links.map((a) => el("li", {}, a)) : el("li", {text: none}));
  fill($("#status-dashboards"), links.length
    ? (config.dashboards || []).map((d, i) => el("li", {}, links[i].cloneNode(true), ` — ${d.what}`))
    : el("li", {text: none}));
}

async function main() {
  let config = {dashboards: [], services: {}, color_families: []};
  try {
    config = await getJSON("/ui/config.json");
  } catch (exc) {
    $("#status-error").textContent = exc.message;
  }
  dashboards(config);
  await session.init();   // who is signed in, before any button says what it needs
  upload.init();
  status.init(config);
  gallery.init(config);
  image.init();
  tabs();
  show();
  await recommend.init();
  document.body.dataset.ready = "true";
}

main();
