// 管理: the county's schools, classrooms with their join codes (rotate with confirmation) and accounts.
// The daily edits of the county administration build on this page (issue 13); bulk changes go through 排课's import.
import { api, requireUser } from './api.js';
import { t } from '../i18n.js';
import { button, dataTable, emptyState, pageHead } from './components.js';
import { el, errorText, runPage, toast, topBar } from './ui.js';

runPage(async () => {
  const user = await requireUser();
  topBar({ title: t('admin.title'), user });
  const main = document.getElementById('main');
  if (user.role !== 'coordinator') {
    main.replaceChildren(el('div', { class: 'page' }, emptyState({ title: t('err.forbidden'), next: t('admin.onlyCoordinator'), action: { text: t('common.back'), href: '/home' } })));
    return;
  }
  const [{ schools }, { classrooms }, { users }] = await Promise.all([api('/api/schools'), api('/api/classrooms'), api('/api/users')]);
  const schoolName = Object.fromEntries(schools.map((s) => [s.id, s.name]));
  const classTable = dataTable({
    id: 'admin-classrooms', pageSize: 15, rows: classrooms,
    columns: [
      { key: 'school', label: t('admin.school'), value: (c) => schoolName[c.school_id] || '' },
      { key: 'name', label: t('admin.classroom') },
      { key: 'grade', label: t('admin.grade'), num: true },
      { key: 'students', label: t('admin.students'), num: true },
      { key: 'join_code', label: t('admin.code'), render: (c) => el('code', { class: 'code', text: c.join_code }) },
      {
        key: 'actions', label: t('admin.actions'), sort: false,
        render: (c) => button({
          text: t('admin.rotate'), kind: 'danger', small: true, confirm: t('admin.rotateConfirm', { name: `${schoolName[c.school_id]} ${c.name}` }),
          onclick: async () => {
            try {
              const { classroom } = await api(`/api/classrooms/${c.id}/rotate-code`, { method: 'POST' });
              Object.assign(c, classroom);
              classTable.update(classrooms);
              toast(t('admin.rotated', { code: classroom.join_code }), 'ok');
            } catch (err) {
              toast(errorText(err), 'error');
            }
          },
        }),
      },
    ],
  });
  main.replaceChildren(el('div', { class: 'page' },
    pageHead(t('admin.title'), { sub: t('admin.sub'), actions: [el('a', { class: 'btn secondary', href: '/timetable', text: t('admin.import') })] }),
    el('section', { class: 'card' }, el('h3', { class: 'card-title', text: t('admin.schools') }), dataTable({
      id: 'admin-schools', rows: schools, pageSize: 10,
      columns: [{ key: 'name', label: t('admin.school') }, { key: 'kind', label: t('admin.kind'), value: (s) => t(`admin.kind.${s.kind}`) },
        { key: 'count', label: t('admin.classrooms'), num: true, value: (s) => classrooms.filter((c) => c.school_id === s.id).length }],
    })),
    el('section', { class: 'card' }, el('h3', { class: 'card-title', text: t('admin.classrooms') }), classTable),
    el('section', { class: 'card' }, el('h3', { class: 'card-title', text: t('admin.users') }), dataTable({
      id: 'admin-users', rows: users, pageSize: 15,
      columns: [{ key: 'display_name', label: t('admin.name') }, { key: 'username', label: t('admin.username') },
        { key: 'role', label: t('admin.role'), value: (u) => t(`home.role.${u.role}`) },
        { key: 'school_id', label: t('admin.school'), value: (u) => schoolName[u.school_id] || '—' }],
    }))));
});
