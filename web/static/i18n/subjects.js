// School subjects: the timetable's keys ("english") and the catalogue's Chinese names both show through
// js/subjects.js. Each key: [zh-CN, English].
export default {
  'subject.chinese': ['语文', 'Chinese'],
  'subject.math': ['数学', 'Mathematics'],
  'subject.english': ['英语', 'English'],
  'subject.music': ['音乐', 'Music'],
  'subject.art': ['美术', 'Art'],
  'subject.pe': ['体育', 'Physical education'],
  'subject.science': ['科学', 'Science'],
  'subject.it': ['信息技术', 'Information technology'],
  'subject.calligraphy': ['书法', 'Calligraphy'],
  'subject.psychology': ['心理健康', 'Mental health'],
  'subject.morality': ['道德与法治', 'Morality and law'],
};
