// Files behind a bearer token (record PDF/FHIR, signed documents): fetched, then saved or opened
// from a blob URL, since a plain link cannot carry the Authorization header.

import { ApiError, freshAccessToken } from "../api";

export interface Fetched {
  blob: Blob;
  filename: string;
}

function filenameOf(res: Response, fallback: string): string {
  const disposition = res.headers.get("Content-Disposition") ?? "";
  const m = /filename="?([^";]+)"?/.exec(disposition);
  return m ? m[1] : fallback;
}

/** GET a file; `token` is an invitee's access token, otherwise the logged-in professional's. */
export async function fetchFile(path: string, fallbackName: string, token?: string | null): Promise<Fetched> {
  const bearer = token ?? (await freshAccessToken());
  let res: Response;
  try {
    res = await fetch(path, { headers: bearer ? { Authorization: `Bearer ${bearer}` } : {} });
  } catch {
    throw new ApiError(0, "network", "Sem conexão com o servidor. Verifique sua internet e tente de novo.");
  }
  if (!res.ok) {
    let message = "Não foi possível baixar o arquivo. Tente novamente.";
    let code = `http_${res.status}`;
    try {
      const body = (await res.json()) as { error?: { code?: string; message?: string } };
      message = body.error?.message ?? message;
      code = body.error?.code ?? code;
    } catch {
      /* not JSON: keep the generic message */
    }
    throw new ApiError(res.status, code, message);
  }
  return { blob: await res.blob(), filename: filenameOf(res, fallbackName) };
}

/** Hand the file to the browser's download (works on phones too: it lands in Downloads). */
export function saveFile(file: Fetched): void {
  const url = URL.createObjectURL(file.blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = file.filename;
  a.rel = "noopener";
  document.body.append(a);
  a.click();
  a.remove();
  // Revoked later: the download may still be reading the blob right after click().
  window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** Show a PDF in a new tab (the browser's own viewer). */
export function openFile(file: Fetched): void {
  const url = URL.createObjectURL(file.blob);
  window.open(url, "_blank", "noopener");
  window.setTimeout(() => URL.revokeObjectURL(url), 10 * 60_000);
}
