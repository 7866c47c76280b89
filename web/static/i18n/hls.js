// Strings of the HLS broadcast (watch.js in HLS mode, the audience count in the teacher console).
// Each key: [zh-CN, English].
export default {
  'hls.live': ['直播', 'Live'],
  'hls.latency': ['延迟 {s} 秒', 'Latency {s} s'],
  'hls.via': ['HLS 直播，可供数千人同时观看', 'HLS broadcast, for thousands of viewers at once'],
  'hls.waiting': ['等待老师开始直播…', 'Waiting for the teacher to go live…'],
  'hls.unsupported': ['老师的浏览器没有发送 H.264，本节课改用 WebRTC 观看（可同时观看的人数有限）。', 'The teacher\'s browser does not send H.264, so this lesson is watched over WebRTC (fewer viewers at once).'],
  'hls.unmute': ['开启声音', 'Turn sound on'],
  'hls.ended': ['直播已结束', 'The broadcast has ended'],
  'hls.audience': ['HLS 观众 {n}', 'HLS viewers {n}'],
};
