// The gateway's JSON API. Errors carry the server's own message: a JSON {"error": …}
// body, or the plain text aiohttp sends for 400/404. Writes ride on the session cookie that
// signing in sets (same-origin fetch sends it, and the Origin header the gateway checks).

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

export async function errorMessage(response) {
  const text = await response.text().catch(() => "");
  let message = text;
  try {
    const body = JSON.parse(text);
    if (body && typeof body.error === "string") message = body.error;
  } catch { /* plain text */ }
  message = message.trim() || response.statusText || "request failed";
  return `${message} (HTTP ${response.status})`;
}

/** A 401 outside signing in: the page is not signed in, or its session has ended (expired,
 * signed out in another tab, key revoked). The sign-in area is told to look again. */
export function unauthorized(message) {
  window.dispatchEvent(new CustomEvent("viewfinder:unauthorized"));
  return `Not signed in, or the sign-in has ended: sign in and try again. The gateway says: ${message}`;
}

export async function api(method, path, body) {
  const init = {method, headers: {Accept: "application/json"}};
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (exc) {
    throw new ApiError(0, `cannot reach the gateway: ${exc.message}`);
  }
  if (!response.ok) {
    const status = response.status;
    let message = await errorMessage(response);
    if (status === 401 && !path.startsWith("/auth/")) message = unauthorized(message);
    throw new ApiError(status, message);
  }
  return response.status === 204 ? null : response.json();
}

export const getJSON = (path) => api("GET", path);
