// 名师课堂: every participant in a grid with a speaking mark; the lead moderates; observers watch unseen.
// Also the silent view of any lesson for observers and supervisors.
import { requireUser, roomToken } from './api.js';
import { cameraItems, openCamera, SankeClient } from './sanke-client.js';
import { AudioOut, wireConnection } from './session-ui.js';
import { qualityMark, setActions, setMarks, Tiles } from './tiles.js';
import { netBadge, networkLayer } from './netquality.js';
import { t } from '../i18n.js';
import { button } from './components.js';
import { attach, el, errorText, fullMessage, params, runPage, toast, topBar } from './ui.js';
import { setTitle } from './header.js';
import { hlsAudience } from './hls-audience.js';

const roomId = params.get('room');
const ROLE_NAMES = { hub_teacher: 'coteach.role.hub_teacher', coteacher: 'coteach.role.coteacher', classroom: 'coteach.role.classroom' };

runPage(async () => {
  await requireUser();
  topBar({ title: t('coteach.title') });
  if (!roomId) {
    fullMessage({ title: t('err.noRoom'), kind: 'error', actions: [el('a', { class: 'btn', href: '/home', text: t('common.back') })] });
    return;
  }
  const client = new SankeClient({ tokenProvider: async () => (await roomToken(roomId)).token });
  window.sanke = client;
  wireConnection(client);

  const grid = el('div', { class: 'room-grid', id: 'grid' });
  const bar = el('div', { class: 'lessonbar', role: 'toolbar', 'aria-label': t('coteach.controls') });
  const note = el('p', { class: 'notice observer-note', id: 'observer-note', role: 'status', hidden: true, text: t('coteach.observer') });
  document.getElementById('main').replaceChildren(el('div', { class: 'live-page' }, bar, note, grid));
  // 评课 during the lesson, in its own tab so the lesson keeps playing
  // held, not looked up: a late room event after the page ended (removed, room ended) renders into a detached grid
  const title = el('h2', { class: 'lesson-title', id: 'room-title' });
  bar.append(title, el('div', { class: 'spacer' }),
    el('a', { class: 'btn secondary', id: 'evaluate-link', href: `/evaluate?room=${encodeURIComponent(roomId)}`, target: '_blank', text: t('ev.open') }));
  const tiles = new Tiles(grid);
  const audio = new AudioOut();
  let camera = null;
  const act = (promise) => promise.catch((e) => toast(errorText(e), 'error'));

  function render() {
    const room = client.room;
    const me = client.me?.participant_id;
    const moderator = !!client.me?.grants.room_admin;
    setTitle(room.title || t('coteach.title'));
    title.textContent = t(`kind.${room.kind || 'coteach'}`);
    const people = client.visibleParticipants();
    for (const p of people) {
      const mine = p.id === me;
      const item = tiles.ensure(p.id, { name: p.name, sub: ROLE_NAMES[p.role] ? t(ROLE_NAMES[p.role]) : '', mirror: mine });
      const speaking = client.isSpeaking(p.id);
      item.tile.classList.toggle('speaking', speaking);
      item.tile.classList.toggle('offline', !p.connected);
      setMarks(item, [
        speaking ? el('span', { class: 'mark speak', text: t('coteach.speaking') }) : null,
        mine ? null : qualityMark(p.connected ? client.quality.get(p.id) || 'good' : 'offline'),
      ]);
      setActions(item, moderator && !mine ? 'moderate' : '', () => (moderator && !mine ? [
        button({ text: t('teacher.mute'), small: true, attrs: { 'data-action': 'mute', 'aria-label': `${t('teacher.mute')} · ${p.name}` }, onclick: () => act(client.requestMute(p.id)) }),
        button({ text: t('coteach.remove'), kind: 'danger', small: true, confirm: `${t('coteach.remove')} · ${p.name}`, attrs: { 'data-action': 'remove', 'aria-label': `${t('coteach.remove')} · ${p.name}` }, onclick: () => act(client.remove(p.id)) }),
      ] : []));
      if (mine) attach(item.video, camera);
      else tiles.show(p.id, client.mediaOf(p.id).camera);
      netBadge(item.tile, mine ? 'high' : networkLayer(client, p.id));
    }
    tiles.prune(new Set(people.map((p) => p.id)));
    const heard = new Map();
    for (const p of people) {
      const a = p.id !== me && client.mediaOf(p.id).audio;
      if (a) heard.set(p.id, a);
    }
    audio.sync(heard);
  }

  client.on('room', render).on('media', render).on('quality', render).on('event', (ev) => ev.type === 'speakers' && render());
  client.on('event', (ev) => {
    if (ev.type === 'mute.requested') {
      for (const track of camera?.getAudioTracks() || []) track.enabled = false;
      toast(t('classroom.muteAsked'), 'info', 6000);
    }
  });

  await client.join();
  const observer = client.me.grants.hidden || !client.me.grants.can_publish;
  note.hidden = !observer;
  document.body.dataset.mode = observer ? 'observer' : 'participant';
  if (client.me.grants.room_admin && !client.me.grants.hidden && client.room.state !== 'live') {
    const start = button({ text: t('teacher.start'), kind: 'primary', id: 'start', onclick: () => act(client.start().then(() => start.remove())) });
    bar.append(start);
  }
  if (client.me.grants.room_admin && !client.me.grants.hidden) {
    if (client.room.kind === 'broadcast') bar.append(hlsAudience(roomId, client)); // 名校网络课堂: its HLS audience
    bar.append(button({ text: t('teacher.end'), kind: 'danger', id: 'end', confirm: t('teacher.endConfirm'), confirmYes: t('teacher.endYes'), onclick: () => client.end() }));
  }
  if (!observer) {
    try {
      camera = await openCamera({ width: 640, height: 360 });
      await client.publish(cameraItems(camera, { low: false }));
    } catch (err) {
      toast(errorText(err), 'error', 10000);
    }
  }
  render();
  setInterval(render, 1000); // the speaking mark fades when nobody speaks
});
