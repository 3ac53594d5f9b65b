// pt-BR names for the server's stable codes. Every word a person reads comes from here or a screen.

export const MODALITIES: Record<string, string> = {
  teleconsulta: "Teleconsulta",
  teleinterconsulta: "Teleinterconsulta",
  teleconsultoria: "Teleconsultoria",
  teletriagem: "Teletriagem",
  telediagnostico: "Telediagnóstico",
  telemonitoramento: "Telemonitoramento",
  teleducacao: "Teleducação",
  telerregulacao: "Telerregulação",
  teleorientacao: "Teleorientação",
};

/** Modalities that meet in video (art. 448): the ones the create form offers. */
export const VIDEO_MODALITIES = ["teleconsulta", "teleinterconsulta", "teleconsultoria"];

export const ROLES: Record<string, string> = {
  solicitante: "Solicitante",
  teleconsultor: "Teleconsultor(a)",
  regulador: "Regulador(a)",
  paciente: "Paciente",
  convidado: "Convidado(a)",
  interprete: "Intérprete",
};

export const STATUS: Record<string, string> = {
  scheduled: "Agendada",
  in_progress: "Em andamento",
  ended: "Encerrada",
  cancelled: "Cancelada",
};

export const HOLD_REASONS: Record<string, string> = {
  waiting_for_professional: "Aguardando o profissional entrar na sala.",
  consent_required: "Aguardando o registro do consentimento (TCLE).",
};

export const MEDIA_ERRORS: Record<string, string> = {
  NotAllowedError:
    "Você não permitiu o uso da câmera ou do microfone. Libere o acesso no cadeado ao lado do endereço do site e tente de novo, ou entre só com áudio.",
  NotFoundError:
    "Nenhuma câmera ou microfone foi encontrado neste aparelho. Conecte um dispositivo ou entre só com áudio.",
  NotReadableError:
    "A câmera ou o microfone está sendo usado por outro aplicativo. Feche o outro aplicativo e tente de novo.",
  OverconstrainedError: "O dispositivo escolhido não está disponível. Escolha outro.",
  SecurityError: "O navegador bloqueou o acesso à câmera e ao microfone neste site.",
};

export function mediaErrorMessage(err: unknown): string {
  const name = err instanceof DOMException || err instanceof Error ? err.name : "";
  return MEDIA_ERRORS[name] ?? "Não foi possível acessar a câmera ou o microfone.";
}

export function modalityLabel(code: string): string {
  return MODALITIES[code] ?? code;
}

export function roleLabel(code: string): string {
  return ROLES[code] ?? code;
}

const dateFmt = new Intl.DateTimeFormat("pt-BR", {
  weekday: "short",
  day: "2-digit",
  month: "2-digit",
  year: "numeric",
  hour: "2-digit",
  minute: "2-digit",
});
const timeFmt = new Intl.DateTimeFormat("pt-BR", { hour: "2-digit", minute: "2-digit" });

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dateFmt.format(d);
}

export function formatTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : timeFmt.format(d);
}
