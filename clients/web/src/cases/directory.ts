// Names of professionals (timeline actors, specialists to assign), loaded once per page.

import { api, listOf } from "../api";
import type { Professional } from "./types";

let cache: Promise<Professional[]> | null = null;

export function professionals(): Promise<Professional[]> {
  cache ??= api<unknown>("/api/professionals")
    .then((body) => listOf<Professional>(body, "professionals"))
    .catch((err: unknown) => {
      cache = null; // try again next time
      throw err;
    });
  return cache;
}

export async function nameOf(id: string | null | undefined): Promise<string> {
  if (!id) return "—";
  try {
    const p = (await professionals()).find((x) => x.id === id);
    return p ? p.social_name || p.name : "Profissional";
  } catch {
    return "Profissional";
  }
}

/** Active clinicians of the Núcleo: the people a regulador may assign a case to. */
export async function specialistsOf(nucleoId: string): Promise<Professional[]> {
  const body = await api<unknown>(`/api/professionals?nucleo_id=${encodeURIComponent(nucleoId)}`);
  return listOf<Professional>(body, "professionals").filter((p) => p.role === "profissional" && p.active !== false);
}
