// A subject in the page's language. The timetable and rooms carry a key ("english"), the library's catalogue
// a Chinese name ("英语"); both become t('subject.…'). Anything else (a subject a teacher typed) shows as is.
import { t } from '../i18n.js';

const KEYS = {
  chinese: 'subject.chinese', math: 'subject.math', english: 'subject.english', music: 'subject.music',
  art: 'subject.art', pe: 'subject.pe', science: 'subject.science', it: 'subject.it',
  calligraphy: 'subject.calligraphy', psychology: 'subject.psychology', morality: 'subject.morality',
};
const ZH = {
  语文: 'chinese', 数学: 'math', 英语: 'english', 音乐: 'music', 美术: 'art', 体育: 'pe', 科学: 'science',
  信息技术: 'it', 书法: 'calligraphy', 心理健康: 'psychology', 道德与法治: 'morality',
};

export function subjectName(value) {
  if (!value) return '';
  const key = KEYS[value] || KEYS[ZH[value]];
  return key ? t(key) : value;
}
