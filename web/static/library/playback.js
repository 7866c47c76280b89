// The playback page: the lesson MP4 (or its tracks while the MP4 is made) with timeline markers,
// catalogue editing, review steps and related resources.
import { api, el, clock } from "./api.js";
import { t, setLang } from "./strings.js";

const id = new URLSearchParams(location.search).get("id");
const base = `/api/library/resources/${id}`;
let resource = null;
let player = null;
let pollTimer = null;

function mediaUrl(file) {
  return `${base}/media/${encodeURIComponent(file)}`;
}

function renderVideos(media) {
  const box = document.getElementById("videos");
  const notice = document.getElementById("notice");
  notice.replaceChildren();
  if (media.recovered) notice.append(el("div", { class: "notice" }, t("recovered", { s: media.lost_seconds.toFixed(1) })));
  if (media.mp4) {
    if (!player || !player.src.endsWith("lesson.mp4")) {
      player = el("video", { controls: true, preload: "metadata", src: mediaUrl("lesson.mp4") });
      box.replaceChildren(player);
    }
  } else {
    const job = media.job;
    if (job?.state === "failed") notice.append(el("div", { class: "notice" }, t("mp4Failed", { e: job.error })));
    else if (job?.state === "running") notice.append(el("div", { class: "notice" }, t("mp4Making", { p: Math.round(job.progress * 100) })));
    else if (job) notice.append(el("div", { class: "notice" }, t("mp4Queued", { n: Math.max(0, job.position) })));
    if (!player && media.tracks.length) {
      notice.append(el("div", { class: "meta" }, t("tracksOnly")));
      const videos = media.tracks.filter((tr) => tr.kind === "video");
      const main = videos.find((tr) => tr.source === "screen") || videos[0];
      player = el("video", { controls: true, preload: "metadata", src: mediaUrl(main.file) });
      const audios = media.tracks.filter((tr) => tr.kind === "audio").map((tr) => el("audio", { src: mediaUrl(tr.file), preload: "metadata" }));
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
  line.replaceChildren(now, ...media.markers.map((m) => el("div", {
    class: `tick ${m.type}`, style: `left:${(100 * m.t) / duration}%`,
    title: `${clock(m.t)} ${t(`marker_${m.type}`)} ${m.label}`, onclick: () => seek(m.t),
  })));
  line.onclick = (e) => { if (e.target === line) seek((e.offsetX / line.clientWidth) * duration); };
  list.replaceChildren(...media.markers.map((m) => el("li", { onclick: () => seek(m.t) }, `${clock(m.t)}  ${t(`marker_${m.type}`)}  ${m.label}`)));
  if (player) player.ontimeupdate = () => { now.style.left = `${(100 * player.currentTime) / duration}%`; };
}

async function chapterPicker(current) {
  const wrap = el("div");
  const chosen = { id: current?.at(-1)?.id ?? null };
  async function level(parent, depth, selectedPath) {
    const data = await api(`/api/library/textbooks${parent ? `?parent=${parent}` : ""}`);
    if (!data.nodes.length) return;
    const select = el("select", {}, el("option", { value: "" }, `${data.nodes[0].level_name}…`),
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
    [t("date"), r.date], [t("school"), r.school.name], [t("teacher"), r.teacher.name],
    [t("grade"), `${r.stage} ${r.grade_name}`], [t("subject"), r.subject], [t("classrooms"), r.classrooms.join("、")],
    [t("chapter"), r.textbook.length ? r.textbook.map((n) => n.name).join(" › ") : t("noChapter")],
  ];
  box.replaceChildren(el("h2", {}, t("edit")), ...facts.map(([k, v]) => el("div", { class: "meta" }, `${k}：${v || "—"}`)),
    el("div", {}, r.knowledge_points.map((kp) => el("a", { class: "chip", href: `/library?kp=${kp.id}` }, kp.name))));
  if (r.can_download) box.append(el("p", {}, el("a", { href: `${base}/download` }, el("button", {}, t("download")))));
  if (!r.can_edit) return;
  const title = el("input", { type: "text", value: r.title });
  const { wrap, chosen } = await chapterPicker(r.textbook);
  const tags = new Set(r.knowledge_points.map((kp) => kp.id));
  const options = [...r.knowledge_points, ...r.suggested_knowledge.filter((s) => !tags.has(s.id))];
  const boxes = options.map((kp) => el("label", {}, el("input", { type: "checkbox", value: kp.id, checked: tags.has(kp.id) }), ` ${kp.name}`));
  const msg = el("span", { class: "meta" });
  box.append(el("label", {}, "标题 / Title"), title, el("label", {}, t("pickChapter")), wrap,
    el("label", {}, `${t("knowledge")}（${t("suggested")}）`), ...boxes,
    el("p", {}, el("button", { onclick: async () => {
      const ids = boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => Number(i.value));
      const body = { title: title.value, knowledge_point_ids: ids };
      if (chosen.id) body.textbook_node_id = chosen.id;
      try { await api(base, { method: "PATCH", body }); msg.textContent = t("saved"); await load(); }
      catch (err) { msg.textContent = t("error", { m: err.message }); }
    } }, t("save")), " ", msg));
}

function renderReview(r) {
  const box = document.getElementById("review");
  const comment = el("textarea", { rows: 2, placeholder: t("comment") });
  const scope = el("select", {}, ...["school", "county", "public"].map((s) => el("option", { value: s, selected: s === r.scope }, t(`scope_${s}`))));
  const msg = el("div", { class: "error" });
  const buttons = r.actions.map((a) => el("button", { style: "margin:.2rem", onclick: async () => {
    try {
      await api(`${base}/review`, { method: "POST", body: { action: a, comment: comment.value, scope: a === "publish" ? scope.value : undefined } });
      await load();
    } catch (err) { msg.textContent = err.message; }
  } }, t(`action_${a}`)));
  box.replaceChildren(el("h2", {}, t("review"), " ", el("span", { class: `badge ${r.status}` }, t(`status_${r.status}`)),
    r.status === "published" ? el("span", { class: "badge" }, t(`scope_${r.scope}`)) : null));
  if (r.actions.length) {
    box.append(comment);
    if (r.actions.includes("publish")) box.append(el("label", {}, t("scopeLabel")), scope);
    box.append(el("div", {}, buttons), msg);
  }
  box.append(el("h3", { class: "meta" }, t("history")), el("ol", { class: "markers" }, r.review.map((s) =>
    el("li", {}, `${s.at?.slice(0, 16).replace("T", " ")} ${s.actor} ${t(`action_${s.action}`)}${s.scope ? `（${t(`scope_${s.scope}`)}）` : ""} ${s.comment}`))));
}

function renderRelated(r) {
  document.getElementById("related").replaceChildren(el("h2", {}, t("related")),
    ...r.related.map((x) => el("div", { class: "card" }, el("a", { href: `/playback?id=${x.id}` }, x.title),
      el("div", { class: "meta" }, `${x.teacher} · ${t(`reason_${x.reason}`)}${x.via.length ? `：${x.via.join("、")}` : ""}`))));
}

async function load() {
  try {
    resource = (await api(base)).resource;
  } catch (err) {
    document.getElementById("title").textContent = t("error", { m: err.message });
    return;
  }
  const r = resource;
  document.title = `${r.title} · 三课`;
  document.getElementById("title").replaceChildren(r.title, el("span", { class: `badge ${r.status}` }, t(`status_${r.status}`)));
  document.getElementById("meta").textContent = [r.date, r.school.name, r.teacher.name, `${r.grade_name}${r.subject}`, `${t("duration")} ${clock(r.duration)}`].join(" · ");
  renderVideos(r.media);
  renderTimeline(r.media);
  await renderCatalogue(r);
  renderReview(r);
  renderRelated(r);
}

setLang(document);
load();
