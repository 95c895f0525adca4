// Small fetch wrapper for the taskwire REST API: JSON in/out, cookie auth,
// one transparent token refresh on 401, errors thrown as ApiError.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

const REFRESHABLE = new Set(['token_expired', 'unauthenticated']);

// Concurrent 401s share one refresh call instead of racing each other.
let refreshing = null;

/**
 * Ask the server for a new access token (it reads the HttpOnly refresh cookie).
 * Resolves to true (refreshed), false (the server refused: log in again) or
 * null (server unreachable: try again later).
 */
export function refreshSession() {
  if (!refreshing) {
    refreshing = fetch('/api/auth/refresh', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: '{}',
    })
      .then((res) => res.ok)
      .catch(() => null)
      .finally(() => { refreshing = null; });
  }
  return refreshing;
}

export function goToLogin() {
  if (location.pathname !== '/') location.replace('/');
}

async function readError(res) {
  let code = 'http_' + res.status;
  let message = `Request failed (${res.status})`;
  try {
    const body = await res.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
    }
  } catch { /* not JSON: keep the generic message */ }
  return new ApiError(res.status, code, message);
}

/**
 * api(path, {method, body, redirectOnAuthFailure})
 * Resolves to the parsed JSON body (or null for an empty body).
 * redirectOnAuthFailure (default true): when the session cannot be refreshed,
 * go to the login page; when false, throw the 401 instead (login page).
 */
export async function api(path, opts = {}) {
  const { method = 'GET', body, redirectOnAuthFailure = true } = opts;
  const init = {
    method,
    credentials: 'same-origin',
    headers: { Accept: 'application/json' },
  };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }

  let res;
  for (let attempt = 0; ; attempt++) {
    try {
      res = await fetch(path, init);
    } catch {
      throw new ApiError(0, 'network', 'Cannot reach the server. Check your connection.');
    }
    if (res.status !== 401 || attempt > 0 || path.startsWith('/api/auth/')) break;

    const err = await readError(res);
    if (!REFRESHABLE.has(err.code)) throw err;
    const refreshed = await refreshSession();
    if (refreshed === null) throw new ApiError(0, 'network', 'Cannot reach the server. Check your connection.');
    if (!refreshed) {
      if (redirectOnAuthFailure) goToLogin();
      throw err;
    }
    // refreshed: loop once more with the same request
  }

  if (!res.ok) {
    const err = await readError(res);
    if (res.status === 401 && redirectOnAuthFailure && !path.startsWith('/api/auth/')) goToLogin();
    throw err;
  }
  if (res.status === 204) return null;
  const text = await res.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(res.status, 'invalid_response', 'The server sent an unexpected response.');
  }
}

/** Follow `next_before` pages of a list endpoint, up to maxPages pages. */
export async function listAll(path, params = {}, maxPages = 5) {
  const items = [];
  let before = null;
  for (let page = 0; page < maxPages; page++) {
    const q = new URLSearchParams(params);
    if (before != null) q.set('before', before);
    const res = await api(`${path}?${q}`);
    items.push(...(res.items || []));
    before = res.next_before;
    if (before == null) break;
  }
  return items;
}
