// Subscribing: the SFU offers what this client receives on a separate subscriber peer connection; the client
// answers each offer in turn, echoing its `offer_id`, and keeps the remote tracks pages show. Methods of
// SankeClient.

const SUB_RECOVER_MS = 8000; // a failed subscriber connection: the SFU offers a new one; rejoin if it does not

/** Which remote peer connection an SDP comes from: its DTLS certificate's fingerprint (one per connection;
 * aiortc's `o=` session id changes with every offer, so it cannot tell). */
function sdpSession(sdp) {
  const line = sdp.split(/\r?\n/).find((l) => l.startsWith('a=fingerprint:'));
  return line ? line.slice('a=fingerprint:'.length).trim() : '';
}

export const subscriberMethods = {
  /** A `subscriber.offer`, answered after the offers before it (`_subChain`). */
  _onSubscriberOffer(msg) {
    const answer = () => this._answerSubscriber(msg.sdp, msg.offer_id ?? null);
    this._subChain = this._subChain.then(answer).catch((e) => this._mediaError(e));
  },

  /** An offer from another DTLS certificate is the SFU's new connection (it replaced one that failed on its
   * side): it gets a new peer connection, never the old one. An offer this connection has answered already
   * (the SFU sends its outstanding offer again when it refuses a stale answer) is skipped. */
  async _answerSubscriber(sdp, offerId) {
    if (this.iceServers === null) await new Promise((resolve) => this._iceWaiters.push(resolve));
    const session = sdpSession(sdp);
    if (this.sub && this.sub._session !== session) this._dropSubscriber();
    if (offerId !== null && this.sub && this.sub._offerId === offerId) return;
    if (!this.sub) this._newSubscriber(session);
    const pc = this.sub;
    this._mark('subscriberOffer');
    await pc.setRemoteDescription({ type: 'offer', sdp });
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    if (pc !== this.sub) return; // torn down meanwhile: the answer is stale
    pc._offerId = offerId;
    const reply = { type: 'subscriber.answer', sdp: pc.localDescription.sdp };
    if (offerId !== null) reply.offer_id = offerId;
    // Candidates follow by trickle. `stale_answer`: the offer was not the SFU's current one, which is on its
    // way (or sent again) and answered in turn. `invalid_state` while `pc` is still ours: the SFU's connection
    // is gone, or (a server that numbers no offers) took another answer; either way it will never reach us,
    // and a resume brings a new one now rather than after ICE fails here.
    this.request(reply).catch((e) => e.code === 'invalid_state' && pc === this.sub && this._lost('media'));
    this._mark('subscriberAnswer');
    pc._sent = true;
    this._emit('media');
  },

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
  },

  _dropSubscriber() {
    if (this.sub) this.sub.close();
    this.sub = null;
    this.remote.clear();
    this._statsPrev.clear();
  },

  _onTrack(pc, e) {
    if (pc !== this.sub) return;
    const trackId = e.track.id;
    this._mark(`track:${trackId}`);
    this.remote.set(trackId, { track: e.track, transceiver: e.transceiver, stream: new MediaStream([e.track]) });
    e.track.addEventListener('unmute', () => this._emit('media'));
    this._emit('media');
  },

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
  },
};
