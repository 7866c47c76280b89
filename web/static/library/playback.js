// The playback page: the lesson MP4 (or its tracks while the MP4 is made) with timeline markers,
// catalogue editing, review steps and related resources.
import { api, clock } from "./api.js";
import { el } from "../js/dom.js";
import { t } from "../i18n.js";
import { badge, emptyState, field } from "../js/components.js";
import { runPage, topBar } from "../js/ui.js";
import { currentUser } from "../js/header.js";
import { renderLessonExtras } from "../js/lesson-extras.js";
import { subjectName } from "../js/subjects.js";

const id = new URLSearchParams(location.search).get("id");
const base = `/api/library/resources/${id}`;
let resource = null;
let player = null;
let pollTimer = null;
let demoIds = new Set();

function mediaUrl(file) {
  return `${base}/media/${encodeURIComponent(file)}`;
}

/** A courseware resource: an image shown, any other file opened or downloaded (it cannot be framed: the
    server forbids framing every response). */
function renderFile(r) {
  const f = r.file;
  document.getElementById("meta").textContent = [r.date, r.school.name, r.teacher.name, `${r.grade_name}${subjectName(r.subject)}`].join(" · ");
  const image = ["png", "jpg", "gif", "webp"].includes(f.type) ? el("img", { src: f.url, alt: r.title }) : null;
  if (image) image.style.maxWidth = "100%"; // CSSOM, not a style attribute: the CSP allows no inline style
  document.getElementById("videos").replaceChildren(el("div", { class: "courseware-file", id: "courseware-file" }, image,
    el("a", { class: "btn primary", href: f.url, target: "_blank", rel: "noopener" },
      t("lib.courseware.open", { type: f.type.toUpperCase(), pages: f.pages }))));
}

function renderVideos(media) {
  const box = document.getElementById("videos");
  const notice = document.getElementById("notice");
  notice.replaceChildren();
  if (media.recovered) notice.append(el("div", { class: "notice" }, t("lib.recovered", { s: media.lost_seconds.toFixed(1) })));
  if (media.mp4) {
    if (!player || !player.src.endsWith("lesson.mp4")) {
      player = el("video", { controls: true, preload: "metadata", src: mediaUrl("lesson.mp4") });
      box.replaceChildren(player);
    }
  } else {
    const job = media.job;
    if (job?.state === "failed") notice.append(el("div", { class: "notice" }, t("lib.mp4Failed", { e: job.error })));
    else if (job?.state === "running") notice.append(el("div", { class: "notice" }, t("lib.mp4Making", { p: Math.round(job.progress * 100) })));
    else if (job) notice.append(el("div", { class: "notice" }, t("lib.mp4Queued", { n: Math.max(0, job.position) })));
    if (!player && media.tracks.length) {
      notice.append(el("div", { class: "meta" }, t("lib.tracksOnly")));
      const videos = media.tracks.filter((tr) => tr.kind === "video");
      const main = videos.find((tr) => tr.source === "screen") || videos[0];
      player = el("video", { controls: true, preload: "metadata", src: mediaUrl(main.file) });
      // a track taken from the broadcast's HLS carries its audio in the same file as the picture
      const audios = media.tracks.filter((tr) => tr.kind === "audio" && tr.file !== main.file).map((tr) => el("audio", { src: mediaUrl(tr.file), preload: "metadata" }));
      player.addEventListener("play", () => audios.forEach((a) => { a.currentTime = player.currentTime; a.play(); }));
      player.addEventListener("pause", () => audios.forEach((a) => a.pause()));
      player.addEventListener("seeked", () => audios.forEach((a) => { a.currentTime = player.currentTime; }));
      box.replaceChildren(player, ...audios);
    }
    clearTimeout(pollTimer);
    if (!media.mp4_for_download_only) pollTimer = setTimeout(load, 3000); // wait for the MP4 being made
  }
}

function renderTimeline(media) {
  const line = document.getElementById("timeline");
  const list = document.getElementById("markers");
  const duration = media.duration || resource.duration || 1;
  const seek = (s) => { if (player) { player.currentTime = s; player.play?.(); } };
  const now = el("div", { class: "now" });
  line.replaceChildren(now, ...media.markers.map((m) => {
    const tick = el("button", {
      type: "button", class: `tick ${m.type}`, "aria-label": `${clock(m.t)} ${t(`lib.marker_${m.type}`)} ${m.label}`,
      title: `${clock(m.t)} ${t(`lib.marker_${m.type}`)} ${m.label}`, onclick: () => seek(m.t),
    });
    tick.style.left = `${(100 * m.t) / duration}%`; // CSSOM, allowed by the CSP (a style attribute is not)
    return tick;
  }));
  line.onclick = (e) => { if (e.target === line) seek((e.offsetX / line.clientWidth) * duration); };
  list.replaceChildren(...media.markers.map((m) => el("li", {}, el("button", { type: "button", class: "link", onclick: () => seek(m.t) },
    `${clock(m.t)}  ${t(`lib.marker_${m.type}`)}  ${m.label}`))));
  if (player) player.ontimeupdate = () => { now.style.left = `${(100 * player.currentTime) / duration}%`; };
}

async function chapterPicker(current) {
  const wrap = el("div");
  const chosen = { id: current?.at(-1)?.id ?? null };
  async function level(parent, depth, selectedPath) {
    const data = await api(`/api/library/textbooks${parent ? `?parent=${parent}` : ""}`);
    if (!data.nodes.length) return;
    const select = el("select", { class: "input", "aria-label": data.nodes[0].level_name }, el("option", { value: "" }, `${data.nodes[0].level_name}…`),
      ...data.nodes.map((n) => el("option", { value: n.id, selected: selectedPath[depth] === n.id }, n.name)));
    select.onchange = async () => {
      while (wrap.children.length > depth + 1) wrap.lastChild.remove();
      const node = data.nodes.find((n) => String(n.id) === select.value);
      chosen.id = node && (node.level === "chapter" || node.level === "section") ? node.id : null;
      if (node && !node.leaf) await level(node.id, depth + 1, []);
    };
    wrap.append(select);
    if (selectedPath[depth]) await level(selectedPath[depth], depth + 1, selectedPath);
  }
  await level("", 0, (current || []).map((n) => n.id));
  return { wrap, chosen };
}

async function renderCatalogue(r) {
  const box = document.getElementById("catalogue");
  const facts = [
    [t("lib.date"), r.date], [t("lib.school"), r.school.name], [t("lib.teacher"), r.teacher.name],
    [t("lib.grade"), `${r.stage} ${r.grade_name}`], [t("lib.subject"), subjectName(r.subject)], [t("lib.classrooms"), r.classrooms.join("、")],
    [t("lib.chapter"), r.textbook.length ? r.textbook.map((n) => n.name).join(" › ") : t("lib.noChapter")],
  ];
  box.replaceChildren(el("h2", { class: "card-title" }, t("lib.edit")), ...facts.map(([k, v]) => el("div", { class: "meta" }, `${k}：${v || "—"}`)),
    el("div", {}, r.knowledge_points.map((kp) => el("a", { class: "chip", href: `/library?kp=${kp.id}` }, kp.name))));
  if (r.can_download) box.append(el("p", {}, el("a", { class: "btn secondary", href: `${base}/download` }, t("lib.download"))));
  if (!r.can_edit) return;
  const titleField = field({ label: t("lib.titleLabel"), name: "title", value: r.title });
  const title = titleField.input;
  const { wrap, chosen } = await chapterPicker(r.textbook);
  const tags = new Set(r.knowledge_points.map((kp) => kp.id));
  const options = [...r.knowledge_points, ...r.suggested_knowledge.filter((s) => !tags.has(s.id))];
  const boxes = options.map((kp) => el("label", { class: "check" }, el("input", { type: "checkbox", value: kp.id, checked: tags.has(kp.id) }), ` ${kp.name}`));
  const msg = el("span", { class: "meta" });
  box.append(titleField.wrap, el("p", { class: "field-label", text: t("lib.pickChapter") }), wrap,
    el("fieldset", { class: "kps" }, el("legend", {}, `${t("lib.knowledge")}（${t("lib.suggested")}）`), ...boxes),
    el("p", {}, el("button", { class: "btn primary", id: "save-catalogue", onclick: async () => {
      const ids = boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => Number(i.value));
      const body = { title: title.value, knowledge_point_ids: ids };
      if (chosen.id) body.textbook_node_id = chosen.id;
      try { await api(base, { method: "PATCH", body }); msg.textContent = t("lib.saved"); await load(); }
      catch (err) { msg.textContent = t("lib.error", { m: err.message }); }
    } }, t("lib.save")), " ", msg));
}

function renderReview(r) {
  const box = document.getElementById("review");
  const comment = el("textarea", { rows: 2, placeholder: t("lib.comment"), "aria-label": t("lib.comment"), class: "input" });
  const scope = el("select", { "aria-label": t("lib.scopeLabel"), class: "input" }, ...["school", "county", "public"].map((s) => el("option", { value: s, selected: s === r.scope }, t(`lib.scope_${s}`))));
  const msg = el("div", { class: "error" });
  const buttons = r.actions.map((a) => el("button", { class: a === "return" || a === "unpublish" ? "btn secondary small" : "btn primary small", onclick: async () => {
    try {
      await api(`${base}/review`, { method: "POST", body: { action: a, comment: comment.value, scope: a === "publish" ? scope.value : undefined } });
      await load();
    } catch (err) { msg.textContent = err.message; }
  } }, t(`lib.action_${a}`)));
  box.replaceChildren(el("h2", { class: "card-title" }, t("lib.review"), " ", el("span", { class: `badge s-${r.status}` }, t(`lib.status_${r.status}`)),
    r.status === "published" ? el("span", { class: "badge" }, t(`lib.scope_${r.scope}`)) : null));
  if (r.actions.length) {
    box.append(comment);
    if (r.actions.includes("publish")) box.append(el("label", {}, t("lib.scopeLabel")), scope);
    box.append(el("div", { class: "row" }, buttons), msg);
  }
  box.append(el("h3", { class: "meta" }, t("lib.history")), el("ol", { class: "markers" }, r.review.map((s) =>
    el("li", {}, `${s.at?.slice(0, 16).replace("T", " ")} ${s.actor} ${t(`lib.action_${s.action}`)}${s.scope ? `（${t(`lib.scope_${s.scope}`)}）` : ""} ${s.comment}`))));
}

function renderRelated(r) {
  document.getElementById("related").replaceChildren(el("h2", { class: "card-title" }, t("lib.related")),
    ...(r.related.length ? [] : [el("p", { class: "muted", text: t("lib.noRelated") })]),
    ...r.related.map((x) => el("div", { class: "related-item" }, el("a", { href: `/playback?id=${x.id}` }, x.title),
      el("div", { class: "meta" }, `${x.teacher} · ${t(`lib.reason_${x.reason}`)}${x.via.length ? `：${x.via.join("、")}` : ""}`))));
}

async function load() {
  try {
    resource = (await api(base)).resource;
  } catch (err) {
    document.getElementById("player").replaceChildren(emptyState({ title: t("lib.error", { m: err.message }), next: t("lib.notFound.next"), action: { text: t("lib.back"), href: "/library" } }));
    return;
  }
  const r = resource;
  document.title = `${r.title} · ${t("lib.playback")} · ${t("app.name")}`;
  document.getElementById("title").replaceChildren(r.title, " ", el("span", { class: `badge s-${r.status}` }, t(`lib.status_${r.status}`)), demoIds.has(r.id) ? badge("demo") : "");
  document.getElementById("meta").textContent = [r.date, r.school.name, r.teacher.name, `${r.grade_name}${subjectName(r.subject)}`, `${t("lib.duration")} ${clock(r.duration)}`].join(" · ");
  if (r.kind === "courseware") renderFile(r);
  else {
    renderVideos(r.media);
    renderTimeline(r.media);
  }
  await renderCatalogue(r);
  renderReview(r);
  renderRelated(r);
  // the lesson's quiz results and 评课 summary (school), for those allowed
  renderLessonExtras(document.getElementById("lesson-extras"), r.room_id, (sec) => { if (player) { player.currentTime = sec; player.play?.(); } }).catch(() => {});
}

function layout() {
  return el("div", { class: "page player", id: "player" },
    el("div", { class: "player-main" },
      el("p", {}, el("a", { href: "/library", id: "back-library", text: `‹ ${t("lib.back")}` })),
      el("h2", { id: "title", class: "pagehead-title" }), el("div", { class: "meta", id: "meta" }),
      el("div", { id: "notice" }), el("div", { id: "videos" }),
      el("div", { class: "timeline", id: "timeline", "aria-label": t("lib.markers") }),
      el("h3", { class: "card-title", text: t("lib.markers") }), el("ol", { class: "markers", id: "markers" })),
    el("div", { class: "player-side" },
      el("section", { class: "card", id: "catalogue" }), el("section", { class: "card", id: "lesson-extras", hidden: true }),
      el("section", { class: "card", id: "review" }),
      el("section", { class: "card", id: "related" })));
}

runPage(async () => {
  const user = await currentUser();
  topBar({ title: t("lib.playback"), user });
  document.getElementById("main").replaceChildren(layout());
  demoIds = new Set((await api("/api/demo").catch(() => ({ resources: [] }))).resources);
  await load();
});
