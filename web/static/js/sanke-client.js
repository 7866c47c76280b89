// The one client for Sanke's signaling and WebRTC, shared by every page.
//
// A SankeClient joins a room over the WebSocket (/ws), keeps the room's state from the `joined` snapshot and
// the events that follow, publishes local tracks on a publisher peer connection, answers the SFU's offers on a
// separate subscriber peer connection, and reconnects on its own with `resume` when the network drops.
// Pages listen to: 'connection' {state, reason}, 'room' (state changed), 'event' (every server event),
// 'media' (remote tracks changed), 'quality' (per participant), 'final' {reason}.

const PING_EVERY_MS = 8000;
const PONG_DEADLINE_MS = 20000;
const PONG_GRACE_MS = 3000; // a deadline missed: one more ping, and this long for anything to arrive
const REQUEST_TIMEOUT_MS = 15000;
const GATHER_WAIT_MS = 80; // host candidates come within a few ms; later ones are trickled
const SUB_RECOVER_MS = 8000; // a failed subscriber connection: the SFU offers a new one; rejoin if it does not
const FINAL_CLOSE = { 4003: 'removed', 4004: 'room_ended', 4005: 'deactivated', 4009: 'replaced' };
const FINAL_ERRORS = new Set(['room_ended', 'no_lesson', 'bad_code', 'forbidden', 'not_logged_in']);

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

/** Wait until ICE gathering completes or `ms` pass, so the SDP carries the host candidates. */
function gathered(pc, ms) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    };
    const check = () => pc.iceGatheringState === 'complete' && done();
    pc.addEventListener('icegatheringstatechange', check);
    setTimeout(done, ms);
  });
}

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

  // -- joining ------------------------------------------------------------------------------------------

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
  }

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
  }

  _joined(msg) {
    this.me = { participant_id: msg.participant_id, role: msg.role, grants: msg.grants };
    this.resumeToken = msg.resume_token;
    if (!msg.resumed) this.lastSeq = 0; // a new seat numbers its events anew
    this.iceServers = msg.ice_servers || []; // TURN with this join's credentials (set in _onMessage too)
    const r = msg.room || {};
    this.room.id = r.id;
    this.room.kind = r.kind;
    this.room.title = r.title;
    this.room.state = r.state;
    this.room.participants = new Map((r.participants || []).map((p) => [p.id, p]));
    this.room.tracks = new Map((r.tracks || []).map((t) => [t.track_id, t]));
    this.room.stage = r.stage || [];
    this.room.hands = r.hands || [];
    this.room.seats = r.seats;
    this.netQuality.clear(); // a (re)join starts a new subscriber connection at full quality
    this._setConnection('joined', msg.resumed ? 'resumed' : '');
    this._emit('room', this.room);
  }

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
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
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

  // -- messages -----------------------------------------------------------------------------------------

  _onMessage(msg) {
    this._lastPong = Date.now(); // any message shows the connection alive, not only a pong
    if (typeof msg.seq === 'number') this.lastSeq = msg.seq;
    // The SFU's first subscriber offer can arrive before the `joined` reply: the answer waits for the TURN
    // servers, or a relay-only client (UDP blocked) would build a connection with no candidates at all.
    if (msg.type === 'joined') {
      this.iceServers = msg.ice_servers || [];
      for (const wake of this._iceWaiters.splice(0)) wake();
    }
    const waiting = msg.id != null ? this._pending.get(msg.id) : null;
    if (waiting) {
      this._pending.delete(msg.id);
      if (msg.type === 'error') waiting.reject(new SignalError(msg.code, msg.message, msg.field));
      else waiting.resolve(msg);
      return;
    }
    switch (msg.type) {
      case 'pong':
        this._lastPong = Date.now();
        return;
      case 'subscriber.offer':
        this._subChain = this._subChain.then(() => this._answerSubscriber(msg.sdp)).catch((e) => this._mediaError(e));
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

  _apply(ev) {
    const room = this.room;
    switch (ev.type) {
      case 'participant.joined':
      case 'participant.reconnected':
      case 'participant.disconnected':
        room.participants.set(ev.participant.id, ev.participant);
        break;
      case 'participant.left':
        room.participants.delete(ev.participant_id);
        for (const [id, t] of room.tracks) if (t.participant_id === ev.participant_id) room.tracks.delete(id);
        room.stage = room.stage.filter((p) => p !== ev.participant_id);
        room.hands = room.hands.filter((p) => p !== ev.participant_id);
        break;
      case 'hand.raised':
      case 'hand.lowered':
        room.hands = ev.hands;
        break;
      case 'stage.changed':
        // Classrooms are not told of every other classroom's arrival: the stage names its own.
        for (const p of ev.on_stage || []) room.participants.set(p.id, p);
        room.stage = ev.stage;
        room.hands = ev.hands;
        break;
      case 'track.published':
        room.tracks.set(ev.track.track_id, ev.track);
        if (ev.track.participant_id === this.me?.participant_id) this._pubExpect = false;
        break;
      case 'track.unpublished': {
        const mine = room.tracks.get(ev.track_id)?.participant_id === this.me?.participant_id;
        room.tracks.delete(ev.track_id);
        // The SFU unpublishes the tracks of a publisher connection that failed underneath it: publish
        // again on a new one (unless this is the old connection's tracks going after our own restart).
        if (mine && this.pub && !this._pubExpect) this._restartPublisher('unpublished');
        break;
      }
      case 'speakers':
        for (const pid of Object.keys(ev.levels || {})) this.speaking.set(pid, Date.now());
        break;
      case 'quality.changed':
        for (const trackId of ev.tracks || []) this.netQuality.set(trackId, ev.layer);
        break;
      case 'room.state':
        room.state = ev.state;
        break;
      case 'room.ended':
        room.state = 'ended';
        this._finish('room_ended');
        return;
      case 'removed':
        this._finish('removed');
        return;
      default:
        return;
    }
    this._emit('room', room);
    if (ev.type.startsWith('track.')) this._emit('media');
  }

  _onClose(ws, ev) {
    if (ws !== this.ws) return;
    for (const { reject } of this._pending.values()) reject(new SignalError('network', 'connection closed'));
    this._pending.clear();
    const final = FINAL_CLOSE[ev.code];
    if (final) this._finish(final);
    else if (this.connection === 'joined') this._lost('closed');
  }

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
  }

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
  }

  _finish(reason) {
    if (this.final) return;
    this.final = reason;
    for (const timer of this._timers) clearInterval(timer);
    this._closeSocket();
    this._teardownMedia();
    this._setConnection(reason === 'room_ended' ? 'ended' : 'failed', reason);
    this._emit('final', { reason });
  }

  _startTimers() {
    this._lastTick = Date.now();
    this._timers.push(setInterval(() => this._checkAlive(), PING_EVERY_MS));
    this._timers.push(setInterval(() => this._pollQuality(), 2000));
  }

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
  }

  // -- publishing ---------------------------------------------------------------------------------------

  /** items: [{track, source: camera|microphone|screen, quality: high|low, encodings}] */
  async publish(items) {
    this.local.push(...items);
    if (this.connection === 'joined') await this._renegotiate();
  }

  /** One publisher negotiation at a time: a second one (or a restart) waits for the first answer. */
  _renegotiate(step = () => this._negotiatePublisher()) {
    const result = this._pubChain.then(step);
    this._pubChain = result.catch((e) => this._mediaError(e));
    return result;
  }

  /** A new publisher connection for the same tracks (the SFU cannot restart ICE on the old one); the
   * signaling session and the subscriber connection stay. */
  _restartPublisher(reason) {
    if (this.connection !== 'joined' || !this.local.length) return;
    console.warn('publisher connection restarted:', reason);
    this._renegotiate(() => {
      if (this.pub) this.pub.close();
      this.pub = null;
      for (const item of this.local) item.transceiver = null;
      return this._negotiatePublisher();
    }).catch(() => {});
  }

  /** Send `next` instead of a published track, on the same transceiver (no renegotiation). */
  async replaceTrack(current, next) {
    const item = this.local.find((i) => i.track === current);
    if (!item) return false;
    item.track = next;
    if (item.transceiver) await item.transceiver.sender.replaceTrack(next);
    return true;
  }

  /** After the peer connections were torn down (a rejoin, a worker restart): publish everything anew. */
  async _publishAll() {
    for (const item of this.local) item.transceiver = null;
    if (this.local.length) await this._renegotiate();
  }

  async _negotiatePublisher() {
    if (!this.pub) {
      const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', iceServers: this.iceServers || [] });
      this.pub = pc;
      pc.onicecandidate = (e) => this._trickle(pc, 'publisher', e.candidate);
      pc.onconnectionstatechange = () => {
        if (pc === this.pub && pc.connectionState === 'failed') this._restartPublisher('failed');
      };
    }
    const pc = this.pub;
    for (const item of this.local) {
      if (item.transceiver) continue;
      const init = { direction: 'sendonly' };
      if (item.encodings) init.sendEncodings = item.encodings;
      item.transceiver = pc.addTransceiver(item.track, init);
      if (item.track.kind === 'video' && this.room.kind === 'broadcast') preferH264(item.transceiver);
    }
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    await gathered(pc, GATHER_WAIT_MS);
    const tracks = this.local
      .filter((i) => i.transceiver?.mid != null)
      .map((i) => ({ mid: i.transceiver.mid, kind: i.track.kind, source: i.source, quality: i.quality || 'high' }));
    pc._sent = true;
    if (tracks.length) this._pubExpect = true;
    const answer = await this.request({ type: 'publish.offer', sdp: pc.localDescription.sdp, tracks });
    // an answer for a connection replaced meanwhile, or for an offer already answered, is stale
    if (pc !== this.pub || pc.signalingState !== 'have-local-offer') return;
    await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
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

  // -- subscribing --------------------------------------------------------------------------------------

  /** Offers come one at a time (`_subChain`). An offer from another DTLS certificate is the SFU's new connection
   * (it replaced one that failed on its side): it gets a new peer connection, never the old one. */
  async _answerSubscriber(sdp) {
    if (this.iceServers === null) await new Promise((resolve) => this._iceWaiters.push(resolve));
    const session = sdpSession(sdp);
    if (this.sub && this.sub._session !== session) this._dropSubscriber();
    if (!this.sub) this._newSubscriber(session);
    const pc = this.sub;
    this._mark('subscriberOffer');
    await pc.setRemoteDescription({ type: 'offer', sdp });
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    if (pc !== this.sub) return; // torn down meanwhile: the answer is stale
    // Candidates follow by trickle. Refused while `pc` is still ours: the SFU's connection took another answer
    // (a late one, meant for a connection it had replaced) and will never reach us; a resume brings a new one
    // now rather than after ICE fails here.
    this.request({ type: 'subscriber.answer', sdp: pc.localDescription.sdp })
      .catch((e) => e.code === 'invalid_state' && pc === this.sub && this._lost('media'));
    this._mark('subscriberAnswer');
    pc._sent = true;
    this._emit('media');
  }

  _newSubscriber(session) {
    const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', iceServers: this.iceServers || [] });
    pc._session = session;
    this.sub = pc;
    pc.onicecandidate = (e) => this._trickle(pc, 'subscriber', e.candidate);
    pc.ontrack = (e) => this._onTrack(pc, e);
    pc.onconnectionstatechange = () => {
      if (pc === this.sub && pc.connectionState === 'connected') this._mark('subscriberConnected');
      if (pc !== this.sub || pc.connectionState !== 'failed') return;
      // The SFU replaces a subscriber connection that failed on its side and offers again; only when no
      // new offer comes is the whole session rejoined.
      setTimeout(() => pc === this.sub && this._lost('media'), SUB_RECOVER_MS);
    };
  }

  _dropSubscriber() {
    if (this.sub) this.sub.close();
    this.sub = null;
    this.remote.clear();
    this._statsPrev.clear();
  }

  _onTrack(pc, e) {
    if (pc !== this.sub) return;
    const trackId = e.track.id;
    this._mark(`track:${trackId}`);
    this.remote.set(trackId, { track: e.track, transceiver: e.transceiver, stream: new MediaStream([e.track]) });
    e.track.addEventListener('unmute', () => this._emit('media'));
    this._emit('media');
  }

  _teardownMedia() {
    if (this.pub) this.pub.close();
    this.pub = null;
    this._pubExpect = false;
    this._dropSubscriber();
    this._subChain = Promise.resolve();
    this._emit('media');
  }

  /** A participant's received media: {camera, screen, audio} MediaStreams (or null). */
  mediaOf(pid) {
    const out = { camera: null, screen: null, audio: null };
    for (const [trackId, r] of this.remote) {
      const info = this.room.tracks.get(trackId);
      const owner = info ? info.participant_id : trackId.slice(0, trackId.lastIndexOf(':'));
      if (owner !== pid) continue;
      const dir = r.transceiver.currentDirection;
      if (dir && dir !== 'recvonly' && dir !== 'sendrecv') continue;
      if (r.track.kind === 'audio') out.audio = r.stream;
      else if (info?.source === 'screen') out.screen = r.stream;
      else out.camera = r.stream;
    }
    return out;
  }

  /** Participants others can see (observers and patrolling coordinators are never listed; the recorder
   * is shown as the "录制中" badge, not as a classroom). */
  visibleParticipants() {
    return [...this.room.participants.values()].filter((p) => !['observer', 'coordinator', 'recorder'].includes(p.role));
  }

  /** Whether the lesson is being recorded: the recorder sits in the room. */
  isRecording() {
    return [...this.room.participants.values()].some((p) => p.role === 'recorder');
  }

  isSpeaking(pid) {
    return Date.now() - (this.speaking.get(pid) || 0) < 1500;
  }

  // -- statistics ---------------------------------------------------------------------------------------

  /** Inbound video as received by this page: [{track_id, participant_id, source, framesDecoded, fps, lost}]. */
  async inboundVideo() {
    const pc = this.sub;  // the connection may be replaced or closed while getStats() is pending
    if (!pc) return [];
    const stats = await pc.getStats();
    const byMid = new Map();
    for (const t of pc.getTransceivers()) byMid.set(t.mid, t);
    const out = [];
    stats.forEach((s) => {
      if (s.type !== 'inbound-rtp' || s.kind !== 'video') return;
      const tr = byMid.get(s.mid);
      const trackId = tr?.receiver.track.id || s.trackIdentifier;
      const info = this.room.tracks.get(trackId);
      out.push({
        track_id: trackId,
        participant_id: info?.participant_id || trackId.slice(0, trackId.lastIndexOf(':')),
        source: info?.source || 'camera',
        framesDecoded: s.framesDecoded || 0,
        fps: s.framesPerSecond || 0,
        packetsLost: s.packetsLost || 0,
        packetsReceived: s.packetsReceived || 0,
        width: s.frameWidth || 0,
      });
    });
    return out;
  }

  async _pollQuality() {
    if (!this.sub || this.connection !== 'joined') return;
    const now = await this.inboundVideo();
    const marks = new Map();
    for (const s of now) {
      const prev = this._statsPrev.get(s.track_id);
      this._statsPrev.set(s.track_id, s);
      if (!prev || s.source !== 'camera') continue;
      const got = s.packetsReceived - prev.packetsReceived;
      const lost = s.packetsLost - prev.packetsLost;
      const frames = s.framesDecoded - prev.framesDecoded;
      const loss = got + lost > 0 ? lost / (got + lost) : 0;
      marks.set(s.participant_id, frames <= 0 || loss > 0.1 ? 'poor' : loss > 0.02 || frames < 10 ? 'fair' : 'good');
    }
    for (const p of this.room.participants.values()) {
      if (!p.connected) marks.set(p.id, 'offline');
    }
    this.quality = marks;
    this._emit('quality', marks);
  }
}

/** Which remote peer connection an SDP comes from: its DTLS certificate's fingerprint (one per connection;
 * aiortc's `o=` session id changes with every offer, so it cannot tell). */
function sdpSession(sdp) {
  const line = sdp.split(/\r?\n/).find((l) => l.startsWith('a=fingerprint:'));
  return line ? line.slice('a=fingerprint:'.length).trim() : '';
}

/** Local camera and microphone, small by default so a classroom PC encodes two qualities with ease. */
export async function openCamera({ video = true, audio = true, width = 640, height = 360, deviceId } = {}) {
  const constraints = {
    audio: audio ? { echoCancellation: true, noiseSuppression: true } : false,
    video: video ? { width: { ideal: width }, height: { ideal: height }, frameRate: { ideal: 24, max: 30 }, ...(deviceId ? { deviceId: { exact: deviceId } } : {}) } : false,
  };
  return navigator.mediaDevices.getUserMedia(constraints);
}

/** A broadcast is also cut into HLS from the forwarded stream, which needs H.264 (packetization-mode 1):
 * put it first when the browser can send it; otherwise the browser's order stays (VP8 → WebRTC only). */
function preferH264(transceiver) {
  const caps = window.RTCRtpSender?.getCapabilities?.('video');
  if (!caps || !transceiver.setCodecPreferences) return;
  const h264 = caps.codecs.filter((c) => c.mimeType === 'video/H264' && /packetization-mode=1/.test(c.sdpFmtpLine || ''));
  if (!h264.length) return;
  h264.sort((a, b) => Number(/profile-level-id=42e0/.test(b.sdpFmtpLine)) - Number(/profile-level-id=42e0/.test(a.sdpFmtpLine)));
  transceiver.setCodecPreferences([...h264, ...caps.codecs.filter((c) => !h264.includes(c))]);
}

/** The publish items for a camera stream: camera high, a smaller camera twin for grids, and the microphone. */
export function cameraItems(stream, { low = true } = {}) {
  const items = [];
  const [video] = stream.getVideoTracks();
  const [audio] = stream.getAudioTracks();
  if (video) {
    items.push({ track: video, source: 'camera', quality: 'high', encodings: [{ maxBitrate: 800_000 }] });
    if (low) {
      items.push({
        track: video.clone(), source: 'camera', quality: 'low',
        encodings: [{ maxBitrate: 150_000, scaleResolutionDownBy: 2, maxFramerate: 15 }],
      });
    }
  }
  if (audio) items.push({ track: audio, source: 'microphone', quality: 'high' });
  return items;
}
