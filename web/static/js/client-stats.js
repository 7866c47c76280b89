// Statistics: what this client receives, read from the subscriber connection's getStats(), and the network
// mark per participant (good | fair | poor | offline) the pages show, polled every 2 s. Methods of SankeClient.

export const statsMethods = {
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
  },

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
  },
};
