// Before class: camera, microphone and speaker work, and the link to the server is good enough. On a classroom
// PC (its join code in ?code= or remembered by the classroom screen) the result is stored on the server, and
// the coordinator's device board shows it beside the live figures.
import { api } from './api.js';
import { openCamera } from './sanke-client.js';
import { t } from '../i18n.js';
import { button, card, pageHead } from './components.js';
import { attach, el, errorText, params, runPage, topBar, videoTile } from './ui.js';

const UPLOAD_BYTES = 256 * 1024;
const PINGS = 10;
const PING_TIMEOUT_MS = 2000;
const CODE_KEY = 'sanke.classroom.code'; // the classroom screen's (classroom.js)

function result(id) {
  return el('p', { class: 'result', id, role: 'status', text: '—' });
}

function setResult(node, ok, text) {
  node.className = `result ${ok ? 'ok' : 'fail'}`;
  node.textContent = `${ok ? '✔' : '✘'} ${ok ? t('dc.ok') : t('dc.fail')}${text ? ` · ${text}` : ''}`;
}

/** Median round trip of the answered pings, and the share that got no answer within the timeout. */
async function roundTrips(n = PINGS) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    try {
      const r = await fetch(`/api/netcheck/ping?n=${i}`, { cache: 'no-store', signal: AbortSignal.timeout(PING_TIMEOUT_MS) });
      await r.json();
      times.push(performance.now() - start);
    } catch {
      // lost: counted below
    }
  }
  if (!times.length) throw new Error('no answer');
  times.sort((a, b) => a - b);
  return { rtt: times[Math.floor(times.length / 2)], loss: (n - times.length) / n };
}

async function upload() {
  const body = new Uint8Array(UPLOAD_BYTES);
  crypto.getRandomValues(body.subarray(0, 65536));
  const start = performance.now();
  const r = await fetch('/api/netcheck/upload', { method: 'POST', body });
  await r.json();
  const seconds = Math.max((performance.now() - start) / 1000, 0.001);
  return Math.round((UPLOAD_BYTES * 8) / 1000 / seconds);
}

function levelMeter(stream, bar) {
  const ctx = new AudioContext();
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 512;
  ctx.createMediaStreamSource(stream).connect(analyser);
  const data = new Uint8Array(analyser.fftSize);
  let peak = 0;
  const tick = () => {
    analyser.getByteTimeDomainData(data);
    let sum = 0;
    for (const v of data) sum += ((v - 128) / 128) ** 2;
    const level = Math.min(1, Math.sqrt(sum / data.length) * 4);
    peak = Math.max(peak, level);
    bar.style.width = `${Math.round(level * 100)}%`;
    requestAnimationFrame(tick);
  };
  tick();
  return () => peak;
}

function playTone() {
  const ctx = new AudioContext();
  const osc = ctx.createOscillator();
  const gain = ctx.createGain();
  osc.frequency.value = 660;
  gain.gain.value = 0.2;
  osc.connect(gain).connect(ctx.destination);
  osc.start();
  osc.stop(ctx.currentTime + 1.2);
}

runPage(async () => {
  topBar({ title: t('dc.title') });
  const cam = videoTile({ id: 'camera', name: t('dc.camera'), mirror: true });
  const camResult = result('camera-result');
  const micResult = result('mic-result');
  const spkResult = result('speaker-result');
  const netResult = result('net-result');
  const code = (params.get('code') || localStorage.getItem(CODE_KEY) || '').toUpperCase();
  const report = el('p', { class: 'muted', id: 'check-report', text: code ? t('dc.willReport') : t('dc.noCode') });
  const bar = el('div');
  const run = button({ text: t('dc.run'), kind: 'primary', id: 'run-check' });
  run.classList.add('big');
  document.getElementById('main').replaceChildren(el('div', { class: 'page' },
    pageHead(t('dc.title'), { sub: t('dc.sub'), actions: [run] }),
    el('div', { class: 'checks' },
      card({ title: t('dc.camera'), tag: 'h2', cls: 'check', body: [cam.tile, camResult] }),
      card({ title: t('dc.mic'), tag: 'h2', cls: 'check', body: [el('p', { class: 'muted', text: t('dc.micLevel') }),
        el('div', { class: 'meter', role: 'meter', 'aria-label': t('dc.micLevel') }, bar), micResult] }),
      card({ title: t('dc.speaker'), tag: 'h2', cls: 'check', body: [
        el('div', { class: 'row' },
          button({ text: t('dc.playTone'), id: 'play-tone', onclick: playTone }),
          button({ text: t('dc.heard'), id: 'heard-tone', onclick: () => setResult(spkResult, true, '') })),
        spkResult] }),
      card({ title: t('dc.network'), tag: 'h2', cls: 'check', body: [netResult, report] }),
    ),
  ));

  run.onclick = async () => {
    run.disabled = true;
    let camOk = false;
    let micOk = Promise.resolve(false);
    try {
      const stream = await openCamera();
      attach(cam.video, stream);
      const s = stream.getVideoTracks()[0]?.getSettings() || {};
      camOk = !!stream.getVideoTracks().length;
      setResult(camResult, camOk, s.width ? `${s.width}×${s.height}` : '');
      const peak = levelMeter(stream, bar);
      micOk = new Promise((resolve) => setTimeout(() => {
        const ok = stream.getAudioTracks().length > 0 && peak() > 0.01;
        setResult(micResult, ok, '');
        resolve(ok);
      }, 2000));
    } catch (err) {
      setResult(camResult, false, errorText(err));
      setResult(micResult, false, '');
    }
    let net = null;
    try {
      const { rtt, loss } = await roundTrips();
      const kbps = await upload();
      net = { rtt_ms: Math.round(rtt * 10) / 10, loss, uplink_kbps: kbps };
      const good = rtt < 300 && loss < 0.1 && kbps > 1000;
      setResult(netResult, good, `${t('dc.rtt', { ms: Math.round(rtt) })}，${t('dc.loss', { pct: Math.round(loss * 100) })}，${t('dc.upload', { kbps })}`);
    } catch (err) {
      setResult(netResult, false, errorText({ code: 'network' }));
      net = { rtt_ms: 60000, loss: 1, uplink_kbps: 0 };
    }
    if (code) {
      try {
        const saved = await api('/api/devices/check', { method: 'POST', body: { code, ...net, camera_ok: camOk, mic_ok: await micOk } });
        report.textContent = t('dc.reported', { quality: t(`quality.${saved.quality}`) });
        report.dataset.quality = saved.quality;
      } catch (err) {
        report.textContent = errorText(err);
        report.dataset.quality = 'error';
      }
    }
    run.disabled = false;
  };
});
