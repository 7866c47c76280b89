// Strings of the coordinator overview and patrol wall.
// Each key: [zh-CN, English]. Add keys here; see docs/web.md (i18n).
export default {
  'coord.title': ['课堂总览', 'Overview'],
  'coord.live': ['正在上课', 'Live now'],
  'coord.upcoming': ['即将开始', 'Upcoming'],
  'coord.present': ['在线：{names}', 'Present: {names}'],
  'coord.nobody': ['暂无人在线', 'Nobody present'],
  'coord.patrol': ['巡课墙', 'Patrol wall'],
  'coord.patrolHint': ['最多同时巡视 16 个教室，点击画面放大', 'Up to 16 classrooms; click one to open it large'],
  'coord.noLive': ['目前没有正在上课的课堂', 'No lesson is live now'],
  'coord.noLive.next': ['课表中的课开始后，各教室的画面会出现在这里。', 'When a lesson of the timetable starts, its classrooms appear here.'],
  'coord.close': ['返回巡课墙', 'Back to the wall'],
};
