// The push list (按教学进度推送): for each classroom, the open lessons' section with the best recordings of it by
// other teachers and 课前复习 items, then 缺课补看. Used by the classroom screen page and the assistant's home.
import { api } from './api.js';
import { t } from '../i18n.js';
import { emptyState } from './components.js';
import { el } from './dom.js';

function resourceLink(r) {
  const file = r.kind === 'courseware';
  return el('li', { class: 'push-item', dataset: { resource: r.id, kind: r.kind || 'recording' } },
    el('a', file ? { href: r.url, target: '_blank', rel: 'noopener', text: r.title } : { href: `/playback?id=${r.id}`, text: r.title }),
    file ? el('span', { class: 'badge', text: `${(r.file_type || '').toUpperCase()}${r.pages ? ` · ${t('push.pages', { n: r.pages })}` : ''}` }) : null,
    el('span', { class: 'meta', text: ` ${[r.teacher, r.school, r.score ? `★ ${r.score}` : ''].filter(Boolean).join(' · ')}` }));
}

function lessonBlock(lesson) {
  const s = lesson.section;
  return el('section', { class: 'card push-lesson', dataset: { room: lesson.room_id } },
    el('h3', { class: 'card-title', text: lesson.title }),
    s ? el('p', { class: 'push-section', text: t('prog.now') + s.label }) : el('p', { class: 'muted', text: t('prog.none') }),
    s && s.knowledge.length ? el('p', { class: 'meta', text: t('prog.kp', { names: s.knowledge.join('、') }) }) : null,
    el('h4', { text: t('push.courseware') }),
    lesson.courseware?.length ? el('ol', { class: 'push-courseware' }, lesson.courseware.map(resourceLink))
      : el('p', { class: 'muted', text: t('push.noCourseware') }),
    el('h4', { text: t('push.recordings') }),
    lesson.recordings.length ? el('ol', { class: 'push-recordings' }, lesson.recordings.map(resourceLink))
      : el('p', { class: 'muted', text: t('push.noRecordings') }),
    lesson.review.length ? el('h4', { text: t('push.review') }) : null,
    lesson.review.length ? el('ul', { class: 'push-review' }, lesson.review.map((x) =>
      el('li', { dataset: { point: x.point } }, el('strong', { text: x.point }), el('ol', {}, x.resources.map(resourceLink))))) : null);
}

function classroomBlock(c) {
  return el('div', { class: 'push-classroom', dataset: { classroom: c.id } },
    el('h2', { class: 'section-title', text: `${c.school} ${c.name}` }),
    c.upcoming.length ? c.upcoming.map(lessonBlock) : emptyState({ title: t('push.none') }),
    c.makeup.length ? el('section', { class: 'card push-makeup' },
      el('h3', { class: 'card-title', text: t('push.makeup') }),
      el('ol', {}, c.makeup.map((m) => el('li', { class: 'push-item', dataset: { resource: m.resource.id, reason: m.reason } },
        el('span', { class: 'badge', text: t(m.reason === 'missed' ? 'push.missed' : 'push.leftEarly') }), ' ',
        el('a', { href: `/playback?id=${m.resource.id}`, text: m.resource.title }))))) : null);
}

/** Fill `node` with the push list of the classroom with this join code, or of the user's school. */
export async function renderPush(node, code = '') {
  const data = await api(`/api/progress/push${code ? `?code=${encodeURIComponent(code)}` : ''}`);
  node.replaceChildren(...data.classrooms.map(classroomBlock));
  return data;
}
