// The client's signaling socket: requests and their replies over /ws, keep-alive, and reconnecting with
// `resume` (or a new `join`) when the network drops. Methods of SankeClient (sanke-client.js).

const PING_EVERY_MS = 8000;
const PONG_DEADLINE_MS = 20000;
const PONG_GRACE_MS = 3000; // a deadline missed: one more ping, and this long for anything to arrive
const REQUEST_TIMEOUT_MS = 15000;
const FINAL_CLOSE = { 4003: 'removed', 4004: 'room_ended', 4005: 'deactivated', 4009: 'replaced' };
export const FINAL_ERRORS = new Set(['room_ended', 'no_lesson', 'bad_code', 'forbidden', 'not_logged_in']);

export class SignalError extends Error {
  constructor(code, message, field = null) {
    super(message || code);
    this.code = code;
    this.field = field;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function waitOnline() {
  if (navigator.onLine) return Promise.resolve();
  return new Promise((resolve) => window.addEventListener('online', () => resolve(), { once: true }));
}

export const socketMethods = {
  _open() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      this.ws = ws;
      ws.onopen = () => {
        this._lastPong = Date.now();
        resolve(ws);
      };
      ws.onerror = () => reject(new SignalError('network', 'websocket error'));
      ws.onclose = (ev) => {
        reject(new SignalError('network', 'websocket closed'));
        this._onClose(ws, ev);
      };
      ws.onmessage = (ev) => this._onMessage(JSON.parse(ev.data));
    });
  },

  _closeSocket() {
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = null;
      ws.onmessage = null;
      try {
        ws.close();
      } catch {
        // already closed
      }
    }
    for (const { reject } of this._pending.values()) reject(new SignalError('network', 'connection lost'));
    this._pending.clear();
  },

  request(msg) {
    const id = `c${this._nextId++}`;
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
        reject(new SignalError('network', 'not connected'));
        return;
      }
      const timer = setTimeout(() => {
        this._pending.delete(id);
        reject(new SignalError('timeout', `no answer to ${msg.type}`));
      }, REQUEST_TIMEOUT_MS);
      this._pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.ws.send(JSON.stringify({ ...msg, id }));
    });
  },

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  },

  /** A reply to a request: settles it and returns true; anything else is for the caller to handle. */
  _settle(msg) {
    const waiting = msg.id != null ? this._pending.get(msg.id) : null;
    if (!waiting) return false;
    this._pending.delete(msg.id);
    if (msg.type === 'error') waiting.reject(new SignalError(msg.code, msg.message, msg.field));
    else waiting.resolve(msg);
    return true;
  },

  _onClose(ws, ev) {
    if (ws !== this.ws) return;
    for (const { reject } of this._pending.values()) reject(new SignalError('network', 'connection closed'));
    this._pending.clear();
    const final = FINAL_CLOSE[ev.code];
    if (final) this._finish(final);
    else if (this.connection === 'joined') this._lost('closed');
  },

  // -- reconnecting -------------------------------------------------------------------------------------

  _lost(reason) {
    if (this.final || this._reconnecting || this.connection !== 'joined') return;
    console.warn('connection lost, reconnecting:', reason);
    this._reconnecting = true;
    this._closeSocket();
    this._teardownMedia();
    this._setConnection(navigator.onLine ? 'reconnecting' : 'offline', reason);
    this._reconnect().finally(() => {
      this._reconnecting = false;
    });
  },

  async _reconnect() {
    for (let attempt = 0; !this.final; attempt++) {
      if (!navigator.onLine) {
        this._setConnection('offline');
        await waitOnline();
        this._setConnection('reconnecting');
      }
      try {
        await this._open();
        let joined;
        try {
          joined = await this.request({
            type: 'resume', room: this.room.id, participant_id: this.me.participant_id, resume_token: this.resumeToken,
            last_seq: this.lastSeq, // what was sent meanwhile (or lost with the old socket) comes after `joined`
          });
          this.rejoins.push('resume');
        } catch (e) {
          if (e.code !== 'resume_failed' && e.code !== 'not_found') throw e;
          joined = await this.request({ type: 'join', token: await this.tokenProvider() });
          this.rejoins.push('join');
        }
        this._joined(joined);
        this._publishAll().catch((e) => this._mediaError(e));
        return;
      } catch (e) {
        this._closeSocket();
        if (FINAL_ERRORS.has(e.code)) {
          this._finish(e.code);
          return;
        }
        await sleep(Math.min(400 * 2 ** attempt, 4000));
      }
    }
  },

  _finish(reason) {
    if (this.final) return;
    this.final = reason;
    for (const timer of this._timers) clearInterval(timer);
    this._closeSocket();
    this._teardownMedia();
    this._setConnection(reason === 'room_ended' ? 'ended' : 'failed', reason);
    this._emit('final', { reason });
  },

  _startTimers() {
    this._lastTick = Date.now();
    this._timers.push(setInterval(() => this._checkAlive(), PING_EVERY_MS));
    this._timers.push(setInterval(() => this._pollQuality(), 2000));
  },

  /** Ping; a silent server past the deadline is lost only after a last ping and a grace: when this page
   * itself was frozen (a starved machine), its timers fire before the messages that queued meanwhile are
   * read, and a silence that is ours would otherwise drop a healthy session (and the events it was sent). */
  _checkAlive() {
    const now = Date.now();
    const frozen = now - this._lastTick > 2 * PING_EVERY_MS;
    this._lastTick = now;
    if (this.connection !== 'joined') return;
    this.send({ type: 'ping' });
    if (frozen || now - this._lastPong <= PONG_DEADLINE_MS) return;
    setTimeout(() => {
      if (Date.now() - this._lastPong > PONG_DEADLINE_MS + PONG_GRACE_MS) this._lost('timeout');
    }, PONG_GRACE_MS);
  },
};
