// The today page's entry (a file, not an inline script: the Content-Security-Policy allows only these).
import { renderToday } from "/static/today.js";
const q = new URLSearchParams(location.search);
renderToday(document.getElementById("today"), { code: q.get("code"), classroomId: q.get("classroom"), date: q.get("date") });
