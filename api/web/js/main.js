// Tabs (#recommend, #upload, #status), dashboard links, signing in, and each page's module.
import {getJSON} from "./api.js";
import {$, el, fill} from "./dom.js";
import * as recommend from "./recommend.js";
import * as session from "./session.js";
import * as status from "./status.js";
import * as upload from "./upload.js";

const PAGES = ["recommend", "upload", "status"];

function show(page, focus = false) {
  if (!PAGES.includes(page)) page = "recommend";
  for (const name of PAGES) {
    const tab = $(`#tab-${name}`);
    const selected = name === page;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    $(`#page-${name}`).hidden = !selected;
    if (selected && focus) tab.focus();
  }
  if (page === "status" && document.visibilityState !== "hidden") status.start();
  else status.stop();
  document.title = `Viewfinder — ${page}`;
}

const current = () => location.hash.replace(/^#/, "") || "recommend";

function tabs() {
  for (const name of PAGES) {
    $(`#tab-${name}`).addEventListener("click", () => {
      if (current() === name) show(name);
      else location.hash = name;
    });
  }
  $("#tabs").addEventListener("keydown", (e) => {
    const step = {ArrowRight: 1, ArrowLeft: -1}[e.key];
    if (!step) return;
    const next = PAGES[(PAGES.indexOf(current()) + step + PAGES.length) % PAGES.length];
    history.replaceState(null, "", `#${next}`);
    show(next, true);
  });
  window.addEventListener("hashchange", () => show(current()));
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") status.stop();
    else if (current() === "status") status.start();
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
  let config = {dashboards: [], services: {}};
  try {
    config = await getJSON("/ui/config.json");
  } catch (exc) {
    $("#status-error").textContent = exc.message;
  }
  dashboards(config);
  await session.init();   // who is signed in, before any button says what it needs
  upload.init();
  status.init(config);
  tabs();
  show(current());
  await recommend.init();
  document.body.dataset.ready = "true";
}

main();
