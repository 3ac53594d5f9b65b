// The TCLE (consent term) screen: text from the server, accept or refuse (art. 449 IV).

import { api, ApiError } from "../api";
import { h, showScreen, errorBox } from "../dom";
import { setScreen } from "../testmode";

interface Term {
  modality: string;
  version: number;
  title: string;
  text: string;
  sha256: string;
}

export async function consentScreen(opts: {
  consultationId: string;
  modality: string;
  token: string;
  onAccepted: () => void;
  /** The patient prefers to answer the professional aloud (or through a legal representative):
   * they wait in the waiting room until the professional records it. */
  onVerbal?: () => void;
}): Promise<void> {
  setScreen("consentimento");
  let term: Term;
  try {
    term = await api<Term>(`/api/consent-terms/${encodeURIComponent(opts.modality)}`, { auth: false });
  } catch (err) {
    showScreen("Consentimento", h("h1", {}, "Termo de consentimento"), errorBox(err instanceof ApiError ? err.message : "Não foi possível carregar o termo de consentimento."));
    return;
  }
  const feedback = h("div", { "aria-live": "assertive" });
  const decide = async (decision: "accepted" | "refused", button: HTMLButtonElement): Promise<void> => {
    feedback.replaceChildren();
    button.disabled = true;
    try {
      await api(`/api/consultations/${opts.consultationId}/consent`, {
        token: opts.token,
        body: { decision, channel: "browser", term_version: term.version, term_sha256: term.sha256 },
      });
    } catch (err) {
      feedback.append(errorBox(err instanceof ApiError ? err.fullMessage() : "Não foi possível registrar sua decisão. Tente novamente."));
      button.disabled = false;
      return;
    }
    if (decision === "accepted") opts.onAccepted();
    else refusedScreen();
  };
  const accept = h("button", { type: "button", class: "primario", id: "btn-aceitar" }, "Li e aceito");
  const refuse = h("button", { type: "button", class: "secundario", id: "btn-recusar" }, "Não aceito");
  accept.addEventListener("click", () => void decide("accepted", accept));
  refuse.addEventListener("click", () => void decide("refused", refuse));
  const verbal = opts.onVerbal
    ? h("button", { type: "button", class: "link", id: "btn-consentimento-verbal", onclick: opts.onVerbal }, "Prefiro responder ao profissional (ou meu representante legal responde)")
    : null;
  showScreen(
    "Consentimento",
    h(
      "section",
      { class: "cartao", "aria-labelledby": "t-termo" },
      h("h1", { id: "t-termo" }, term.title || "Termo de consentimento livre e esclarecido"),
      h("div", { class: "termo", id: "texto-termo", tabindex: "0", role: "document", "aria-label": "Texto do termo" }, term.text.split(/\n{2,}/).map((para) => h("p", {}, para))),
      h("p", { class: "dica" }, `Versão ${term.version}. Você pode recusar: nesse caso, será atendido(a) presencialmente na sua unidade de saúde.`),
      feedback,
      h("div", { class: "acoes" }, accept, refuse),
      verbal ? h("p", { class: "dica" }, verbal) : null,
    ),
  );
}

export function refusedScreen(): void {
  setScreen("consentimento-recusado");
  showScreen(
    "Atendimento presencial",
    h(
      "section",
      { class: "cartao", id: "recusa" },
      h("h1", {}, "Tudo bem: você não será atendido(a) por vídeo"),
      h("p", {}, "Sua recusa foi registrada. Você tem direito ao atendimento presencial na sua unidade de saúde."),
      h("p", {}, "Procure a sua Unidade Básica de Saúde (UBS) ou ligue para ela para marcar o atendimento presencial. Nenhuma imagem ou som seu foi transmitido."),
    ),
  );
}
