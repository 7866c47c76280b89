// What every live page shows about its connection: the state badge, the reconnecting banner, the final message.
import { t } from '../i18n.js';
import { banner, el, errorText, fullMessage, setConnection, toast } from './ui.js';

export function wireConnection(client, { homeHref = '/home', onFinal } = {}) {
  let dropped = false;
  client.on('connection', ({ state, reason }) => {
    setConnection(state);
    document.body.dataset.conn = state;
    if (state === 'reconnecting' || state === 'offline') {
      dropped = true;
      banner(t(`conn.${state}`), 'warn');
    } else if (state === 'joined') {
      banner(null);
      if (dropped || reason === 'resumed') toast(t('event.reconnected', { name: '' }).trim(), 'info');
      dropped = false;
    }
  });
  client.on('warning', (err) => toast(errorText(err), 'error'));
  client.on('final', ({ reason }) => {
    banner(null);
    if (onFinal?.(reason)) return;
    if (reason === 'left') return;
    const ended = reason === 'room_ended';
    fullMessage({
      title: ended ? t('ended.title') : errorText({ code: reason }),
      body: ended ? t('ended.body') : '',
      kind: ended ? 'info' : 'error',
      actions: [el('a', { class: 'btn primary', href: homeHref, text: t('common.back') })],
    });
    document.getElementById('message')?.setAttribute('data-reason', reason);
  });
}

/** Play a participant's audio; when the browser blocks it, a button asks for one click. */
export class AudioOut {
  constructor() {
    this.items = new Map();
    this.button = null;
  }

  sync(streams) {
    for (const [pid, stream] of streams) {
      let node = this.items.get(pid);
      if (!node) {
        node = el('audio', { autoplay: true });
        node.hidden = true;
        document.body.append(node);
        this.items.set(pid, node);
      }
      if (node.srcObject !== stream) {
        node.srcObject = stream;
        node.play().catch(() => this._ask());
      }
    }
    for (const [pid, node] of this.items) {
      if (!streams.has(pid)) {
        node.remove();
        this.items.delete(pid);
      }
    }
  }

  _ask() {
    if (this.button) return;
    this.button = el('button', {
      class: 'btn primary big soundbtn', text: t('classroom.sound'),
      onclick: () => {
        for (const node of this.items.values()) node.play().catch(() => {});
        this.button.remove();
        this.button = null;
      },
    });
    document.body.append(this.button);
  }
}
