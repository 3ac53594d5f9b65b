// Signed documents of a consultation: issue an atestado or a receita (Lei 5.991 art. 35), see the
// signed PDF and its verification. Signing happens on the server (PAdES, pyHanko).

import { api, ApiError } from "../api";
import { h, showScreen, errorBox, toast } from "../dom";
import { formatDateTime, modalityLabel } from "../labels";
import { renderNav, requireLogin } from "../nav";
import { setScreen } from "../testmode";
import type { ConsultationDetail } from "../screens/consultation";
import { devMarker, type Entry } from "./entries";
import { DOCUMENT_KINDS, label } from "./labels";
import { documentActions, verificationBox, type Verification } from "./verification";
import "./records.css";

interface DocumentOut {
  document_id: string;
  kind: string;
  entry_id: string;
  sha256: string;
  created_at: string;
  development_signature: boolean;
}

const PURPOSES = ["afastamento do trabalho", "justificar falta escolar", "comparecimento à consulta", "acompanhante de paciente"];

/** The card of a document just issued: its marker, buttons, and the verification right away. */
async function issuedCard(doc: DocumentOut): Promise<HTMLElement> {
  const verification = await api<Verification>(`/api/documents/${doc.document_id}/verification`).catch(() => null);
  return h(
    "article",
    { class: "cartao documento-emitido", "data-document-id": doc.document_id, "data-kind": doc.kind },
    h("h3", {}, `${label(DOCUMENT_KINDS, doc.kind)} emitido e assinado`),
    h("p", { class: "dica" }, `${formatDateTime(doc.created_at)} · gravado no prontuário do paciente.`),
    // The verification box carries the development marker itself; without it, show it here.
    verification ? verificationBox(verification) : doc.development_signature ? devMarker() : null,
    documentActions(doc.document_id, doc.kind),
  );
}

function issue(consultationId: string, kind: "atestado" | "receita", body: () => Record<string, unknown> | string, button: HTMLButtonElement, feedback: HTMLElement, results: HTMLElement, after: () => void): () => Promise<void> {
  return async () => {
    feedback.replaceChildren();
    const payload = body();
    if (typeof payload === "string") {
      feedback.append(errorBox(payload));
      return;
    }
    button.disabled = true;
    try {
      const doc = await api<DocumentOut>(`/api/consultations/${consultationId}/documents/${kind}`, { body: payload });
      const card = await issuedCard(doc);
      results.prepend(card);
      setScreen(`${kind}-emitido`);
      toast(`${label(DOCUMENT_KINDS, kind)} assinado e gravado no prontuário.`);
      after();
      (card.querySelector("h3") as HTMLElement | null)?.setAttribute("tabindex", "-1");
      (card.querySelector("h3") as HTMLElement | null)?.focus();
    } catch (err) {
      feedback.append(errorBox(err instanceof ApiError ? err.fullMessage() : "Não foi possível emitir o documento."));
    } finally {
      button.disabled = false;
    }
  };
}

export function atestadoForm(consultationId: string, results: HTMLElement): HTMLElement {
  const days = h("input", { id: "atestado-dias", type: "number", min: "0", max: "365", step: "1", value: "1", inputmode: "numeric", required: true });
  const purpose = h("input", { id: "atestado-finalidade", maxlength: "300", list: "finalidades", required: true, placeholder: "Ex.: afastamento do trabalho" });
  const authorized = h("input", { type: "checkbox", id: "atestado-autorizado" });
  const cid = h("input", { id: "atestado-cid", maxlength: "8", autocapitalize: "characters", placeholder: "Ex.: J11" });
  const cidField = h("label", { for: "atestado-cid", hidden: true }, "CID-10", cid);
  authorized.addEventListener("change", () => {
    cidField.hidden = !authorized.checked;
    if (!authorized.checked) cid.value = "";
  });
  const feedback = h("div", { "aria-live": "assertive" });
  const submit = h("button", { type: "submit", class: "primario", id: "btn-emitir-atestado" }, "Emitir e assinar atestado");
  const form = h(
    "form",
    { class: "cartao", id: "form-atestado", novalidate: true },
    h("h2", {}, "Atestado"),
    h("datalist", { id: "finalidades" }, PURPOSES.map((p) => h("option", { value: p }))),
    h("div", { class: "campos" }, h("label", { for: "atestado-dias" }, "Dias de afastamento", days), h("label", { for: "atestado-finalidade" }, "Finalidade", purpose)),
    h("p", { class: "dica" }, "Use 0 dia para declarar apenas o comparecimento."),
    h("label", { for: "atestado-autorizado", class: "opcao" }, authorized, " O(a) paciente autorizou incluir o diagnóstico (CID-10)"),
    cidField,
    feedback,
    h("div", { class: "acoes" }, submit),
  );
  const send = issue(
    consultationId,
    "atestado",
    () => {
      const n = Number(days.value);
      if (!Number.isInteger(n) || n < 0 || n > 365) return "Informe os dias de afastamento (de 0 a 365).";
      if (!purpose.value.trim()) return "Informe a finalidade do atestado.";
      if (authorized.checked && !cid.value.trim()) return "Informe o CID-10 ou desmarque a autorização.";
      return {
        days: n,
        purpose: purpose.value.trim(),
        ...(authorized.checked ? { cid10: cid.value.trim().toUpperCase(), patient_authorized_diagnosis: true } : {}),
      };
    },
    submit,
    feedback,
    results,
    () => undefined,
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void send();
  });
  return form;
}

let itemCount = 0;

function itemRow(list: HTMLElement): HTMLElement {
  const n = ++itemCount;
  const remove = h("button", { type: "button", class: "link", "aria-label": `Remover o medicamento ${list.children.length + 1}` }, "Remover");
  const row = h(
    "fieldset",
    { class: "item-receita" },
    h("legend", {}, "Medicamento"),
    h("label", { for: `med-${n}` }, "Medicamento (nome, concentração e forma)", h("input", { id: `med-${n}`, class: "item-medicamento", maxlength: "300", required: true, placeholder: "Ex.: Losartana 50 mg comprimido" })),
    h("label", { for: `uso-${n}` }, "Modo de usar", h("input", { id: `uso-${n}`, class: "item-uso", maxlength: "1000", required: true, placeholder: "Ex.: 1 comprimido pela manhã, uso contínuo" })),
    h("label", { for: `qtd-${n}` }, "Quantidade", h("input", { id: `qtd-${n}`, class: "item-quantidade", maxlength: "100", required: true, placeholder: "Ex.: 30 comprimidos" })),
    remove,
  );
  remove.addEventListener("click", () => {
    if (list.children.length > 1) row.remove();
  });
  return row;
}

export function receitaForm(consultationId: string, results: HTMLElement): HTMLElement {
  const items = h("div", { class: "itens", id: "itens-receita" });
  items.append(itemRow(items));
  const notes = h("textarea", { id: "receita-observacoes", rows: "2", maxlength: "2000" });
  const feedback = h("div", { "aria-live": "assertive" });
  const submit = h("button", { type: "submit", class: "primario", id: "btn-emitir-receita" }, "Emitir e assinar receita");
  const add = h(
    "button",
    {
      type: "button",
      class: "secundario",
      id: "btn-adicionar-item",
      onclick: () => {
        if (items.children.length >= 20) return;
        const row = itemRow(items);
        items.append(row);
        (row.querySelector("input") as HTMLElement).focus();
      },
    },
    "Adicionar medicamento",
  );
  const form = h(
    "form",
    { class: "cartao", id: "form-receita", novalidate: true },
    h("h2", {}, "Receita"),
    items,
    h("div", { class: "acoes" }, add),
    h("label", { for: "receita-observacoes" }, "Observações (opcional)", notes),
    feedback,
    h("div", { class: "acoes" }, submit),
  );
  const send = issue(
    consultationId,
    "receita",
    () => {
      const rows = [...items.querySelectorAll("fieldset")].map((f) => ({
        medication: (f.querySelector(".item-medicamento") as HTMLInputElement).value.trim(),
        use: (f.querySelector(".item-uso") as HTMLInputElement).value.trim(),
        quantity: (f.querySelector(".item-quantidade") as HTMLInputElement).value.trim(),
      }));
      if (rows.some((r) => !r.medication || !r.use || !r.quantity)) return "Preencha medicamento, modo de usar e quantidade de cada item.";
      return { items: rows, notes: notes.value.trim() };
    },
    submit,
    feedback,
    results,
    () => undefined,
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void send();
  });
  return form;
}

/** /consultas/:id/documentos */
export async function documentsScreen(params: Record<string, string>): Promise<void> {
  if (!requireLogin()) return;
  renderNav();
  setScreen("documentos");
  const id = params.id;
  let c: ConsultationDetail;
  try {
    c = await api<ConsultationDetail>(`/api/consultations/${id}`);
  } catch (err) {
    showScreen("Documentos", h("h1", {}, "Documentos"), errorBox(err instanceof ApiError ? err.message : "Não foi possível abrir a consulta."));
    return;
  }
  const results = h("div", { id: "documentos-emitidos", "aria-live": "polite" });
  const patient = c.patient?.name;
  const earlier = c.patient?.id ? await earlierDocuments(c.patient.id, id) : null;
  showScreen(
    "Documentos",
    h("div", { class: "cabecalho" }, h("h1", {}, "Atestado e receita")),
    h(
      "p",
      { class: "dica" },
      `${c.title || modalityLabel(c.modality)}${patient ? ` · paciente ${patient}` : ""}. Os documentos são assinados digitalmente e gravados no prontuário.`,
    ),
    results,
    h("div", { class: "duas-colunas" }, atestadoForm(id, results), receitaForm(id, results)),
    earlier,
    h(
      "p",
      { class: "acoes" },
      h("a", { href: `/consultas/${id}`, "data-link": true, class: "botao secundario" }, "Voltar à consulta"),
      c.patient?.id ? h("a", { href: `/pacientes/${c.patient.id}/prontuario`, "data-link": true, class: "botao secundario" }, "Abrir o prontuário") : null,
    ),
  );
}

/** Documents already issued in this consultation (from the record), to open or verify again. */
async function earlierDocuments(patientId: string, consultationId: string): Promise<HTMLElement | null> {
  const record = await api<{ entries: Entry[] }>(`/api/patients/${patientId}/record`).catch(() => null);
  const docs = (record?.entries ?? []).filter((e) => e.kind === "document" && e.consultation_id === consultationId);
  if (!docs.length) return null;
  return h(
    "section",
    { class: "cartao", id: "documentos-anteriores", "aria-labelledby": "t-anteriores" },
    h("h2", { id: "t-anteriores" }, "Já emitidos nesta consulta"),
    h(
      "ul",
      { class: "registros" },
      docs.map((e) =>
        h(
          "li",
          { class: "registro registro-document" },
          h("h3", {}, `${label(DOCUMENT_KINDS, String(e.payload.document_kind ?? ""))} · ${formatDateTime(String(e.payload.issued_at ?? e.created_at))}`),
          documentActions(String(e.payload.document_id), String(e.payload.document_kind ?? "documento")),
        ),
      ),
    ),
  );
}
