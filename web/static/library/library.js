// The library page: search by text and facets, browse by textbook chapter and by knowledge point.
import { api, el, me, clock } from "./api.js";
import { t, setLang } from "./strings.js";

const state = { q: "", subject: "", grade: "", school_id: "", teacher_id: "", kp: "", node: "", from: "", to: "" };
const labels = { kp: "", node: "" };

export function statusBadge(status) {
  return el("span", { class: `badge ${status}` }, t(`status_${status}`));
}

async function renderWho() {
  const who = document.getElementById("who");
  const user = await me();
  who.replaceChildren();
  if (user) {
    who.append(el("span", {}, t("loggedInAs", { name: user.display_name })),
      el("button", { class: "secondary", onclick: async () => { await api("/api/logout", { method: "POST" }); location.reload(); } }, t("logout")));
    return;
  }
  const name = el("input", { type: "text", placeholder: t("username"), size: 10 });
  const pass = el("input", { type: "password", placeholder: t("password"), size: 10 });
  const msg = el("span", { class: "error" });
  who.append(el("form", { style: "display:flex;gap:.4rem", onsubmit: async (e) => {
    e.preventDefault();
    try { await api("/api/login", { method: "POST", body: { username: name.value, password: pass.value } }); location.reload(); }
    catch (err) { msg.textContent = err.message; }
  } }, name, pass, el("button", { type: "submit" }, t("login")), msg));
}

function facetSelect(key, param, values, current) {
  const select = el("select", { onchange: () => { state[param] = select.value; search(); } },
    el("option", { value: "" }, `${t(key)}：${t("all")}`));
  for (const { value, count } of values) {
    select.append(el("option", { value, selected: String(current) === String(value) }, `${value} (${count})`));
  }
  return select;
}

async function search() {
  const params = new URLSearchParams(Object.entries(state).filter(([, v]) => v !== ""));
  history.replaceState(null, "", `?${params}`);
  let data;
  try {
    data = await api(`/api/library/resources?${params}`);
  } catch (err) {
    document.getElementById("results").replaceChildren(el("p", { class: "error" }, t("error", { m: err.message })));
    return;
  }
  document.getElementById("count").textContent = data.total ? t("results", { n: data.total }) : t("none");
  const f = data.facets;
  const dateFrom = el("input", { type: "date", value: state.from, title: t("dateFrom"), onchange: () => { state.from = dateFrom.value; search(); } });
  const dateTo = el("input", { type: "date", value: state.to, title: t("dateTo"), onchange: () => { state.to = dateTo.value; search(); } });
  document.getElementById("facets").replaceChildren(
    facetSelect("subject", "subject", f.subject, state.subject),
    facetSelect("grade", "grade", f.grade, state.grade),
    facetSelect("school", "q", f.school_name, ""),
    facetSelect("teacher", "q", f.teacher_name, ""),
    dateFrom, dateTo,
  );
  const chips = [];
  for (const key of ["kp", "node"]) {
    if (state[key]) chips.push(el("span", { class: "chip", onclick: () => { state[key] = ""; labels[key] = ""; search(); } },
      `${t(key === "kp" ? "knowledge" : "chapter")}：${labels[key] || state[key]} ✕`));
  }
  document.getElementById("filters").replaceChildren(...chips);
  document.getElementById("results").replaceChildren(...data.resources.map(card));
}

function card(r) {
  return el("div", { class: "card" },
    el("a", { href: `/playback?id=${r.id}` }, r.title), statusBadge(r.status),
    el("div", { class: "meta" }, [r.date, r.school.name, r.teacher.name, `${r.grade_name}${r.subject}`,
      r.duration ? `${t("duration")} ${clock(r.duration)}` : ""].filter(Boolean).join(" · ")),
    r.textbook.length ? el("div", { class: "meta" }, r.textbook.slice(3).map((n) => n.name).join(" › ")) : null,
    el("div", {}, r.knowledge_points.map((kp) => el("span", { class: "chip", onclick: () => { state.kp = kp.id; labels.kp = kp.name; search(); } }, kp.name))),
  );
}

async function browseChapters(parent = "") {
  const data = await api(`/api/library/textbooks${parent ? `?parent=${parent}` : ""}`);
  const trail = document.getElementById("trail");
  trail.replaceChildren(el("span", { onclick: () => browseChapters("") }, t("all")),
    ...data.trail.map((n) => el("span", { onclick: () => browseChapters(n.id) }, n.name)));
  const list = el("ul");
  for (const n of data.nodes) {
    list.append(el("li", {}, el("span", {
      class: String(state.node) === String(n.id) ? "on" : "",
      title: n.level_name,
      onclick: () => {
        if (n.level === "chapter" || n.level === "section" || n.leaf) { state.node = n.id; labels.node = n.name; search(); }
        if (!n.leaf) browseChapters(n.id);
      },
    }, n.name)));
  }
  if (parent && data.trail.length && ["volume", "chapter"].includes(data.trail.at(-1).level)) {
    state.node = parent; labels.node = data.trail.at(-1).name; search();
  }
  document.getElementById("chapters").replaceChildren(list);
}

function kpTree(nodes) {
  return el("ul", {}, nodes.map((n) => el("li", {},
    el("span", { class: String(state.kp) === String(n.id) ? "on" : "", onclick: () => { state.kp = n.id; labels.kp = n.name; search(); } }, n.name),
    n.children.length ? kpTree(n.children) : null)));
}

async function browseKnowledge() {
  const { frameworks } = await api("/api/library/knowledge");
  const select = document.getElementById("framework");
  select.replaceChildren(...frameworks.map((f) => el("option", { value: f.id }, `${f.stage}${f.subject}`)));
  const show = async () => {
    const { tree } = await api(`/api/library/knowledge/${select.value}`);
    document.getElementById("knowledge").replaceChildren(kpTree(tree));
  };
  select.onchange = show;
  if (frameworks.length) await show();
}

async function init() {
  setLang(document);
  for (const [k, v] of new URLSearchParams(location.search)) if (k in state) state[k] = v;
  const q = document.getElementById("q");
  q.value = state.q;
  document.getElementById("searchform").addEventListener("submit", (e) => { e.preventDefault(); state.q = q.value.trim(); search(); });
  await Promise.all([renderWho(), browseChapters(), browseKnowledge(), search()]);
}

init();
