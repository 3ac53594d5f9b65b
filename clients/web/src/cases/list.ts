// Case lists: the solicitante's "Meus casos", the regulador's queue (by due time, overdue in red,
// due-soon in yellow) and the specialist's inbox. Each refreshes itself on a case event.

import { api, listOf, ApiError, currentUser } from "../api";
import { h, showScreen, errorBox } from "../dom";
import { onLeave } from "../router";
import { renderNav, requireLogin } from "../nav";
import { setScreen } from "../testmode";
import { formatDue, statusLabel, FINAL } from "./labels";
import { openCasesSocket } from "./socket";
import type { CaseSummary } from "./types";
import "./cases.css";

export function statusBadge(status: string): HTMLElement {
  return h("span", { class: `selo caso-estado caso-${status}` }, statusLabel(status));
}

/** "Prazo vencido" / "Prazo próximo" in words too: colour is never the only signal. */
export function dueBadge(c: Pick<CaseSummary, "overdue" | "due_soon" | "due_at" | "status">): HTMLElement | null {
  if (FINAL.has(c.status) || c.status === "answered" || !c.due_at) return null;
  if (c.overdue) return h("span", { class: "prazo prazo-vencido" }, `Prazo vencido (${formatDue(c.due_at)})`);
  if (c.due_soon) return h("span", { class: "prazo prazo-proximo" }, `Prazo próximo: ${formatDue(c.due_at)}`);
  return h("span", { class: "prazo" }, `Prazo: ${formatDue(c.due_at)}`);
}

function row(c: CaseSummary): HTMLElement {
  const cls = ["caso-item", c.overdue && !FINAL.has(c.status) ? "vencido" : "", c.due_soon && !c.overdue && !FINAL.has(c.status) ? "proximo" : ""].filter(Boolean).join(" ");
  return h(
    "li",
    { class: cls, "data-case-id": c.id, "data-status": c.status },
    h(
      "div",
      { class: "consulta-info" },
      statusBadge(c.status),
      h("a", { href: `/casos/${c.id}`, "data-link": true, class: "consulta-titulo" }, `Teleconsultoria: ${c.specialty}`),
      h("span", { class: "quando" }, `Recebido ${formatDue(c.received_at)}`),
      dueBadge(c),
      h("span", { class: "paciente" }, c.identified ? "Paciente identificado" : "Paciente não identificado"),
    ),
    h("a", { href: `/casos/${c.id}`, "data-link": true, class: "botao secundario", "aria-label": `Abrir o caso de ${c.specialty}` }, "Abrir"),
  );
}

interface ListSpec {
  screen: string;
  title: string;
  heading: string;
  view: "mine" | "queue" | "inbox";
  empty: string;
  intro: string;
  newButton?: boolean;
}

async function listScreen(spec: ListSpec): Promise<void> {
  if (!requireLogin()) return;
  setScreen(spec.screen);
  renderNav();
  const list = h("ul", { class: "lista-consultas lista-casos", id: `casos-${spec.view}`, "aria-busy": "true" }, h("li", { class: "dica" }, "Carregando…"));
  const closedToggle = h("input", { type: "checkbox", id: "incluir-encerrados" });
  showScreen(
    spec.title,
    h(
      "div",
      { class: "cabecalho" },
      h("h1", {}, spec.heading),
      spec.newButton ? h("a", { href: "/casos/novo", "data-link": true, class: "botao primario", id: "btn-novo-caso" }, "Novo caso") : null,
    ),
    h("p", { class: "dica" }, spec.intro),
    spec.view === "queue" ? h("label", { class: "opcao", for: "incluir-encerrados" }, closedToggle, "Mostrar também casos encerrados") : null,
    h("section", { class: "cartao" }, list),
  );
  const load = async (): Promise<void> => {
    try {
      const closed = spec.view === "queue" && closedToggle.checked ? "&include_closed=true" : "";
      const items = listOf<CaseSummary>(await api<unknown>(`/api/cases?view=${spec.view}${closed}`));
      list.replaceChildren(...(items.length ? items.map(row) : [h("li", { class: "dica" }, spec.empty)]));
    } catch (err) {
      list.replaceChildren(errorBox(err instanceof ApiError ? err.message : "Não foi possível carregar os casos."));
    } finally {
      list.removeAttribute("aria-busy");
    }
  };
  closedToggle.addEventListener("change", () => void load());
  const socket = openCasesSocket(() => void load());
  onLeave(() => socket.disconnect());
  await load();
}

export function myCasesScreen(): Promise<void> {
  const user = currentUser();
  return listScreen({
    screen: "casos",
    title: "Meus casos",
    heading: "Meus casos de teleconsultoria",
    view: "mine",
    empty: "Você ainda não abriu nenhum caso.",
    intro: "Perguntas enviadas aos especialistas do Núcleo. Os prazos são contados em horas corridas a partir do recebimento.",
    newButton: Boolean(user?.ponto_id),
  });
}

export function queueScreen(): Promise<void> {
  return listScreen({
    screen: "fila",
    title: "Fila da regulação",
    heading: "Fila da regulação",
    view: "queue",
    empty: "Nenhum caso aguardando na fila.",
    intro: "Casos do Núcleo ordenados pelo prazo. Vermelho: prazo vencido. Amarelo: prazo próximo do fim.",
  });
}

export function inboxScreen(): Promise<void> {
  return listScreen({
    screen: "caixa",
    title: "Casos para responder",
    heading: "Casos para responder",
    view: "inbox",
    empty: "Nenhum caso atribuído a você.",
    intro: "Casos que a regulação encaminhou para você responder.",
  });
}
