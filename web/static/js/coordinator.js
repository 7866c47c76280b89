// The county coordinator: live and upcoming lessons with who is present, and the patrol wall (巡课).
// The wall joins every live lesson silently and shows up to 16 classrooms at the low quality;
// a click opens one lesson large at full quality.
import { requireUser, roomToken, rooms as listRooms } from './api.js';
import { SankeClient } from './sanke-client.js';
import { qualityMark, setMarks, Tiles } from './tiles.js';
import { t } from '../i18n.js';
import { badge, card, emptyState } from './components.js';
import { el, errorText, runPage, setConnection, toast, topBar } from './ui.js';

const WALL_MAX = 16;
const REFRESH_MS = 5000;

function fmtTime(iso) {
  return iso ? new Date(iso).toLocaleString('zh-CN', { month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit' }) : '';
}

function roomRow(room, onOpen) {
  const present = room.present || [];
  return el('article', { class: 'card', dataset: { room: room.id } },
    el('div', { class: 'row' },
      room.state === 'live' ? badge('live') : badge(room.state, t(`state.${room.state}`)),
      room.recording ? badge('recording') : null, // the recorder is shown as this, never among who is present
      el('span', { class: 'meta', text: t(`kind.${room.kind}`) })),
    el('h3', { text: room.title }),
    room.scheduled_start ? el('div', { class: 'meta', text: fmtTime(room.scheduled_start) }) : null,
    room.state === 'live' || room.state === 'open'
      ? el('div', { class: 'meta present', text: present.length ? t('coord.present', { names: present.map((p) => p.name).join('、') }) : t('coord.nobody') })
      : null,
    el('div', { class: 'row' },
      onOpen ? el('button', { class: 'btn small primary', type: 'button', onclick: onOpen, text: t('home.watch'), 'aria-label': `${t('home.watch')} · ${room.title}` }) : null,
      room.state !== 'scheduled' ? el('a', { class: 'btn small secondary', href: `/attendance?room=${encodeURIComponent(room.id)}`, dataset: { action: 'attendance' }, text: t('att.title') }) : null,
      room.state !== 'scheduled' && room.kind === 'coteach' ? el('a', { class: 'btn small secondary', href: `/evaluate?room=${encodeURIComponent(room.id)}`, dataset: { action: 'evaluate' }, text: t('ev.results') }) : null),
  );
}

class Wall {
  constructor(container) {
    this.container = container;
    this.clients = new Map(); // room id → SankeClient
    this.tiles = new Tiles(container);
    this.big = null;
  }

  /** Join the rooms that went live, leave those that ended. */
  sync(rooms) {
    const live = rooms.filter((r) => r.state === 'live' || r.state === 'open').slice(0, WALL_MAX);
    for (const r of live) {
      if (this.clients.has(r.id)) continue;
      const client = new SankeClient({ tokenProvider: async () => (await roomToken(r.id)).token });
      this.clients.set(r.id, client);
      client.on('room', () => this.render()).on('media', () => this.render()).on('quality', () => this.render());
      client.on('final', () => {
        this.clients.delete(r.id);
        this.render();
      });
      client.join().catch((e) => {
        this.clients.delete(r.id);
        if (e.code !== 'room_ended') toast(errorText(e), 'error');
      });
    }
    for (const [id, client] of this.clients) {
      if (!live.some((r) => r.id === id)) client.leave();
    }
    this.render();
  }

  /** Every publishing classroom of every live lesson, asked for at the low quality. */
  render() {
    const shown = [];
    for (const [roomId, client] of this.clients) {
      if (client.connection !== 'joined') continue;
      for (const p of client.visibleParticipants()) {
        if (shown.length >= WALL_MAX) break;
        const hasCamera = [...client.room.tracks.values()].some((tr) => tr.participant_id === p.id && tr.source === 'camera');
        if (!hasCamera) continue;
        shown.push({ key: `${roomId}|${p.id}`, roomId, p, client });
      }
    }
    for (const { key, roomId, p, client } of shown) {
      const who = p.classroom || (p.role === 'hub_teacher' ? p.name : '');
      const item = this.tiles.ensure(key, { name: p.school || p.name, sub: `${who} · ${client.room.title}`, cls: 'clickable' });
      if (!item.wired) {
        item.wired = true;
        item.tile.addEventListener('click', () => this.open(roomId));
        if (this.big !== roomId) client.setQuality(p.id, 'low').catch(() => {});
      }
      item.tile.classList.toggle('offline', !p.connected);
      setMarks(item, [qualityMark(p.connected ? client.quality.get(p.id) || 'good' : 'offline')]);
      this.tiles.show(key, client.mediaOf(p.id).camera);
    }
    this.tiles.prune(new Set(shown.map((s) => s.key)));
    const empty = document.getElementById('wall-empty');
    if (empty) empty.hidden = shown.length > 0;
    const conns = [...this.clients.values()].map((c) => c.connection);
    setConnection(conns.some((c) => c === 'reconnecting' || c === 'offline') ? 'reconnecting' : conns.length ? 'joined' : 'idle', conns.length ? undefined : '');
    this.renderBig();
  }

  open(roomId) {
    this.big = roomId;
    const client = this.clients.get(roomId);
    if (!client) return;
    for (const p of client.visibleParticipants()) client.setQuality(p.id, 'high').catch(() => {});
    this.overlay = el('section', { class: 'enlarged', id: 'enlarged', role: 'dialog', 'aria-label': client.room.title },
      el('div', { class: 'head' },
        el('strong', { text: client.room.title }),
        el('div', { class: 'spacer' }),
        el('button', { class: 'btn primary', type: 'button', id: 'close-enlarged', onclick: () => this.close(), text: t('coord.close') })),
      el('div', { class: 'body' }));
    this.bigTiles = new Tiles(this.overlay.querySelector('.body'));
    document.body.append(this.overlay);
    this.overlay.querySelector('#close-enlarged').focus();
    this.renderBig();
  }

  renderBig() {
    const client = this.big && this.clients.get(this.big);
    if (!client || !this.overlay) return;
    const people = client.visibleParticipants();
    for (const p of people) {
      this.bigTiles.ensure(p.id, { name: p.school || p.name, sub: p.classroom || '' });
      this.bigTiles.show(p.id, client.mediaOf(p.id).camera);
    }
    this.bigTiles.prune(new Set(people.map((p) => p.id)));
  }

  close() {
    const client = this.clients.get(this.big);
    if (client) for (const p of client.visibleParticipants()) client.setQuality(p.id, 'low').catch(() => {});
    this.overlay?.remove();
    this.overlay = null;
    this.big = null;
  }
}

runPage(async () => {
  const user = await requireUser();
  topBar({ title: t('coord.title') });
  if (user.role !== 'coordinator' && user.role !== 'observer') throw Object.assign(new Error('forbidden'), { code: 'forbidden' });
  const liveList = el('div', { class: 'stack', id: 'live-rooms' });
  const upcoming = el('div', { class: 'stack', id: 'upcoming-rooms' });
  const wallBox = el('div', { class: 'wall', id: 'wall' });
  const wallEmpty = emptyState({ title: t('coord.noLive'), next: t('coord.noLive.next') });
  wallEmpty.id = 'wall-empty';
  document.getElementById('main').replaceChildren(el('div', { class: 'coordinator' },
    el('div', { class: 'lists' },
      card({ title: t('coord.live'), tag: 'h2', body: liveList }),
      card({ title: t('coord.upcoming'), tag: 'h2', body: upcoming })),
    card({ title: [t('coord.patrol'), ' ', el('span', { class: 'card-hint', text: t('coord.patrolHint') })], tag: 'h2', cls: 'wallcard',
      body: [wallEmpty, wallBox] }),
  ));
  const wall = new Wall(wallBox);
  window.sankeWall = wall;

  async function refresh() {
    try {
      const all = await listRooms('scheduled,open,live');
      const live = all.filter((r) => r.state === 'live' || r.state === 'open');
      liveList.replaceChildren(...(live.length ? live.map((r) => roomRow(r, () => wall.open(r.id))) : [el('p', { class: 'muted', text: t('coord.noLive') })]));
      const soon = all.filter((r) => r.state === 'scheduled');
      upcoming.replaceChildren(...(soon.length ? soon.map((r) => roomRow(r)) : [el('p', { class: 'muted', text: t('home.none') })]));
      wall.sync(all);
    } catch (err) {
      toast(errorText(err), 'error');
    }
  }
  await refresh();
  setInterval(refresh, REFRESH_MS);
});
