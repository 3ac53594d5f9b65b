// The patient's prontuário for a professional who takes part in their care: entries in order,
// the chain check, corrections, and the whole record as PDF and FHIR (art. 450; LGPD art. 19).

import { api, ApiError } from "../api";
import { h, showScreen, errorBox, toast } from "../dom";
import { formatDateTime } from "../labels";
import { renderNav, requireLogin } from "../nav";
import { setScreen } from "../testmode";
import { chainStatus, entryAnchor, entryBody, type ChainReport, type Entry } from "./entries";
import { ENTRY_KINDS, label } from "./labels";
import { fetchFile, saveFile } from "./download";
import { documentActions } from "./verification";
import "./records.css";

interface RecordOut {
  patient_id: string;
  entries: Entry[];
}

const CORRECTABLE = ["clinical_note", "recommendation", "correction"];

function authorLine(e: Entry): string {
  const a = (e.payload.author ?? e.payload.registered_by ?? null) as { name?: string; council_label?: string; council?: string } | null;
  if (e.author_kind === "system") return "registro automático do sistema";
  if (a?.name) return `${a.name}${a.council_label ?? a.council ? ` · ${a.council_label ?? a.council}` : ""}`;
  return e.author_kind === "patient" ? "o(a) paciente" : "—";
}

function correctionForm(entry: Entry, onSaved: () => void): HTMLElement {
  const reason = h("textarea", { id: `corr-motivo-${entry.id}`, rows: "2", maxlength: "10000", required: true });
  const text = h("textarea", { id: `corr-texto-${entry.id}`, rows: "4", maxlength: "10000", required: true });
  const feedback = h("div", { "aria-live": "assertive" });
  const submit = h("button", { type: "submit", class: "primario" }, "Salvar correção");
  const form = h(
    "form",
    { class: "form-correcao", novalidate: true },
    h("p", { class: "dica" }, `O registro nº ${entry.seq} continua como está; a correção é um novo registro que aponta para ele.`),
    h("label", { for: `corr-motivo-${entry.id}` }, "Motivo da correção", reason),
    h("label", { for: `corr-texto-${entry.id}` }, "Texto corrigido", text),
    feedback,
    h("div", { class: "acoes" }, submit),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    feedback.replaceChildren();
    if (!reason.value.trim() || !text.value.trim()) {
      feedback.append(errorBox("Informe o motivo e o texto corrigido."));
      return;
    }
    submit.disabled = true;
    try {
      await api(`/api/records/${entry.id}/corrections`, { body: { reason: reason.value, text: text.value } });
      toast("Correção salva no prontuário.");
      onSaved();
    } catch (err) {
      feedback.append(errorBox(err instanceof ApiError ? err.fullMessage() : "Não foi possível salvar a correção."));
      submit.disabled = false;
    }
  });
  return form;
}

function entryItem(e: Entry, bySeq: Map<string, Entry>, reload: () => void, canCorrect: boolean, broken: boolean): HTMLElement {
  const docId = e.kind === "document" ? String(e.payload.document_id ?? "") : "";
  const body = entryBody(e, docId ? documentActions(docId, String(e.payload.document_kind ?? "documento")) : null);
  const corrections = e.corrected_by
    .map((id) => bySeq.get(id))
    .filter((c): c is Entry => !!c)
    .map((c) => h("a", { href: `#${entryAnchor(c.id)}` }, `registro nº ${c.seq}`));
  const formSlot = h("div", {});
  const correct =
    // Written clinical text is corrected by a new entry; a consent is decided again and a
    // signed document is reissued, so those get no "Corrigir".
    canCorrect && e.consultation_id && CORRECTABLE.includes(e.kind)
      ? h(
          "button",
          {
            type: "button",
            class: "secundario pequeno",
            "aria-expanded": "false",
            "aria-label": `Corrigir o registro nº ${e.seq}`,
            onclick: (ev: Event) => {
              const b = ev.currentTarget as HTMLButtonElement;
              const open = b.getAttribute("aria-expanded") === "true";
              b.setAttribute("aria-expanded", String(!open));
              formSlot.replaceChildren(...(open ? [] : [correctionForm(e, reload)]));
              (formSlot.querySelector("textarea") as HTMLElement | null)?.focus();
            },
          },
          "Corrigir",
        )
      : null;
  return h(
    "li",
    { class: `registro registro-${e.kind}${e.corrected_by.length ? " corrigido" : ""}${broken ? " quebrado" : ""}`, id: entryAnchor(e.id), "data-kind": e.kind, "data-seq": String(e.seq), tabindex: "-1" },
    h(
      "header",
      { class: "registro-cabecalho" },
      h("h3", {}, `nº ${e.seq} · ${label(ENTRY_KINDS, e.kind)}`),
      h("p", { class: "registro-meta" }, h("time", { datetime: e.created_at }, formatDateTime(e.created_at)), ` · ${authorLine(e)}`),
    ),
    broken ? h("p", { class: "integridade falha", role: "note" }, h("strong", {}, "Este registro não confere com a cadeia de integridade: "), "ele (ou o anterior) foi alterado fora do sistema. Não use este conteúdo sem conferir a origem.") : null,
    corrections.length ? h("p", { class: "aviso-correcao", role: "note" }, "Este registro foi corrigido: veja ", corrections.flatMap((a, i) => (i ? [", ", a] : [a])), ".") : null,
    body,
    correct ? h("div", { class: "acoes" }, correct) : null,
    formSlot,
  );
}

export async function recordScreen(params: Record<string, string>): Promise<void> {
  if (!requireLogin()) return;
  renderNav();
  setScreen("prontuario-carregando");
  const patientId = params.id;
  showScreen("Prontuário", h("h1", {}, "Prontuário"), h("p", { class: "dica" }, "Carregando…"));
  let record: RecordOut;
  let chain: ChainReport | null;
  let patient: { name?: string; social_name?: string | null; cns?: string | null } | null;
  try {
    [record, chain, patient] = await Promise.all([
      api<RecordOut>(`/api/patients/${patientId}/record`),
      api<ChainReport>(`/api/patients/${patientId}/record/verification`).catch(() => null),
      api<{ name?: string; social_name?: string | null; cns?: string | null }>(`/api/patients/${patientId}`).catch(() => null),
    ]);
  } catch (err) {
    setScreen("prontuario-erro");
    showScreen("Prontuário", h("h1", {}, "Prontuário"), errorBox(err instanceof ApiError ? err.message : "Não foi possível abrir o prontuário."));
    return;
  }
  const byId = new Map(record.entries.map((e) => [e.id, e]));
  const reload = (): void => void recordScreen(params);
  const downloads = h("div", { "aria-live": "assertive" });
  const download = async (path: string, name: string): Promise<void> => {
    downloads.replaceChildren();
    try {
      saveFile(await fetchFile(path, name));
    } catch (err) {
      downloads.append(errorBox(err instanceof ApiError ? err.message : "Não foi possível gerar o arquivo."));
    }
  };
  const name = patient?.social_name || patient?.name;
  setScreen("prontuario");
  showScreen(
    "Prontuário",
    h("div", { class: "cabecalho" }, h("h1", {}, name ? `Prontuário de ${name}` : "Prontuário do paciente")),
    h(
      "section",
      { class: "cartao", "aria-labelledby": "t-integridade" },
      h("h2", { id: "t-integridade" }, "Integridade e cópia"),
      chain ? chainStatus(chain) : errorBox("Não foi possível verificar a integridade agora."),
      h("p", { class: "dica" }, "Os registros são encadeados: nenhum pode ser alterado ou apagado sem que a verificação aponte. A cópia completa é um direito do(a) paciente (LGPD art. 19)."),
      h(
        "div",
        { class: "acoes" },
        h("button", { type: "button", class: "primario", id: "btn-prontuario-pdf", onclick: () => void download(`/api/patients/${patientId}/record.pdf`, "prontuario.pdf") }, "Baixar prontuário (PDF)"),
        h("button", { type: "button", class: "secundario", id: "btn-prontuario-fhir", onclick: () => void download(`/api/patients/${patientId}/record.fhir.json`, "prontuario.fhir.json") }, "Baixar prontuário (FHIR JSON)"),
        h("button", { type: "button", class: "secundario", onclick: reload }, "Verificar de novo"),
      ),
      downloads,
    ),
    h(
      "section",
      { "aria-labelledby": "t-registros" },
      h("h2", { id: "t-registros" }, `Registros (${record.entries.length})`),
      record.entries.length
        ? h("ol", { class: "registros", id: "registros" }, record.entries.map((e) => entryItem(e, byId, reload, true, chain?.first_broken?.entry_id === e.id)))
        : h("p", { class: "dica" }, "Nenhum registro ainda."),
    ),
  );
}
