// 名校网络课堂 by link: anyone with the link watches the lesson (no account, nothing published).
import { api } from './api.js';
import { SankeClient } from './sanke-client.js';
import { AudioOut, wireConnection } from './session-ui.js';
import { Tiles } from './tiles.js';
import { t } from '../i18n.js';
import { el, fullMessage, params, runPage, topBar } from './ui.js';
import { setTitle } from './header.js';

runPage(async () => {
  topBar({ title: t('pl.watch'), user: null, home: false });
  const roomId = params.get('room') || '';
  const key = params.get('key') || '';
  if (!roomId || !key) {
    fullMessage({ title: t('err.bad_link'), kind: 'error' });
    return;
  }
  const client = new SankeClient({ tokenProvider: async () => (await api(`/api/rooms/${encodeURIComponent(roomId)}/guest-token`, { method: 'POST', body: { key } })).token });
  window.sanke = client;
  wireConnection(client);
  const grid = el('div', { class: 'room-grid', id: 'grid' });
  document.getElementById('main').replaceChildren(grid);
  const tiles = new Tiles(grid);
  const audio = new AudioOut();
  const render = () => {
    setTitle(client.room.title || t('pl.watch'));
    const publishers = client.visibleParticipants().filter((p) => p.role === 'hub_teacher' || p.role === 'coteacher');
    const heard = new Map();
    for (const p of publishers) {
      tiles.ensure(p.id, { name: p.name, sub: p.school || '' });
      const media = client.mediaOf(p.id);
      tiles.show(p.id, media.screen || media.camera);
      if (media.audio) heard.set(p.id, media.audio);
    }
    tiles.prune(new Set(publishers.map((p) => p.id)));
    audio.sync(heard);
  };
  client.on('room', render).on('media', render);
  await client.join();
  render();
});
