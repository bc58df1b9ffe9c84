// Calls the APIs with URLs relative to the app (/function/dashboard/ -> ../query/...), so any gateway works.

const KEY_STORAGE = "ha-ingestor.webhooks-api-key";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== "") search.set(k, v);
  }
  const s = search.toString();
  return s ? `?${s}` : "";
}

/** fetch + JSON; an error answer becomes an ApiError carrying the API's own message. */
export async function api(path, {method = "GET", body, params, key = false, signal} = {}) {
  const headers = {Accept: "application/json"};
  // Every call that may change data is JSON, body or not: the APIs refuse a browser's other kinds (httpapi.py).
  if (body !== undefined || method !== "GET") headers["Content-Type"] = "application/json";
  if (key && apiKey()) headers["X-API-Key"] = apiKey();
  let response;
  try {
    response = await fetch(`../${path}${query(params)}`, {
      method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store",
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "network", `${path.split("/")[0]} unreachable (${err.message})`);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = data && data.error ? data.error : null;
    throw new ApiError(response.status, error ? error.code : "http_error",
      error ? error.message : `${response.status} ${response.statusText || ""} from ${path}`.trim());
  }
  if (data === null && text) throw new ApiError(response.status, "bad_json", `${path}: the answer is not JSON`);
  return data;
}

export const apiKey = () => sessionStorage.getItem(KEY_STORAGE) || "";
export const setApiKey = (value) => (value ? sessionStorage.setItem(KEY_STORAGE, value)
  : sessionStorage.removeItem(KEY_STORAGE));
