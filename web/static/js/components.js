// The design system's components (docs/web.md): page head, cards, sortable paged tables, form fields with
// inline errors, buttons (danger asks first), badges, empty states that say what to do next, progress.
import { t } from '../i18n.js';
import { el } from './dom.js';
import { confirmDialog } from './ui.js';

/** The page's heading block: title, an optional line under it and actions on the right. */
export function pageHead(title, { sub = '', actions = [] } = {}) {
  return el('div', { class: 'pagehead' },
    el('div', {}, el('h2', { class: 'pagehead-title', text: title }), sub ? el('p', { class: 'muted', text: sub }) : null),
    el('div', { class: 'row' }, actions));
}

/** A panel. `title`: text, or nodes (a title with a count badge); `tag`: the heading level (h2 on live pages). */
export function card({ title = '', body = [], actions = [], id, cls = '', tag = 'h3' } = {}) {
  return el('section', { class: `card ${cls}`, id },
    title ? el(tag, { class: 'card-title' }, title) : null,
    body,
    actions.length ? el('div', { class: 'row card-actions' }, actions) : null);
}

/** kind: primary | secondary | danger. A danger button with `confirm` asks in a dialog before acting.
 * While its handler runs the button is busy (aria-busy; further clicks are ignored). `disabled` stays the
 * page's own: a handler that disables its button (提交审核 once submitted) is not undone when it returns,
 * which a busy state kept in `disabled` did, so the button could be clicked a second time. */
export function button({ text, kind = 'secondary', onclick, confirm = '', confirmYes = '', id, type = 'button', small = false, attrs = {} }) {
  const node = el('button', { class: `btn ${kind}${small ? ' small' : ''}`, type, id, text, ...attrs });
  if (onclick) {
    let busy = false;
    node.addEventListener('click', async (e) => {
      if (busy) return;
      busy = true;
      try {
        if (confirm && !(await confirmDialog(confirm, confirmYes || text, t('common.cancel')))) return;
        node.setAttribute('aria-busy', 'true');
        await onclick(e);
      } finally {
        busy = false;
        node.removeAttribute('aria-busy');
      }
    });
  }
  return node;
}

const BADGES = {
  live: 'badge.live', recording: 'badge.recording', poor: 'badge.poor', demo: 'badge.demo',
  published: 'badge.published', draft: 'badge.draft', ok: 'badge.ok', ended: 'badge.ended',
};
/** A status badge: live (上课中), recording (录制中), poor (网络较差), demo (演示数据), … or a given text.
 * `attrs`: more attributes (an id, `hidden`), so a live page can keep one badge and show or hide it. */
export function badge(kind, text, attrs = {}) {
  return el('span', { class: `badge b-${kind}`, dataset: { badge: kind }, text: text ?? t(BADGES[kind] || `badge.${kind}`), ...attrs });
}

/** A number beside a card's title (classrooms, raised hands). */
export function count(id) {
  return el('span', { class: 'badge b-count', id, text: '0' });
}

/** An empty state: what is missing and what to do next (a link or a button). */
export function emptyState({ title, next = '', action = null }) {
  return el('div', { class: 'empty', role: 'status' },
    el('p', { class: 'empty-title', text: title }),
    next ? el('p', { class: 'empty-next', text: next }) : null,
    action ? (action.href ? el('a', { class: 'btn primary', href: action.href, text: action.text })
      : button({ text: action.text, kind: 'primary', onclick: action.onclick })) : null);
}

/** A progress indicator for anything over a second. set(done, total, text); total 0 = indeterminate. */
export function progress({ label, id } = {}) {
  const bar = el('div', { class: 'progress-bar' }, el('div', { class: 'progress-fill' }));
  const text = el('span', { class: 'progress-text', 'aria-live': 'polite' });
  const node = el('div', { class: 'progress', id, role: 'progressbar', 'aria-label': label, hidden: true }, bar, text);
  node.set = (done, total, message = '') => {
    node.hidden = false;
    const pct = total ? Math.min(100, Math.round((100 * done) / total)) : null;
    node.classList.toggle('indeterminate', pct === null);
    bar.firstChild.style.width = pct === null ? '' : `${pct}%`;
    if (pct === null) node.removeAttribute('aria-valuenow');
    else node.setAttribute('aria-valuenow', String(pct));
    text.textContent = message;
  };
  node.done = (message = '') => {
    node.set(1, 1, message);
  };
  return node;
}

/**
 * A labelled form field with a slot for its inline error. type: text, password, number, date, select,
 * textarea, file, checkbox. Returns { wrap, input, setError(text) }.
 */
export function field({ label, name, type = 'text', value = '', options = [], hint = '', required = false, attrs = {} }) {
  const id = `f-${name}`;
  let input;
  if (type === 'select') {
    input = el('select', { id, name, required, ...attrs },
      options.map((o) => el('option', { value: o.value, selected: String(o.value) === String(value) ? true : null, text: o.label })));
  } else if (type === 'textarea') {
    input = el('textarea', { id, name, required, rows: 3, ...attrs });
    input.value = value;
  } else {
    input = el('input', { id, name, type, required, ...attrs });
    if (type === 'checkbox') input.checked = !!value;
    else if (type !== 'file') input.value = value;
  }
  const error = el('span', { class: 'field-error', id: `${id}-error`, role: 'alert' });
  input.setAttribute('aria-describedby', `${id}-error`);
  const wrap = el('div', { class: `field${type === 'checkbox' ? ' check' : ''}`, dataset: { field: name } },
    type === 'checkbox' ? el('label', { for: id }, input, ` ${label}`) : el('label', { for: id, text: label }),
    type === 'checkbox' ? null : input,
    hint ? el('span', { class: 'field-hint', text: hint }) : null,
    error);
  const setError = (text) => {
    error.textContent = text || '';
    wrap.classList.toggle('invalid', !!text);
    if (text) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  };
  return { wrap, input, setError };
}

/** Show an API error next to the field it names (err.field), or in the form's own error line. */
export function showFieldError(form, fields, err, text) {
  for (const f of Object.values(fields)) f.setError('');
  const target = err?.field && fields[err.field];
  if (target) {
    target.setError(text);
    target.input.focus();
  } else {
    const line = form.querySelector('.form-error');
    if (line) line.textContent = text;
  }
}

/**
 * A table with sortable columns and pages. columns: [{ key, label, sort = true, num, render(row) }].
 * Returns the element; element.update(rows) replaces the rows and keeps the sort.
 */
export function dataTable({ columns, rows = [], pageSize = 20, empty = null, id, caption = '' }) {
  const state = { sortKey: null, dir: 1, page: 0, rows };
  const table = el('table', { class: 'table' });
  const pager = el('div', { class: 'pager' });
  const wrap = el('div', { class: 'table-wrap', id }, table, pager);
  const value = (row, col) => (col.value ? col.value(row) : row[col.key]);

  function sorted() {
    if (!state.sortKey) return state.rows;
    const col = columns.find((c) => c.key === state.sortKey);
    return [...state.rows].sort((a, b) => {
      const x = value(a, col);
      const y = value(b, col);
      if (typeof x === 'number' && typeof y === 'number') return (x - y) * state.dir;
      return String(x ?? '').localeCompare(String(y ?? ''), 'zh-CN') * state.dir;
    });
  }

  function render() {
    const all = sorted();
    const pages = Math.max(1, Math.ceil(all.length / pageSize));
    state.page = Math.min(state.page, pages - 1);
    const shown = all.slice(state.page * pageSize, (state.page + 1) * pageSize);
    const head = el('tr', {}, columns.map((c) => {
      const sortable = c.sort !== false;
      const aria = state.sortKey === c.key ? (state.dir > 0 ? 'ascending' : 'descending') : (sortable ? 'none' : null);
      return el('th', { scope: 'col', 'aria-sort': aria, class: c.num ? 'num' : '' },
        sortable ? el('button', {
          type: 'button', class: 'sort', dataset: { sort: c.key },
          onclick: () => {
            state.dir = state.sortKey === c.key ? -state.dir : 1;
            state.sortKey = c.key;
            render();
          },
        }, c.label, el('span', { class: 'sort-mark', 'aria-hidden': 'true', text: state.sortKey === c.key ? (state.dir > 0 ? '▲' : '▼') : '↕' }))
          : c.label);
    }));
    const body = shown.map((row) => el('tr', {}, columns.map((c) => el('td', { class: c.num ? 'num' : '' },
      c.render ? c.render(row) : String(value(row, c) ?? '')))));
    table.replaceChildren(caption ? el('caption', { text: caption }) : '', el('thead', {}, head), el('tbody', {}, body));
    if (!all.length && empty) table.after(empty);
    else if (empty) empty.remove();
    pager.hidden = pages <= 1;
    pager.replaceChildren(
      el('button', { type: 'button', class: 'btn small', disabled: state.page === 0, onclick: () => { state.page -= 1; render(); }, text: t('table.prev') }),
      el('span', { class: 'pager-text', text: t('table.page', { page: state.page + 1, pages, total: all.length }) }),
      el('button', { type: 'button', class: 'btn small', disabled: state.page >= pages - 1, onclick: () => { state.page += 1; render(); }, text: t('table.next') }));
  }

  wrap.update = (next) => {
    state.rows = next;
    render();
  };
  render();
  return wrap;
}
