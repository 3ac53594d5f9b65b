// The consultation page's consent card: the decision in force, and, when there is none (or a
// refusal/revocation), the professional's form for verbal or legal-representative consent.

import { api } from "../api";
import { h, clear } from "../dom";
import { formatDateTime } from "../labels";
import type { ConsultationDetail } from "../screens/consultation";
import { consentRegisterForm, type ConsentState } from "./consent_register";
import { CONSENT_CHANNELS, CONSENT_DECISIONS, label } from "./labels";

export function consentCard(c: ConsultationDetail): HTMLElement {
  const box = h("section", { class: "cartao", id: "consentimento-consulta", "aria-labelledby": "t-consentimento" });
  const render = async (): Promise<void> => {
    clear(box);
    box.append(h("h2", { id: "t-consentimento" }, "Consentimento (TCLE)"));
    const state = await api<ConsentState>(`/api/consultations/${c.id}/consent`).catch(() => null);
    if (state?.decision) {
      box.append(
        h(
          "p",
          { id: "estado-consentimento", "data-decision": state.decision },
          h("strong", {}, label(CONSENT_DECISIONS, state.decision)),
          `, ${label(CONSENT_CHANNELS, state.channel)} · versão ${state.term_version ?? "—"} · ${formatDateTime(state.decided_at)}`,
          state.registered_by_council ? ` · registrado por ${state.registered_by_council}` : "",
        ),
      );
      if (state.decision === "accepted") return;
    } else {
      box.append(h("p", { id: "estado-consentimento", "data-decision": "" }, "Ainda não registrado: o vídeo do paciente só é liberado depois do consentimento."));
    }
    const open = h("button", { type: "button", class: "secundario", id: "btn-abrir-registro-tcle" }, "Registrar consentimento verbal ou do representante legal");
    open.addEventListener("click", async () => {
      open.replaceWith(await consentRegisterForm({ consultationId: c.id, modality: c.modality, patientName: c.patient?.name, onDone: () => render() }));
    });
    box.append(h("p", { class: "dica" }, "Se o(a) paciente não puder aceitar pelo link (não lê, não usa o celular sozinho, é menor de idade ou incapaz), leia o termo e registre aqui."), open);
  };
  void render();
  return box;
}
