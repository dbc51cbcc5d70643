// Signing in and out: GET /auth/session says who is signed in; POST /auth/session {"key"} signs in
// (the gateway answers with an HttpOnly session cookie: the key itself is never kept by the page,
// in storage or in the URL); DELETE /auth/session signs out. A one-time sign-in link has already
// set the cookie when the page loads, so it needs nothing here.
//
// Buttons that change something say what they need while it is missing ("Sign in to upload"):
// each carries data-needs (a scope) and data-action (what it does, "upload"), and is gated here.
import {api, ApiError, getJSON} from "./api.js";
import {$} from "./dom.js";

// What each scope allows, as the gateway's core/tokens.py GRANTS says.
const GRANTS = {read: ["read"], write: ["read", "write"], admin: ["read", "write", "admin"]};

let state = {signed_in: false};
const listeners = [];

export const current = () => state;
export const user = () => (state.signed_in ? state.user : "");

/** Whether the signed-in user may do what `scope` allows. */
export function may(scope) {
  return Boolean(state.signed_in) && (state.scopes || []).some((s) => (GRANTS[s] || []).includes(scope));
}

/** Call fn(state, previous) now and after every change of who is signed in. */
export function onChange(fn) {
  listeners.push(fn);
  fn(state, state);
}

/** Why `scope` is not allowed now ("" when it is), in words about `action`. */
export function refusal(scope, action) {
  if (may(scope)) return "";
  if (!state.signed_in) return `Sign in to ${action}: enter an API key at the top of the page.`;
  return `To ${action} you need a key with the “${scope}” scope; ${state.user} has ${(state.scopes || []).join(", ")}.`;
}

/** True when `scope` is allowed; otherwise says why in `out` (an element), moves the focus to
 * the API key field when signing in would help, and answers false. */
export function check(scope, action, out) {
  const why = refusal(scope, action);
  if (!why) return true;
  if (out) {
    out.textContent = why;
    out.classList.add("error");
  }
  if (!state.signed_in) $("#api-key").focus();
  return false;
}

/** A button that needs `scope`: its label says so while the scope is missing, it is marked
 * aria-disabled (still focusable, so a keyboard or screen-reader user learns why), and the click
 * handler is expected to call check(). */
export function gate(button, scope, action, {label = button.textContent, context = ""} = {}) {
  button.dataset.needs = scope;
  button.dataset.action = action;
  button.dataset.label = label;
  if (context) button.dataset.context = context;   // e.g. which image: part of the accessible name
  applyGate(button);
  return button;
}

function applyGate(button) {
  const {needs, action, label, context} = button.dataset;
  const allowed = may(needs);
  button.setAttribute("aria-disabled", String(!allowed));
  if (allowed) {
    button.textContent = label;
    button.removeAttribute("title");
  } else {
    button.textContent = state.signed_in ? `${label} (needs ${needs})` : `Sign in to ${action}`;
    button.title = refusal(needs, action);
  }
  if (context) button.setAttribute("aria-label", `${button.textContent} (${context})`);
}

function show(previous) {
  const form = $("#sign-in");
  const box = $("#signed-in");
  const signedIn = Boolean(state.signed_in);
  form.hidden = signedIn;
  box.hidden = !signedIn;
  $("#auth-who").textContent = signedIn
    ? `Signed in as ${state.user} (${(state.scopes || []).join(", ")})`
    : "";
  document.body.dataset.signedIn = String(signedIn);
  document.querySelectorAll("[data-needs]").forEach(applyGate);
  for (const fn of listeners) {
    try {
      fn(state, previous);
    } catch (exc) {
      console.warn("sign-in listener failed", exc);
    }
  }
}

function set(next) {
  const previous = state;
  state = next && next.signed_in ? next : {signed_in: false};
  if (previous.signed_in !== state.signed_in || previous.user !== state.user
      || String(previous.scopes) !== String(state.scopes)) {
    show(previous);
  }
}

/** Who is signed in, asked again (after a 401, say: the session may have ended). */
export async function refresh() {
  try {
    set(await getJSON("/auth/session"));
  } catch (exc) {
    $("#auth-error").textContent = `cannot tell who is signed in: ${exc.message}`;
  }
  return state;
}

async function signIn(event) {
  event.preventDefault();
  const input = $("#api-key");
  const error = $("#auth-error");
  const button = $("#sign-in-button");
  const key = input.value.trim();
  error.textContent = "";
  if (!key) {
    error.textContent = "Enter an API key to sign in.";
    input.focus();
    return;
  }
  button.disabled = true;
  try {
    const body = await api("POST", "/auth/session", {key});
    input.value = "";   // the cookie stands for it now; the page does not keep it
    set(body);
    $("#sign-out-button").focus();
  } catch (exc) {
    error.textContent = exc instanceof ApiError ? `Sign-in refused: ${exc.message}` : String(exc);
    input.focus();
    input.select();
  } finally {
    button.disabled = false;
  }
}

async function signOut() {
  const error = $("#auth-error");
  error.textContent = "";
  try {
    await api("DELETE", "/auth/session");
  } catch (exc) {
    error.textContent = `Sign-out failed: ${exc.message}`;
  }
  await refresh();
  if (!state.signed_in) $("#api-key").focus();
}

/** Wire the sign-in area and learn who is signed in; resolves once that is known. */
export async function init() {
  $("#sign-in").addEventListener("submit", signIn);
  $("#sign-out-button").addEventListener("click", signOut);
  // Any 401 from the gateway: the session has ended (expired, signed out elsewhere, key revoked).
  window.addEventListener("viewfinder:unauthorized", () => { refresh(); });
  await refresh();
  show(state);
  $("#sign-in-button").disabled = false;
}
