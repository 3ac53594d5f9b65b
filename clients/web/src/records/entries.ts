// One prontuário entry as a person reads it, per kind. The payload shapes are the server's
// (server/records/*, server/documents/issue.py); unknown fields are ignored, missing ones show "—".

import { h } from "../dom";
import { formatDateTime, modalityLabel, roleLabel } from "../labels";
import { BROKEN_REASONS, CONSENT_CHANNELS, CONSENT_DECISIONS, DOCUMENT_KINDS, ENTRY_KINDS, formatDuration, label } from "./labels";

export interface Entry {
  id: string;
  seq: number;
  kind: string;
  consultation_id: string | null;
  author_kind: string;
  author_id: string | null;
  corrects_id: string | null;
  corrected_by: string[];
  created_at: string;
  payload: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}

export interface ChainReport {
  intact: boolean;
  entries_checked: number;
  first_broken: { entry_id: string; seq: number; reason: string } | null;
  message: string;
}

type Obj = Record<string, unknown>;

const obj = (v: unknown): Obj => (v && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : {});
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? v.map(obj) : []);
const str = (v: unknown): string => (v === null || v === undefined || v === "" ? "—" : String(v));

export const entryAnchor = (id: string): string => `registro-${id}`;

/** A definition list of label → value; empty values still show, so a missing field is visible. */
function fields(...rows: [string, Node | string][]): HTMLElement {
  return h("dl", { class: "campos-registro" }, rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

function textBlock(title: string, text: unknown): HTMLElement | null {
  if (text === null || text === undefined || text === "") return null;
  return h("div", { class: "texto-registro" }, h("h4", {}, title), h("p", {}, String(text)));
}

function author(p: Obj): string {
  const a = obj(p.author);
  if (!a.name) return "—";
  return `${str(a.name)}${a.council_label ? ` · ${str(a.council_label)}` : ""}${a.cbo ? ` · CBO ${str(a.cbo)}` : ""}`;
}

function reasons(list: unknown): string {
  const items = arr(list);
  if (!items.length) return "—";
  return items.map((r) => `${str(r.system)} ${str(r.code)}${r.display ? ` – ${str(r.display)}` : ""}`).join("; ");
}

function establishment(p: Obj): string {
  const parts: string[] = [];
  const ponto = obj(p.ponto);
  const nucleo = obj(p.nucleo);
  if (ponto.name) parts.push(`${str(ponto.name)} (CNES ${str(ponto.cnes)})`);
  if (nucleo.name) parts.push(`${str(nucleo.name)} (CNES ${str(nucleo.cnes)})`);
  return parts.join(" · ") || "—";
}

function sessionSummary(p: Obj): HTMLElement {
  const consent = obj(p.consent);
  return h(
    "div",
    {},
    fields(
      ["Modalidade", modalityLabel(str(p.modality))],
      ["Tecnologia", h("span", { class: "tecnologia" }, str(p.technology))],
      ["Início", h("time", { datetime: str(p.started_at) }, formatDateTime(p.started_at as string))],
      ["Fim", h("time", { datetime: str(p.ended_at) }, formatDateTime(p.ended_at as string))],
      ["Duração", formatDuration(p.duration_s as number)],
      ["Estabelecimento", establishment(p)],
      [
        "Consentimento",
        consent.decision
          ? `${label(CONSENT_DECISIONS, consent.decision as string)}, ${label(CONSENT_CHANNELS, consent.channel as string)} · TCLE versão ${str(consent.term_version)} · ${formatDateTime(consent.decided_at as string)}`
          : "não registrado",
      ],
    ),
    h("h4", {}, "Participantes"),
    h(
      "ul",
      { class: "participantes-registro" },
      arr(p.participants).map((pt) =>
        h(
          "li",
          {},
          h("strong", {}, str(pt.name)),
          ` · ${roleLabel(str(pt.role))}`,
          pt.council_label ? h("span", { class: "conselho" }, ` · ${str(pt.council_label)}`) : null,
          pt.cbo ? ` · CBO ${str(pt.cbo)}` : null,
          pt.rqe ? ` · RQE ${str(pt.rqe)}` : null,
          pt.attended === false ? " · não compareceu" : null,
        ),
      ),
    ),
  );
}

function consentEntry(p: Obj): HTMLElement {
  const term = obj(p.term);
  const by = obj(p.registered_by);
  const rep = obj(p.representative);
  return fields(
    ["Decisão", label(CONSENT_DECISIONS, p.decision as string)],
    ["Canal", label(CONSENT_CHANNELS, p.channel as string)],
    ["Quando", formatDateTime(p.decided_at as string)],
    ["Termo", `${str(term.title)} · ${modalityLabel(str(term.modality))} · versão ${str(term.version)}`],
    ["Registrado por", by.name ? `${str(by.name)} · ${str(by.council)}` : "o(a) próprio(a) paciente"],
    ...(rep.name ? ([["Representante legal", `${str(rep.name)} (${str(rep.relationship)})`]] as [string, string][]) : []),
  );
}

function noteEntry(p: Obj): HTMLElement {
  return h(
    "div",
    {},
    fields(["Motivo", reasons(p.reasons)], ["Autor(a)", author(p)]),
    textBlock("S – Subjetivo", p.subjective),
    textBlock("O – Objetivo", p.objective),
    textBlock("A – Avaliação", p.assessment),
    textBlock("P – Plano", p.plan),
  );
}

function recommendationEntry(p: Obj): HTMLElement {
  if (p.part === "solicitacao") {
    return h(
      "div",
      {},
      fields(["Parte", "1 – Solicitação"], ["Motivo", reasons(p.reasons)], ["Solicitante", author(p)]),
      textBlock("Pergunta clínica", p.clinical_question),
      textBlock("Resumo clínico", p.clinical_summary),
    );
  }
  return h(
    "div",
    {},
    fields(
      ["Parte", "2 – Resposta e recomendações"],
      ["Teleconsultor(a)", author(p)],
      ["Encaminhamento presencial", p.in_person_referral ? "Sim, precisa de atendimento presencial" : "Não: conduzir na atenção primária"],
      ["Motivo", reasons(p.reasons)],
    ),
    textBlock("Resposta", p.answer),
    textBlock("Recomendações", p.recommendations),
  );
}

function documentEntry(p: Obj, actions: Node | null): HTMLElement {
  const content = obj(p.content);
  const rows: [string, Node | string][] = [
    ["Documento", label(DOCUMENT_KINDS, p.document_kind as string)],
    ["Emitido em", formatDateTime(p.issued_at as string)],
    ["Emitido por", author(p)],
    ["Assinado por", str(p.signer_subject)],
  ];
  if (p.document_kind === "atestado") {
    rows.push(["Dias", str(content.days)], ["Finalidade", str(content.purpose)]);
    if (content.cid10) rows.push(["CID-10 (autorizado pelo paciente)", str(content.cid10)]);
  }
  return h(
    "div",
    {},
    p.development_signature ? devMarker() : null,
    fields(...rows),
    p.document_kind === "receita"
      ? h(
          "ol",
          { class: "itens-receita" },
          arr(content.items).map((i) => h("li", {}, h("strong", {}, str(i.medication)), ` – ${str(i.quantity)}. ${str(i.use)}`)),
        )
      : null,
    actions,
  );
}

function correctionEntry(p: Obj): HTMLElement {
  const target = obj(p.corrects);
  return h(
    "div",
    {},
    fields(
      [
        "Corrige",
        target.entry_id
          ? h("a", { href: `#${entryAnchor(str(target.entry_id))}`, class: "link-corrige" }, `registro nº ${str(target.seq)} (${label(ENTRY_KINDS, target.kind as string)})`)
          : "—",
      ],
      ["Autor(a)", author(p)],
    ),
    textBlock("Motivo da correção", p.reason),
    textBlock("Texto corrigido", p.text),
  );
}

export function devMarker(): HTMLElement {
  return h(
    "p",
    { class: "marcador-dev", role: "note" },
    h("strong", {}, "Assinatura de desenvolvimento – não ICP-Brasil. "),
    "Este documento não tem validade jurídica: foi assinado com um certificado de teste.",
  );
}

/** The body of one entry; `documentActions` adds the download/verify buttons of a document. */
export function entryBody(entry: Entry, documentActions: Node | null = null): HTMLElement {
  const p = entry.payload;
  switch (entry.kind) {
    case "session_summary":
      return sessionSummary(p);
    case "consent":
      return consentEntry(p);
    case "clinical_note":
      return noteEntry(p);
    case "recommendation":
      return recommendationEntry(p);
    case "document":
      return documentEntry(p, documentActions);
    case "correction":
      return correctionEntry(p);
    default:
      return h("p", { class: "dica" }, "Registro sem visualização detalhada nesta tela; ele está completo no PDF e no arquivo FHIR.");
  }
}

export function chainStatus(report: ChainReport): HTMLElement {
  if (report.intact) {
    return h(
      "p",
      { class: "integridade ok", id: "integridade", role: "status" },
      h("strong", {}, "Integridade verificada"),
      ` · ${report.entries_checked} registro(s) conferido(s): nenhum foi alterado ou removido.`,
    );
  }
  const broken = report.first_broken;
  return h(
    "p",
    { class: "integridade falha", id: "integridade", role: "alert" },
    h("strong", {}, "Integridade comprometida"),
    broken
      ? [" · primeiro elo quebrado: ", h("a", { href: `#${entryAnchor(broken.entry_id)}` }, `registro nº ${broken.seq}`), ` (${label(BROKEN_REASONS, broken.reason)}).`]
      : ` · ${report.message}`,
  );
}
