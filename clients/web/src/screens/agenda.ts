// The professional's agenda: today, upcoming and past consultations with modality badges.

import { api, listOf, ApiError } from "../api";
import { h, showScreen, errorBox } from "../dom";
import { modalityLabel, formatDateTime, STATUS } from "../labels";
import { renderNav, requireLogin } from "../nav";
import { setScreen } from "../testmode";

export interface ConsultationSummary {
  id: string;
  modality: string;
  mode?: string;
  status: string;
  scheduled_for?: string | null;
  title?: string | null;
  patient?: { id?: string; name?: string; display_name?: string } | null;
  patient_name?: string | null;
  participants?: { display_name?: string; name?: string; role: string }[];
}

export function patientName(c: ConsultationSummary): string | null {
  return c.patient?.name ?? c.patient?.display_name ?? c.patient_name ?? c.participants?.find((p) => p.role === "paciente")?.display_name ?? null;
}

export function modalityBadge(modality: string): HTMLElement {
  return h("span", { class: `selo selo-${modality}` }, modalityLabel(modality));
}

const SECTIONS: { when: string; title: string; empty: string }[] = [
  { when: "today", title: "Hoje", empty: "Nenhuma consulta hoje." },
  { when: "upcoming", title: "Próximas", empty: "Nenhuma consulta agendada." },
  { when: "past", title: "Anteriores", empty: "Nenhuma consulta anterior." },
];

function item(c: ConsultationSummary): HTMLElement {
  const patient = patientName(c);
  const canJoin = c.mode !== "async" && (c.status === "scheduled" || c.status === "in_progress");
  return h(
    "li",
    { class: "consulta", "data-consultation-id": c.id },
    h(
      "div",
      { class: "consulta-info" },
      modalityBadge(c.modality),
      h("span", { class: `estado estado-${c.status}` }, STATUS[c.status] ?? c.status),
      h("a", { href: `/consultas/${c.id}`, "data-link": true, class: "consulta-titulo" }, c.title || modalityLabel(c.modality)),
      h("span", { class: "quando" }, formatDateTime(c.scheduled_for)),
      patient ? h("span", { class: "paciente" }, `Paciente: ${patient}`) : null,
    ),
    canJoin
      ? h("a", { href: `/consultas/${c.id}/sala`, "data-link": true, class: "botao primario", "aria-label": `Entrar na ${modalityLabel(c.modality)} ${c.title ?? ""}`.trim() }, "Entrar")
      : null,
  );
}

export async function agendaScreen(): Promise<void> {
  if (!requireLogin()) return;
  setScreen("agenda");
  renderNav();
  const lists = SECTIONS.map((s) => {
    const list = h("ul", { class: "lista-consultas", id: `agenda-${s.when}`, "aria-busy": "true" }, h("li", { class: "dica" }, "Carregando…"));
    return { ...s, list };
  });
  showScreen(
    "Agenda",
    h("div", { class: "cabecalho" }, h("h1", {}, "Minha agenda"), h("a", { href: "/consultas/nova", "data-link": true, class: "botao primario", id: "btn-nova" }, "Nova consulta")),
    lists.map((s) => h("section", { class: "cartao", "aria-labelledby": `t-${s.when}` }, h("h2", { id: `t-${s.when}` }, s.title), s.list)),
  );
  await Promise.all(
    lists.map(async (s) => {
      try {
        const body = await api<unknown>(`/api/consultations?when=${s.when}&scope=mine`);
        const items = listOf<ConsultationSummary>(body, "consultations");
        s.list.replaceChildren(...(items.length ? items.map(item) : [h("li", { class: "dica" }, s.empty)]));
      } catch (err) {
        s.list.replaceChildren(errorBox(err instanceof ApiError ? err.message : "Não foi possível carregar a agenda."));
      } finally {
        s.list.removeAttribute("aria-busy");
      }
    }),
  );
}
