// WebSocket client for /ws: ready → (page snapshot) → subscribe(since),
// automatic reconnect with backoff, resume from the highest event id seen.

import { api, refreshSession, goToLogin } from './api.js';
import { t } from './i18n.js';

const PING_EVERY_MS = 20000;
const SILENCE_LIMIT_MS = 50000; // no frame at all for this long → assume the socket is dead
const BACKOFF_START_MS = 500;
const BACKOFF_MAX_MS = 10000;
const OFFLINE_AFTER_FAILURES = 4; // show "Offline" after this many failed attempts in a row


export class LiveClient {
  /**
   * channels: e.g. ['tasks']
   * onReady(user, lastEventId, isFirst): may return a promise; the client
   *   subscribes once it resolves. On the first ready the page loads its REST
   *   snapshot here; the subscription then replays everything after
   *   lastEventId. Later readies resume from the highest id seen.
   * onEvent(frame): called once per event frame, in id order.
   * onError(message): server error frames and snapshot failures.
   */
  constructor({ channels, onReady, onEvent, onError, statusEl } = {}) {
    this.channels = channels || [];
    this.onReady = onReady || (() => {});
    this.onEvent = onEvent || (() => {});
    this.onError = onError || (() => {});
    this.statusEl = statusEl || document.getElementById('conn-status');
    this.lastId = null;      // highest event id applied (null until the first ready)
    this.synced = false;     // first snapshot + subscribe done
    this.ws = null;
    this.failures = 0;
    this.retryTimer = null;
    this.pingTimer = null;
    this.lastFrameAt = 0;
    this.stopped = false;

    window.addEventListener('online', () => this.reconnectNow());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible' && !this.ws) this.reconnectNow();
    });
  }

  start() {
    this.stopped = false;
    this.setState('connecting', this.synced ? undefined : t('conn.connecting'));
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.drop();
    this.setState('offline');
  }

  connect() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.stopped || this.ws) return;

    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    let ws;
    try {
      ws = new WebSocket(`${proto}//${location.host}/ws`);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.gotReady = false;
    this.lastFrameAt = Date.now();

    ws.onmessage = (msg) => {
      if (ws !== this.ws) return;
      this.lastFrameAt = Date.now();
      let frame;
      try { frame = JSON.parse(msg.data); } catch { return; }
      this.handleFrame(ws, frame);
    };
    ws.onclose = (ev) => {
      if (ws !== this.ws) return;
      const hadReady = this.gotReady;
      this.drop();
      this.handleClose(ev.code, hadReady);
    };
    // onerror is always followed by onclose; nothing to do here.
    ws.onerror = () => {};
  }

  handleFrame(ws, frame) {
    switch (frame.type) {
      case 'ready':
        this.failures = 0;
        this.gotReady = true;
        this.handleReady(ws, frame);
        break;
      case 'subscribed':
        this.setState('live');
        break;
      case 'event':
        // Ids only grow; anything at or below what we have is already applied.
        if (this.lastId != null && typeof frame.id === 'number' && frame.id <= this.lastId) return;
        if (typeof frame.id === 'number') this.lastId = frame.id;
        try { this.onEvent(frame); } catch (e) { console.error(e); }
        break;
      case 'reset': // what happened since our last event was pruned: start over with a fresh snapshot
        this.resync();
        break;
      case 'error':
        if (frame.reload) { // too far behind to replay: start over with a fresh snapshot
          this.resync();
          break;
        }
        this.onError(frame.message || t('conn.error'));
        break;
      default: // pong and unknown frames: nothing to do
    }
  }

  async handleReady(ws, frame) {
    const isFirst = !this.synced;
    if (isFirst) this.lastId = frame.last_event_id ?? 0;
    this.startPing(ws);
    try {
      await this.onReady(frame.user, frame.last_event_id, isFirst);
    } catch (e) {
      // Snapshot failed: report it, drop this socket and try again with backoff.
      this.onError(e && e.message ? e.message : t('conn.snapshot_failed'));
      if (ws === this.ws) {
        this.drop();
        this.scheduleReconnect();
      }
      return;
    }
    if (ws !== this.ws) return; // the socket went away while the snapshot loaded
    this.synced = true;
    this.send({ type: 'subscribe', channels: this.channels, since: this.lastId });
    this.setState('live');
  }

  handleClose(code, hadReady) {
    if (this.stopped) return;
    if (code === 4401) {
      // Access token expired: refresh it (cookie), then reconnect straight away.
      this.setState('connecting');
      refreshSession().then((ok) => {
        if (ok === false) goToLogin();
        else if (ok) this.connect();
        else this.scheduleReconnect(); // server unreachable
      });
      return;
    }
    if (code === 4408) { // we fell behind; resume from lastId at once
      this.connect();
      this.setState('connecting');
      return;
    }
    if (!hadReady && this.failures === 1) {
      // Refused twice before "ready": the upgrade itself may have been rejected
      // for an expired token. /api/me refreshes the session, or goes to login.
      api('/api/me').catch(() => {});
    }
    this.scheduleReconnect();
  }

  /** Reconnect as if for the first time: the page loads its snapshot again. */
  resync() {
    this.synced = false;
    this.lastId = null;
    this.drop();
    this.scheduleReconnect();
  }

  scheduleReconnect() {
    if (this.stopped || this.retryTimer) return;
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_START_MS * 2 ** this.failures);
    const delay = base / 2 + Math.random() * (base / 2); // jitter: 50–100 % of base
    this.failures++;
    const offline = this.failures >= OFFLINE_AFTER_FAILURES || navigator.onLine === false;
    this.setState(offline ? 'offline' : 'connecting');
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
  }

  reconnectNow() {
    if (this.stopped || this.ws) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.setState('connecting');
    this.connect();
  }

  startPing(ws) {
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      if (ws !== this.ws) return;
      if (Date.now() - this.lastFrameAt > SILENCE_LIMIT_MS) {
        // Pongs stopped coming: the connection is dead even if the browser hasn't noticed.
        this.drop();
        this.scheduleReconnect();
        return;
      }
      this.send({ type: 'ping' });
    }, PING_EVERY_MS);
  }

  send(obj) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(obj));
  }

  /** Forget the current socket (closing it if still open). */
  drop() {
    clearInterval(this.pingTimer);
    this.pingTimer = null;
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onmessage = ws.onclose = ws.onerror = null;
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) {
        try { ws.close(1000); } catch { /* ignore */ }
      }
    }
  }

  setState(state, label) {
    const el = this.statusEl;
    if (!el) return;
    el.dataset.state = state;
    const text = label || t(state === 'connecting' ? 'conn.reconnecting' : `conn.${state}`);
    const labelEl = el.querySelector('.conn-label') || el;
    labelEl.textContent = text;
    el.title = state === 'live' ? t('conn.live_title') : text;
  }
}
