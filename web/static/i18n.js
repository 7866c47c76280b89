// Every visible string, zh-CN first, English complete. t('key', {name}) fills {name} placeholders.
// Strings live in per-area modules under i18n/ (one file per area, each key [zh-CN, English]), so that
// engineers adding pages add a module and one line below instead of editing the same table.

import base from './i18n/base.js';
import components from './i18n/components.js';
import coordinator from './i18n/coordinator.js';
import lesson from './i18n/lesson.js';
import library from './i18n/library.js';
import timetable from './i18n/timetable.js';
import supervision from './i18n/supervision.js';
import admin from './i18n/admin.js';
import today from './i18n/today.js';
import classwork from './i18n/classwork.js';
import evaluation from './i18n/evaluation.js';
import planning from './i18n/planning.js';
import schoolAdmin from './i18n/school-admin.js';
import progress from './i18n/progress.js';
import subjects from './i18n/subjects.js';
import hls from './i18n/hls.js';

/** Add an area's module here (one line each). */
export const MODULES = { base, components, coordinator, lesson, library, timetable, supervision, admin, today, classwork, evaluation, planning, schoolAdmin, progress, subjects, hls };

export const LANGS = ['zh-CN', 'en'];
const STRINGS = { 'zh-CN': {}, en: {} };
/** key → module name, so that a key defined twice is reported (the translation test fails on it). */
export const ORIGIN = {};
export const DUPLICATES = [];
for (const [area, table] of Object.entries(MODULES)) {
  for (const [key, pair] of Object.entries(table)) {
    if (key in ORIGIN) DUPLICATES.push(`${key} (${ORIGIN[key]}, ${area})`);
    ORIGIN[key] = area;
    LANGS.forEach((code, i) => {
      if (typeof pair[i] === 'string' && pair[i] !== '') STRINGS[code][key] = pair[i];
    });
  }
}
if (DUPLICATES.length) console.error(`i18n: keys defined twice: ${DUPLICATES.join(', ')}`);

const KEY = 'sanke.lang';
/** Keys this page asked for (the translation crawl reads them). */
const USED = new Set();
const MISSING = new Set();
window.sankeI18n = { STRINGS, USED, MISSING, DUPLICATES };

const fromUrl = new URLSearchParams(location.search).get('lang');
if (fromUrl && STRINGS[fromUrl]) localStorage.setItem(KEY, fromUrl);

export function lang() {
  const saved = localStorage.getItem(KEY);
  if (saved && STRINGS[saved]) return saved;
  return 'zh-CN';
}

export function setLang(value) {
  localStorage.setItem(KEY, value);
  const url = new URL(location.href);
  url.searchParams.delete('lang');
  location.replace(url);
}

export function t(key, vars = {}) {
  USED.add(key);
  const text = STRINGS[lang()][key] ?? STRINGS['zh-CN'][key];
  if (text === undefined) {
    MISSING.add(key);
    console.error(`i18n: no string for ${key}`);
    return key;
  }
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ''));
}

export function has(key) {
  return key in STRINGS['zh-CN'];
}

/** Fill every element with data-i18n="key" (text), data-i18n-placeholder, data-i18n-label (aria-label). */
export function applyI18n(root = document) {
  document.documentElement.lang = lang();
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
}
