// The remote classroom's big screen: join by code, the hub teacher and courseware large, the stage beside them.
import { classroomJoin } from './api.js';
import { cameraItems, openCamera, SankeClient } from './sanke-client.js';
import { AudioOut, wireConnection } from './session-ui.js';
import { classroomClasswork } from './classwork.js';
import { Tiles } from './tiles.js';
import { netBadge, networkLayer } from './netquality.js';
import { t } from '../i18n.js';
import { badge, button } from './components.js';
import { renderToday } from '../today.js';
import { attach, banner, clock, el, errorText, params, runPage, toast, topBar, videoTile } from './ui.js';
import { setTitle } from './header.js';

const CODE_KEY = 'sanke.classroom.code';
const LAYOUTS = ['teacher', 'courseware', 'split'];
const RETURN_VIDEO_DELAY_MS = 1500;
const AUTO_RETRY_MS = 30000;
window.sankeMetrics = {};

runPage(async () => {
  document.body.classList.add('classroom');
  topBar({ title: t('classroom.title'), home: false });
  const code = (params.get('code') || localStorage.getItem(CODE_KEY) || '').toUpperCase();
  showJoin(code);
  if (code && params.has('auto')) document.getElementById('join').click();
});

function showJoin(code, error = '') {
  const input = el('input', { id: 'code', value: code, maxlength: '16', autocomplete: 'off', placeholder: 'ABCD2345', 'aria-label': t('classroom.code') });
  const err = el('div', { class: 'error', id: 'join-error', role: 'alert', text: error });
  const btn = button({ text: t('classroom.join'), kind: 'primary', id: 'join', type: 'submit' });
  btn.classList.add('big');
  const form = el('form', { class: 'joincard' },
    el('h2', { text: t('classroom.title') }), el('p', { text: t('classroom.codeHint') }), input, err, btn);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    window.sankeMetrics.joinClick = performance.now();
    btn.disabled = true;
    err.textContent = '';
    const value = input.value.trim().toUpperCase();
    try {
      const first = await classroomJoin(value, params.get('room') || undefined);
      localStorage.setItem(CODE_KEY, value);
      await enter(value, first);
    } catch (e2) {
      if (document.getElementById('message')) return; // the client already shows why it stopped
      if (e2.code === 'no_lesson' && params.has('auto')) {
        // a classroom PC left on: try again for the next lesson of the timetable
        setTimeout(() => document.getElementById('join')?.click(), AUTO_RETRY_MS);
      }
      if (err.isConnected) {
        err.textContent = errorText(e2);
        btn.disabled = false;
      } else {
        showJoin(value, errorText(e2));
      }
    }
  });
  document.getElementById('main').replaceChildren(form);
  if (code) {
    // the timetable's lessons of this classroom today, each with its own join button once open
    const today = el('section', { class: 'joincard', id: 'today' });
    document.getElementById('main').append(today);
    renderToday(today, { code }).catch(() => today.remove());
  }
  input.focus();
}

async function enter(code, first) {
  let pass = first;
  const roomId = first.room.id;
  const client = new SankeClient({
    tokenProvider: async () => {
      if (pass) {
        const { token } = pass;
        pass = null;
        return token;
      }
      try {
        return (await classroomJoin(code, roomId)).token;
      } catch (e) {
        // the lesson this screen was in is gone: it ended
        if (e.code === 'no_lesson') e.code = 'room_ended';
        throw e;
      }
    },
  });
  window.sanke = client;
  wireConnection(client, { homeHref: '/classroom' });

  const teacher = videoTile({ id: 'teacher', name: t('classroom.teacher'), cls: 'tc' });
  teacher.tile.querySelector('.placeholder').append(el('p', { text: t('classroom.noTeacher') }));
  const cw = videoTile({ id: 'courseware', name: t('classroom.courseware'), cls: 'cw' });
  const mainview = el('div', { class: 'mainview', id: 'mainview', 'data-layout': 'teacher' }, teacher.tile, cw.tile);
  const stageEmpty = el('p', { class: 'empty', text: t('classroom.noStage') });
  const stageList = el('div', { class: 'stagelist', id: 'stage' }, stageEmpty);
  const self = videoTile({ id: 'self', name: t('classroom.self'), mirror: true, cls: 'self' });
  const raise = button({ text: '', kind: 'raise', id: 'raise', attrs: { 'aria-pressed': 'false' } });
  const status = el('div', { class: 'status', id: 'status', role: 'status', text: t('classroom.waiting') });
  const layoutBtn = button({ text: t('classroom.layout'), id: 'layout' });
  const fsBtn = button({ text: t('classroom.fullscreen'), id: 'fullscreen' });
  const unmuteBtn = button({ text: t('classroom.unmute'), kind: 'primary', id: 'unmute', attrs: { hidden: true } });
  const recBadge = badge('recording', undefined, { id: 'recording', hidden: true });
  const clockNode = el('span', { class: 'status' });
  clock(clockNode);
  const classwork = classroomClasswork(client); // 随堂测 answers, 签到, messages to the teacher
  document.getElementById('main').replaceChildren(el('div', { class: 'screen' },
    mainview,
    el('aside', { class: 'side' }, el('h2', { text: t('classroom.stageTitle') }), stageList, self.tile),
    el('div', { class: 'bottom', role: 'toolbar', 'aria-label': t('classroom.controls') }, raise, el('div', { class: 'onstage-note', role: 'status', text: t('classroom.onStage') }), status,
      recBadge,
      el('div', { class: 'spacer' }), classwork.checkin, classwork.reopen, classwork.toggle, unmuteBtn, clockNode, layoutBtn, fsBtn),
  ), classwork.overlay, classwork.drawer);
  const stageTiles = new Tiles(stageList);
  const audio = new AudioOut();
  let camera = null;

  const hubTeacher = () => [...client.room.participants.values()].find((p) => p.role === 'hub_teacher');
  let firstFrameWatch = null;
  let sawFirstFrame;
  const firstFrame = new Promise((resolve) => {
    sawFirstFrame = resolve;
  });
  const watchFirstFrame = (video) => {
    if (firstFrameWatch === video || window.sankeMetrics.firstFrame) return;
    firstFrameWatch = video;
    const done = () => {
      if (window.sankeMetrics.firstFrame) return;
      window.sankeMetrics.firstFrame = performance.now();
      window.sankeMetrics.joinToFirstFrameMs = Math.round(window.sankeMetrics.firstFrame - window.sankeMetrics.joinClick);
      sawFirstFrame();
    };
    if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(done);
    else video.addEventListener('loadeddata', done, { once: true });
  };

  function render() {
    const room = client.room;
    const me = client.me?.participant_id;
    setTitle(room.title || t('classroom.title'));
    const hub = hubTeacher();
    const hubMedia = hub ? client.mediaOf(hub.id) : {};
    if (hub) teacher.tile.querySelector('.name').textContent = hub.name;
    attach(teacher.video, hubMedia.camera || null);
    netBadge(teacher.tile, hub ? networkLayer(client, hub.id) : 'high');
    if (hubMedia.camera) watchFirstFrame(teacher.video);
    attach(cw.video, hubMedia.screen || null);
    mainview.toggleAttribute('data-has-cw', !!hubMedia.screen);

    const others = room.stage.filter((pid) => pid !== me && room.participants.has(pid));
    const hubRooms = client.visibleParticipants().filter((p) => p.side === 'hub' && p.role !== 'hub_teacher' && p.id !== me);
    const side = [...hubRooms.map((p) => p.id), ...others.filter((pid) => !hubRooms.some((h) => h.id === pid))];
    for (const pid of side) {
      const p = room.participants.get(pid);
      const item = stageTiles.ensure(pid, { name: p.school || p.name, sub: p.classroom || '' });
      item.tile.classList.toggle('speaking', client.isSpeaking(pid));
      stageTiles.show(pid, client.mediaOf(pid).camera);
      netBadge(item.tile, networkLayer(client, pid));
    }
    stageTiles.prune(new Set(side));
    stageEmpty.hidden = side.length > 0;
    const mine = room.participants.get(me);
    if (mine) self.tile.querySelector('.name').textContent = `${t('classroom.self')} · ${[mine.school, mine.classroom].filter(Boolean).join(' ')}`;

    const onStage = room.stage.includes(me);
    const handUp = room.hands.includes(me);
    document.body.toggleAttribute('data-on-stage', onStage);
    document.body.toggleAttribute('data-recording', client.isRecording());
    recBadge.hidden = !client.isRecording();
    raise.setAttribute('aria-pressed', String(handUp));
    raise.hidden = onStage || !client.me?.grants.can_publish; // a broadcast audience only watches
    raise.classList.toggle('up', handUp);
    raise.replaceChildren(el('span', { class: 'hand-icon' }), handUp ? t('classroom.lower') : t('classroom.raise'));
    const teacherGone = hub && !hub.connected;
    status.textContent = teacherGone ? t('classroom.teacherDropped') : onStage ? '' : handUp ? t('classroom.handUp')
      : room.state === 'live' ? t('state.live') : t('classroom.waiting');
    teacher.tile.classList.toggle('offline', !!teacherGone);
    status.dataset.state = room.state;

    const heard = new Map();
    for (const pid of [hub?.id, ...side].filter(Boolean)) {
      const a = client.mediaOf(pid).audio;
      if (a) heard.set(pid, a);
    }
    audio.sync(heard);
  }

  client.on('room', render).on('media', render);
  client.on('event', (ev) => {
    if (ev.type === 'mute.requested') {
      for (const track of camera?.getAudioTracks() || []) track.enabled = false;
      unmuteBtn.hidden = false;
      banner(t('classroom.muteAsked'), 'warn');
      setTimeout(() => banner(null), 6000);
    }
  });

  raise.onclick = () => {
    const up = client.room.hands.includes(client.me.participant_id);
    (up ? client.lowerHand() : client.raiseHand()).catch((e) => toast(errorText(e), 'error'));
  };
  unmuteBtn.onclick = () => {
    for (const track of camera?.getAudioTracks() || []) track.enabled = true;
    unmuteBtn.hidden = true;
  };
  layoutBtn.onclick = () => {
    const next = LAYOUTS[(LAYOUTS.indexOf(mainview.dataset.layout) + 1) % LAYOUTS.length];
    mainview.dataset.layout = next;
  };
  fsBtn.onclick = () => (document.fullscreenElement ? document.exitFullscreen() : document.documentElement.requestFullscreen()).catch(() => {});

  const opening = openCamera({ width: 640, height: 360 });
  opening.catch(() => {});
  await client.join();
  render();
  if (!client.me.grants.can_publish) {
    self.tile.hidden = true;
    classwork.checkin.hidden = true; // a broadcast audience watches; it has no headcount or messages
    classwork.toggle.hidden = true;
    opening.then((stream) => stream.getTracks().forEach((track) => track.stop()), () => {});
    return;
  }
  try {
    camera = await opening;
    attach(self.video, camera);
    // The teacher's picture comes first: return video starts once it plays (or after a short wait).
    await Promise.race([firstFrame, new Promise((resolve) => setTimeout(resolve, RETURN_VIDEO_DELAY_MS))]);
    await client.publish(cameraItems(camera));
  } catch (err) {
    toast(errorText(err), 'error', 10000);
    self.tile.querySelector('.placeholder').textContent = errorText(err);
  }
}
