// Today's lessons from the published timetable, for a teacher's home page or a classroom's screen,
// with a button to start or join once the lesson's room exists (15 minutes before it starts).
// renderToday(element, { code, classroomId, date, joinUrl }): `code` for a classroom PC (no login),
// `classroomId` for a logged-in user looking at one classroom, neither for the logged-in teacher.

const STATE = { scheduled: "未开始", open: "已开放", live: "上课中", ended: "已结束" };
const KIND = { makeup: "（调休补课）", moved: "（调课）", regular: "" };

function line(text, cls = "") {
  const p = document.createElement("p");
  p.textContent = text;
  if (cls) p.className = cls;
  return p;
}

export async function renderToday(root, { code = null, classroomId = null, date = null, joinUrl = null } = {}) {
  const forClassroom = code !== null || classroomId !== null;
  const url = joinUrl || ((room) => (code ? `/classroom?code=${encodeURIComponent(code)}&room=${room}&auto` : `/teacher?room=${room}`));
  const params = new URLSearchParams();
  if (code) params.set("code", code);
  if (classroomId !== null) params.set("classroom", classroomId);
  if (date) params.set("date", date);
  const title = document.createElement("h2");
  title.textContent = "今日课程";
  root.replaceChildren(title);
  const res = await fetch(`/api/scheduler/today?${params}`, { credentials: "same-origin" });
  if (res.status !== 200) {
    root.append(line(res.status === 404 ? "课表尚未发布" : "无法读取今日课程", "muted"));
    return;
  }
  const { lessons } = await res.json();
  if (!lessons.length) {
    root.append(line("今天没有专递课", "muted"));
    return;
  }
  const list = document.createElement("ul");
  list.className = "today";
  for (const ls of lessons) {
    const li = document.createElement("li");
    li.dataset.ref = ls.ref;
    const hhmm = (iso) => iso.slice(11, 16);
    li.append(`${hhmm(ls.start)}–${hhmm(ls.end)} ${ls.subject_label} ${ls.grade}年级 · ${ls.teacher} · 1+${ls.classrooms}${KIND[ls.kind] || ""} `);
    if (ls.room_id && ls.room_state !== "ended") {
      const a = document.createElement("a");
      a.href = url(ls.room_id);
      a.className = "btn primary";
      a.textContent = forClassroom ? "进入课堂" : "开始上课";
      li.append(a);
    } else {
      const span = document.createElement("span");
      span.className = "muted";
      span.textContent = ls.room_id ? STATE[ls.room_state] || ls.room_state : "课前 15 分钟开放";
      li.append(span);
    }
    list.append(li);
  }
  root.append(list);
}
