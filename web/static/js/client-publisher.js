// Publishing: the client's own tracks on the publisher peer connection (the client offers, the SFU answers),
// one negotiation at a time, restarted on a new connection when the SFU's side fails; and the helpers pages
// use to open the camera and describe what to publish. Methods of SankeClient.

const GATHER_WAIT_MS = 80; // host candidates come within a few ms; later ones are trickled

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

export const publisherMethods = {
  /** items: [{track, source: camera|microphone|screen, quality: high|low, encodings}] */
  async publish(items) {
    this.local.push(...items);
    if (this.connection === 'joined') await this._renegotiate();
  },

  /** One publisher negotiation at a time: a second one (or a restart) waits for the first answer. */
  _renegotiate(step = () => this._negotiatePublisher()) {
    const result = this._pubChain.then(step);
    this._pubChain = result.catch((e) => this._mediaError(e));
    return result;
  },

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
  },

  /** Send `next` instead of a published track, on the same transceiver (no renegotiation). */
  async replaceTrack(current, next) {
    const item = this.local.find((i) => i.track === current);
    if (!item) return false;
    item.track = next;
    if (item.transceiver) await item.transceiver.sender.replaceTrack(next);
    return true;
  },

  /** After the peer connections were torn down (a rejoin, a worker restart): publish everything anew. */
  async _publishAll() {
    for (const item of this.local) item.transceiver = null;
    if (this.local.length) await this._renegotiate();
  },

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
  },
};

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

/** Local camera and microphone, small by default so a classroom PC encodes two qualities with ease. */
export async function openCamera({ video = true, audio = true, width = 640, height = 360, deviceId } = {}) {
  const constraints = {
    audio: audio ? { echoCancellation: true, noiseSuppression: true } : false,
    video: video ? { width: { ideal: width }, height: { ideal: height }, frameRate: { ideal: 24, max: 30 }, ...(deviceId ? { deviceId: { exact: deviceId } } : {}) } : false,
  };
  return navigator.mediaDevices.getUserMedia(constraints);
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
