// The unread-notification count beside "Notifications" in every page's navigation bar.

const link = document.querySelector("[data-unread-url]");
if (link) {
  fetch(link.dataset.unreadUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then((response) => (response.ok ? response.json() : []))
    .then((unread) => {
      if (!unread.length) return;
      const badge = document.createElement("span");
      badge.className = "badge submitted unread";
      badge.textContent = unread.length >= 200 ? "200+" : String(unread.length); // the API lists at most 200
      badge.title = `${unread.length} unread notification${unread.length > 1 ? "s" : ""}`;
      link.append(" ", badge);
    })
    .catch(() => {}); // the count is a convenience: the page works without it
}
