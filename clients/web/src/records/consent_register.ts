// The professional registers the patient's decision about the TCLE when it is not given in the
// browser (art. 449 IV): verbal consent transcribed, or a legal representative's. The term's text
// and version are shown, so the professional reads exactly what the record will point at.

import { api, ApiError } from "../api";
import { h, errorBox, toast } from "../dom";
import { modalityLabel } from "../labels";
import { setScreen } from "../testmode";
import { CONSENT_DECISIONS } from "./labels";
import "./records.css";

interface Term {
  modality: string;
  version: number;
  title: string;
  text: string;
  sha256: string;
}

export interface ConsentState {
  decision: string | null;
  channel?: string | null;
  term_version?: number | null;
  decided_at?: string | null;
  registered_by_council?: string | null;
}

export interface ConsentFormOptions {
  consultationId: string;
  modality: string;
  patientName?: string;
  /** Called once the decision is stored (e.g. the call view then admits the patient). */
  onDone: (decision: "accepted" | "refused") => void | Promise<void>;
  onCancel?: () => void;
}

let formCount = 0;

export async function consentRegisterForm(opts: ConsentFormOptions): Promise<HTMLElement> {
  const n = ++formCount;
  const id = (name: string): string => `tcle-${name}-${n}`;
  let term: Term;
  try {
    term = await api<Term>(`/api/consent-terms/${encodeURIComponent(opts.modality)}`, { auth: false });
  } catch (err) {
    return h("section", { class: "cartao" }, errorBox(err instanceof ApiError ? err.message : "Não foi possível carregar o termo de consentimento."));
  }
  const channelVerbal = h("input", { type: "radio", name: id("canal"), id: id("verbal"), value: "verbal_transcribed", checked: true });
  const channelRep = h("input", { type: "radio", name: id("canal"), id: id("representante"), value: "legal_representative" });
  const repName = h("input", { id: id("rep-nome"), maxlength: "200", autocomplete: "off" });
  const repRelation = h("input", { id: id("rep-vinculo"), maxlength: "80", autocomplete: "off", placeholder: "Ex.: mãe, pai, curador(a)" });
  const repFields = h(
    "div",
    { class: "campos", hidden: true },
    h("label", { for: id("rep-nome") }, "Nome do representante legal", repName),
    h("label", { for: id("rep-vinculo") }, "Parentesco ou vínculo", repRelation),
  );
  const syncChannel = (): void => {
    repFields.hidden = !channelRep.checked;
  };
  channelVerbal.addEventListener("change", syncChannel);
  channelRep.addEventListener("change", syncChannel);
  const feedback = h("div", { "aria-live": "assertive" });
  const accept = h("button", { type: "button", class: "primario", id: id("aceite") }, "Registrar aceite");
  const refuse = h("button", { type: "button", class: "secundario", id: id("recusa") }, "Registrar recusa");
  const cancel = opts.onCancel ? h("button", { type: "button", class: "link", onclick: opts.onCancel }, "Cancelar") : null;

  const decide = async (decision: "accepted" | "refused"): Promise<void> => {
    feedback.replaceChildren();
    const representative = channelRep.checked;
    if (representative && (!repName.value.trim() || !repRelation.value.trim())) {
      feedback.append(errorBox("Informe o nome e o parentesco ou vínculo do representante legal."));
      (repName.value.trim() ? repRelation : repName).focus();
      return;
    }
    accept.disabled = refuse.disabled = true;
    try {
      await api(`/api/consultations/${opts.consultationId}/consent`, {
        body: {
          decision,
          channel: representative ? "legal_representative" : "verbal_transcribed",
          term_version: term.version,
          term_sha256: term.sha256,
          ...(representative ? { representative_name: repName.value.trim(), representative_relationship: repRelation.value.trim() } : {}),
        },
      });
    } catch (err) {
      feedback.append(errorBox(err instanceof ApiError ? err.fullMessage() : "Não foi possível registrar o consentimento."));
      accept.disabled = refuse.disabled = false;
      return;
    }
    setScreen(decision === "accepted" ? "consentimento-registrado" : "recusa-registrada");
    toast(`Consentimento registrado: ${CONSENT_DECISIONS[decision].toLowerCase()}.`);
    await opts.onDone(decision);
  };
  accept.addEventListener("click", () => void decide("accepted"));
  refuse.addEventListener("click", () => void decide("refused"));

  return h(
    "section",
    { class: "cartao registro-tcle", "aria-labelledby": id("titulo") },
    h("h2", { id: id("titulo"), tabindex: "-1" }, "Registrar consentimento (TCLE)"),
    h(
      "p",
      { class: "dica" },
      `Leia o termo para ${opts.patientName ?? "o(a) paciente"} (ou para o representante legal) e registre a resposta. ${modalityLabel(term.modality)} · versão ${term.version}.`,
    ),
    h("h3", {}, term.title),
    h("div", { class: "termo", tabindex: "0", role: "document", "aria-label": "Texto do termo" }, term.text.split(/\n{2,}/).map((para) => h("p", {}, para))),
    h("p", { class: "dica versao-termo" }, `Versão ${term.version} · código de integridade ${term.sha256.slice(0, 12)}…`),
    h(
      "fieldset",
      { class: "canal" },
      h("legend", {}, "Como o(a) paciente respondeu"),
      h("label", { for: id("verbal"), class: "opcao" }, channelVerbal, " Verbalmente, nesta consulta (transcrito por mim)"),
      h("label", { for: id("representante"), class: "opcao" }, channelRep, " Pelo representante legal"),
    ),
    repFields,
    feedback,
    h("div", { class: "acoes" }, accept, refuse, cancel),
  );
}

/** A modal dialog with the form, for the call's participant list. */
export function openConsentDialog(opts: ConsentFormOptions): void {
  const dialog = h("dialog", { class: "dialogo-tcle", "aria-label": "Registrar consentimento" });
  const close = (): void => {
    dialog.close();
    dialog.remove();
  };
  document.body.append(dialog);
  dialog.addEventListener("cancel", () => dialog.remove());
  dialog.showModal();
  void consentRegisterForm({
    ...opts,
    onCancel: () => {
      close();
      opts.onCancel?.();
    },
    onDone: async (decision) => {
      close();
      await opts.onDone(decision);
    },
  }).then((form) => {
    dialog.append(form);
    (form.querySelector("h2") as HTMLElement | null)?.focus();
  });
}
