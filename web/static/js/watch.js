// 名校网络课堂 by link: anyone with the link watches the lesson (no account, nothing published).
// The mass audience watches over HLS (cut from the teacher's H.264 by the SFU, cacheable by any HTTP
// cache); WebRTC is the fallback when the teacher's browser sends no H.264, or with ?mode=webrtc.
import { api } from './api.js';
import { SankeClient } from './sanke-client.js';
import { AudioOut, wireConnection } from './session-ui.js';
import { Tiles } from './tiles.js';
import { hlsPlayer } from './hls-player.js';
import { t } from '../i18n.js';
import { banner, el, fullMessage, params, runPage, topBar } from './ui.js';
import { setTitle } from './header.js';

const POLL_MS = 2000;

async function watchWebRtc(tokenProvider) {
  const client = new SankeClient({ tokenProvider });
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
}

async function watchHls(roomId, token) {
  const hlsUrl = () => api(`/api/hls/${encodeURIComponent(roomId)}/url`, { method: 'POST', body: { token } });
  let info = await hlsUrl();
  if (info.state === 'unsupported') return false;
  while (info.state !== 'live') {
    if (info.state === 'ended') { fullMessage({ title: t('hls.ended') }); return true; }
    fullMessage({ title: t('hls.waiting') });
    await new Promise((r) => setTimeout(r, POLL_MS));
    info = await hlsUrl();
    if (info.state === 'unsupported') return false;
  }
  if (info.title) setTitle(info.title);
  const player = hlsPlayer(info.url, { onEnded: () => { player.stop(); fullMessage({ title: t('hls.ended') }); } });
  window.sankeHls = player;
  document.getElementById('main').replaceChildren(el('div', { class: 'room-grid', id: 'grid' }, player.node));
  return true;
}

runPage(async () => {
  topBar({ title: t('pl.watch'), user: null, home: false });
  const roomId = params.get('room') || '';
  const key = params.get('key') || '';
  if (!roomId || !key) {
    fullMessage({ title: t('err.bad_link'), kind: 'error' });
    return;
  }
  const guest = async () => (await api(`/api/rooms/${encodeURIComponent(roomId)}/guest-token`, { method: 'POST', body: { key } })).token;
  if (params.get('mode') !== 'webrtc' && (window.Hls?.isSupported() || document.createElement('video').canPlayType('application/vnd.apple.mpegurl'))) {
    if (await watchHls(roomId, await guest())) return;
    banner(t('hls.unsupported'));
  }
  await watchWebRtc(guest);
});
