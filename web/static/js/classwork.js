// The lesson's interaction across classrooms (双师课堂), on the design system's cards and chart:
// the teacher's side (push a 随堂测 question and watch the answers per classroom and overall, 签到, messages
// with moderation) and the classroom screen's side (answer for the class, confirm the headcount, write to the
// teacher). Both talk over the lesson's WebSocket (docs/protocol.md, "Interaction across classrooms").
import { t } from '../i18n.js';
import { barChart } from './chart.js';
import { el } from './dom.js';
import { errorText, toast } from './ui.js';

const LETTERS = 'ABCDEF';
const label = (quiz, i) => (quiz.kind === 'truefalse' ? quiz.options[i] : `${LETTERS[i]}. ${quiz.options[i]}`);
const hhmm = (iso) => new Date(iso).toLocaleTimeString('zh-CN', { hour: '2-digit', minute: '2-digit' });

/** The message list shared by both sides; `onDelete` only for moderators. */
function messageList(client, { onDelete } = {}) {
  const list = el('ul', { class: 'chat-list', id: 'chat-list', 'aria-live': 'polite' });
  const seen = new Map();
  const nameOf = (pid) => {
    const p = client.room.participants.get(pid);
    return p ? [p.school, p.classroom].filter(Boolean).join(' ') || p.name : pid;
  };
  const add = (m) => {
    if (seen.has(m.id)) return;
    const mine = m.from === client.me?.participant_id;
    const to = m.to === 'all' ? t('cw.toAll') : m.to === 'teacher' ? t('cw.toTeacher') : t('cw.toOne', { name: nameOf(m.to) });
    const li = el('li', { class: `chat-msg${mine ? ' mine' : ''}${m.deleted ? ' deleted' : ''}`, dataset: { id: String(m.id) } },
      el('div', { class: 'chat-head' }, el('strong', { text: m.from_name }), el('span', { class: 'muted', text: ` → ${to} · ${hhmm(m.at)}` }),
        onDelete && !m.deleted ? el('button', { class: 'btn ghost small', dataset: { action: 'delete' }, text: t('cw.delete'), onclick: () => onDelete(m.id) }) : null),
      el('p', { class: 'chat-text', text: m.deleted ? t('cw.deleted') : m.text }));
    seen.set(m.id, li);
    list.append(li);
    list.scrollTop = list.scrollHeight;
  };
  const removed = (id) => {
    const li = seen.get(id);
    if (!li) return;
    li.classList.add('deleted');
    li.querySelector('.chat-text').textContent = t('cw.deleted');
    li.querySelector('[data-action="delete"]')?.remove();
  };
  return { list, add, removed, reset: () => { seen.clear(); list.replaceChildren(); } };
}

function chatForm(client, chat, recipients) {
  const to = el('select', { id: 'chat-to', 'aria-label': t('cw.to') });
  const text = el('input', { id: 'chat-text', maxlength: '500', autocomplete: 'off', placeholder: t('cw.placeholder'), 'aria-label': t('cw.placeholder') });
  const send = el('button', { class: 'btn primary small', id: 'chat-send', type: 'submit', text: t('cw.send') });
  const form = el('form', { class: 'chat-form' }, to, text, send);
  const fill = () => {
    const keep = to.value;
    to.replaceChildren(...recipients().map(([value, name]) => el('option', { value, text: name })));
    if ([...to.options].some((o) => o.value === keep)) to.value = keep;
  };
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!text.value.trim()) return;
    send.disabled = true;
    try {
      const reply = await client.request({ type: 'chat.send', to: to.value, text: text.value });
      chat.add(reply.message);
      text.value = '';
    } catch (err) {
      toast(errorText(err), 'error');
    } finally {
      send.disabled = false;
    }
  });
  fill();
  return { form, fill };
}

/** The teacher console's classwork column: 随堂测, 签到, messages. */
export function teacherClasswork(client) {
  // 随堂测 -------------------------------------------------------------------------------------------
  const kind = el('select', { id: 'quiz-kind', 'aria-label': t('cw.kind') },
    el('option', { value: 'choice', text: t('cw.choice') }), el('option', { value: 'truefalse', text: t('cw.truefalse') }));
  const question = el('input', { id: 'quiz-question', maxlength: '300', placeholder: t('cw.question'), 'aria-label': t('cw.question') });
  const options = el('textarea', { id: 'quiz-options', rows: 2, 'aria-label': t('cw.options'), placeholder: t('cw.optionsHint') });
  const push = el('button', { class: 'btn primary small', id: 'quiz-push', type: 'submit', text: t('cw.push') });
  const form = el('form', { class: 'quiz-form' }, el('div', { class: 'row' }, kind, push), question, options);
  kind.onchange = () => { options.hidden = kind.value === 'truefalse'; };
  const results = el('div', { class: 'quiz-results', id: 'quiz-results', hidden: true });
  let current = null;

  const renderResults = (quiz, tally) => {
    current = quiz;
    const rows = tally?.classrooms || [];
    const overall = tally?.overall || quiz.options.map(() => 0);
    const series = quiz.options.map((_, i) => ({ key: `o${i}`, label: label(quiz, i), cls: `opt${i}` }));
    const point = (name, counts) => ({ label: name, values: Object.fromEntries(counts.map((n, i) => [`o${i}`, n])) });
    const points = [...rows.map((r) => point(r.label, r.counts)), point(t('cw.overall'), overall)];
    const close = el('button', { class: 'btn small', id: 'quiz-close', text: t('cw.close'), hidden: !!quiz.closed_at,
      onclick: () => client.request({ type: 'quiz.close', quiz_id: quiz.id }).then((r) => renderResults({ ...quiz, closed_at: new Date().toISOString() }, r.results), (e) => toast(errorText(e), 'error')) });
    results.hidden = false;
    results.dataset.quiz = String(quiz.id);
    results.dataset.answered = String(rows.length);
    results.dataset.overall = overall.join(',');
    results.replaceChildren(
      el('div', { class: 'row' }, el('strong', { class: 'quiz-q', text: quiz.question }), el('span', { class: 'spacer' }),
        el('span', { class: 'badge', id: 'quiz-answered', text: t('cw.answered', { n: rows.length }) }), close),
      barChart({ id: 'quiz-chart', title: t('cw.chart'), series, points, width: 380, height: 190 }),
      el('table', { class: 'table compact', id: 'quiz-table' },
        el('thead', {}, el('tr', {}, el('th', { text: t('cw.classroom') }), quiz.options.map((_, i) => el('th', { class: 'num', text: quiz.kind === 'truefalse' ? quiz.options[i] : LETTERS[i] })))),
        el('tbody', {}, [...rows.map((r) => [r.label, r.counts]), [t('cw.overall'), overall]].map(([name, counts]) =>
          el('tr', {}, el('td', { text: name }), counts.map((n, i) => el('td', { class: `num${quiz.correct === i ? ' correct' : ''}`, text: String(n) })))))));
  };

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const opts = kind.value === 'truefalse' ? [] : options.value.split('\n').map((s) => s.trim()).filter(Boolean);
    push.disabled = true;
    try {
      const reply = await client.request({ type: 'quiz.push', kind: kind.value, question: question.value.trim(), options: opts });
      renderResults(reply.quiz, null);
      question.value = '';
    } catch (err) {
      toast(errorText(err), 'error');
    } finally {
      push.disabled = false;
    }
  });

  // 签到 ---------------------------------------------------------------------------------------------
  const checkins = el('ul', { class: 'checkins', id: 'checkins' });
  const heads = new Map();
  const renderCheckins = () => {
    const total = [...heads.values()].reduce((a, c) => a + c.present, 0);
    checkins.dataset.total = String(total);
    checkins.replaceChildren(...(heads.size ? [...heads.values()].map((c) => el('li', { dataset: { pid: c.participant_id } },
      el('span', { text: c.name }), el('strong', { text: t('cw.people', { n: c.present }) })))
      : [el('li', { class: 'muted', text: t('cw.noCheckins') })]));
    checkinTotal.textContent = t('cw.people', { n: total });
  };
  const checkinTotal = el('span', { class: 'badge', id: 'checkin-total' });

  // messages ---------------------------------------------------------------------------------------
  const chat = messageList(client, {
    onDelete: (id) => client.request({ type: 'chat.delete', message_id: id }).catch((e) => toast(errorText(e), 'error')),
  });
  const recipients = () => [['all', t('cw.toAll')], ...client.visibleParticipants()
    .filter((p) => p.id !== client.me?.participant_id && p.role === 'classroom')
    .map((p) => [p.id, [p.school, p.classroom].filter(Boolean).join(' ') || p.name])];
  const { form: chatFormNode, fill } = chatForm(client, chat, recipients);
  client.on('room', fill);

  client.on('event', (ev) => {
    if (ev.type === 'quiz.results' && current && ev.results.quiz.id === current.id) renderResults(current, ev.results);
    else if (ev.type === 'checkin.updated') { heads.set(ev.checkin.participant_id, ev.checkin); renderCheckins(); }
    else if (ev.type === 'chat.message') chat.add(ev.message);
    else if (ev.type === 'chat.deleted') chat.removed(ev.message_id);
  });

  async function load() {
    const state = await client.request({ type: 'lesson.state' });
    if (state.quiz) renderResults(state.quiz, state.results);
    heads.clear();
    for (const c of state.checkins || []) heads.set(c.participant_id, c);
    renderCheckins();
    chat.reset();
    state.messages.forEach(chat.add);
  }
  client.on('connection', ({ state }) => { if (state === 'joined') load().catch(() => {}); });

  const node = el('div', { class: 'classwork', id: 'classwork' },
    el('section', { class: 'panel', id: 'quiz' }, el('h2', { text: t('cw.quiz') }), form, results),
    el('section', { class: 'panel' }, el('h2', {}, t('cw.checkin'), checkinTotal), checkins),
    el('section', { class: 'panel chat', id: 'chat' }, el('h2', { text: t('cw.messages') }), chat.list, chatFormNode));
  renderCheckins();
  return { node, load };
}

/** The classroom screen's classwork: a question overlay, the 签到 box and the messages drawer. */
export function classroomClasswork(client) {
  const overlay = el('div', { class: 'quiz-overlay', id: 'quiz-answer', hidden: true });
  const reopen = el('button', { class: 'btn', id: 'quiz-reopen', type: 'button', hidden: true, text: t('cw.quiz') });
  const hide = (open) => {
    overlay.hidden = true;
    reopen.hidden = !open;
  };
  reopen.onclick = () => { overlay.hidden = false; reopen.hidden = true; };
  let quiz = null;
  const showQuiz = (q, mine) => {
    quiz = q;
    overlay.hidden = false;
    reopen.hidden = true;
    overlay.dataset.quiz = String(q.id);
    const inputs = q.options.map((_, i) => el('input', { type: 'number', min: '0', max: '500', inputmode: 'numeric', id: `quiz-count-${i}`, value: mine ? String(mine[i]) : '', 'aria-label': label(q, i) }));
    const status = el('p', { class: 'quiz-status', id: 'quiz-status', text: mine ? t('cw.sent') : '' });
    const submit = async (body) => {
      try {
        const reply = await client.request({ type: 'quiz.answer', quiz_id: q.id, ...body });
        reply.answer.counts.forEach((n, i) => { inputs[i].value = String(n); });
        status.textContent = t('cw.sent');
        overlay.dataset.sent = 'true';
        setTimeout(() => hide(true), 1200); // back to the teacher's picture; 随堂测 reopens it
      } catch (err) {
        status.textContent = errorText(err);
      }
    };
    const send = el('button', { class: 'btn primary big', id: 'quiz-send', type: 'submit', text: t('cw.sendCounts') });
    const form = el('form', { class: 'quiz-answer-form' },
      el('p', { class: 'muted', text: t('cw.countsHint') }),
      el('div', { class: 'quiz-options' }, q.options.map((_, i) => el('label', { class: 'quiz-option' },
        el('span', { text: label(q, i) }), inputs[i],
        el('button', { class: 'btn', type: 'button', dataset: { choice: String(i) }, text: t('cw.classAnswer'), onclick: () => submit({ choice: i }) })))),
      el('div', { class: 'row' }, send, el('button', { class: 'btn', type: 'button', id: 'quiz-hide', text: t('cw.hide'), onclick: () => hide(true) })),
      status);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      submit({ counts: inputs.map((x) => Math.max(0, parseInt(x.value || '0', 10) || 0)) });
    });
    overlay.replaceChildren(el('div', { class: 'quiz-card' }, el('h2', { text: t('cw.quiz') }), el('p', { class: 'quiz-q', text: q.question }), form));
  };

  // 签到
  const count = el('input', { type: 'number', min: '0', max: '500', id: 'checkin-count', inputmode: 'numeric', 'aria-label': t('cw.headcount') });
  const done = el('span', { class: 'status', id: 'checkin-done', title: t('cw.headcount'),
    onclick: () => { delete checkinForm.dataset.done; count.focus(); } }); // click to correct the number
  const checkinForm = el('form', { class: 'checkin', id: 'checkin' }, el('span', { text: t('cw.headcount') }), count,
    el('button', { class: 'btn', type: 'submit', id: 'checkin-send', text: t('cw.confirm') }), done);
  checkinForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const reply = await client.request({ type: 'checkin.headcount', present: parseInt(count.value || '0', 10) || 0 });
      done.textContent = t('cw.checkedIn', { n: reply.checkin.present });
      checkinForm.dataset.done = 'true';
    } catch (err) {
      toast(errorText(err), 'error');
    }
  });

  // messages
  const chat = messageList(client);
  const { form: chatFormNode } = chatForm(client, chat, () => [['teacher', t('cw.toTeacher')], ['all', t('cw.toAll')]]);
  const drawer = el('aside', { class: 'chat-drawer', id: 'chat', hidden: true }, el('h2', { text: t('cw.messages') }), chat.list, chatFormNode);
  const unread = el('span', { class: 'badge', id: 'chat-unread', hidden: true, text: '0' });
  const toggle = el('button', { class: 'btn', id: 'chat-toggle', type: 'button', onclick: () => {
    drawer.hidden = !drawer.hidden;
    unread.hidden = true;
    unread.textContent = '0';
  } }, t('cw.messages'), unread);

  client.on('event', (ev) => {
    if (ev.type === 'quiz.pushed') showQuiz(ev.quiz, null);
    else if (ev.type === 'quiz.closed' && quiz && ev.quiz.id === quiz.id) hide(false);
    else if (ev.type === 'chat.message') {
      chat.add(ev.message);
      if (drawer.hidden && ev.message.from !== client.me?.participant_id) {
        unread.hidden = false;
        unread.textContent = String(Number(unread.textContent) + 1);
      }
    } else if (ev.type === 'chat.deleted') chat.removed(ev.message_id);
  });

  async function load() {
    const state = await client.request({ type: 'lesson.state' });
    if (state.quiz) showQuiz(state.quiz, state.my_answer);
    if (state.headcount !== null && state.headcount !== undefined) {
      count.value = String(state.headcount);
      done.textContent = t('cw.checkedIn', { n: state.headcount });
      checkinForm.dataset.done = 'true';
    }
    chat.reset();
    state.messages.forEach(chat.add);
  }
  client.on('connection', ({ state }) => { if (state === 'joined') load().catch(() => {}); });
  return { overlay, reopen, checkin: checkinForm, drawer, toggle, load };
}
