// fetch() with the session's CSRF token and errors turned into readable messages.

export function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

// A response body as data: JSON, or the start of whatever else came back (an HTML error page).
function parse(text) {
  try { return text ? JSON.parse(text) : null; } catch { return { detail: text.slice(0, 200) }; }
}

// What a refused request says: DRF's {"detail": ...}, its per-field errors, or the HTTP status.
export function refusal(status, statusText, text) {
  const data = parse(text);
  const detail = data && (data.detail || data.message || Object.entries(data).map(([k, v]) => `${k}: ${v}`).join("; "));
  return detail || `${status} ${statusText}`;
}

export async function api(url, { method = "GET", json, form } = {}) {
  const headers = { "X-CSRFToken": csrfToken(), Accept: "application/json" };
  let body;
  if (json !== undefined) { headers["Content-Type"] = "application/json"; body = JSON.stringify(json); }
  if (form !== undefined) body = form;
  const response = await fetch(url, { method, headers, body, credentials: "same-origin" });
  const text = await response.text();
  if (!response.ok) throw new Error(refusal(response.status, response.statusText, text));
  return parse(text);
}
