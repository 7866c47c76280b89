// Strings of the library pages. Each key: [zh-CN, English].
export default {
};
