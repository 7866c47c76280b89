// The live device board (设备看板): every classroom PC's state, last seen time, network quality and lesson;
// a classroom that should be in a lesson now and is not is highlighted (缺课预警) and the coordinator records
// why (停电, 网络故障, 调课, 其他) — supervision counts the reasons. Refreshes every 10 s.
import { api, requireUser } from './api.js';
import { t } from '../i18n.js';
import { badge, dataTable, pageHead } from './components.js';
import { el, errorText, runPage, toast, topBar } from './ui.js';

const REASONS = ['power', 'network', 'reschedule', 'other'];
const when = (iso) => (iso ? new Date(iso).toLocaleString('zh-CN', { month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit' }) : '—');

/** The PC's last device check: quality, figures, a failed camera or microphone, and when. */
function checkCell(d) {
  const c = d.check;
  if (!c) return el('span', { class: 'muted', text: t('dev.check.none') });
  const problems = [c.camera_ok ? '' : t('dev.check.cam'), c.mic_ok ? '' : t('dev.check.mic')].filter(Boolean);
  return el('div', { class: 'device-check', dataset: { quality: c.quality } },
    el('strong', { class: `q-${c.quality}`, text: t(`quality.${c.quality}`) }),
    el('div', { class: 'meta', text: t('dev.check.detail', { rtt: Math.round(c.rtt_ms), loss: Math.round(c.loss * 100), kbps: c.uplink_kbps }) }),
    problems.length ? el('div', { class: 'meta', text: problems.join('，') }) : null,
    el('div', { class: 'meta', text: when(c.at) }));
}

runPage(async () => {
  const user = await requireUser();
  topBar({ title: t('dev.title'), user });
  const coordinator = user.role === 'coordinator';
  const summary = el('p', { class: 'muted', id: 'device-summary' });
  const reasons = el('p', { class: 'muted', id: 'absence-summary' });
  const search = el('input', { type: 'search', id: 'device-search', placeholder: t('admin.search'), 'aria-label': t('admin.search') });
  let rows = [];
  const reasonCell = (d) => {
    if (!d.missing) return '';
    if (!coordinator) return d.reason ? t(`dev.reason.${d.reason}`) : t('dev.noReason');
    const sel = el('select', { dataset: { action: 'reason' }, 'aria-label': t('dev.reason') },
      el('option', { value: '', text: t('dev.noReason') }), REASONS.map((r) => el('option', { value: r, selected: d.reason === r ? true : null, text: t(`dev.reason.${r}`) })));
    sel.onchange = async () => {
      try {
        await api('/api/absences', { method: 'PUT', body: { room_id: d.lesson.room_id, classroom_id: d.classroom_id, reason: sel.value } });
        d.reason = sel.value;
        toast(t('dev.saved'), 'ok');
        loadAbsences();
      } catch (err) {
        toast(errorText(err), 'error');
      }
    };
    return sel;
  };
  const table = dataTable({
    id: 'devices', pageSize: 50, rows,
    columns: [
      { key: 'missing', label: t('dev.alert'), value: (d) => (d.missing ? 0 : 1), render: (d) => (d.missing ? badge('poor', t('dev.missing')) : '') },
      { key: 'school', label: t('admin.school') },
      { key: 'name', label: t('admin.classroom') },
      { key: 'state', label: t('dev.state'), render: (d) => el('span', { class: `devstate ${d.state}`, text: t(`dev.state.${d.state}`) }) },
      { key: 'last_seen', label: t('dev.lastSeen'), value: (d) => d.last_seen || '', render: (d) => when(d.last_seen) },
      { key: 'quality', label: t('dev.quality'), render: (d) => (d.quality ? `${t('dev.live')} ${t(`quality.${d.quality}`)}` : '—') },
      { key: 'check', label: t('dev.check'), value: (d) => d.check?.at || '', render: checkCell },
      { key: 'lesson', label: t('dev.lesson'), value: (d) => d.lesson?.title || '', render: (d) => (d.lesson ? `${d.lesson.title} · ${t(`state.${d.lesson.state}`)}` : '—') },
      { key: 'reason', label: t('dev.reason'), sort: false, render: reasonCell },
    ],
  });
  const show = () => {
    const q = search.value.trim().toLowerCase();
    table.update(rows.filter((d) => !q || `${d.school} ${d.name}`.toLowerCase().includes(q)));
    for (const tr of table.querySelectorAll('tbody tr')) tr.classList.toggle('alert-row', !!tr.querySelector('[data-badge="poor"]'));
  };
  search.addEventListener('input', show);
  async function load() {
    const board = await api('/api/devices');
    rows = board.devices;
    summary.textContent = t('dev.summary', { total: rows.length, online: board.online, missing: board.missing });
    summary.dataset.missing = String(board.missing);
    show();
  }
  async function loadAbsences() {
    const a = await api('/api/supervision/absences');
    reasons.textContent = t('dev.absences', { total: a.total, detail: a.by_reason.map((r) => `${t(`dev.reason.${r.reason}`)} ${r.count}`).join('，') });
    reasons.dataset.total = String(a.total);
  }
  document.getElementById('main').replaceChildren(el('div', { class: 'page' },
    pageHead(t('dev.title'), { sub: t('dev.sub') }), summary, reasons, el('div', { class: 'row' }, search), el('section', { class: 'card' }, table)));
  await Promise.all([load(), loadAbsences()]);
  setInterval(() => load().catch(() => {}), 10000);
});
