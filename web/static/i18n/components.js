// Strings of the shared components (components.js): tables, badges, progress, empty states.
// Each key: [zh-CN, English].
export default {
  'table.prev': ['上一页', 'Previous'],
  'table.next': ['下一页', 'Next'],
  'table.page': ['第 {page} / {pages} 页，共 {total} 条', 'Page {page} of {pages}, {total} rows'],
  'badge.live': ['上课中', 'Live'],
  'badge.recording': ['录制中', 'Recording'],
  'badge.poor': ['网络较差', 'Poor network'],
  'badge.demo': ['演示数据', 'Demo data'],
  'badge.published': ['已发布', 'Published'],
  'badge.draft': ['草稿', 'Draft'],
  'badge.ok': ['正常', 'OK'],
  'badge.ended': ['已结束', 'Ended'],
};
