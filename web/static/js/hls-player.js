// The HLS player of a broadcast: hls.js (vendored, /static/vendor/hls.min.js) or the browser's own HLS
// (Safari). Shows 直播 and the latency: now minus the wall-clock time of the frame on screen (the
// playlist's EXT-X-PROGRAM-DATE-TIME), so it is the delay from the SFU receiving a frame to showing it.
import { t } from '../i18n.js';
import { badge } from './components.js';
import { el } from './dom.js';

const CONFIG = {
  enableWorker: false, // the page's CSP allows no blob: workers; remuxing fMP4 is light anyway
  lowLatencyMode: false,
  liveSyncDuration: 2, // seconds behind the live edge (segments are 1 s)
  liveMaxLatencyDuration: 6,
  maxLiveSyncPlaybackRate: 1.2, // catch up by playing slightly faster instead of jumping
  backBufferLength: 10,
};

/** Play `url` in a tile; returns {node, stop, stats()} (stats for tests: latency, frames, state). */
export function hlsPlayer(url, { onEnded } = {}) {
  const video = el('video', { playsinline: '', autoplay: '', id: 'hls-video' });
  const latency = el('span', { class: 'badge', id: 'hls-latency', text: '' });
  const unmute = el('button', { class: 'btn small', hidden: true, text: t('hls.unmute'), onclick: () => { video.muted = false; unmute.hidden = true; } });
  const node = el('figure', { class: 'tile has-video', id: 'hls-tile' }, video,
    el('figcaption', {}, badge('live', t('hls.live')), latency, el('span', { class: 'sub', text: t('hls.via') }),
      el('span', { class: 'marks' }, unmute)));
  const state = { mode: '', latency: null, error: '' };
  let hls = null;
  const Hls = window.Hls;
  const start = () => video.play().catch(() => { video.muted = true; unmute.hidden = false; return video.play().catch(() => {}); });
  if (Hls && Hls.isSupported()) {
    state.mode = 'hls.js';
    hls = new Hls(CONFIG);
    hls.on(Hls.Events.MANIFEST_PARSED, start);
    hls.on(Hls.Events.ERROR, (_e, data) => {
      state.error = data.details;
      if (!data.fatal) return;
      if (data.response?.code === 404 || data.response?.code === 403) { onEnded?.(); return; }
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError(); else setTimeout(() => hls.startLoad(), 1000);
    });
    hls.loadSource(url);
    hls.attachMedia(video);
  } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
    state.mode = 'native';
    video.src = url;
    video.addEventListener('loadedmetadata', start, { once: true });
  }
  const playing = () => {
    if (hls?.playingDate) return hls.playingDate.getTime();
    const startDate = video.getStartDate?.();
    return startDate && !Number.isNaN(startDate.getTime()) ? startDate.getTime() + video.currentTime * 1000 : null;
  };
  const timer = setInterval(() => {
    const at = playing();
    state.latency = at ? (Date.now() - at) / 1000 : null;
    latency.textContent = state.latency == null ? '' : t('hls.latency', { s: state.latency.toFixed(1) });
    if (video.ended) onEnded?.();
  }, 1000);
  return {
    node,
    video,
    stats: () => ({ ...state, currentTime: video.currentTime, frames: video.getVideoPlaybackQuality?.().totalVideoFrames ?? 0, paused: video.paused }),
    stop() { clearInterval(timer); hls?.destroy(); video.removeAttribute('src'); },
  };
}
