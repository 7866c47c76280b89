// HTTP calls to the Sanke API. Every failure becomes an ApiError with a code the pages turn into plain words.

export class ApiError extends Error {
  constructor(code, message, field = null, status = 0) {
    super(message);
    this.code = code;
    this.field = field;
    this.status = status;
  }
}

export async function api(path, { method = 'GET', body } = {}) {
  let resp;
  try {
    resp = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError('network', String(e));
  }
  let data = {};
  try {
    data = await resp.json();
  } catch {
    data = {};
  }
  if (!resp.ok) {
    const err = data.error || {};
    throw new ApiError(err.code || `http_${resp.status}`, err.message || resp.statusText, err.field, resp.status);
  }
  return data;
}

export const login = (username, password) => api('/api/login', { method: 'POST', body: { username, password } });
export const logout = () => api('/api/logout', { method: 'POST' });
export const me = async () => (await api('/api/me')).user;
export const rooms = async (state) => (await api(`/api/rooms${state ? `?state=${state}` : ''}`)).rooms;
export const room = async (id) => (await api(`/api/rooms/${encodeURIComponent(id)}`)).room;
export const roomToken = (id) => api(`/api/rooms/${encodeURIComponent(id)}/token`, { method: 'POST' });
export const classroomJoin = (code, roomId) =>
  api('/api/classroom/join', { method: 'POST', body: roomId ? { code, room: roomId } : { code } });
export const endRoom = (id) => api(`/api/rooms/${encodeURIComponent(id)}/end`, { method: 'POST' });

/** The logged-in user, or a redirect to the login page that comes back here afterwards. */
export async function requireUser() {
  try {
    return await me();
  } catch (e) {
    if (e.code === 'network') throw e;
    location.href = `/login?next=${encodeURIComponent(location.pathname + location.search)}`;
    return new Promise(() => {});
  }
}
