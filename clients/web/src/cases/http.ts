// What api() does not cover: multipart uploads and authorised downloads (bearer header, so a
// plain link cannot fetch them), both with the server's pt-BR refusals.

import { ApiError, freshAccessToken } from "../api";

async function errorOf(res: Response): Promise<ApiError> {
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string; details?: [] } };
    if (body.error?.message) return new ApiError(res.status, body.error.code ?? "error", body.error.message, body.error.details ?? []);
  } catch {
    /* not JSON */
  }
  if (res.status === 413) return new ApiError(413, "file_too_large", "O arquivo é grande demais.");
  return new ApiError(res.status, "http_" + res.status, "O servidor não respondeu como esperado. Tente novamente.");
}

async function authorised(path: string, init: RequestInit = {}): Promise<Response> {
  const token = await freshAccessToken();
  const headers = new Headers(init.headers);
  if (token) headers.set("Authorization", `Bearer ${token}`);
  try {
    return await fetch(path, { ...init, headers });
  } catch {
    throw new ApiError(0, "network", "Sem conexão com o servidor. Verifique sua internet e tente de novo.");
  }
}

/** POST one file as multipart field "file"; resolves to the server's JSON. */
export async function uploadFile<T>(path: string, file: File): Promise<T> {
  const form = new FormData();
  form.append("file", file, file.name);
  const res = await authorised(path, { method: "POST", body: form, headers: { Accept: "application/json" } });
  if (!res.ok) throw await errorOf(res);
  return (await res.json()) as T;
}

/** Fetch with the bearer token and hand the bytes to the browser as a download. */
export async function download(path: string, fallbackName: string): Promise<void> {
  const res = await authorised(path);
  if (!res.ok) throw await errorOf(res);
  const disposition = res.headers.get("Content-Disposition") ?? "";
  const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? fallbackName;
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  // Revoke later: Chromium reads the blob asynchronously after the click.
  window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
