// The printable join card of one classroom PC: school, classroom, the join code in large letters and a QR code
// that opens the classroom screen already joined by that code (/classroom?code=…&auto).
import { api, requireUser } from './api.js';
import { t } from '../i18n.js';
import { el, params, runPage, topBar } from './ui.js';

runPage(async () => {
  const user = await requireUser();
  topBar({ title: t('card.title'), user });
  const id = params.get('classroom') || '';
  const info = await api(`/api/classrooms/${encodeURIComponent(id)}/join-card`);
  const c = info.classroom;
  document.getElementById('main').replaceChildren(el('div', { class: 'page' },
    el('div', { class: 'row no-print' }, el('button', { class: 'btn primary', id: 'print', type: 'button', onclick: () => window.print(), text: t('card.print') }),
      el('span', { class: 'muted', text: t('card.hint') })),
    el('article', { class: 'joincard-print', id: 'join-card', dataset: { code: c.join_code } },
      el('p', { class: 'jc-brand', text: `${t('app.name')} · ${t('card.title')}` }),
      el('h2', { class: 'jc-school', text: info.school }),
      el('p', { class: 'jc-class', text: `${c.name}${c.grade ? ` · ${t('pl.grade', { g: c.grade })}` : ''}` }),
      el('img', { class: 'jc-qr', id: 'join-qr', alt: t('card.qrAlt'), src: `/api/classrooms/${encodeURIComponent(id)}/qr.svg?v=${c.join_code}` }),
      el('p', { class: 'jc-code-label', text: t('card.code') }),
      el('p', { class: 'jc-code', id: 'join-code', text: c.join_code }),
      el('ol', { class: 'jc-steps' }, ['card.step1', 'card.step2', 'card.step3'].map((k) => el('li', { text: t(k, { url: info.join_url.split('/classroom')[0] + '/classroom' }) }))))));
});
