// The room as this client knows it: the `joined` snapshot, then every room event applied to it, and what the
// pages ask of it (who is shown, who speaks, whether the lesson is recorded). Methods of SankeClient.

export const roomMethods = {
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
  },

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
  },

  /** Participants others can see (observers and patrolling coordinators are never listed; the recorder
   * is shown as the "录制中" badge, not as a classroom). */
  visibleParticipants() {
    return [...this.room.participants.values()].filter((p) => !['observer', 'coordinator', 'recorder'].includes(p.role));
  },

  /** Whether the lesson is being recorded: the recorder sits in the room. */
  isRecording() {
    return [...this.room.participants.values()].some((p) => p.role === 'recorder');
  },

  isSpeaking(pid) {
    return Date.now() - (this.speaking.get(pid) || 0) < 1500;
  },
};
