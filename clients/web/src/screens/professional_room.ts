// The professional's way into the room: /consultas/:id/sala.

import { api, freshAccessToken, ApiError } from "../api";
import { h, showScreen, mainEl, errorBox } from "../dom";
import { modalityLabel } from "../labels";
import { navigate } from "../router";
import { renderNav, requireLogin } from "../nav";
import { setScreen } from "../testmode";
import { deviceCheckThenCall, rejoinCall, rememberedCall, exitMessage, type RoomOptions } from "./room";
import { noteForm } from "./note";
import type { ConsultationDetail } from "./consultation";

export async function professionalRoomScreen(params: Record<string, string>): Promise<void> {
  if (!requireLogin()) return;
  renderNav();
  setScreen("sala-profissional");
  const id = params.id;
  let c: ConsultationDetail | null = null;
  try {
    c = await api<ConsultationDetail>(`/api/consultations/${id}`);
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 403)) {
      showScreen("Consulta", h("h1", {}, "Consulta"), errorBox(err.message));
      return;
    }
    // Anything else (API still starting, network blip): the socket join will tell.
  }
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
      }
      main.append(h("p", {}, h("a", { href: "/agenda", "data-link": true, class: "botao secundario" }, "Voltar à agenda")));
    },
  };
  const memory = rememberedCall(id);
  if (memory) await rejoinCall(opts, memory);
  else deviceCheckThenCall(opts);
}
