// Top-navigation entries of the case screens, per role: solicitante (at a Ponto), regulador,
// especialista (a clinician of a Núcleo), gestor.

import type { User } from "../api";
import { h } from "../dom";

export function caseNavLinks(user: User): HTMLElement[] {
  const link = (href: string, text: string): HTMLElement => h("a", { href, "data-link": true }, text);
  if (user.role === "gestor") return [link("/relatorios", "Relatórios"), link("/sof", "Biblioteca SOF")];
  return [
    user.ponto_id ? link("/casos", "Meus casos") : null,
    user.is_regulador ? link("/casos/fila", "Fila da regulação") : null,
    user.nucleo_id ? link("/casos/caixa", "Casos para responder") : null,
    link("/sof", "Biblioteca SOF"),
  ].filter((x): x is HTMLElement => x !== null);
}
