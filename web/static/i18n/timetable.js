// Strings of the timetable pages. Each key: [zh-CN, English].
export default {
};
