// The gateway's JSON API, with the operator's token.

export class ApiError extends Error {
  constructor(status, code, message, hint) {
    super(message);
    this.status = status;
    this.code = code;
    this.hint = hint;
  }
}

export function createApi(tokenOf) {
  const headersFor = (accept) => {
    const headers = { accept };
    const token = tokenOf();
    if (token) headers.authorization = `Bearer ${token}`;
    return headers;
  };

  async function request(path, { method = 'GET', body, signal, accept = 'application/json' } = {}) {
    const headers = headersFor(accept);
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal, cache: 'no-store', credentials: 'omit' });
    if (!response.ok) {
      let error;
      try {
        error = (await response.json()).error;
      } catch {
        error = undefined;
      }
      throw new ApiError(response.status, error?.code ?? `HTTP_${response.status}`, error?.message ?? `The gateway answered ${response.status} to ${path}`, error?.hint);
    }
    return response;
  }

  return {
    headersFor,
    json: async (path, options) => (await request(path, options)).json(),
    text: async (path, options) => (await request(path, { ...options, accept: 'text/plain' })).text(),
  };
}

export const encodePath = (...segments) => segments.map((segment) => encodeURIComponent(segment)).join('/');
