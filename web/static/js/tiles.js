// Keyed video tiles that survive re-renders, so a video element is never recreated while it plays.
import { attach, el, videoTile } from './ui.js';
import { t } from '../i18n.js';

export class Tiles {
  constructor(container) {
    this.container = container;
    this.items = new Map();
  }

  /** The tile for `key`, created on first use; `place` keeps it in order inside the container. */
  ensure(key, opts) {
    let item = this.items.get(key);
    if (!item) {
      item = videoTile({ id: key, ...opts });
      item.marks = item.tile.querySelector('.marks');
      item.actions = el('div', { class: 'actions' });
      item.tile.append(item.actions);
      this.items.set(key, item);
    }
    this.container.append(item.tile);
    return item;
  }

  show(key, stream) {
    const item = this.items.get(key);
    if (item) attach(item.video, stream);
  }

  /** Remove the tiles whose key is not in `keep`. */
  prune(keep) {
    for (const [key, item] of this.items) {
      if (!keep.has(key)) {
        item.video.srcObject = null;
        item.tile.remove();
        this.items.delete(key);
      }
    }
  }
}

export function qualityMark(q) {
  return q ? el('span', { class: `mark q-${q}`, title: t(`quality.${q}`), text: t(`quality.${q}`) }) : null;
}

/** Replace a tile's buttons only when `key` changed, so a click never lands on a button being replaced. */
export function setActions(item, key, build) {
  if (item.actionsKey === key) return;
  item.actionsKey = key;
  item.actions.replaceChildren(...build());
}

export function setMarks(item, nodes) {
  item.marks.replaceChildren(...nodes.filter(Boolean));
}
