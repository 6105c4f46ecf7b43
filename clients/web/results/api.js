// The API, called with the key the user typed: kept in sessionStorage (this tab only, shared with the approvals
// page) and sent only as an Authorization header, never in a URL.
const KEY_STORAGE = 'durable-trader.apiKey';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export const storedKey = () => sessionStorage.getItem(KEY_STORAGE);
export const storeKey = (key) => sessionStorage.setItem(KEY_STORAGE, key);
export const forgetKey = () => sessionStorage.removeItem(KEY_STORAGE);

/** GET a JSON document from the API; an ApiError with the API's message (and its issues) otherwise. */
export async function getJson(path) {
  const key = storedKey();
  if (!key) throw new ApiError(401, 'no API key: enter one above');
  let res;
  try {
    res = await fetch(path, {
      headers: { accept: 'application/json', authorization: `Bearer ${key}` },
      cache: 'no-store',
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
    });
  } catch (err) {
    throw new ApiError(0, `cannot reach the API (${err && err.message ? err.message : String(err)})`);
  }
  let data;
  try {
    data = await res.json();
  } catch {
    data = undefined;
  }
  if (!res.ok) {
    const e = data && data.error;
    const message = (e && e.message) || res.statusText || 'request failed';
    const issues = e && Array.isArray(e.issues) ? e.issues.map((i) => `${i.path || i.in}: ${i.message}`).join('; ') : '';
    throw new ApiError(res.status, issues ? `${message} (${issues})` : message);
  }
  return data;
}

export const describeError = (err) => `${err.message}${err.status ? ` (HTTP ${err.status})` : ''}`;
