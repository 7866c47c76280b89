// Small DOM helpers shared by every page: elements, the header, plain-words errors, toasts, a confirm dialog.

import { has, lang, t } from '../i18n.js';
import { el } from './dom.js';
import { header } from './header.js';

export { el };

/** A plain-words sentence for an error code (from the API, signaling or getUserMedia). */
export function errorText(err) {
  const code = err?.code || err?.name || '';
  const map = {
    NotAllowedError: 'err.camera_denied', SecurityError: 'err.camera_denied',
    NotFoundError: 'err.camera_missing', OverconstrainedError: 'err.camera_missing',
    NotReadableError: 'err.camera_busy', AbortError: 'err.camera_busy',
  };
  const key = map[code] || `err.${code}`;
  if (has(key)) return t(key);
  return t('err.generic', { message: err?.message || String(err) });
}

/** The header every page has (see header.js); kept under this name for the live pages. */
export function topBar({ title = '', home = true, user } = {}) {
  return header({ title, home, user: home ? user : null });
}

export function setConnection(state, text) {
  const node = document.getElementById('conn');
  if (!node) return;
  node.dataset.state = state;
  node.textContent = text ?? (state === 'idle' ? '' : t(`conn.${state}`));
}

/** Replace the main area with a clear message, so the page is never blank. */
export function fullMessage({ title, body = '', kind = 'info', actions = [] }) {
  const main = document.querySelector('main') || document.body;
  main.replaceChildren(el('section', { class: `message ${kind}`, role: 'alert', id: 'message' },
    el('h2', { text: title }),
    body ? el('p', { text: body }) : null,
    el('div', { class: 'actions' }, actions),
  ));
}

export function showError(err, { retry } = {}) {
  fullMessage({
    title: errorText(err),
    kind: 'error',
    actions: [
      retry ? el('button', { class: 'btn primary', onclick: retry, text: t('common.retry') }) : null,
      el('a', { class: 'btn', href: '/home', text: t('common.back') }),
    ],
  });
}

let toastBox = null;
export function toast(text, kind = 'info', ms = 4000) {
  if (!toastBox) {
    toastBox = el('div', { class: 'toasts', 'aria-live': 'polite' });
    document.body.append(toastBox);
  }
  const node = el('div', { class: `toast ${kind}`, text });
  toastBox.append(node);
  setTimeout(() => node.remove(), ms);
}

/** A banner across the page (reconnecting, offline) that stays until cleared. */
export function banner(text, kind = 'warn') {
  let node = document.getElementById('banner');
  if (!text) {
    node?.remove();
    return;
  }
  if (!node) {
    node = el('div', { id: 'banner', class: 'banner', role: 'status' });
    document.body.append(node);
  }
  node.className = `banner ${kind}`;
  node.textContent = text;
}

export function confirmDialog(text, yes, no) {
  return new Promise((resolve) => {
    const close = (value) => {
      back.remove();
      resolve(value);
    };
    const back = el('div', { class: 'modal-back' },
      el('div', { class: 'modal', role: 'dialog', 'aria-modal': 'true' },
        el('p', { text }),
        el('div', { class: 'actions' },
          el('button', { class: 'btn', id: 'confirm-no', onclick: () => close(false), text: no }),
          el('button', { class: 'btn danger', id: 'confirm-yes', onclick: () => close(true), text: yes }),
        ),
      ),
    );
    document.body.append(back);
  });
}

/** A video tile: the video, a name plate and a slot for marks (quality, hand, stage). */
export function videoTile({ id, name = '', sub = '', muted = true, mirror = false, cls = '' }) {
  const video = el('video', { autoplay: true, playsinline: true, muted: true, class: mirror ? 'mirror' : '' });
  video.muted = muted;
  const tile = el('figure', { class: `tile ${cls}`, dataset: { pid: id || '' } },
    video,
    el('div', { class: 'placeholder' }, el('span', { class: 'avatar', text: (name || '?').slice(0, 1) })),
    el('figcaption', {},
      el('span', { class: 'name', text: name }),
      sub ? el('span', { class: 'sub', text: sub }) : null,
      el('span', { class: 'marks' })),
  );
  return { tile, video };
}

export function attach(video, stream) {
  if (video.srcObject !== stream) {
    video.srcObject = stream;
    video.play?.().catch(() => {});
  }
  video.closest('.tile')?.classList.toggle('has-video', !!stream);
}

export function clock(node) {
  const tick = () => {
    node.textContent = new Date().toLocaleTimeString(lang(), { hour: '2-digit', minute: '2-digit' });
  };
  tick();
  setInterval(tick, 15000);
}

/** Run a page's main function; any failure becomes a plain-words message, never a blank page. */
export function runPage(main) {
  window.addEventListener('unhandledrejection', (e) => {
    console.error(e.reason);
    toast(errorText(e.reason), 'error');
  });
  main().catch((err) => {
    if (document.querySelector('#message[data-reason]')) return; // the lesson's own final message stands
    console.error(err);
    showError(err, { retry: () => location.reload() });
  });
}

export const params = new URLSearchParams(location.search);
