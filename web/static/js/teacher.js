// The hub teacher's console: own camera large, courseware, every remote classroom, raised hands, the stage.
import { requireUser, roomToken } from './api.js';
import { cameraItems, openCamera, SankeClient } from './sanke-client.js';
import { AudioOut, wireConnection } from './session-ui.js';
import { teacherClasswork } from './classwork.js';
import { sectionPanel } from './section-panel.js';
import { qualityMark, setActions, setMarks, Tiles } from './tiles.js';
import { netBadge, networkLayer } from './netquality.js';
import { t } from '../i18n.js';
import { badge, button, card, count as counter, emptyState } from './components.js';
import { attach, el, errorText, fullMessage, params, runPage, toast, topBar, videoTile } from './ui.js';
import { hlsAudience } from './hls-audience.js';

const roomId = params.get('room');

function label(p) {
  return { name: p.school || p.name, sub: p.classroom || '' };
}

runPage(async () => {
  const user = await requireUser();
  topBar({ title: t('teacher.title') });
  if (!roomId) {
    fullMessage({ title: t('err.noRoom'), kind: 'error', actions: [el('a', { class: 'btn', href: '/home', text: t('common.back') })] });
    return;
  }

  const client = new SankeClient({ tokenProvider: async () => (await roomToken(roomId)).token });
  window.sanke = client;
  wireConnection(client);

  // layout -------------------------------------------------------------------------------------------
  const preview = videoTile({ id: 'me', name: user.display_name, sub: t('teacher.preview'), mirror: true, cls: 'self' });
  const courseware = videoTile({ id: 'courseware', name: t('classroom.courseware') });
  // the lesson bar: state badges, then the controls, large and in the order a lesson uses them
  const startBtn = button({ text: t('teacher.start'), kind: 'primary', id: 'start' });
  const camBtn = button({ text: t('teacher.camera'), kind: 'on', id: 'toggle-camera', attrs: { 'aria-pressed': 'true' } });
  const micBtn = button({ text: t('teacher.mic'), kind: 'on', id: 'toggle-mic', attrs: { 'aria-pressed': 'true' } });
  const cwBtn = button({ text: t('teacher.courseware'), id: 'courseware' });
  const endBtn = button({ text: t('teacher.end'), kind: 'danger', id: 'end', confirm: t('teacher.endConfirm'), confirmYes: t('teacher.endYes'), onclick: () => client.end() });
  const grid = el('div', { class: 'grid', id: 'classrooms' });
  const emptyNote = emptyState({ title: t('teacher.noClassrooms') });
  emptyNote.id = 'no-classrooms';
  const count = counter('classroom-count');
  const hands = el('ol', { class: 'hands', id: 'hands' });
  const handCount = counter('hand-count');
  const log = el('ul', { class: 'log', id: 'log' });
  const titleNode = el('h2', { class: 'lesson-title', id: 'room-title' });
  const liveBadge = badge('live', undefined, { id: 'live-badge', hidden: true });
  const recBadge = badge('recording', undefined, { id: 'recording', hidden: true });
  const classwork = teacherClasswork(client); // 随堂测, 签到, messages
  const attendanceLink = el('a', { class: 'btn secondary', id: 'attendance-link', href: `/attendance?room=${encodeURIComponent(roomId)}`, target: '_blank', text: t('att.title') });

  document.getElementById('main').replaceChildren(el('div', { class: 'console' },
    el('div', { class: 'left' },
      el('div', { class: 'lessonbar', role: 'toolbar', 'aria-label': t('teacher.controls') },
        titleNode, liveBadge, recBadge, hlsAudience(roomId, client), el('div', { class: 'spacer' }),
        startBtn, camBtn, micBtn, cwBtn, attendanceLink, endBtn),
      el('div', { class: 'stagearea' }, preview.tile, courseware.tile),
      card({ title: [t('teacher.classrooms'), ' ', count], tag: 'h2', cls: 'fill', body: el('div', { class: 'scroll' }, emptyNote, grid) }),
    ),
    el('div', { class: 'right with-classwork' },
      sectionPanel(roomId),
      card({ title: [t('teacher.hands'), ' ', handCount], tag: 'h2', body: hands }),
      classwork.node,
      card({ title: t('teacher.log'), tag: 'h2', cls: 'fill logcard', body: log }),
    ),
  ));
  const tiles = new Tiles(grid);
  const audio = new AudioOut();

  const note = (text) => {
    const time = new Date().toLocaleTimeString('zh-CN', { hour: '2-digit', minute: '2-digit', second: '2-digit' });
    log.prepend(el('li', {}, el('time', { text: time }), text));
  };
  const nameOf = (pid, fallback) => {
    const p = client.room.participants.get(pid) || fallback;
    return p ? [p.school, p.classroom].filter(Boolean).join(' ') || p.name : pid;
  };
  const act = (promise) => promise.catch((e) => toast(errorText(e), 'error'));

  // rendering ----------------------------------------------------------------------------------------
  function classrooms() {
    return client.visibleParticipants().filter((p) => p.id !== client.me?.participant_id);
  }

  function render() {
    const room = client.room;
    titleNode.textContent = room.title || '';
    document.body.dataset.roomState = room.state;
    document.body.toggleAttribute('data-recording', client.isRecording());
    liveBadge.hidden = room.state !== 'live';
    recBadge.hidden = !client.isRecording();
    startBtn.hidden = room.state === 'live';
    const list = classrooms();
    count.textContent = String(list.length);
    emptyNote.hidden = list.length > 0;
    for (const p of list) {
      const item = tiles.ensure(p.id, label(p));
      item.tile.classList.toggle('offline', !p.connected);
      const onStage = room.stage.includes(p.id);
      const hand = room.hands.indexOf(p.id);
      setMarks(item, [
        hand >= 0 ? el('span', { class: 'mark hand', text: `${t('teacher.hands')} ${hand + 1}` }) : null,
        onStage ? el('span', { class: 'mark stage', text: t('teacher.onStage') }) : null,
        qualityMark(p.connected ? client.quality.get(p.id) || 'good' : 'offline'),
      ]);
      const who = nameOf(p.id);
      setActions(item, onStage ? 'on' : 'off', () => [
        onStage
          ? button({ text: t('teacher.unstage'), small: true, attrs: { 'data-action': 'unstage', 'aria-label': `${t('teacher.unstage')} · ${who}` }, onclick: () => act(client.unstage(p.id)) })
          : button({ text: t('teacher.stage'), small: true, attrs: { 'data-action': 'stage', 'aria-label': `${t('teacher.stage')} · ${who}` }, onclick: () => act(client.invite(p.id)) }),
        button({ text: t('teacher.mute'), small: true, attrs: { 'data-action': 'mute', 'aria-label': `${t('teacher.mute')} · ${who}` },
          onclick: () => act(client.requestMute(p.id).then(() => toast(t('teacher.muteSent', { name: who })))) }),
      ]);
      tiles.show(p.id, client.mediaOf(p.id).camera);
      netBadge(item.tile, networkLayer(client, p.id));
    }
    tiles.prune(new Set(list.map((p) => p.id)));
    handCount.textContent = String(room.hands.length);
    const handsKey = room.hands.join(',');
    if (hands.dataset.key !== handsKey) renderHands(room, handsKey);
    renderAudio(list);
  }

  function renderHands(room, key) {
    hands.dataset.key = key;
    hands.replaceChildren(...(room.hands.length ? room.hands.map((pid, i) => el('li', { dataset: { pid } },
      el('span', { class: 'order', text: String(i + 1) }),
      el('span', { class: 'who', text: nameOf(pid) }),
      button({ text: t('teacher.stage'), kind: 'primary', small: true, attrs: { 'aria-label': `${t('teacher.stage')} · ${nameOf(pid)}` }, onclick: () => act(client.invite(pid)) }),
    )) : [el('li', { class: 'none', text: t('teacher.noHands') })]));
  }

  function renderAudio(list) {
    const heard = new Map();
    for (const p of list) {
      const a = client.mediaOf(p.id).audio;
      if (a) heard.set(p.id, a);
    }
    audio.sync(heard);
  }

  client.on('room', render).on('media', render).on('quality', render);
  client.on('event', (ev) => {
    const who = ev.participant || client.room.participants.get(ev.participant_id);
    if (who && (who.role === 'observer' || who.role === 'coordinator')) return;
    if (ev.participant?.id === client.me?.participant_id) return;
    switch (ev.type) {
      case 'participant.joined': note(t('event.joined', { name: nameOf(ev.participant.id, ev.participant) })); break;
      case 'participant.left': note(t('event.left', { name: nameOf(ev.participant_id, { name: ev.participant_id }) })); break;
      case 'participant.disconnected': note(t('event.disconnected', { name: nameOf(ev.participant.id, ev.participant) })); break;
      case 'participant.reconnected': note(t('event.reconnected', { name: nameOf(ev.participant.id, ev.participant) })); break;
      case 'hand.raised': note(t('event.hand', { name: nameOf(ev.participant_id) })); break;
      default:
    }
  });
  let lastStage = [];
  client.on('room', (room) => {
    for (const pid of room.stage) if (!lastStage.includes(pid)) note(t('event.stage', { name: nameOf(pid) }));
    for (const pid of lastStage) if (!room.stage.includes(pid)) note(t('event.unstage', { name: nameOf(pid, { name: pid }) }));
    lastStage = [...room.stage];
  });

  // controls -----------------------------------------------------------------------------------------
  startBtn.onclick = () => act(client.start());
  let camera = null;
  const toggle = (btn, kind) => {
    const track = camera?.getTracks().find((x) => x.kind === kind);
    if (!track) return;
    track.enabled = !track.enabled;
    btn.className = `btn ${track.enabled ? 'on' : 'off'}`;
    btn.setAttribute('aria-pressed', String(track.enabled));
  };
  camBtn.onclick = () => toggle(camBtn, 'video');
  micBtn.onclick = () => toggle(micBtn, 'audio');

  // Courseware keeps its transceiver once published: stopping sends a slate that says so, sharing again
  // swaps the new capture in. (The SFU keeps a published track until the publisher leaves.)
  let cwStream = null;
  let cwSent = null;
  cwBtn.onclick = async () => {
    if (cwStream) {
      for (const track of cwStream.getTracks()) track.stop();
      cwStream = null;
      const slate = stoppedSlate(t('teacher.coursewareStopped'));
      await client.replaceTrack(cwSent, slate);
      cwSent = slate;
      attach(courseware.video, null);
      cwBtn.textContent = t('teacher.courseware');
      return;
    }
    try {
      cwStream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: 10 }, audio: false });
    } catch {
      cwStream = await secondCamera(camera);
      if (cwStream) toast(t('teacher.coursewareCamera'));
    }
    if (!cwStream) return;
    const track = cwStream.getVideoTracks()[0];
    track.addEventListener('ended', () => cwStream?.getVideoTracks()[0] === track && cwBtn.click()); // the browser's own stop
    attach(courseware.video, cwStream);
    cwBtn.textContent = t('teacher.coursewareStop');
    if (cwSent && (await client.replaceTrack(cwSent, track))) {
      cwSent.stop();
    } else {
      await client.publish([{ track, source: 'screen', quality: 'high', encodings: [{ maxBitrate: 1_200_000 }] }]);
    }
    cwSent = track;
  };

  // go -----------------------------------------------------------------------------------------------
  await client.join();
  render();
  try {
    camera = await openCamera();
    attach(preview.video, camera);
    await client.publish(cameraItems(camera));
  } catch (err) {
    toast(errorText(err), 'error', 10000);
    preview.tile.querySelector('.placeholder').textContent = errorText(err);
  }
});

/** A second camera for the courseware when the screen cannot be shared (or the first camera again). */
async function secondCamera(first) {
  const used = first?.getVideoTracks()[0]?.getSettings().deviceId;
  const cams = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'videoinput');
  const other = cams.find((d) => d.deviceId && d.deviceId !== used);
  try {
    if (other) return await openCamera({ audio: false, deviceId: other.deviceId, width: 1280, height: 720 });
  } catch {
    // fall through to the first camera
  }
  const track = first?.getVideoTracks()[0];
  return track ? new MediaStream([track.clone()]) : null;
}

/** A still picture with one line of text, sent where the courseware was. */
function stoppedSlate(text) {
  const canvas = document.createElement('canvas');
  canvas.width = 1280;
  canvas.height = 720;
  const g = canvas.getContext('2d');
  const draw = () => {
    g.fillStyle = '#111820';
    g.fillRect(0, 0, canvas.width, canvas.height);
    g.fillStyle = '#cfd8e3';
    g.font = '56px "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif';
    g.textAlign = 'center';
    g.fillText(text, canvas.width / 2, canvas.height / 2);
  };
  draw();
  const track = canvas.captureStream(1).getVideoTracks()[0];
  const timer = setInterval(draw, 1000);
  track.addEventListener('ended', () => clearInterval(timer));
  const stop = track.stop.bind(track);
  track.stop = () => {
    clearInterval(timer);
    stop();
  };
  return track;
}
