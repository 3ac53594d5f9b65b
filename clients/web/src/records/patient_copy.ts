// The patient's own copy of their record (art. 450 §1; LGPD art. 19), with the access their
// invite link gave them: no account needed. The access lasts as long as the invite session.

import { api, ApiError } from "../api";
import { h, errorBox } from "../dom";
import { fetchFile, saveFile } from "./download";
import "./records.css";

export function patientCopyBlock(consultationId: string, accessToken: string): HTMLElement {
  const feedback = h("div", { "aria-live": "assertive" });
  const download = async (kind: "pdf" | "fhir.json", button: HTMLButtonElement): Promise<void> => {
    feedback.replaceChildren();
    button.disabled = true;
    try {
      // The consent endpoint tells the patient their own patient id (it is not in the invite).
      const consent = await api<{ patient_id: string | null }>(`/api/consultations/${consultationId}/consent`, { token: accessToken });
      if (!consent.patient_id) throw new ApiError(409, "no_patient", "Não há prontuário ligado a este atendimento.");
      saveFile(await fetchFile(`/api/patients/${consent.patient_id}/record.${kind}`, `meu-prontuario.${kind}`, accessToken));
    } catch (err) {
      const expired = err instanceof ApiError && err.status === 401;
      feedback.append(
        errorBox(
          expired
            ? "Seu acesso por este link terminou. Peça a cópia do prontuário na sua unidade de saúde: é um direito seu."
            : err instanceof ApiError
              ? err.message
              : "Não foi possível baixar a cópia.",
        ),
      );
    } finally {
      button.disabled = false;
    }
  };
  const pdf = h("button", { type: "button", class: "primario", id: "btn-copia-pdf" }, "Baixar em PDF");
  const fhir = h("button", { type: "button", class: "secundario", id: "btn-copia-fhir" }, "Baixar em FHIR (para outros sistemas de saúde)");
  pdf.addEventListener("click", () => void download("pdf", pdf));
  fhir.addEventListener("click", () => void download("fhir.json", fhir));
  return h(
    "section",
    { class: "cartao copia-paciente", "aria-labelledby": "t-copia" },
    h("h2", { id: "t-copia" }, "Sua cópia do prontuário"),
    h("p", {}, "Você tem direito a uma cópia de tudo o que foi registrado sobre o seu atendimento: data, horário, profissionais, consentimento, anotações e documentos."),
    h("div", { class: "acoes" }, pdf, fhir),
    feedback,
  );
}
