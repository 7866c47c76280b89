// The teacher console's HLS audience count in a broadcast: viewers whose player fetched the live playlist
// in the last 15 s (GET /api/hls/{room}/audience, every 5 s while the page is open).
import { api } from './api.js';
import { t } from '../i18n.js';
import { el } from './dom.js';

const EVERY_MS = 5000;

/** A badge that stays hidden until the room is a broadcast with an HLS stream. */
export function hlsAudience(roomId, client) {
  const node = el('span', { class: 'badge', id: 'hls-audience', hidden: true });
  const poll = async () => {
    if (client.room.kind === 'broadcast') {
      try {
        const r = await api(`/api/hls/${encodeURIComponent(roomId)}/audience`);
        node.hidden = r.state === 'none';
        node.dataset.viewers = String(r.viewers);
        node.textContent = t('hls.audience', { n: r.viewers });
      } catch { /* a passing failure: the next poll tries again */ }
    }
    setTimeout(poll, EVERY_MS);
  };
  setTimeout(poll, 500);
  return node;
}
