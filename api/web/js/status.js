// GET /gather/status, /gather/deadletters and /api/v1/health, every few seconds while shown.
// Retrying dead letters needs a sign-in with the `admin` scope.
import {api, getJSON} from "./api.js";
import {$, el, fill, shortId, time} from "./dom.js";
import * as session from "./session.js";

const STATUS_MS = 3000;
const HEALTH_MS = 6000;
let services = {};
let timers = [];

function counts(node, pairs) {
  fill(node, pairs.filter(([, v]) => v !== undefined && v !== null).map(([label, value, key]) => [
    el("dt", {text: label}), el("dd", {"data-key": key, text: String(value)})]));
}

function showPipeline(p) {
  counts($("#pipeline-counts"), [
    ["arrived (in flight)", p.in_flight, "in_flight"],
    ["lag: the oldest in flight has waited (s)", p.lag_seconds, "lag_seconds"], ["enriched", p.enriched, "enriched"],
    ["failed", p.failed, "failed"], ["enriched per second (last minute)", p.enriched_per_s, "enriched_per_s"],
    ["total", p.arrived + p.enriched + p.failed, "total"]]);
  fill($("#stage-table tbody"), (p.stages || []).map((s) => el("tr", {"data-stage": s.stage},
    el("th", {scope: "row", text: s.stage}), el("td", {class: "does", text: s.does ?? ""}),
    el("td", {class: "passed", text: String(s.passed)}),
    el("td", {class: "failed", text: String(s.failed)}))));
}

function showGather(body) {
  const pairs = [];
  const run = body.gather;
  if (run) {
    for (const [key, value] of Object.entries(run)) {
      if (value === null || typeof value === "object") continue;
      pairs.push([`run: ${key.replaceAll("_", " ")}`, value, `gather.${key}`]);
    }
  } else {
    pairs.push(["dataset run", "none since the gateway started", "gather"]);
  }
  for (const [key, value] of Object.entries(body.downloads || {})) {
    if (value === null || typeof value === "object") continue;
    pairs.push([`downloads: ${key.replaceAll("_", " ")}`, value, `downloads.${key}`]);
  }
  counts($("#gather-counts"), pairs);
  const failures = (body.downloads && body.downloads.recent_failures) || [];
  fill($("#download-failures"), failures.map((f) =>
    el("li", {text: Object.entries(f).map(([k, v]) => `${k}: ${v ?? ""}`).join(" · ")})));
}

function showDeadLetters(rows) {
  const body = $("#dead-table tbody");
  if (!rows.length) {
    fill(body, el("tr", {}, el("td", {colspan: 6, class: "hint", text: "none"})));
    return;
  }
  fill(body, rows.map((d) => el("tr", {},
    el("td", {}, el("a", {href: `/images/${encodeURIComponent(d.image_id)}`, target: "_blank", rel: "noopener",
                          title: d.image_id, text: shortId(d.image_id)})),
    el("td", {text: d.filename ?? d.source ?? ""}), el("td", {text: d.stage}), el("td", {text: d.reason}),
    el("td", {text: String(d.attempts ?? "")}), el("td", {text: time(d.failed_at)}))));
}

async function refreshStatus() {
  try {
    const [status, dead] = await Promise.all([getJSON("/gather/status"), getJSON("/gather/deadletters?limit=50")]);
    showPipeline(status.pipeline);
    showGather(status);
    showDeadLetters(dead.dead_letters);
    $("#status-error").textContent = "";
    $("#status-updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (exc) {
    $("#status-error").textContent = exc.message;
  }
}

async function refreshHealth() {
  let body;
  try {
    const response = await fetch("/api/v1/health", {headers: {Accept: "application/json"}});
    body = await response.json();   // 503 still carries the checks
  } catch (exc) {
    body = {status: "failing", checks: {gateway: {ok: false, error: `cannot reach the gateway: ${exc.message}`}}};
  }
  const checks = body.checks || {};
  const rows = [el("tr", {"data-service": "gateway"}, el("th", {scope: "row", text: "all"}),
    el("td", {class: body.status === "ok" ? "ok" : "bad", text: body.status === "ok" ? "ok" : "failing"}),
    el("td", {text: (body.failing || []).length ? `failing: ${body.failing.join(", ")}` : "every dependency answers"}))];
  for (const [service, needs] of Object.entries(services)) {
    const bad = needs.filter((n) => checks[n] && !checks[n].ok);
    rows.push(el("tr", {"data-service": service}, el("th", {scope: "row", text: service}),
      el("td", {class: bad.length ? "bad" : "ok", text: bad.length ? "failing" : "ok"}),
      el("td", {text: bad.length ? bad.map((n) => `${n}: ${checks[n].error}`).join("; ") : `needs ${needs.join(", ")}`})));
  }
  for (const [name, check] of Object.entries(checks)) {
    rows.push(el("tr", {"data-dependency": name, class: "dependency"}, el("th", {scope: "row", text: name}),
      el("td", {class: check.ok ? "ok" : "bad", text: check.ok ? "ok" : "down"}),
      el("td", {text: check.ok ? "" : check.error || ""})));
  }
  // Processes of the embedded stack, as its supervisor reports them: restarted ones stand out.
  for (const [name, state] of Object.entries(body.services || {})) {
    const restarted = state.restarts > 0;
    rows.push(el("tr", {"data-process": name, class: "dependency"}, el("th", {scope: "row", text: name}),
      el("td", {class: restarted ? "bad" : "ok", text: restarted ? `restarted ${state.restarts}×` : "running"}),
      el("td", {text: restarted ? `last: ${state.last_failure || "?"}` : ""})));
  }
  fill($("#health-table tbody"), rows);
}

async function retryDead() {
  const out = $("#retry-status");
  out.classList.remove("error");
  if (!session.check("admin", "retry", out)) return;
  out.textContent = "retrying…";
  try {
    const body = await api("POST", "/gather/deadletters/retry", {});
    out.textContent = `sent ${Array.isArray(body.retried) ? body.retried.length : body.retried} image(s) again`;
    refreshStatus();
  } catch (exc) {
    out.textContent = exc.message;
    out.classList.add("error");
  }
}

export function start() {
  stop();
  refreshStatus();
  refreshHealth();
  timers = [setInterval(refreshStatus, STATUS_MS), setInterval(refreshHealth, HEALTH_MS)];
}

export function stop() {
  timers.forEach(clearInterval);
  timers = [];
}

export function init(config) {
  services = config.services || {};
  session.gate($("#retry-dead"), "admin", "retry");
  $("#retry-dead").addEventListener("click", retryDead);
  session.onChange((now, before) => {
    if (now !== before) $("#retry-status").textContent = "";
  });
}
