"""WCAG 2 contrast of the text a person sees, measured in the page itself (shared by the demo's tests).

For every visible element with text of its own: the text colour (with the element's opacity) against the
background it is drawn on, composed from the element and its ancestors' background colours over white. AA asks
4.5:1 for normal text and 3:1 for large text (≥ 24 px, or ≥ 18.66 px bold). Text drawn over a picture (a video
tile's name plate, a gradient, an image) has no single background and is not measured; disabled controls are
exempt (WCAG 1.4.3).
"""

from __future__ import annotations

from typing import Any

LOW_CONTRAST = """() => {
  const parse = (c) => {
    const m = c.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, below) => {  // top (with alpha) composited over an opaque colour
    const a = top[3];
    return [0, 1, 2].map((i) => top[i] * a + below[i] * (1 - a)).concat(1);
  };
  const lum = (c) => {
    const [r, g, b] = c.slice(0, 3).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const hasOwnText = (e) => [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
  const out = [];
  for (const e of document.body.querySelectorAll('*')) {
    if (!hasOwnText(e) || ['SCRIPT', 'STYLE', 'NOSCRIPT', 'OPTION'].includes(e.tagName)) continue;
    const r = e.getBoundingClientRect();
    if (r.width <= 1 || r.height <= 1) continue;
    const st = getComputedStyle(e);
    if (st.visibility !== 'visible' || e.closest('[hidden], [aria-hidden="true"]')) continue;
    if (e.closest('button:disabled, input:disabled, select:disabled, [aria-disabled="true"]')) continue;
    // the background: the nearest ancestors' colours, top first, until an opaque one; a picture stops the walk
    const layers = [];
    let opacity = 1;
    let picture = false;
    for (let n = e; n && n !== document.documentElement; n = n.parentElement) {
      const s = getComputedStyle(n);
      opacity *= Number(s.opacity);
      if (s.backgroundImage !== 'none' || ['VIDEO', 'IMG', 'CANVAS'].includes(n.tagName)) { picture = true; break; }
      if (n.tagName === 'FIGURE' && n.querySelector('video')) { picture = true; break; }
      const bg = parse(s.backgroundColor);
      if (bg && bg[3] > 0) { layers.push(bg); if (bg[3] >= 1) break; }
    }
    if (picture) continue;
    let bg = [255, 255, 255, 1];
    const root = parse(getComputedStyle(document.body).backgroundColor);
    if (root && root[3] > 0) bg = over(root, bg);
    for (const layer of layers.reverse()) bg = over(layer, bg);
    const fg0 = parse(st.color);
    if (!fg0) continue;
    const fg = over([fg0[0], fg0[1], fg0[2], fg0[3] * opacity], bg);
    const size = parseFloat(st.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(st.fontWeight) >= 700);
    const need = large ? 3 : 4.5;
    const got = ratio(fg, bg);
    if (got < need - 0.005) {
      out.push({ text: e.textContent.trim().slice(0, 40), where: e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\\s+/).join('.') : ''),
        ratio: Math.round(got * 100) / 100, need, fg: st.color, bg: `rgb(${bg.slice(0, 3).map(Math.round).join(', ')})` });
    }
  }
  return out;
}"""


def low_contrast(page: Any) -> list[dict]:
    """The texts on the page below WCAG AA, each with where it is, its ratio and colours."""
    return page.evaluate(LOW_CONTRAST)


def describe(path: str, found: list[dict]) -> list[str]:
    seen: set[tuple[str, float]] = set()
    lines = []
    for f in found:
        key = (f["where"], f["ratio"])
        if key in seen:
            continue
        seen.add(key)
        lines.append(f"{path}: {f['where']} {f['text']!r} {f['ratio']}:1 < {f['need']}:1 ({f['fg']} on {f['bg']})")
    return lines
