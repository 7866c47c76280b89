// The timetable grid of one school, teacher or classroom: lessons by weekday and period, moved by drag and
// drop or by keyboard (Enter on a lesson picks it up, Enter on a cell puts it there, Escape cancels), each
// move checked live by the server before it can be saved. A classroom's busy periods (its own lessons) are
// greyed, and a lesson dragged onto a period that touches a busy period of one of its classrooms is refused
// at once, with the reason, before the server is asked.
import { t } from './i18n.js';
import { api } from './js/api.js';
import { button } from './js/components.js';
import { el } from './js/dom.js';
import { errorText } from './js/ui.js';
import { subjectName } from './js/subjects.js';

const day = (d) => t(`tt.day.${d}`);

export class Grid {
  constructor(box, checkBox, onSaved) {
    this.box = box;
    this.checkBox = checkBox;
    this.onSaved = onSaved;
    this.picked = null;
  }

  /** `busy`: "weekday.period" of the cells to grey (the viewed classroom's own lessons). */
  draw(timetable, lessons, busy = new Set()) {
    this.timetable = timetable;
    this.busy = busy;
    const days = Math.max(5, ...lessons.map((l) => l.weekday));
    const periods = Math.max(6, ...lessons.map((l) => l.period));
    const head = el('tr', {}, el('th', { scope: 'col', text: t('tt.period') }),
      Array.from({ length: days }, (_, i) => el('th', { scope: 'col', text: day(i + 1) })));
    const rows = [];
    for (let p = 1; p <= periods; p++) {
      const cells = [el('th', { scope: 'row', text: t('tt.periodN', { n: p }) })];
      for (let d = 1; d <= days; d++) cells.push(this.cell(timetable, lessons, d, p));
      rows.push(el('tr', {}, cells));
    }
    this.box.replaceChildren(el('table', { class: 'tt-grid', 'aria-label': t('tt.gridLabel') }, el('thead', {}, head), el('tbody', {}, rows)));
  }

  cell(timetable, lessons, d, p) {
    const td = el('td', { dataset: { weekday: d, period: p }, 'aria-label': `${day(d)} ${t('tt.periodN', { n: p })}` });
    if (this.busy.has(`${d}.${p}`)) {
      td.classList.add('busy');
      td.title = t('tt.busyCell');
      td.setAttribute('aria-label', `${day(d)} ${t('tt.periodN', { n: p })} · ${t('tt.busyCell')}`);
    }
    td.addEventListener('dragover', (e) => {
      const why = this.dragging ? this.refusal(this.dragging, d, p) : null;
      td.classList.toggle('refused', Boolean(why));
      if (why) { this.say(why, d, p); return; }   // no preventDefault: the browser refuses the drop
      e.preventDefault();
      td.classList.add('drop');
    });
    td.addEventListener('dragleave', () => { td.classList.remove('drop'); td.classList.remove('refused'); });
    td.addEventListener('drop', (e) => { e.preventDefault(); td.classList.remove('drop'); this.move(e.dataTransfer.getData('text/plain'), d, p); });
    td.addEventListener('keydown', (e) => {
      if (e.target !== td || !this.picked) return;
      if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); this.move(this.picked, d, p); }
      if (e.key === 'Escape') this.pick(null);
    });
    for (const ls of lessons.filter((l) => l.weekday === d && l.period === p)) {
      const bad = timetable.violations.some((v) => v.lesson === ls.key);
      const card = el('div', {
        class: bad ? 'lesson bad' : 'lesson', draggable: 'true', tabindex: '0', role: 'button', dataset: { key: ls.key },
        title: ls.classroom_names.join('、'), 'aria-label': t('tt.lessonLabel', { what: this.text(ls) }),
      }, el('strong', { text: `${subjectName(ls.subject) || ls.subject_label} ${t('tt.grade', { grade: ls.grade })}` }), ` ${ls.teacher_name}`,
      el('span', { class: 'lesson-meta', text: `${ls.start}–${ls.end} · 1+${ls.classrooms.length}` }));
      card.addEventListener('dragstart', (e) => { this.dragging = ls.key; e.dataTransfer.setData('text/plain', ls.key); });
      card.addEventListener('dragend', () => {
        this.dragging = null;
        for (const c of this.box.querySelectorAll('td.refused')) c.classList.remove('refused');
      });
      card.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); this.pick(this.picked === ls.key ? null : ls.key); }
        if (e.key === 'Escape') this.pick(null);
      });
      td.append(card);
    }
    return td;
  }

  text(ls) {
    return `${subjectName(ls.subject) || ls.subject_label} ${t('tt.grade', { grade: ls.grade })} ${ls.teacher_name} ${ls.start}–${ls.end} 1+${ls.classrooms.length}`;
  }

  /** Keyboard moves: the picked lesson is marked and every cell becomes a tab stop until it is placed. */
  pick(key) {
    this.picked = key;
    for (const c of this.box.querySelectorAll('.lesson')) c.classList.toggle('picked', c.dataset.key === key);
    for (const td of this.box.querySelectorAll('td')) td.tabIndex = key ? 0 : -1;
    this.checkBox.hidden = !key;
    if (key) this.checkBox.replaceChildren(el('p', { class: 'muted', text: t('tt.picked') }));
  }

  /** Why `key` may not go to (d, p) because a classroom of it is busy then (its own lessons); null if none.
   * The same rule as the server's validator: the hub period's span must touch no busy period. */
  refusal(key, d, p) {
    const tt = this.timetable;
    const ls = tt.lessons.find((l) => l.key === key);
    const slot = ls && (tt.hub_periods[ls.hub] || []).find(([wd, n]) => wd === d && n === p);
    if (!slot) return null;
    const [, , start, end] = slot;
    const rooms = [...ls.classrooms, ...(ls.hub_classroom ? [ls.hub_classroom] : [])];
    for (const room of rooms) {
      const hit = (tt.busy[room] || []).find(([, , bs, be]) => bs < end && start < be);
      if (hit) {
        const label = (tt.classrooms.find((c) => c.id === room) || { label: room }).label;
        return t('tt.busyRefused', { room: label, day: day(hit[0]), n: hit[1] });
      }
    }
    return null;
  }

  say(why, weekday, period) {
    this.checkBox.hidden = false;
    this.checkBox.replaceChildren(el('p', { class: 'error', text: t('tt.cannotMove', { day: day(weekday), n: period }) }),
      el('ul', {}, el('li', { class: 'refusal', text: why })));
  }

  async move(key, weekday, period) {
    this.pick(null);
    const why = this.refusal(key, weekday, period);
    if (why) { this.say(why, weekday, period); return; }
    const body = { lesson_key: key, weekday, period, save: false };
    const post = (b) => api('/api/scheduler/timetable/move', { method: 'POST', body: b });
    const box = this.checkBox;
    box.hidden = false;
    let check;
    try {
      check = await post(body);
    } catch (err) {
      box.replaceChildren(el('p', { class: 'error', text: errorText(err) }));
      return;
    }
    const where = { day: day(weekday), n: period };
    if (!check.ok) {
      box.replaceChildren(el('p', { class: 'error', text: t('tt.cannotMove', where) }),
        el('ul', {}, check.violations.map((v) => el('li', { text: v.message }))));
      return;
    }
    const save = button({
      text: t('tt.confirmMove'), kind: 'primary', id: 'confirm-move',
      onclick: async () => {
        try {
          const r = await post({ ...body, save: true });
          box.replaceChildren(el('p', { class: r.ok ? 'ok' : 'error', text: r.ok ? t('tt.moveSaved') : t('tt.moveFailed') }));
          await this.onSaved();
        } catch (err) {
          box.replaceChildren(el('p', { class: 'error', text: errorText(err) }));
        }
      },
    });
    box.replaceChildren(el('p', { class: 'ok', text: t('tt.canMove', where) }), save);
    save.focus();
  }
}
