// A JSON websocket that reconnects (with backoff) and dispatches messages by their "type".

export class StudioSocket {
  constructor(path, { onStatus } = {}) {
    this.url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;
    this.handlers = new Map();
    this.onStatus = onStatus || (() => {});
    this.delay = 500;
    this.closedByServer = false;
    this.open();
  }

  on(type, handler) { this.handlers.set(type, handler); return this; }

  open() {
    this.onStatus("connecting");
    const ws = (this.ws = new WebSocket(this.url));
    ws.onopen = () => { this.delay = 500; this.onStatus("live"); };
    ws.onmessage = (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch { return; }
      const handler = this.handlers.get(message.type);
      if (handler) handler(message);
    };
    ws.onclose = (event) => {
      // 4403/4404: no access (or it was revoked) / no such keyframe; 4410: the keyframe was deleted.
      // Nothing to retry. (4409, the role changed, reconnects like any other close.)
      if (event.code === 4403 || event.code === 4404 || event.code === 4410) { this.closedByServer = true; this.onStatus("closed", event.code); return; }
      this.onStatus("offline");
      setTimeout(() => this.open(), this.delay);
      this.delay = Math.min(this.delay * 2, 8000);
    };
  }

  get live() { return this.ws && this.ws.readyState === WebSocket.OPEN; }

  send(message) {
    if (!this.live) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }
}
