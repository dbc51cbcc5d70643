// Preferences form → POST /recommend/recommend → a grid of explained results,
// with like / dislike (POST /recommend/feedback) and "more like this". Saving and feedback
// need a sign-in with the `write` scope; the user name defaults to the signed-in user's.
import {api, ApiError, getJSON} from "./api.js";
import {$, el, fill, imageUrl, shortId} from "./dom.js";
import * as session from "./session.js";

const USER_KEY = "viewfinder.user";
const NAME = /^[A-Za-z0-9_.@-]{1,64}$/;

const form = () => $("#prefs");
const field = (name) => form().elements.namedItem(name);

function showError(message) {
  $("#prefs-error").textContent = message || "";
}

function say(message) {
  $("#prefs-status").textContent = message || "";
}

export function userName() {
  return field("user").value.trim();
}

/** The preferences the form states; empty fields are left out. */
export function preferences() {
  const prefs = {};
  if (field("use_color").checked) prefs.color = field("color").value;
  for (const name of ["width", "height", "limit"]) {
    const raw = field(name).value.trim();
    if (raw !== "") prefs[name] = Number(raw);
  }
  if (field("orientation").value) prefs.orientation = field("orientation").value;
  const tags = field("tags").value.split(",").map((t) => t.trim()).filter(Boolean);
  if (tags.length) prefs.tags = tags;
  if (field("make").value.trim()) prefs.make = field("make").value.trim();
  return prefs;
}

function fillForm(prefs) {
  if (prefs.color) {
    field("use_color").checked = true;
    field("color").disabled = false;
    field("color").value = prefs.color;
  }
  for (const name of ["width", "height", "limit", "orientation", "make"]) {
    if (prefs[name] !== undefined && prefs[name] !== null) field(name).value = prefs[name];
  }
  if (Array.isArray(prefs.tags)) field("tags").value = prefs.tags.join(", ");
}

function checkedName() {
  const name = userName();
  if (name && !NAME.test(name)) throw new ApiError(400, "a user name is 1-64 letters, digits, or . _ @ -");
  return name;
}

/** The saved user (null when there is none yet), and a line about them next to the name. */
export async function loadUser({fillPreferences = false, name = userName()} = {}) {
  const summary = $("#user-summary");
  const shown = () => name === (userName() || session.user());   // the field may have moved on
  if (!name || !NAME.test(name)) {
    summary.textContent = "";
    return null;
  }
  try {
    const user = await getJSON(`/recommend/users/${encodeURIComponent(name)}`);
    if (!shown()) return user;
    summary.textContent = `${user.likes.length} liked, ${user.dislikes.length} disliked`;
    if (fillPreferences) fillForm(user.preferences || {});
    return user;
  } catch (exc) {
    if (shown()) summary.textContent = exc.status === 404 ? "new user: “Save preferences” creates it" : "";
    return null;
  }
}

// ---- explanations -------------------------------------------------------------------------

const tick = (ok) => (ok ? "✓" : "✗");
const fmt = (value) => (typeof value === "number" ? String(Math.round(value * 1000) / 1000) : String(value ?? "—"));

/** One readable line per part of a result's `why`. */
export function explain(why) {
  const lines = [];
  for (const [part, v] of Object.entries(why || {})) {
    let text;
    try {
      switch (part) {
        case "color":
          text = v.matched
            ? [`wanted ${v.wanted}, nearest ${v.matched}`, `ΔE ${fmt(v.delta_e)}, covers ${fmt(v.coverage)}%`]
            : [`wanted ${v.wanted}, no colours known`];
          lines.push(["colour", text.join("; "), v.matched]);
          continue;
        case "orientation":
          text = `${tick(v.match)} ${v.actual ?? "unknown"} (wanted ${v.wanted})`;
          break;
        case "size":
          text = v.actual ? `${v.actual[0]}×${v.actual[1]} (wanted ${v.wanted.map((x) => x ?? "any").join("×")}), fit ${fmt(v.fit)}`
            : "size unknown";
          break;
        case "tags": {
          const from = Object.entries(v.resolved_from || {}).map(([label, words]) => `${words.join("/")} → ${label}`);
          text = [v.matched.length ? `${tick(true)} ${v.matched.join(", ")}${from.length ? ` (${from.join("; ")})` : ""}`
            : "none matched",
          v.missing.length ? `missing ${v.missing.join(", ")}` : "",
          v.unresolved.length ? `not understood: ${v.unresolved.join(", ")}` : ""].filter(Boolean).join("; ");
          break;
        }
        case "make":
          text = `${tick(v.match)} ${v.actual ?? "unknown"} (wanted ${v.wanted})`;
          break;
        case "feedback":
          text = `fit ${fmt(v.fit)} to what you liked (${v.likes ?? 0} likes, ${v.dislikes ?? 0} dislikes)`;
          break;
        case "similarity":
          text = `cosine ${fmt(v.cosine)} to ${shortId(v.to)} in ${v.space} space`;
          break;
        case "search":
          text = `matched "${v.text}" by ${Object.keys(v.matched_by || {}).join(", ")}`;
          break;
        default:
          text = JSON.stringify(v);
      }
    } catch {
      text = JSON.stringify(v);
    }
    lines.push([part, text]);
  }
  return lines;
}

/** A small square of a colour (set through CSSOM: the page's CSP refuses inline style attributes). */
export function colourSwatch(hex) {
  const span = el("span", {class: "swatch", "aria-hidden": "true"});
  if (/^#[0-9a-f]{6}$/i.test(String(hex))) span.style.backgroundColor = hex;
  return span;
}

function whyList(why) {
  const lines = explain(why);
  if (!lines.length) return el("p", {class: "hint why", text: "no preferences stated: ranked by recency"});
  return el("dl", {class: "why"}, lines.map(([part, text, swatch]) => [
    el("dt", {text: part}),
    el("dd", {}, swatch ? colourSwatch(swatch) : null, text),
  ]));
}

// ---- feedback -----------------------------------------------------------------------------

async function sendFeedback(card, id, signal) {
  const outcome = card.querySelector(".outcome");
  const buttons = card.querySelectorAll("button.opinion");
  outcome.className = "outcome";
  if (!session.check("write", signal, outcome)) return;
  // The field's name, or else the signed-in user's (the gateway's default when `user` is left out).
  let name;
  try {
    name = checkedName() || session.user();
  } catch (exc) {
    outcome.textContent = exc.message;
    outcome.className = "outcome error";
    return;
  }
  buttons.forEach((b) => { b.disabled = true; });
  outcome.textContent = `sending ${signal}…`;
  try {
    await api("POST", "/recommend/feedback", {user: name, image: id, signal});
    card.querySelectorAll("button.opinion").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.signal === signal)));
    card.dataset.opinion = signal;
    outcome.textContent = `${signal === "like" ? "Liked" : "Disliked"}: sent; updating ${name}'s profile…`;
    outcome.className = "outcome sent";
    // The worker folds the event into the profile; say so once it has.
    for (let i = 0; i < 60; i += 1) {   // about a minute: the worker may be busy
      await new Promise((resolve) => setTimeout(resolve, i < 10 ? 300 : 1000));
      const user = await loadUser({name});
      const list = user && (signal === "like" ? user.likes : user.dislikes);
      if (list && list.includes(id)) {
        outcome.textContent = `${signal === "like" ? "Liked" : "Disliked"}: recorded in ${name}'s profile`;
        outcome.className = "outcome recorded";
        return;
      }
    }
    outcome.textContent = `${signal === "like" ? "Liked" : "Disliked"}: sent (not in the profile yet)`;
  } catch (exc) {
    outcome.textContent = exc.message;
    outcome.className = "outcome error";
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}

// ---- results ------------------------------------------------------------------------------

function card(result) {
  const id = String(result.id);
  const node = el("li", {class: "card", "data-id": id});
  // Signed out, these read "Sign in to like" (session.gate), and a click says how.
  const opinion = (signal, label) => session.gate(el("button", {
    type: "button", class: `opinion ${signal}`, "data-signal": signal, "aria-pressed": "false",
    "aria-describedby": `outcome-${id}`, text: label,
    onclick: () => sendFeedback(node, id, signal),
  }), "write", signal, {context: `image ${shortId(id)}`});
  const size = result.width && result.height ? `${result.width}×${result.height}` : "";
  return fill(node,
    el("a", {href: `#image/${encodeURIComponent(id)}`, title: "the image's page"},
      el("img", {src: imageUrl(id), alt: `Image ${shortId(id)}${size ? `, ${size}` : ""}`, class: "thumb"})),
    el("p", {class: "meta"},
      el("span", {class: "score", text: `score ${fmt(result.score)}`}),
      size ? ` · ${size}` : "", result.orientation ? ` · ${result.orientation}` : ""),
    whyList(result.why),
    el("div", {class: "actions"},
      opinion("like", "Like"), opinion("dislike", "Dislike"),
      el("button", {type: "button", class: "more", text: "More like this", onclick: () => similar(id)}),
      el("a", {href: `/images/${encodeURIComponent(id)}`, target: "_blank", rel: "noopener", text: "metadata"})),
    el("p", {class: "outcome", id: `outcome-${id}`, role: "status"}));
}

function showResults(heading, results, summary) {
  $("#results-heading").textContent = heading;
  $("#results-summary").textContent = summary;
  fill($("#results"), results.map(card));
}

function showResolution(resolution) {
  const box = $("#tag-resolution");
  const entries = Object.entries(resolution || {});
  if (!entries.length) {
    fill(box);
    return;
  }
  const via = {exact: "exact", lemma: "same word", embedding: "by meaning", none: "no match"};
  fill(box, el("h3", {text: "Tags understood as"}), el("ul", {class: "inline"}, entries.map(([word, r]) =>
    el("li", {class: r.label ? "resolved" : "unresolved"},
      `“${word}” → `, el("strong", {text: r.label ?? "no matching tag"}),
      ` (${via[r.via] ?? r.via}${r.label ? `, ${fmt(r.score)}` : ""})`))));
}

async function similar(id) {
  showError("");
  try {
    const body = await getJSON(`/recommend/similar/${encodeURIComponent(id)}?limit=${Number(field("limit").value) || 12}`);
    fill($("#tag-resolution"));
    showResults(`More like ${shortId(id)}`, body.results,
      `${body.count} image(s) nearest in ${body.space} space`);
    $("#results-section").scrollIntoView({block: "start"});
  } catch (exc) {
    showError(exc.message);
  }
}

async function recommend(event) {
  event.preventDefault();
  showError("");
  say("");
  const section = $("#results-section");
  try {
    const name = checkedName();
    const body = {...preferences()};
    if (name) body.user = name;
    section.setAttribute("aria-busy", "true");
    let response;
    let forName = name;
    try {
      response = await api("POST", "/recommend/recommend", body);
    } catch (exc) {
      // The signed-in user's own name (filled in for them) before they have saved anything:
      // there is no profile to add yet, so the form alone decides.
      if (!(exc.status === 404 && name && name === session.user())) throw exc;
      delete body.user;
      forName = "";
      response = await api("POST", "/recommend/recommend", body);
    }
    showResolution(response.tag_resolution);
    showResults("Results", response.results,
      response.count ? `${response.count} image(s), best first${forName ? ` for ${forName}` : ""}` : "no images match yet");
  } catch (exc) {
    showError(exc.message);
  } finally {
    section.setAttribute("aria-busy", "false");
  }
}

async function save() {
  showError("");
  say("");
  if (!session.check("write", "save preferences", $("#prefs-error"))) return;
  try {
    const name = checkedName() || session.user();
    if (!name) throw new ApiError(400, "enter a user name to save preferences under");
    await api("PUT", `/recommend/users/${encodeURIComponent(name)}`, preferences());
    localStorage.setItem(USER_KEY, name);
    say(`Saved preferences for ${name}.`);
    await loadUser();
  } catch (exc) {
    showError(exc.message);
  }
}

/** Signed in, the user name follows the signed-in user: a fresh sign-in replaces an empty name
 * or the previous user's; a non-admin can act only as themselves, so their own name replaces any
 * other (they may still type another: the gateway's 403 then says why it is refused). An admin
 * keeps a name they chose. True when the name changed. */
function followSession(now, before) {
  if (!now.signed_in) return false;
  const name = userName();
  if (name === now.user) return false;
  if (name && name !== before.user && session.may("admin")) return false;
  field("user").value = now.user;
  return true;
}

/** Wire the form; resolves once the remembered (or signed-in) user's preferences are shown. */
export async function init() {
  const f = form();
  f.addEventListener("submit", recommend);
  session.gate($("#save-button"), "write", "save preferences");
  $("#save-button").addEventListener("click", save);
  field("use_color").addEventListener("change", () => { field("color").disabled = !field("use_color").checked; });
  field("user").addEventListener("change", () => {
    const name = userName();
    if (name && NAME.test(name)) localStorage.setItem(USER_KEY, name);
    else if (!name) localStorage.removeItem(USER_KEY);
    loadUser();
  });
  const remembered = localStorage.getItem(USER_KEY);
  if (remembered) field("user").value = remembered;
  followSession(session.current(), {});
  session.onChange((now, before) => {
    if (now === before) return;
    if (followSession(now, before)) loadUser({fillPreferences: true});
    else loadUser();
  });
  if (userName()) await loadUser({fillPreferences: true});
}
