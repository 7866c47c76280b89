// Today's lessons for a teacher's or a classroom's home page, with a button to start or join.
// Usage: import { renderToday } from "/static/today.js"; renderToday(element, { classroomId, joinUrl });

const STATE = { scheduled: "未开始", open: "已开放", live: "上课中", ended: "已结束" };

export async function renderToday(root, { classroomId = null, date = null, joinUrl = (room) => `/lesson?room=${room}` } = {}) {
  const params = new URLSearchParams();
  if (classroomId !== null) params.set("classroom", classroomId);
  if (date) params.set("date", date);
  const res = await fetch(`/api/scheduler/today?${params}`, { credentials: "same-origin" });
  root.replaceChildren();
  const title = document.createElement("h2");
  title.textContent = "今日课程";
  root.append(title);
  if (res.status !== 200) {
    const p = document.createElement("p");
    p.textContent = res.status === 404 ? "课表尚未发布" : "无法读取今日课程";
    root.append(p);
    return;
  }
  const { lessons } = await res.json();
  if (!lessons.length) {
    const p = document.createElement("p");
    p.textContent = "今天没有专递课";
    root.append(p);
    return;
  }
  const list = document.createElement("ul");
  for (const ls of lessons) {
    const li = document.createElement("li");
    const time = (iso) => iso.slice(11, 16);
    li.textContent = `${time(ls.start)}–${time(ls.end)} ${ls.subject_label} ${ls.grade}年级 · ${ls.teacher} · 1+${ls.classrooms} `
      + (ls.kind === "makeup" ? "（调休补课）" : ls.kind === "moved" ? "（调课）" : "");
    if (ls.room_id && ls.room_state !== "ended") {
      const a = document.createElement("a");
      a.href = joinUrl(ls.room_id);
      a.textContent = classroomId === null ? "开始上课" : "进入课堂";
      a.className = "button";
      li.append(a);
    } else {
      const span = document.createElement("span");
      span.textContent = ls.room_id ? STATE[ls.room_state] || ls.room_state : "课前 15 分钟开放";
      li.append(span);
    }
    list.append(li);
  }
  root.append(list);
}
