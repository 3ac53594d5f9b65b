// The clinical note (SOAP with CID-10/CIAP-2 reasons) the professional writes after a session.

import { api, ApiError } from "../api";
import { h, showScreen, errorBox, toast, mainEl } from "../dom";
import { afterSessionLinks, ratiForm } from "../records/rati";
import type { ConsultationDetail } from "./consultation";
import { renderNav, requireLogin } from "../nav";
import { setScreen } from "../testmode";

export function noteForm(consultationId: string): HTMLElement {
  const system = h("select", { id: "nota-sistema" }, h("option", { value: "CIAP-2" }, "CIAP-2"), h("option", { value: "CID-10" }, "CID-10"));
  const code = h("input", { id: "nota-codigo", required: true, maxlength: "8", placeholder: "Ex.: K86 ou I10", autocapitalize: "characters" });
  const display = h("input", { id: "nota-descricao", maxlength: "200", placeholder: "Ex.: Hipertensão sem complicações" });
  const area = (id: string, required: boolean): HTMLTextAreaElement => h("textarea", { id, rows: "3", maxlength: "20000", required });
  const subjective = area("nota-subjetivo", true);
  const objective = area("nota-objetivo", false);
  const assessment = area("nota-avaliacao", true);
  const plan = area("nota-plano", true);
  const feedback = h("div", { "aria-live": "assertive" });
  const submit = h("button", { type: "submit", class: "primario", id: "btn-salvar-nota" }, "Salvar no prontuário");
  const form = h(
    "form",
    { class: "cartao", id: "form-nota", novalidate: true },
    h("h2", {}, "Nota clínica (SOAP)"),
    h("p", { class: "dica" }, "O registro da sessão (data, horário, participantes e tecnologia) já foi gravado no prontuário. Complete com a nota clínica."),
    h("div", { class: "campos" }, h("label", { for: "nota-sistema" }, "Classificação", system), h("label", { for: "nota-codigo" }, "Código do motivo", code), h("label", { for: "nota-descricao" }, "Descrição", display)),
    h("label", { for: "nota-subjetivo" }, "S – Subjetivo (queixa e história)", subjective),
    h("label", { for: "nota-objetivo" }, "O – Objetivo (o que foi possível observar)", objective),
    h("label", { for: "nota-avaliacao" }, "A – Avaliação", assessment),
    h("label", { for: "nota-plano" }, "P – Plano", plan),
    feedback,
    h("div", { class: "acoes" }, submit),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    feedback.replaceChildren();
    submit.disabled = true;
    try {
      await api(`/api/consultations/${consultationId}/notes`, {
        body: {
          reasons: [{ system: system.value, code: code.value.trim().toUpperCase(), display: display.value.trim() }],
          subjective: subjective.value,
          objective: objective.value,
          assessment: assessment.value,
          plan: plan.value,
        },
      });
      setScreen("nota-salva");
      form.replaceChildren(h("h2", {}, "Nota clínica salva"), h("p", { id: "nota-salva" }, "A nota foi gravada no prontuário do paciente."));
      toast("Nota clínica salva.");
    } catch (err) {
      feedback.append(errorBox(err instanceof ApiError ? err.fullMessage() : "Não foi possível salvar a nota."));
      submit.disabled = false;
    }
  });
  return form;
}

export async function noteScreen(params: Record<string, string>): Promise<void> {
  if (!requireLogin()) return;
  setScreen("nota");
  renderNav();
  showScreen("Nota clínica", h("h1", {}, "Nota clínica"), noteForm(params.id));
  // The RATI (teleinterconsulta) and the documents sit next to the note.
  const c = await api<ConsultationDetail>(`/api/consultations/${params.id}`).catch(() => null);
  if (c) mainEl().append(...[ratiForm(c), afterSessionLinks(c)].filter((el): el is HTMLElement => el !== null));
}
