// The invite link /entrar/<token>: patients and guests, no account. Who and when, consent (the
// patient), device check, then the call. The raw invite token authenticates the socket, so a
// reconnect never depends on a short-lived access token.

import { api, ApiError } from "../api";
import { h, showScreen, mainEl, errorBox } from "../dom";
import { formatDateTime, modalityLabel, roleLabel, STATUS } from "../labels";
import { renderNav } from "../nav";
import { setScreen } from "../testmode";
import { consentScreen, refusedScreen } from "./consent";
import { patientCopyBlock } from "../records/patient_copy";
import { deviceCheckThenCall, rejoinCall, rememberedCall, exitMessage, type RoomOptions } from "./room";

interface InviteSummary {
  consultation_id?: string;
  modality?: string;
  status?: string;
  scheduled_for?: string | null;
  expected_duration_min?: number | null;
  title?: string | null;
  role?: string;
  display_name?: string | null;
  invitee_name?: string | null;
  expires_at?: string | null;
  nucleo_name?: string | null;
  ponto_name?: string | null;
  professionals?: { name?: string; display_name?: string; role?: string; council_label?: string | null }[];
  participants?: { name?: string; display_name?: string; role?: string; council_label?: string | null }[];
}

interface InviteSession {
  access_token: string;
  expires_in: number;
  consultation_id: string;
  participant_id: string;
  role: string;
  display_name: string;
}

const sessionKey = (token: string): string => `telessaude.invite.${token.slice(0, 16)}`;

async function exchange(token: string): Promise<InviteSession> {
  const res = await api<InviteSession>(`/api/invites/${encodeURIComponent(token)}/session`, { body: {}, auth: false });
  sessionStorage.setItem(sessionKey(token), JSON.stringify(res));
  return res;
}

function storedSession(token: string): InviteSession | null {
  try {
    return JSON.parse(sessionStorage.getItem(sessionKey(token)) ?? "null") as InviteSession | null;
  } catch {
    return null;
  }
}

export async function inviteScreen(params: Record<string, string>, query: URLSearchParams): Promise<void> {
  renderNav("invitee");
  const token = params.token ?? query.get("convite") ?? "";
  setScreen("convite");
  const stored = storedSession(token);
  if (stored && rememberedCall(stored.consultation_id)) {
    await enterRoom(token, stored, true);
    return;
  }
  showScreen("Sua consulta", h("h1", {}, "Carregando sua consulta…"));
  let summary: InviteSummary;
  try {
    summary = await api<InviteSummary>(`/api/invites/${encodeURIComponent(token)}`, { auth: false });
  } catch (err) {
    setScreen("convite-invalido");
    showScreen(
      "Convite",
      h("section", { class: "cartao" }, h("h1", {}, "Não foi possível abrir o convite"), errorBox(err instanceof ApiError ? err.message : "Verifique sua internet e tente de novo."), h("p", { class: "dica" }, "Se o problema continuar, peça um novo link à sua unidade de saúde.")),
    );
    // After the consultation the link no longer opens it, but the access it gave this tab still
    // reads the patient's own record copy until it expires.
    if (stored?.role === "paciente" && err instanceof ApiError && err.code === "consultation_closed") {
      mainEl().append(patientCopyBlock(stored.consultation_id, stored.access_token));
    }
    return;
  }
  const people = summary.professionals ?? (summary.participants ?? []).filter((p) => p.role !== "paciente" && p.role !== "convidado");
  const modality = summary.modality ?? "teleconsulta";
  const closed = summary.status === "ended" || summary.status === "cancelled";
  const go = h("button", { type: "button", class: "primario", id: "btn-continuar-convite", disabled: closed }, "Continuar");
  const feedback = h("div", { "aria-live": "assertive" });
  const name = summary.display_name ?? summary.invitee_name;
  go.addEventListener("click", async () => {
    go.disabled = true;
    feedback.replaceChildren();
    try {
      const s = await exchange(token);
      await afterLanding(token, s, modality);
    } catch (err) {
      feedback.append(errorBox(err instanceof ApiError ? err.message : "Não foi possível entrar. Tente novamente."));
      go.disabled = false;
    }
  });
  showScreen(
    "Sua consulta",
    h(
      "section",
      { class: "cartao", id: "resumo-convite" },
      h("h1", {}, name ? `Olá, ${name.split(" ")[0]}!` : "Olá!"),
      h("p", { class: "destaque" }, `Você foi convidado(a) para uma ${modalityLabel(modality).toLowerCase()} por vídeo${summary.role ? ` como ${roleLabel(summary.role).toLowerCase()}` : ""}.`),
      summary.title ? h("p", {}, h("strong", {}, "Assunto: "), summary.title) : null,
      h("p", {}, h("strong", {}, "Quando: "), formatDateTime(summary.scheduled_for), summary.expected_duration_min ? ` · cerca de ${summary.expected_duration_min} min` : ""),
      people.length
        ? h("div", {}, h("strong", {}, "Com: "), h("ul", { id: "profissionais-convite" }, people.map((p) => h("li", {}, `${p.display_name ?? p.name ?? ""}${p.council_label ? ` (${p.council_label})` : ""}${p.role ? ` · ${roleLabel(p.role)}` : ""}`))))
        : null,
      summary.ponto_name || summary.nucleo_name ? h("p", {}, h("strong", {}, "Unidade: "), summary.ponto_name ?? summary.nucleo_name) : null,
      closed ? errorBox(`Esta consulta está ${(STATUS[summary.status ?? ""] ?? "").toLowerCase()}.`) : null,
      closed && stored?.role === "paciente" ? patientCopyBlock(stored.consultation_id, stored.access_token) : null,
      h("p", { class: "dica" }, "Você vai precisar de câmera e microfone (ou só do microfone). Procure um lugar reservado e com boa internet."),
      feedback,
      h("div", { class: "acoes" }, go),
    ),
  );
}

async function afterLanding(token: string, s: InviteSession, modality: string): Promise<void> {
  if (s.role !== "paciente") {
    await enterRoom(token, s, false);
    return;
  }
  // A decision already recorded (e.g. the page was reloaded) is not asked again.
  let decision: string | null = null;
  try {
    const current = await api<{ decision: string | null }>(`/api/consultations/${s.consultation_id}/consent`, { token: s.access_token });
    decision = current.decision;
  } catch {
    decision = null;
  }
  if (decision === "accepted") await enterRoom(token, s, false);
  else if (decision === "refused") refusedScreen();
  else
    await consentScreen({
      consultationId: s.consultation_id,
      modality,
      token: s.access_token,
      onAccepted: () => void enterRoom(token, s, false),
      onVerbal: () => void enterRoom(token, s, false),
    });
}

async function enterRoom(token: string, s: InviteSession, rejoin: boolean): Promise<void> {
  const opts: RoomOptions = {
    consultationId: s.consultation_id,
    heading: `Olá, ${s.display_name.split(" ")[0]}: vamos testar sua câmera e seu microfone`,
    isProfessional: false,
    token: async () => token,
    onExit: (status, session) => {
      const main = mainEl();
      main.replaceChildren(exitMessage(status, session));
      if (status === "ended" && s.role === "paciente") main.append(patientCopyBlock(s.consultation_id, s.access_token));
      if (status === "left") main.append(h("p", {}, h("a", { href: `/entrar/${token}`, "data-link": true, class: "botao primario" }, "Entrar de novo")));
    },
  };
  const memory = rememberedCall(s.consultation_id);
  if (rejoin && memory) await rejoinCall(opts, memory);
  else deviceCheckThenCall(opts);
}
