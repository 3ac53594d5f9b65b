// The RATI of a teleinterconsulta (Portaria GM/MS 8.323/2025): part 1, the solicitante's question;
// part 2, the teleconsultor's answer and recommendations. Each professional sees only their part.

import { api, ApiError, currentUser } from "../api";
import { h, errorBox, toast } from "../dom";
import { setScreen } from "../testmode";
import type { ConsultationDetail } from "../screens/consultation";
import "./records.css";

const RATI_MODALITIES = ["teleinterconsulta", "teleconsultoria"];

function reasonFields(prefix: string, required: boolean): { el: HTMLElement; value: () => { system: string; code: string; display: string }[] } {
  const system = h("select", { id: `${prefix}-sistema` }, h("option", { value: "CID-10" }, "CID-10"), h("option", { value: "CIAP-2" }, "CIAP-2"));
  const code = h("input", { id: `${prefix}-codigo`, maxlength: "8", required, autocapitalize: "characters", placeholder: "Ex.: I10 ou K86" });
  const display = h("input", { id: `${prefix}-descricao`, maxlength: "200" });
  return {
    el: h(
      "div",
      { class: "campos" },
      h("label", { for: `${prefix}-sistema` }, "Classificação", system),
      h("label", { for: `${prefix}-codigo` }, required ? "Código do motivo" : "Código do motivo (opcional)", code),
      h("label", { for: `${prefix}-descricao` }, "Descrição", display),
    ),
    value: () => (code.value.trim() ? [{ system: system.value, code: code.value.trim().toUpperCase(), display: display.value.trim() }] : []),
  };
}

const area = (id: string): HTMLTextAreaElement => h("textarea", { id, rows: "4", maxlength: "10000", required: true });

/** The RATI part this professional writes in this consultation, or null when none applies. */
export function ratiForm(c: ConsultationDetail): HTMLElement | null {
  if (!RATI_MODALITIES.includes(c.modality)) return null;
  const me = currentUser();
  const mine = (c.participants ?? []).find((p) => (p as { professional_id?: string }).professional_id === me?.id);
  if (!mine || (mine.role !== "solicitante" && mine.role !== "teleconsultor")) return null;
  const request = mine.role === "solicitante";
  const feedback = h("div", { "aria-live": "assertive" });
  const submit = h("button", { type: "submit", class: "primario", id: "btn-salvar-rati" }, request ? "Salvar a solicitação (RATI parte 1)" : "Salvar a resposta (RATI parte 2)");
  const reason = reasonFields("rati", request);
  const question = area("rati-pergunta");
  const summary = area("rati-resumo");
  const answer = area("rati-resposta");
  const recommendations = area("rati-recomendacoes");
  const referralYes = h("input", { type: "radio", name: "rati-encaminhamento", id: "rati-encaminhar-sim", value: "sim" });
  const referralNo = h("input", { type: "radio", name: "rati-encaminhamento", id: "rati-encaminhar-nao", value: "nao" });
  const form = h(
    "form",
    { class: "cartao", id: "form-rati", novalidate: true, "data-part": request ? "solicitacao" : "resposta" },
    h("h2", {}, request ? "RATI · parte 1: solicitação" : "RATI · parte 2: resposta e recomendações"),
    h(
      "p",
      { class: "dica" },
      request
        ? "Registre a pergunta clínica que motivou a teleinterconsulta e o resumo do caso."
        : "Registre a resposta à pergunta do solicitante, as recomendações e se o paciente precisa de atendimento presencial com especialista.",
    ),
    request
      ? [h("label", { for: "rati-pergunta" }, "Pergunta clínica", question), h("label", { for: "rati-resumo" }, "Resumo clínico", summary), reason.el]
      : [
          h("label", { for: "rati-resposta" }, "Resposta", answer),
          h("label", { for: "rati-recomendacoes" }, "Recomendações", recommendations),
          h(
            "fieldset",
            {},
            h("legend", {}, "Precisa de encaminhamento presencial ao especialista?"),
            h("label", { for: "rati-encaminhar-nao", class: "opcao" }, referralNo, " Não: conduzir na atenção primária"),
            h("label", { for: "rati-encaminhar-sim", class: "opcao" }, referralYes, " Sim"),
          ),
          reason.el,
        ],
    feedback,
    h("div", { class: "acoes" }, submit),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    feedback.replaceChildren();
    let body: Record<string, unknown>;
    if (request) {
      if (!question.value.trim() || !summary.value.trim() || !reason.value().length) {
        feedback.append(errorBox("Preencha a pergunta clínica, o resumo e o código do motivo."));
        return;
      }
      body = { part: "solicitacao", clinical_question: question.value, clinical_summary: summary.value, reasons: reason.value() };
    } else {
      if (!answer.value.trim() || !recommendations.value.trim() || (!referralYes.checked && !referralNo.checked)) {
        feedback.append(errorBox("Preencha a resposta, as recomendações e diga se há encaminhamento presencial."));
        return;
      }
      body = { part: "resposta", answer: answer.value, recommendations: recommendations.value, in_person_referral: referralYes.checked, reasons: reason.value() };
    }
    submit.disabled = true;
    try {
      await api(`/api/consultations/${c.id}/recommendations`, { body });
      setScreen("rati-salvo");
      form.replaceChildren(h("h2", {}, "RATI salvo"), h("p", { id: "rati-salvo" }, "Esta parte do RATI foi gravada no prontuário do paciente."));
      toast("RATI salvo.");
    } catch (err) {
      feedback.append(errorBox(err instanceof ApiError ? err.fullMessage() : "Não foi possível salvar o RATI."));
      submit.disabled = false;
    }
  });
  return form;
}

/** What the professional finds after a session, next to the note: RATI, documents, the record. */
export function afterSessionLinks(c: ConsultationDetail): HTMLElement {
  const prescribes = ["teleconsulta", "teleinterconsulta", "telemonitoramento"].includes(c.modality);
  return h(
    "nav",
    { class: "cartao acoes apos-sessao", "aria-label": "Depois da consulta" },
    prescribes ? h("a", { href: `/consultas/${c.id}/documentos`, "data-link": true, class: "botao secundario", id: "link-documentos" }, "Emitir atestado ou receita") : null,
    c.patient?.id ? h("a", { href: `/pacientes/${c.patient.id}/prontuario`, "data-link": true, class: "botao secundario", id: "link-prontuario" }, "Abrir o prontuário do paciente") : null,
  );
}
