// 名师课堂: every participant in a grid with a speaking mark; the lead moderates; observers watch unseen.
// Also the silent view of any lesson for observers and supervisors.
import { requireUser, roomToken } from './api.js';
import { cameraItems, openCamera, SankeClient } from './sanke-client.js';
import { AudioOut, wireConnection } from './session-ui.js';
import { qualityMark, setActions, setMarks, Tiles } from './tiles.js';
import { netBadge, networkLayer } from './netquality.js';
import { t } from '../i18n.js';
import { attach, confirmDialog, el, errorText, fullMessage, params, runPage, toast, topBar } from './ui.js';
import { setTitle } from './header.js';

const roomId = params.get('room');
const ROLE_NAMES = { hub_teacher: '主持', coteacher: '教师', classroom: '教室' };

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
  const bar = el('div', { class: 'bar' });
  const note = el('div', { class: 'observer-note', id: 'observer-note', hidden: true, text: t('coteach.observer') });
  document.getElementById('main').replaceChildren(note, bar, grid);
  // 评课 during the lesson, in its own tab so the lesson keeps playing
  bar.append(el('a', { class: 'btn', id: 'evaluate-link', href: `/evaluate?room=${encodeURIComponent(roomId)}`, target: '_blank', text: t('ev.open') }));
  const tiles = new Tiles(grid);
  const audio = new AudioOut();
  let camera = null;
  const act = (promise) => promise.catch((e) => toast(errorText(e), 'error'));

  function render() {
    const room = client.room;
    const me = client.me?.participant_id;
    const moderator = !!client.me?.grants.room_admin;
    setTitle(room.title || t('coteach.title'));
    const people = client.visibleParticipants();
    for (const p of people) {
      const mine = p.id === me;
      const item = tiles.ensure(p.id, { name: p.name, sub: ROLE_NAMES[p.role] || '', mirror: mine });
      const speaking = client.isSpeaking(p.id);
      item.tile.classList.toggle('speaking', speaking);
      item.tile.classList.toggle('offline', !p.connected);
      setMarks(item, [
        speaking ? el('span', { class: 'mark speak', text: t('coteach.speaking') }) : null,
        mine ? null : qualityMark(p.connected ? client.quality.get(p.id) || 'good' : 'offline'),
      ]);
      setActions(item, moderator && !mine ? 'moderate' : '', () => (moderator && !mine ? [
        el('button', { class: 'btn small', dataset: { action: 'mute' }, onclick: () => act(client.requestMute(p.id)), text: t('teacher.mute') }),
        el('button', { class: 'btn small', dataset: { action: 'remove' }, onclick: () => act(client.remove(p.id)), text: t('coteach.remove') }),
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
    bar.append(el('button', { class: 'btn primary', id: 'start', onclick: (e) => act(client.start().then(() => e.target.remove())), text: t('teacher.start') }));
  }
  if (client.me.grants.room_admin && !client.me.grants.hidden) {
    bar.append(el('button', { class: 'btn danger', id: 'end', onclick: async () => (await confirmDialog(t('teacher.endConfirm'), t('teacher.endYes'), t('teacher.cancel'))) && client.end(), text: t('teacher.end') }));
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
