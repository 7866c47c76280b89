// The weak-network badge on a video tile: shown while the SFU sends this page a lower quality of that
// participant's video (the `quality.changed` event: layer low or off), removed when it is high again.
import { badge } from './components.js';
import { t } from '../i18n.js';

/** The layer the SFU forwards now for any of `pid`'s video tracks (`high`, `low`, `off`), from `quality.changed`. */
export function networkLayer(client, pid) {
  let worst = 'high';
  for (const [trackId, layer] of client.netQuality) {
    const track = client.room.tracks.get(trackId);
    if (track && track.participant_id === pid && (layer === 'off' || (layer === 'low' && worst === 'high'))) worst = layer;
  }
  return worst;
}

/** Show or remove the badge on `tile` for the layer: 网络较差，已切换为流畅画质 (low) / 已暂停视频 (off). */
export function netBadge(tile, layer) {
  let node = tile.querySelector('[data-badge="poor"]');
  if (layer === 'high') {
    node?.remove();
    return;
  }
  const text = t(layer === 'off' ? 'quality.weakPaused' : 'quality.weakLow');
  if (!node) {
    node = badge('poor', text);
    node.classList.add('net-badge');
    tile.append(node);
  } else if (node.textContent !== text) {
    node.textContent = text;
  }
  node.title = text;
}
