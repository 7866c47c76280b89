// A teacher (or a coordinator for a teacher) makes a room from the browser: 名师课堂 co-teaching with invited
// teachers (by name or whole schools; 集体备课 / 听评课 / 同步教研) or 名校网络课堂 broadcast to classrooms by
// school or grade, or to anyone with the link. Delivery lessons come from the timetable.
import { api, requireUser } from './api.js';
import { t } from '../i18n.js';
import { card, field, pageHead, showFieldError } from './components.js';
import { el, errorText, runPage, topBar } from './ui.js';
import { subjectName } from './subjects.js';

function checklist(id, items) {
  return el('div', { class: 'checklist', id }, items.map(([value, label]) =>
    el('label', { class: 'check' }, el('input', { type: 'checkbox', value: String(value) }), ` ${label}`)));
}
const checked = (box) => [...box.querySelectorAll('input:checked')].map((x) => Number(x.value));

runPage(async () => {
  const user = await requireUser();
  topBar({ title: t('pl.title'), user });
  const [{ schools }, people] = await Promise.all([api('/api/schools'), api('/api/people/teachers')]);
  const f = {
    kind: field({ label: t('pl.kind'), name: 'kind', type: 'select', options: [{ value: 'coteach', label: t('kind.coteach') }, { value: 'broadcast', label: t('kind.broadcast') }] }),
    title: field({ label: t('pl.titleField'), name: 'title', required: true, attrs: { maxlength: '200' } }),
    subject: field({ label: t('pl.subject'), name: 'subject', attrs: { maxlength: '32' } }),
    scheduled_start: field({ label: t('pl.start'), name: 'scheduled_start', type: 'datetime-local' }),
    purpose: field({ label: t('pl.purpose'), name: 'purpose', type: 'select', options: ['prep', 'observe', 'research'].map((p) => ({ value: p, label: t(`pl.purpose.${p}`) })) }),
    host_user_id: field({ label: t('pl.host'), name: 'host_user_id', type: 'select', options: people.teachers.map((p) => ({ value: p.id, label: `${p.display_name} · ${p.school}` })) }),
  };
  // invitees: search by name or school, tick people; or invite whole schools
  const search = el('input', { id: 'invite-search', type: 'search', placeholder: t('pl.search'), 'aria-label': t('pl.search') });
  const results = el('div', { class: 'checklist', id: 'invite-results' });
  const picked = new Map();
  const pickedList = el('p', { class: 'muted', id: 'invite-picked' });
  const renderPicked = () => { pickedList.textContent = picked.size ? t('pl.picked', { names: [...picked.values()].join('、') }) : t('pl.nonePicked'); };
  const renderResults = (list) => results.replaceChildren(...list.filter((p) => p.id !== user.id).map((p) => {
    const box = el('input', { type: 'checkbox', value: String(p.id), checked: picked.has(p.id) ? true : null,
      onchange: (e) => { if (e.target.checked) picked.set(p.id, p.display_name); else picked.delete(p.id); renderPicked(); } });
    return el('label', { class: 'check', dataset: { teacher: p.display_name } }, box, ` ${p.display_name} · ${p.school}${p.subject ? ` · ${subjectName(p.subject)}` : ''}`);
  }));
  let timer = null;
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(async () => renderResults((await api(`/api/people/teachers?q=${encodeURIComponent(search.value)}`)).teachers), 250);
  });
  renderResults(people.teachers);
  renderPicked();
  const inviteSchools = checklist('invite-schools', schools.map((s) => [s.id, s.name]));
  const coteachPart = el('div', { id: 'coteach-part' }, f.purpose.wrap,
    el('div', { class: 'field', dataset: { field: 'invite_user_ids' } }, el('label', { for: 'invite-search', text: t('pl.invite') }), search, results, pickedList,
      el('span', { class: 'field-error', role: 'alert' })),
    el('div', { class: 'field' }, el('span', { text: t('pl.inviteSchools') }), inviteSchools));
  const audienceSchools = checklist('audience-schools', schools.map((s) => [s.id, s.name]));
  const grades = checklist('audience-grades', [1, 2, 3, 4, 5, 6, 7, 8, 9].map((g) => [g, t('pl.grade', { g })]));
  const pub = field({ label: t('pl.public'), name: 'public', type: 'checkbox' });
  const broadcastPart = el('div', { id: 'broadcast-part', hidden: true },
    el('div', { class: 'field', dataset: { field: 'audience_school_ids' } }, el('span', { text: t('pl.audienceSchools') }), audienceSchools, el('span', { class: 'field-error', role: 'alert' })),
    el('div', { class: 'field' }, el('span', { text: t('pl.audienceGrades') }), grades), pub.wrap);
  f.kind.input.onchange = () => {
    coteachPart.hidden = f.kind.input.value !== 'coteach';
    broadcastPart.hidden = f.kind.input.value !== 'broadcast';
  };
  const done = el('div', { id: 'plan-done' });
  const formError = el('p', { class: 'form-error', role: 'alert' });
  const submit = el('button', { class: 'btn primary', type: 'submit', id: 'plan-submit', text: t('pl.create') });
  const form = el('form', { class: 'form', id: 'plan-form' }, f.kind.wrap, f.title.wrap, f.subject.wrap, f.scheduled_start.wrap,
    user.role === 'coordinator' ? f.host_user_id.wrap : null, coteachPart, broadcastPart, formError, submit);
  const errorFields = { ...f, invite_user_ids: { setError: (x) => { coteachPart.querySelector('.field-error').textContent = x || ''; }, input: search },
    audience_school_ids: { setError: (x) => { broadcastPart.querySelector('.field-error').textContent = x || ''; }, input: audienceSchools.querySelector('input') || search } };
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const kind = f.kind.input.value;
    const start = f.scheduled_start.input.value;
    const body = { kind, title: f.title.input.value.trim(), subject: f.subject.input.value.trim(),
      scheduled_start: start ? new Date(start).toISOString() : null };
    if (user.role === 'coordinator') body.host_user_id = Number(f.host_user_id.input.value);
    if (kind === 'coteach') Object.assign(body, { purpose: f.purpose.input.value, invite_user_ids: [...picked.keys()], invite_school_ids: checked(inviteSchools) });
    else Object.assign(body, { audience_school_ids: checked(audienceSchools), audience_grades: checked(grades), public: pub.input.checked });
    submit.disabled = true;
    try {
      const made = await api('/api/rooms/plan', { method: 'POST', body });
      form.hidden = true;
      done.replaceChildren(card({ title: t('pl.created', { title: made.room.title }), body: [
        el('p', { text: t(kind === 'coteach' ? 'pl.invited' : 'pl.audience', { n: made.invited }) }),
        made.watch_url ? el('p', {}, t('pl.link'), el('input', { id: 'watch-url', readonly: true, value: made.watch_url, size: 60 })) : null,
        el('div', { class: 'row' }, el('a', { class: 'btn primary', id: 'enter-room', href: `/coteach?room=${made.room.id}`, text: t('home.enter') }),
          el('a', { class: 'btn', href: '/home', text: t('common.back') })),
      ] }));
      done.dataset.room = made.room.id;
    } catch (err) {
      showFieldError(form, errorFields, err, errorText(err));
    } finally {
      submit.disabled = false;
    }
  });
  document.getElementById('main').replaceChildren(el('div', { class: 'page' },
    pageHead(t('pl.title'), { sub: t('pl.sub') }), el('section', { class: 'card' }, form), done));
});
