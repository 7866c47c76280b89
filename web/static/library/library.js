// The library page: search by text and facets, browse by textbook chapter and by knowledge point.
import { api, clock } from "./api.js";
import { t } from "../i18n.js";
import { badge, emptyState, field, pageHead } from "../js/components.js";
import { el } from "../js/dom.js";
import { runPage, topBar } from "../js/ui.js";
import { currentUser } from "../js/header.js";
import { subjectName } from "../js/subjects.js";

const state = { q: "", subject: "", grade: "", school_id: "", teacher_id: "", kp: "", node: "", from: "", to: "" };
const labels = { kp: "", node: "" };
let demoIds = new Set();
const $ = (id) => document.getElementById(id);

export function statusBadge(status) {
  return el("span", { class: `badge s-${status}`, text: t(`lib.status_${status}`) });
}

function facetSelect(key, param, values, current) {
  const f = field({ label: t(`lib.${key}`), name: `facet-${key}`, type: "select", value: String(current),
    options: [{ value: "", label: t("lib.all") }, ...values.map(({ value, count }) => ({ value, label: `${key === "subject" ? subjectName(value) : value} (${count})` }))] });
  f.input.addEventListener("change", () => { state[param] = f.input.value; search(); });
  return f.wrap;
}

function dateField(key, param) {
  const f = field({ label: t(`lib.${key}`), name: key, type: "date", value: state[param] });
  f.input.addEventListener("change", () => { state[param] = f.input.value; search(); });
  return f.wrap;
}

async function search() {
  const params = new URLSearchParams(Object.entries(state).filter(([, v]) => v !== ""));
  history.replaceState(null, "", `?${params}`);
  let data;
  try {
    data = await api(`/api/library/resources?${params}`);
  } catch (err) {
    $("results").replaceChildren(emptyState({ title: t("lib.error", { m: err.message }), next: t("lib.retry") }));
    return;
  }
  $("count").textContent = data.total ? t("lib.results", { n: data.total }) + (data.relaxed ? ` · ${t("lib.relaxed")}` : "") : "";
  const f = data.facets;
  $("facets").replaceChildren(
    facetSelect("subject", "subject", f.subject, state.subject),
    facetSelect("grade", "grade", f.grade, state.grade),
    facetSelect("school", "q", f.school_name, ""),
    facetSelect("teacher", "q", f.teacher_name, ""),
    dateField("dateFrom", "from"), dateField("dateTo", "to"),
  );
  const chips = [];
  for (const key of ["kp", "node"]) {
    if (state[key]) chips.push(el("button", { type: "button", class: "chip", "aria-label": `${t("lib.clear")} ${labels[key] || state[key]}`,
      onclick: () => { state[key] = ""; labels[key] = ""; search(); } }, `${t(key === "kp" ? "lib.knowledge" : "lib.chapter")}：${labels[key] || state[key]} ✕`));
  }
  $("filters").replaceChildren(...chips);
  $("results").replaceChildren(...(data.resources.length ? data.resources.map(card)
    : [emptyState({ title: t("lib.none"), next: t("lib.none.next") })]));
}

function card(r) {
  return el("article", { class: "card result", dataset: { id: r.id } },
    el("div", { class: "row" }, el("a", { class: "result-title", href: `/playback?id=${r.id}` }, r.title), statusBadge(r.status),
      demoIds.has(r.id) ? badge("demo") : null),
    el("div", { class: "meta" }, [r.date, r.school.name, r.teacher.name, `${r.grade_name}${subjectName(r.subject)}`,
      r.duration ? `${t("lib.duration")} ${clock(r.duration)}` : ""].filter(Boolean).join(" · ")),
    r.textbook.length ? el("div", { class: "meta" }, r.textbook.slice(3).map((n) => n.name).join(" › ")) : null,
    el("div", {}, r.knowledge_points.map((kp) => el("button", { type: "button", class: "chip",
      onclick: () => { state.kp = kp.id; labels.kp = kp.name; search(); } }, kp.name))),
  );
}

async function browseChapters(parent = "") {
  const data = await api(`/api/library/textbooks${parent ? `?parent=${parent}` : ""}`);
  $("trail").replaceChildren(el("button", { type: "button", class: "link", onclick: () => browseChapters("") }, t("lib.all")),
    ...data.trail.map((n) => el("button", { type: "button", class: "link", onclick: () => browseChapters(n.id) }, n.name)));
  const list = el("ul");
  for (const n of data.nodes) {
    list.append(el("li", {}, el("button", {
      type: "button", class: String(state.node) === String(n.id) ? "link on" : "link", title: n.level_name,
      onclick: () => {
        if (n.level === "chapter" || n.level === "section" || n.leaf) { state.node = n.id; labels.node = n.name; search(); }
        if (!n.leaf) browseChapters(n.id);
      },
    }, n.name)));
  }
  if (parent && data.trail.length && ["volume", "chapter"].includes(data.trail.at(-1).level)) {
    state.node = parent; labels.node = data.trail.at(-1).name; search();
  }
  $("chapters").replaceChildren(data.nodes.length ? list : el("p", { class: "muted", text: t("lib.noChapters") }));
}

function kpTree(nodes) {
  return el("ul", {}, nodes.map((n) => el("li", {},
    el("button", { type: "button", class: String(state.kp) === String(n.id) ? "link on" : "link",
      onclick: () => { state.kp = n.id; labels.kp = n.name; search(); } }, n.name),
    n.children.length ? kpTree(n.children) : null)));
}

async function browseKnowledge() {
  const { frameworks } = await api("/api/library/knowledge");
  const select = $("framework");
  select.replaceChildren(...frameworks.map((f) => el("option", { value: f.id }, `${f.stage}${subjectName(f.subject)}`)));
  const show = async () => {
    const { tree } = await api(`/api/library/knowledge/${select.value}`);
    $("knowledge").replaceChildren(kpTree(tree));
  };
  select.onchange = show;
  if (frameworks.length) await show();
}

function layout() {
  const q = field({ label: t("lib.search"), name: "q", type: "search", value: state.q, attrs: { placeholder: t("lib.searchHint") } });
  q.input.id = "q";
  q.wrap.querySelector("label").htmlFor = "q";
  q.wrap.querySelector("label").className = "sr-only";
  const framework = el("select", { id: "framework", "aria-label": t("lib.browseKnowledge") });
  return el("div", { class: "page library" },
    pageHead(t("lib.title"), { sub: t("lib.sub") }),
    el("div", { class: "library-cols" },
      el("aside", { class: "panel browse", "aria-label": t("lib.browse") },
        el("h3", { class: "card-title", text: t("lib.browse") }),
        el("div", { class: "trail", id: "trail" }), el("div", { class: "tree", id: "chapters" }),
        el("h3", { class: "card-title", text: t("lib.browseKnowledge") }), framework,
        el("div", { class: "tree", id: "knowledge" })),
      el("div", { class: "library-main" },
        el("form", { class: "searchbar", id: "searchform", role: "search", onsubmit: (e) => { e.preventDefault(); state.q = q.input.value.trim(); search(); } },
          q.wrap, el("button", { type: "submit", class: "btn primary", text: t("lib.search") })),
        el("div", { id: "facets", class: "panel facets" }),
        el("div", { id: "filters", class: "row" }),
        el("p", { class: "meta", id: "count", role: "status" }),
        el("div", { id: "results", class: "results" }))));
}

runPage(async () => {
  const user = await currentUser();
  topBar({ title: t("lib.title"), user });
  for (const [k, v] of new URLSearchParams(location.search)) if (k in state) state[k] = v;
  $("main").replaceChildren(layout());
  demoIds = new Set((await api("/api/demo").catch(() => ({ resources: [] }))).resources);
  await Promise.all([browseChapters(), browseKnowledge(), search()]);
});
