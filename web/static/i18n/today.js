// Strings of today's lessons (today.js: the teacher's home, /today, the classroom screen).
// Each key: [zh-CN, English].
export default {
  'today.title': ['今日课程', 'Today'],
  'today.unpublished': ['课表尚未发布', 'The timetable is not published yet'],
  'today.unpublished.next': ['县级管理员在“排课”中发布课表后，今天的课会出现在这里。', 'Once the coordinator publishes the timetable, today\'s lessons appear here.'],
  'today.failed': ['无法读取今日课程', 'Cannot read today\'s lessons'],
  'today.failed.next': ['请刷新页面；如仍不行，请联系县级管理员。', 'Reload the page; if it persists, contact the coordinator.'],
  'today.none': ['今天没有专递课', 'No delivery lessons today'],
  'today.none.next': ['可以在资源库中回看以前的课。', 'You can watch earlier lessons in the library.'],
  'today.grade': ['{grade} 年级', 'grade {grade}'],
  'today.kind.makeup': ['调休补课', 'make-up day'],
  'today.kind.moved': ['调课', 'moved'],
  'today.enter': ['进入课堂', 'Enter lesson'],
  'today.start': ['开始上课', 'Start lesson'],
  'today.opensAt': ['课前 15 分钟开放', 'Opens 15 minutes before'],
  'today.page.title': ['今日课程', 'Today\'s lessons'],
  'today.invitations': ['今天的邀请（名师课堂、名校网络课堂）', 'Today\'s invitations (co-teaching, broadcasts)'],
  'today.page.sub': ['今天的专递课；上课前 15 分钟可以进入课堂。', 'Today\'s delivery lessons; enter from 15 minutes before the start.'],
};
