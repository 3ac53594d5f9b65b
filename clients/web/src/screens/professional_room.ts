// The professional's way into the room: /consultas/:id/sala.

import { api, freshAccessToken } from "../api";
import { h, mainEl } from "../dom";
import { modalityLabel } from "../labels";
import { navigate } from "../router";
import { renderNav, requireLogin } from "../nav";
import { setScreen } from "../testmode";
import { deviceCheckThenCall, rejoinCall, rememberedCall, exitMessage, type RoomOptions } from "./room";
import { noteForm } from "./note";
import { afterSessionLinks, ratiForm } from "../records/rati";
import type { ConsultationDetail } from "./consultation";

export async function professionalRoomScreen(params: Record<string, string>): Promise<void> {
  if (!requireLogin()) return;
  renderNav();
  setScreen("sala-profissional");
  const id = params.id;
  // Only for the heading: whether this professional may join is the socket join's answer
  // (consultation_not_found, not_a_participant, consultation_closed), shown by the room.
  const c = await api<ConsultationDetail>(`/api/consultations/${id}`).catch(() => null);
  const opts: RoomOptions = {
    consultationId: id,
    heading: c ? `${c.title || modalityLabel(c.modality)}` : "Consulta",
    isProfessional: true,
    token: freshAccessToken,
    onCancel: () => navigate(`/consultas/${id}`),
    onExit: (status, session) => {
      renderNav();
      const main = mainEl();
      main.replaceChildren(exitMessage(status, session));
      if (status === "ended") {
        main.append(noteForm(id));
        if (c) main.append(...[ratiForm(c), afterSessionLinks(c)].filter((el): el is HTMLElement => el !== null));
      }
      main.append(h("p", {}, h("a", { href: "/agenda", "data-link": true, class: "botao secundario" }, "Voltar à agenda")));
    },
  };
  const memory = rememberedCall(id);
  if (memory) await rejoinCall(opts, memory);
  else deviceCheckThenCall(opts);
}
