// fetch() with the session's CSRF token and errors turned into readable messages.

export function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export async function api(url, { method = "GET", json, form } = {}) {
  const headers = { "X-CSRFToken": csrfToken(), Accept: "application/json" };
  let body;
  if (json !== undefined) { headers["Content-Type"] = "application/json"; body = JSON.stringify(json); }
  if (form !== undefined) body = form;
  const response = await fetch(url, { method, headers, body, credentials: "same-origin" });
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { detail: text.slice(0, 200) }; }
  if (!response.ok) {
    const detail = data && (data.detail || data.message || Object.entries(data).map(([k, v]) => `${k}: ${v}`).join("; "));
    throw new Error(detail || `${response.status} ${response.statusText}`);
  }
  return data;
}
