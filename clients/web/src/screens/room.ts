// Joining the video room: device check (or straight back in after a reload), then the call.
// Shared by the professional's room and the invitee's link.

import { h, showScreen, mainEl, errorBox } from "../dom";
import { onLeave } from "../router";
import { setScreen } from "../testmode";
import { renderDeviceCheck, acquire, type PreparedMedia } from "../call/devices";
import { CallSession, type CallStatus } from "../call/session";
import { renderCall } from "../call/view";

interface CallMemory {
  audioOnly: boolean;
  micId: string | null;
  camId: string | null;
}

// Remembered per tab while in a call, so a reload (or a crashed tab restored) rejoins directly.
const memoryKey = (consultationId: string): string => `telessaude.call.${consultationId}`;

export function rememberedCall(consultationId: string): CallMemory | null {
  try {
    return JSON.parse(sessionStorage.getItem(memoryKey(consultationId)) ?? "null") as CallMemory | null;
  } catch {
    return null;
  }
}

export function forgetCall(consultationId: string): void {
  sessionStorage.removeItem(memoryKey(consultationId));
}

export interface RoomOptions {
  consultationId: string;
  heading: string;
  isProfessional: boolean;
  token: () => Promise<string | null>;
  onExit: (status: CallStatus, session: CallSession) => void;
  onCancel?: () => void;
}

/** Device check, then the call. */
export function deviceCheckThenCall(opts: RoomOptions): void {
  setScreen("verificacao");
  const box = h("div", { class: "verificacao-pagina" });
  showScreen("Teste de câmera e microfone", h("h1", {}, opts.heading), box);
  const stop = renderDeviceCheck(box, {
    continueLabel: "Entrar na consulta",
    onContinue: (media) => startCall(opts, media),
    onCancel: opts.onCancel,
  });
  onLeave(stop);
}

/** Back into the call after a reload, with the devices chosen before. */
export async function rejoinCall(opts: RoomOptions, memory: CallMemory): Promise<void> {
  setScreen("reentrando");
  showScreen("Voltando à consulta", h("h1", {}, "Voltando à consulta…"), h("p", { class: "dica" }, "Reconectando câmera e microfone."));
  const got = await acquire(memory.micId, memory.camId, memory.audioOnly);
  startCall(opts, { stream: got.stream, audioOnly: memory.audioOnly || got.cameraDenied, micId: memory.micId, camId: memory.camId });
}

export function startCall(opts: RoomOptions, media: PreparedMedia): void {
  setScreen("chamada");
  sessionStorage.setItem(memoryKey(opts.consultationId), JSON.stringify({ audioOnly: media.audioOnly, micId: media.micId, camId: media.camId }));
  const session = new CallSession({ consultationId: opts.consultationId, token: opts.token, stream: media.stream, audioOnly: media.audioOnly });
  const main = mainEl();
  main.replaceChildren();
  document.title = "Consulta · Telessaúde";
  document.body.classList.add("em-chamada");
  const dispose = renderCall(main, session, {
    isProfessional: opts.isProfessional,
    camId: media.camId,
    onExit: (status) => {
      document.body.classList.remove("em-chamada");
      if (status !== "replaced") forgetCall(opts.consultationId);
      dispose();
      opts.onExit(status, session);
    },
  });
  onLeave(() => {
    document.body.classList.remove("em-chamada");
    session.dispose();
    dispose();
  });
}

/** What every participant sees when the call is over for them (the professional may get more). */
export function exitMessage(status: CallStatus, session: CallSession): HTMLElement {
  setScreen(status === "ended" ? "encerrada" : status === "left" ? "saiu" : status);
  if (status === "ended") return h("section", { class: "cartao", id: "fim" }, h("h1", {}, "A consulta foi encerrada"), h("p", {}, "Obrigado por participar."));
  if (status === "left") return h("section", { class: "cartao", id: "fim" }, h("h1", {}, "Você saiu da consulta"), h("p", {}, "Se foi sem querer, você pode entrar de novo pelo mesmo link ou pela agenda."));
  if (status === "replaced")
    return h("section", { class: "cartao", id: "fim" }, h("h1", {}, "Consulta aberta em outra janela"), h("p", {}, "Você entrou nesta consulta em outra aba ou aparelho. Continue por lá."));
  return h("section", { class: "cartao", id: "fim" }, h("h1", {}, "Não foi possível entrar"), errorBox(session.lastError?.message ?? "Tente novamente em instantes."));
}
