// One consultation for the professional: who takes part, the patient's invite link, join.

import { api, ApiError } from "../api";
import { h, showScreen, errorBox, toast } from "../dom";
import { formatDateTime, roleLabel, STATUS, modalityLabel } from "../labels";
import { renderNav, requireLogin } from "../nav";
import { setScreen } from "../testmode";
import { modalityBadge, patientName, type ConsultationSummary } from "./agenda";
import { afterSessionLinks } from "../records/rati";
import { consentCard } from "../records/consent_card";

export interface ConsultationDetail extends ConsultationSummary {
  my_participant_id?: string | null;
  expected_duration_min?: number | null;
  participants?: { id?: string; participant_id?: string; display_name?: string; name?: string; role: string; council_label?: string | null }[];
}

interface InviteOut {
  id: string;
  token: string;
  url?: string;
  expires_at?: string;
}

export function inviteLink(invite: InviteOut): string {
  // The client owns the landing route; the server's url is used only if it already points there.
  if (invite.url && invite.url.includes(`/entrar/${invite.token}`)) return new URL(invite.url, location.origin).toString();
  return `${location.origin}/entrar/${invite.token}`;
}

interface Contact {
  phone?: string | null;
  email?: string | null;
}

function whatsappNumber(phone: string | null | undefined): string {
  const d = (phone ?? "").replace(/\D/g, "");
  if (!d) return "";
  return d.startsWith("55") && d.length >= 12 ? d : `55${d}`;
}

function shareBlock(c: ConsultationDetail, invite: InviteOut, role: string, contact: Contact = {}): HTMLElement {
  const link = inviteLink(invite);
  const when = formatDateTime(c.scheduled_for);
  const message = `Olá! Sua ${modalityLabel(c.modality).toLowerCase()} pelo SUS está marcada para ${when}. No horário, abra este link no celular ou computador (não precisa instalar nada): ${link}`;
  const field = h("input", { id: `link-${role}`, class: "link-convite", readonly: true, value: link, "aria-label": `Link do convite (${roleLabel(role)})` });
  return h(
    "div",
    { class: "convite", "data-role": role },
    h("label", { for: `link-${role}` }, `Link para ${roleLabel(role).toLowerCase()}`),
    field,
    h(
      "div",
      { class: "acoes" },
      h(
        "button",
        {
          type: "button",
          class: "primario",
          id: `copiar-${role}`,
          onclick: async () => {
            try {
              await navigator.clipboard.writeText(link);
            } catch {
              field.select();
              document.execCommand("copy");
            }
            toast("Link copiado.");
          },
        },
        "Copiar link",
      ),
      h("a", { class: "botao secundario", href: `https://wa.me/${whatsappNumber(contact.phone)}?text=${encodeURIComponent(message)}`, target: "_blank", rel: "noopener" }, "Enviar por WhatsApp"),
      h("a", { class: "botao secundario", href: `mailto:${encodeURIComponent(contact.email ?? "")}?subject=${encodeURIComponent("Sua consulta por vídeo – Telessaúde SUS")}&body=${encodeURIComponent(message)}` }, "Enviar por e-mail"),
    ),
    invite.expires_at ? h("p", { class: "dica" }, `Válido até ${formatDateTime(invite.expires_at)}.`) : null,
  );
}

export async function consultationScreen(params: Record<string, string>): Promise<void> {
  if (!requireLogin()) return;
  setScreen("consulta");
  renderNav();
  const id = params.id;
  let c: ConsultationDetail;
  try {
    c = await api<ConsultationDetail>(`/api/consultations/${id}`);
  } catch (err) {
    showScreen("Consulta", h("h1", {}, "Consulta"), errorBox(err instanceof ApiError ? err.message : "Não foi possível abrir a consulta."));
    return;
  }
  const invites = h("section", { class: "cartao", "aria-labelledby": "t-convites" }, h("h2", { id: "t-convites" }, "Convites"));
  const feedback = h("div", { "aria-live": "assertive" });
  const open = c.status === "scheduled" || c.status === "in_progress";
  // The patient's phone and e-mail prefill the share links (a read the server audits).
  let contact: Contact = {};
  const patientId = c.patient?.id;
  if (patientId) contact = await api<Contact>(`/api/patients/${patientId}`).catch(() => ({}));
  const guestName = h("input", { id: "nome-convidado", maxlength: "200", autocomplete: "off", placeholder: "Ex.: Maria (filha do paciente)" });
  const issue = async (role: string): Promise<void> => {
    feedback.replaceChildren();
    const body: Record<string, string> = { role };
    if (role !== "paciente") {
      if (guestName.value.trim().length < 2) {
        feedback.append(errorBox("Informe o nome do convidado ou do intérprete."));
        guestName.focus();
        return;
      }
      body.display_name = guestName.value.trim();
    }
    try {
      const invite = await api<InviteOut>(`/api/consultations/${id}/invites`, { body });
      invites.querySelector(`.convite[data-role="${role}"]`)?.remove();
      invites.append(shareBlock(c, invite, role, role === "paciente" ? contact : {}));
      (invites.querySelector(`#copiar-${role}`) as HTMLElement | null)?.focus();
    } catch (err) {
      feedback.append(errorBox(err instanceof ApiError ? err.fullMessage() : "Não foi possível gerar o convite."));
    }
  };
  const hasPatient = !!patientName(c) || (c.participants ?? []).some((p) => p.role === "paciente");
  invites.append(
    h("p", { class: "dica" }, "Gere o link e envie ao paciente. Ele entra pelo celular ou computador, sem cadastro."),
    h(
      "div",
      { class: "acoes" },
      hasPatient ? h("button", { type: "button", class: "primario", id: "btn-convite-paciente", disabled: !open, onclick: () => void issue("paciente") }, "Gerar link do paciente") : null,
    ),
    h("label", { for: "nome-convidado" }, "Nome do convidado ou intérprete", guestName),
    h(
      "div",
      { class: "acoes" },
      h("button", { type: "button", class: "secundario", id: "btn-convite-convidado", disabled: !open, onclick: () => void issue("convidado") }, "Gerar link de convidado"),
      h("button", { type: "button", class: "secundario", id: "btn-convite-interprete", disabled: !open, onclick: () => void issue("interprete") }, "Gerar link de intérprete"),
    ),
    feedback,
  );

  showScreen(
    "Consulta",
    h(
      "div",
      { class: "cabecalho" },
      h("h1", {}, c.title || modalityLabel(c.modality)),
      open ? h("a", { href: `/consultas/${id}/sala`, "data-link": true, class: "botao primario", id: "btn-entrar-sala" }, c.status === "in_progress" ? "Voltar à sala" : "Entrar na sala") : null,
    ),
    h(
      "section",
      { class: "cartao" },
      h("p", {}, modalityBadge(c.modality), " ", h("span", { class: `estado estado-${c.status}` }, STATUS[c.status] ?? c.status)),
      h("p", {}, h("strong", {}, "Quando: "), formatDateTime(c.scheduled_for), c.expected_duration_min ? ` · ${c.expected_duration_min} min` : ""),
      patientName(c) ? h("p", {}, h("strong", {}, "Paciente: "), patientName(c)) : null,
      h("h2", {}, "Participantes"),
      h(
        "ul",
        { id: "participantes-consulta" },
        (c.participants ?? []).map((p) => h("li", {}, `${p.display_name ?? p.name ?? "—"} · ${roleLabel(p.role)}${p.council_label ? ` · ${p.council_label}` : ""}`)),
      ),
      c.status === "ended" ? h("a", { href: `/consultas/${id}/registro`, "data-link": true, class: "botao secundario" }, "Escrever a nota clínica") : null,
    ),
    c.status === "in_progress" || c.status === "ended" ? afterSessionLinks(c) : c.patient?.id ? h("p", {}, h("a", { href: `/pacientes/${c.patient.id}/prontuario`, "data-link": true, class: "botao secundario", id: "link-prontuario" }, "Abrir o prontuário do paciente")) : null,
    open && c.patient?.id ? consentCard(c) : null,
    open ? invites : null,
  );
}
