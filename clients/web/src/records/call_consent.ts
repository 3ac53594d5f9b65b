// The call's participant list: "Registrar consentimento" next to a patient held for consent.

import { h, toast } from "../dom";
import type { CallSession } from "../call/session";
import type { Participant } from "../call/protocol";
import { openConsentDialog } from "./consent_register";

export function consentButton(session: CallSession, p: Participant): HTMLButtonElement {
  return h(
    "button",
    {
      type: "button",
      class: "primario pequeno",
      id: `btn-registrar-consentimento-${p.participant_id}`,
      "aria-label": `Registrar consentimento de ${p.display_name}`,
      onclick: () =>
        openConsentDialog({
          consultationId: session.consultationId,
          modality: session.modality ?? "teleconsulta",
          patientName: p.display_name,
          onDone: async (decision) => {
            if (decision !== "accepted") {
              toast(`Recusa registrada: ${p.display_name} não entra por vídeo; ofereça o atendimento presencial.`);
              return;
            }
            const err = await session.admit(p.participant_id);
            toast(err ? err.message : `Consentimento registrado. ${p.display_name} foi admitido(a).`);
          },
        }),
    },
    "Registrar consentimento",
  );
}
