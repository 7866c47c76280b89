// A one-time password reset: the code (from the coordinator's link or printed slip) and a new password.
import { api } from './api.js';
import { t } from '../i18n.js';
import { field, pageHead, showFieldError } from './components.js';
import { el, errorText, params, runPage, topBar } from './ui.js';

runPage(async () => {
  topBar({ title: t('reset.title'), user: null });
  const f = {
    code: field({ label: t('reset.code'), name: 'code', value: params.get('code') || '', required: true }),
    password: field({ label: t('reset.password'), name: 'password', type: 'password', required: true, hint: t('admin.passwordHint') }),
  };
  const formError = el('p', { class: 'form-error', role: 'alert' });
  const form = el('form', { class: 'form center-card card', id: 'reset-form' }, pageHead(t('reset.title')), f.code.wrap, f.password.wrap, formError,
    el('button', { class: 'btn primary', type: 'submit', id: 'reset-submit', text: t('reset.submit') }));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await api('/api/password-reset', { method: 'POST', body: { code: f.code.input.value, password: f.password.input.value } });
      form.replaceChildren(pageHead(t('reset.done')), el('a', { class: 'btn primary', id: 'to-login', href: '/login', text: t('login.submit') }));
    } catch (err) {
      showFieldError(form, f, err, errorText(err));
    }
  });
  document.getElementById('main').replaceChildren(form);
});
