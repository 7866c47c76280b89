// Strings of the library pages: zh-CN first, English as the fallback language.
const STRINGS = {
  "zh-CN": {
    title: "资源库", search: "搜索", searchHint: "课题、教师、学校、章节或知识点", all: "全部",
    subject: "学科", grade: "年级", school: "学校", teacher: "教师", knowledge: "知识点", chapter: "教材章节",
    dateFrom: "开始日期", dateTo: "结束日期", results: "共 {n} 个资源", none: "没有找到资源",
    login: "登录", logout: "退出", username: "用户名", password: "密码", loggedInAs: "{name}",
    status_draft: "草稿", status_submitted: "待审核", status_approved: "已审核", status_published: "已发布",
    scope_school: "本校", scope_county: "全县", scope_public: "公开",
    action_submit: "提交审核", action_return: "退回修改", action_approve: "审核通过", action_publish: "发布",
    action_unpublish: "撤回发布", comment: "意见", scopeLabel: "共享范围",
    marker_hand_raised: "举手", marker_hand_lowered: "放下手", marker_stage_on: "上台", marker_stage_off: "下台",
    marker_courseware_on: "课件开启", marker_courseware_off: "课件关闭", marker_note: "备注",
    mp4Making: "正在生成课堂视频（MP4）…{p}%", mp4Queued: "排队生成 MP4（前面还有 {n} 个）", mp4Failed: "MP4 生成失败：{e}",
    tracksOnly: "课堂视频生成前，先播放原始轨道", download: "下载 MP4", classrooms: "参与教室", date: "日期",
    review: "审核流程", history: "审核记录", edit: "编辑编目", save: "保存", saved: "已保存", related: "相关资源",
    suggested: "本章节的知识点", markers: "课堂时间线", back: "返回资源库", duration: "时长",
    reason_same_knowledge: "相同知识点", reason_isRelatedTo: "相关知识点", reason_precedes: "后续知识点",
    reason_precededBy: "先修知识点", reason_same_chapter: "同一章节", recovered: "录制中断后已恢复（约丢失 {s} 秒）",
    pickChapter: "选择章节", noChapter: "未编目", browse: "按章节浏览", browseKnowledge: "按知识点浏览", clear: "清除",
    error: "出错了：{m}",
  },
  en: {
    title: "Resource library", search: "Search", searchHint: "title, teacher, school, chapter or knowledge point",
    all: "All", subject: "Subject", grade: "Grade", school: "School", teacher: "Teacher", knowledge: "Knowledge point",
    chapter: "Textbook chapter", dateFrom: "From", dateTo: "To", results: "{n} resources", none: "No resources found",
    login: "Log in", logout: "Log out", username: "Username", password: "Password", loggedInAs: "{name}",
    status_draft: "Draft", status_submitted: "Submitted", status_approved: "Approved", status_published: "Published",
    scope_school: "School", scope_county: "County", scope_public: "Public",
    action_submit: "Submit", action_return: "Return", action_approve: "Approve", action_publish: "Publish",
    action_unpublish: "Unpublish", comment: "Comment", scopeLabel: "Sharing scope",
    marker_hand_raised: "Hand raised", marker_hand_lowered: "Hand lowered", marker_stage_on: "On stage",
    marker_stage_off: "Off stage", marker_courseware_on: "Courseware on", marker_courseware_off: "Courseware off",
    marker_note: "Note", mp4Making: "Making the lesson MP4… {p}%", mp4Queued: "MP4 queued ({n} ahead)",
    mp4Failed: "MP4 failed: {e}", tracksOnly: "Playing the recorded tracks until the MP4 is ready",
    download: "Download MP4", classrooms: "Classrooms", date: "Date", review: "Review", history: "History",
    edit: "Catalogue", save: "Save", saved: "Saved", related: "Related resources", suggested: "Points of this chapter",
    markers: "Timeline", back: "Back to the library", duration: "Duration",
    reason_same_knowledge: "Same knowledge point", reason_isRelatedTo: "Related point", reason_precedes: "Next point",
    reason_precededBy: "Prerequisite", reason_same_chapter: "Same chapter",
    recovered: "Recovered after an interruption (about {s} s lost)", pickChapter: "Choose a chapter",
    noChapter: "Not catalogued", browse: "Browse by chapter", browseKnowledge: "Browse by knowledge point",
    clear: "Clear", error: "Error: {m}",
  },
};

const lang = (navigator.language || "zh-CN").toLowerCase().startsWith("zh") ? "zh-CN" : "en";

export function t(key, vars = {}) {
  const text = STRINGS[lang][key] ?? STRINGS["zh-CN"][key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ""));
}

export function setLang(root = document) {
  root.documentElement.lang = lang;
  for (const el of root.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  for (const el of root.querySelectorAll("[data-t-placeholder]")) el.placeholder = t(el.dataset.tPlaceholder);
}
