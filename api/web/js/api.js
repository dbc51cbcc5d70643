// The gateway's JSON API. Errors carry the server's own message: a JSON {"error": …}
// body, or the plain text aiohttp sends for 400/404.

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
    throw new ApiError(status, await errorMessage(response));
  }
  return response.status === 204 ? null : response.json();
}

export const getJSON = (path) => api("GET", path);
