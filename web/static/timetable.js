// Coordinator timetable page: import, solve with progress, grid by school/teacher/classroom,
// drag-to-move with live validation, publish, planned vs held (开课比). Plain ES module, no build step.

const DAYS = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"];
const GROUPS = { week: "周", teacher: "主讲教师", classroom: "听讲教室" };
const TEMPLATES = ["county", "schools", "bells", "classrooms", "teachers", "pairings", "demand", "term"];
const $ = (sel) => document.querySelector(sel);
let timetable = null;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return node;
}

async function api(path, options = {}) {
  const res = await fetch(path, { credentials: "same-origin", ...options });
  const type = res.headers.get("content-type") || "";
  const body = type.includes("json") ? await res.json() : await res.text();
  return { status: res.status, body };
}

function errorText(body) {
  return body && body.error ? `${body.error.message}${body.error.field ? `（${body.error.field}）` : ""}` : "出错了";
}

async function start() {
  const me = await api("/api/me");
  if (me.status !== 200) {
    $("#login").hidden = false;
    $("#login-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      const form = new FormData(e.target);
      const r = await api("/api/login", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ username: form.get("username"), password: form.get("password") }),
      });
      if (r.status === 200) location.reload();
      else $("#login-error").textContent = errorText(r.body);
    });
    return;
  }
  $("#who").textContent = me.body.user ? me.body.user.display_name : (me.body.display_name || "");
  $("#app").hidden = false;
  $("#templates").append(...TEMPLATES.map((n) => el("a", { href: `/api/scheduler/templates/${n}.csv` }, `${n}.csv `)));
  $("#import-form").addEventListener("submit", importCounty);
  $("#solve").addEventListener("click", runSolver);
  $("#view").addEventListener("change", fillEntities);
  $("#entity").addEventListener("change", drawGrid);
  $("#publish").addEventListener("click", publish);
  $("#load-supervision").addEventListener("click", loadSupervision);
  await loadCounty();
  await loadTimetable();
}

async function importCounty(e) {
  e.preventDefault();
  const files = [...$("#import-files").files];
  if (!files.length) return;
  $("#import-status").textContent = "导入中…";
  let r;
  if (files.length === 1 && files[0].name.endsWith(".json")) {
    r = await api("/api/scheduler/county", { method: "POST", headers: { "Content-Type": "application/json" }, body: await files[0].text() });
  } else {
    const form = new FormData();
    for (const f of files) form.append("files", f, f.name);
    r = await api("/api/scheduler/county", { method: "POST", body: form });
  }
  const table = $("#import-problems");
  const tbody = table.querySelector("tbody");
  tbody.replaceChildren();
  if (r.status === 422) {
    $("#import-status").textContent = r.body.error.message;
    $("#import-status").className = "error";
    for (const p of r.body.problems) tbody.append(el("tr", {}, el("td", {}, p.file), el("td", {}, p.row || ""), el("td", {}, p.field), el("td", {}, p.message)));
    table.hidden = false;
  } else if (r.status === 200) {
    table.hidden = true;
    $("#import-status").textContent = "已导入";
    $("#import-status").className = "ok";
    showSummary(r.body.summary);
  } else {
    $("#import-status").textContent = errorText(r.body);
    $("#import-status").className = "error";
  }
}

function showSummary(s) {
  $("#county-summary").textContent = `${s.name}：${s.schools} 所学校，${s.classrooms} 个教室，${s.teachers} 位主讲教师，每周需求 ${s.demand} 节`
    + (s.term ? `；学期 ${s.term.start} 至 ${s.term.end}` : "");
}

async function loadCounty() {
  const r = await api("/api/scheduler/county");
  if (r.status === 200) showSummary(r.body.summary);
}

async function runSolver() {
  const r = await api("/api/scheduler/solve", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ replan: $("#replan").checked }),
  });
  if (r.status !== 202) { $("#solve-status").textContent = errorText(r.body); return; }
  const bar = $("#solve-progress");
  bar.hidden = false;
  let job = r.body;
  while (job.state === "running") {
    bar.max = Math.max(job.parts, 1); bar.value = job.done;
    $("#solve-status").textContent = `排课中… 已完成 ${job.done}/${job.parts || "?"} 个片区，${job.seconds} 秒`;
    await new Promise((ok) => setTimeout(ok, 400));
    job = (await api(`/api/scheduler/solve/${job.id}`)).body;
  }
  bar.value = bar.max;
  $("#solve-status").textContent = job.state === "done" ? `完成，用时 ${job.seconds} 秒` : `失败：${job.error}`;
  await loadTimetable();
}

async function loadTimetable() {
  const r = await api("/api/scheduler/timetable");
  if (r.status !== 200) { $("#tt-summary").textContent = "还没有课表"; return; }
  timetable = r.body;
  const avg = timetable.lessons.length ? (timetable.placed / timetable.lessons.length).toFixed(2) : "0";
  $("#tt-summary").textContent = `${timetable.state === "published" ? "已发布" : "草稿"}：已排 ${timetable.placed}/${timetable.demanded} 节（班次），`
    + `${timetable.lessons.length} 节专递课，平均每节 ${avg} 个听讲教室`;
  const unplaced = $("#unplaced tbody");
  unplaced.replaceChildren(...timetable.unplaced.map((u) => el("tr", {}, el("td", {}, u.classroom), el("td", {}, u.subject),
    el("td", {}, u.missing), el("td", {}, u.reasons.join("；")))));
  $("#violations").replaceChildren(...(timetable.violations.length
    ? timetable.violations.map((v) => el("li", { class: "error" }, v.message))
    : [el("li", { class: "ok" }, "没有违反任何排课规则")]));
  fillEntities();
}

function fillEntities() {
  if (!timetable) return;
  const view = $("#view").value;
  const items = view === "school" ? timetable.schools : view === "teacher" ? timetable.teachers : timetable.classrooms;
  $("#entity").replaceChildren(...items.map((i) => el("option", { value: i.id }, i.name + (i.grade ? `（${i.grade}年级）` : "") + ` ${i.id}`)));
  drawGrid();
}

function lessonsInView() {
  const view = $("#view").value;
  const id = $("#entity").value;
  return timetable.lessons.filter((ls) => (view === "school" ? ls.hub === id || ls.schools.includes(id)
    : view === "teacher" ? ls.teacher === id : ls.classrooms.includes(id)));
}

function drawGrid() {
  const lessons = lessonsInView();
  const days = Math.max(5, ...lessons.map((l) => l.weekday));
  const periods = Math.max(6, ...lessons.map((l) => l.period));
  const head = el("tr", {}, el("th", {}, "节次"), ...DAYS.slice(0, days).map((d) => el("th", {}, d)));
  const rows = [];
  for (let p = 1; p <= periods; p++) {
    const cells = [el("th", {}, `第${p}节`)];
    for (let d = 1; d <= days; d++) {
      const td = el("td", { "data-weekday": d, "data-period": p });
      td.addEventListener("dragover", (e) => { e.preventDefault(); td.classList.add("drop"); });
      td.addEventListener("dragleave", () => td.classList.remove("drop"));
      td.addEventListener("drop", (e) => { e.preventDefault(); td.classList.remove("drop"); moveLesson(e.dataTransfer.getData("text/plain"), d, p); });
      for (const ls of lessons.filter((l) => l.weekday === d && l.period === p)) {
        const bad = timetable.violations.some((v) => v.lesson === ls.key);
        const card = el("div", { class: bad ? "lesson bad" : "lesson", draggable: "true", title: ls.classroom_names.join("、") },
          `${ls.subject_label} ${ls.grade}年级 ${ls.teacher_name} ${ls.start}–${ls.end} 1+${ls.classrooms.length}`);
        card.addEventListener("dragstart", (e) => e.dataTransfer.setData("text/plain", ls.key));
        td.append(card);
      }
      cells.push(td);
    }
    rows.push(el("tr", {}, ...cells));
  }
  $("#grid").replaceChildren(el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows)));
}

async function moveLesson(key, weekday, period) {
  const body = { lesson_key: key, weekday, period, save: false };
  const post = (b) => api("/api/scheduler/timetable/move", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(b) });
  const check = await post(body);
  const box = $("#move-check");
  box.hidden = false;
  if (check.status !== 200) { box.replaceChildren(el("p", { class: "error" }, errorText(check.body))); return; }
  if (!check.body.ok) {
    box.replaceChildren(el("p", { class: "error" }, `不能调到${DAYS[weekday - 1]}第${period}节：`),
      el("ul", {}, ...check.body.violations.map((v) => el("li", {}, v.message))));
    return;
  }
  const save = el("button", {}, "确认调课");
  save.addEventListener("click", async () => {
    const r = await post({ ...body, save: true });
    box.replaceChildren(el("p", { class: r.body.ok ? "ok" : "error" }, r.body.ok ? "已保存为新的草稿课表" : "保存失败"));
    await loadTimetable();
  });
  box.replaceChildren(el("p", { class: "ok" }, `可以调到${DAYS[weekday - 1]}第${period}节，没有冲突。`), save);
}

async function publish() {
  const r = await api("/api/scheduler/timetable/publish", { method: "POST" });
  $("#publish-status").textContent = r.status === 200 ? "已发布；各节课的教室会在上课前 15 分钟自动创建" : errorText(r.body);
  if (r.status === 200) await loadTimetable();
}

async function loadSupervision() {
  const params = new URLSearchParams();
  if ($("#since").value) params.set("since", $("#since").value);
  if ($("#until").value) params.set("until", $("#until").value);
  $("#supervision-csv").href = `/api/scheduler/supervision?${params}&format=csv`;
  const r = await api(`/api/scheduler/supervision?${params}`);
  const tbody = $("#supervision tbody");
  if (r.status !== 200) { tbody.replaceChildren(el("tr", {}, el("td", { colspan: 5 }, errorText(r.body)))); return; }
  const lines = r.body.lines;
  tbody.replaceChildren(...lines.map((l) => el("tr", {}, el("td", {}, GROUPS[l.group]), el("td", {}, l.label),
    el("td", {}, l.planned), el("td", {}, l.held), el("td", {}, l.ratio === null ? "—" : `${(l.ratio * 100).toFixed(1)}%`))));
  drawChart(lines.filter((l) => l.group === "week"));
}

function drawChart(weeks) {
  const svg = $("#chart");
  const ns = "http://www.w3.org/2000/svg";
  svg.replaceChildren();
  if (!weeks.length) return;
  const max = Math.max(...weeks.map((w) => w.planned), 1);
  const w = 700 / weeks.length;
  weeks.forEach((wk, i) => {
    const x = 10 + i * w;
    for (const [cls, value, dx] of [["planned", wk.planned, 0], ["held", wk.held, w * 0.35]]) {
      const h = (value / max) * 170;
      const r = document.createElementNS(ns, "rect");
      Object.entries({ class: cls, x: x + dx, y: 185 - h, width: w * 0.35, height: h }).forEach(([k, v]) => r.setAttribute(k, v));
      const t = document.createElementNS(ns, "title");
      t.textContent = `${wk.label} ${cls === "planned" ? "计划" : "实开"} ${value}`;
      r.append(t);
      svg.append(r);
    }
    const label = document.createElementNS(ns, "text");
    label.setAttribute("x", x); label.setAttribute("y", 200);
    label.textContent = wk.key.slice(5);
    svg.append(label);
  });
}

start();
