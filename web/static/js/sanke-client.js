// The one client for Sanke's signaling and WebRTC, shared by every page.
//
// A SankeClient joins a room over the WebSocket (/ws), keeps the room's state from the `joined` snapshot and
// the events that follow, publishes local tracks on a publisher peer connection, answers the SFU's offers on a
// separate subscriber peer connection, and reconnects on its own with `resume` when the network drops.
// Pages listen to: 'connection' {state, reason}, 'room' (state changed), 'event' (every server event),
// 'media' (remote tracks changed), 'quality' (per participant), 'final' {reason}.
//
// One class, its methods by concept in their own modules: the signaling socket and reconnecting
// (client-socket.js), the room's state (client-room.js), publishing (client-publisher.js), subscribing
// (client-subscriber.js) and statistics (client-stats.js). This module joins them and is what pages import.

import { publisherMethods } from './client-publisher.js';
import { roomMethods } from './client-room.js';
import { FINAL_ERRORS, SignalError, socketMethods } from './client-socket.js';
import { statsMethods } from './client-stats.js';
import { subscriberMethods } from './client-subscriber.js';

export { cameraItems, openCamera } from './client-publisher.js';
export { SignalError } from './client-socket.js';

export class SankeClient extends EventTarget {
  /**
   * tokenProvider: async () => join token (asked again when a seat cannot be resumed).
   */
  constructor({ tokenProvider, url } = {}) {
    super();
    this.tokenProvider = tokenProvider;
    this.url = url || `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
    this.ws = null;
    this.connection = 'idle';
    this.final = null;
    this.me = null; // {participant_id, role, grants}
    this.resumeToken = null;
    this.lastSeq = 0; // the last room event's number: a resume asks for the ones after it
    this.room = { id: null, kind: '', title: '', state: '', participants: new Map(), tracks: new Map(), stage: [], hands: [] };
    this.speaking = new Map(); // participant → last time heard (ms)
    this.quality = new Map(); // participant → good | fair | poor
    this.netQuality = new Map(); // track id → high | low | off: what the SFU sends us for our network
    this.local = []; // [{track, source, quality, encodings}]
    this.pub = null;
    this.sub = null;
    this.remote = new Map(); // track_id → {track, transceiver, stream}
    this._pending = new Map();
    this._nextId = 1;
    this._subChain = Promise.resolve();
    this._pubChain = Promise.resolve();
    this._pubExpect = false; // a publisher negotiation whose tracks the room has not listed yet
    this.iceServers = null; // from the first `joined`: TURN servers with this join's credentials
    this._iceWaiters = [];
    this._reconnecting = false;
    this._lastPong = 0; // when the server was last heard from (any message)
    this._lastTick = 0;
    this._timers = [];
    this._statsPrev = new Map();
    this.rejoins = []; // how each reconnect got back in: 'resume' (same seat) or 'join'
    this.marks = {}; // first time each step of joining happened (performance.now()), for timing
    window.addEventListener('offline', () => this._lost('offline'));
  }

  on(type, fn) {
    this.addEventListener(type, (e) => fn(e.detail));
    return this;
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  _mark(name) {
    if (!(name in this.marks)) this.marks[name] = Math.round(performance.now());
  }

  _setConnection(state, reason = '') {
    this.connection = state;
    this._emit('connection', { state, reason });
  }

  async join() {
    this._setConnection('connecting');
    try {
      const token = await this.tokenProvider();
      this._mark('token');
      await this._open();
      this._mark('socket');
      const joined = await this.request({ type: 'join', token });
      this._mark('joined');
      this._joined(joined);
    } catch (e) {
      this._closeSocket();
      if (FINAL_ERRORS.has(e.code) || String(e.code).startsWith('token_')) this._finish(e.code);
      else this._setConnection('failed', e.code || 'network');
      throw e;
    }
    this._startTimers();
    return this.me;
  }

  // commands a page may give
  raiseHand() { return this.request({ type: 'hand.raise' }); }
  lowerHand(pid) { return this.request({ type: 'hand.lower', ...(pid ? { participant_id: pid } : {}) }); }
  invite(pid) { return this.request({ type: 'stage.invite', participant_id: pid }); }
  unstage(pid) { return this.request({ type: 'stage.leave', ...(pid ? { participant_id: pid } : {}) }); }
  requestMute(pid, source = 'microphone') { return this.request({ type: 'mute.request', participant_id: pid, source }); }
  remove(pid) { return this.request({ type: 'participant.remove', participant_id: pid }); }
  start() { return this.request({ type: 'room.start' }); }
  end() { this.send({ type: 'room.end' }); }
  setQuality(pid, quality) { return this.request({ type: 'subscription.quality', participant_id: pid, quality }); }

  leave() {
    this.send({ type: 'leave' });
    this._finish('left');
  }

  _onMessage(msg) {
    this._lastPong = Date.now(); // any message shows the connection alive, not only a pong
    if (typeof msg.seq === 'number') this.lastSeq = msg.seq;
    // The SFU's first subscriber offer can arrive before the `joined` reply: the answer waits for the TURN
    // servers, or a relay-only client (UDP blocked) would build a connection with no candidates at all.
    if (msg.type === 'joined') {
      this.iceServers = msg.ice_servers || [];
      for (const wake of this._iceWaiters.splice(0)) wake();
    }
    if (this._settle(msg)) return;
    switch (msg.type) {
      case 'pong':
        this._lastPong = Date.now();
        return;
      case 'subscriber.offer':
        this._onSubscriberOffer(msg);
        return;
      case 'media.reset':
        // The SFU worker holding the room died and was restarted (msg.tracks were lost): make both peer
        // connections anew on this session. Publish again now; the subscriber connection comes with the
        // SFU's next offer, which follows this message.
        this._teardownMedia();
        this._emit('event', msg);
        this._publishAll().catch((e) => this._mediaError(e));
        return;
      case 'error':
        this._emit('warning', new SignalError(msg.code, msg.message, msg.field));
        return;
      default:
        this._apply(msg);
        this._emit('event', msg);
    }
  }

  /** A negotiation failed: worth telling only while connected (during a reconnect the connection is gone anyway). */
  _mediaError(err) {
    console.warn('media negotiation failed', err);
    if (this.connection === 'joined') this._emit('warning', err);
  }

  _trickle(pc, target, candidate) {
    if (!pc._sent) return; // the SDP carries the candidates gathered before it was sent
    const c = candidate ? candidate.toJSON() : { candidate: '', sdpMid: '0', sdpMLineIndex: 0 };
    if (c.candidate && c.candidate.includes('.local')) return;
    this.send({ type: 'ice', target, candidate: c });
  }

  _teardownMedia() {
    if (this.pub) this.pub.close();
    this.pub = null;
    this._pubExpect = false;
    this._dropSubscriber();
    this._subChain = Promise.resolve();
    this._emit('media');
  }
}

Object.assign(SankeClient.prototype, socketMethods, roomMethods, publisherMethods, subscriberMethods, statsMethods);
