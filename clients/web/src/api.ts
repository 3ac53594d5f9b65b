// HTTP API client: bearer tokens, one refresh on 401, and the server's pt-BR error messages.

export interface User {
  id: string;
  name: string;
  role: string;
  council_label?: string | null;
  nucleo_id?: string | null;
  ponto_id?: string | null;
  is_regulador?: boolean;
}

interface StoredAuth {
  access_token: string;
  refresh_token?: string;
  user?: User;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: { field?: string; message?: string }[] = [],
  ) {
    super(message);
  }

  /** The message plus each field problem, as the server worded them. */
  fullMessage(): string {
    const extra = this.details
      .map((d) => (d.field ? `${d.field}: ${d.message ?? ""}` : d.message ?? ""))
      .filter(Boolean);
    return extra.length ? `${this.message} (${extra.join("; ")})` : this.message;
  }
}

// sessionStorage: a shared UBS computer forgets the login when the tab closes, yet a reload keeps it.
const KEY = "telessaude.auth";

export function currentAuth(): StoredAuth | null {
  const raw = sessionStorage.getItem(KEY);
  if (!raw) return null;
  try {
    return JSON.parse(raw) as StoredAuth;
  } catch {
    return null;
  }
}

export function currentUser(): User | null {
  return currentAuth()?.user ?? null;
}

export function saveAuth(auth: StoredAuth): void {
  sessionStorage.setItem(KEY, JSON.stringify(auth));
}

export function logout(): void {
  sessionStorage.removeItem(KEY);
}

async function parseError(res: Response): Promise<ApiError> {
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string; details?: [] } };
    if (body.error?.message) {
      return new ApiError(res.status, body.error.code ?? "error", body.error.message, body.error.details ?? []);
    }
  } catch {
    /* not JSON: fall through to a generic message */
  }
  return new ApiError(res.status, "http_" + res.status, "O servidor não respondeu como esperado. Tente novamente.");
}

let refreshing: Promise<boolean> | null = null;

async function refresh(): Promise<boolean> {
  const auth = currentAuth();
  if (!auth?.refresh_token) return false;
  refreshing ??= (async () => {
    try {
      const res = await fetch("/api/auth/refresh", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: auth.refresh_token }),
      });
      if (!res.ok) return false;
      const body = (await res.json()) as StoredAuth;
      saveAuth({ ...auth, ...body, user: body.user ?? auth.user });
      return true;
    } catch {
      return false;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  /** Use this bearer token instead of the logged-in professional's (invitees). */
  token?: string | null;
  auth?: boolean;
}

export async function api<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const send = async (): Promise<Response> => {
    const headers: Record<string, string> = { Accept: "application/json" };
    const token = opts.token ?? (opts.auth === false ? null : currentAuth()?.access_token);
    if (token) headers.Authorization = `Bearer ${token}`;
    if (opts.body !== undefined) headers["Content-Type"] = "application/json";
    try {
      return await fetch(path, {
        method: opts.method ?? (opts.body === undefined ? "GET" : "POST"),
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      });
    } catch {
      throw new ApiError(0, "network", "Sem conexão com o servidor. Verifique sua internet e tente de novo.");
    }
  };
  let res = await send();
  if (res.status === 401 && !opts.token && opts.auth !== false && (await refresh())) res = await send();
  if (!res.ok) throw await parseError(res);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/** Lists may come bare or wrapped ({items: [...]}); screens want the array. */
export function listOf<T>(body: unknown, ...keys: string[]): T[] {
  if (Array.isArray(body)) return body as T[];
  if (body && typeof body === "object") {
    for (const key of [...keys, "items", "results", "data"]) {
      const value = (body as Record<string, unknown>)[key];
      if (Array.isArray(value)) return value as T[];
    }
  }
  return [];
}

export async function freshAccessToken(): Promise<string | null> {
  const auth = currentAuth();
  if (!auth) return null;
  // Access tokens are short-lived; a socket reconnect after a long call needs a valid one.
  if (tokenExpiresSoon(auth.access_token)) await refresh();
  return currentAuth()?.access_token ?? null;
}

function tokenExpiresSoon(jwt: string): boolean {
  try {
    const payload = JSON.parse(atob(jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))) as { exp?: number };
    return !payload.exp || payload.exp * 1000 - Date.now() < 60_000;
  } catch {
    return true;
  }
}
