// pt-BR words for the case screens: statuses, actions, sexes, message sources.

export const CASE_STATUS: Record<string, string> = {
  submitted: "Enviado",
  in_regulation: "Em regulação",
  assigned: "Com o especialista",
  more_info_requested: "Aguardando informações",
  answered: "Respondido",
  closed: "Encerrado",
  returned: "Devolvido",
  refused: "Recusado",
};

export const CASE_ACTIONS: Record<string, string> = {
  submit: "Caso enviado",
  claim: "Regulação assumiu o caso",
  assign: "Atribuído ao especialista",
  request_info: "Informações pedidas",
  provide_info: "Informações enviadas",
  answer: "Respondido pelo especialista",
  follow_up: "Nova dúvida do solicitante",
  close: "Encerrado e avaliado",
  return: "Devolvido ao solicitante",
  refuse: "Recusado",
};

export const SEXES: Record<string, string> = { F: "Feminino", M: "Masculino", I: "Ignorado / não informado" };

export const CASE_ROLES: Record<string, string> = {
  solicitante: "Solicitante",
  regulador: "Regulador(a)",
  teleconsultor: "Especialista",
};

/** Statuses in which nobody acts any more: no chat, no uploads. */
export const FINAL = new Set(["closed", "returned", "refused"]);

export function statusLabel(code: string): string {
  return CASE_STATUS[code] ?? code;
}

export function actionLabel(code: string): string {
  return CASE_ACTIONS[code] ?? code;
}

const shortFmt = new Intl.DateTimeFormat("pt-BR", {
  day: "2-digit",
  month: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  timeZone: "America/Sao_Paulo",
});

/** Deadlines are legal instants shown in Brasília time whatever the device's zone is. */
export function formatDue(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : shortFmt.format(d);
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / (1024 * 1024)).toFixed(1).replace(".", ",")} MB`;
}

export function formatHours(h: number | null | undefined): string {
  if (h === null || h === undefined) return "—";
  return `${h.toFixed(1).replace(".", ",")} h`;
}

export function formatPercent(share: number | null | undefined): string {
  if (share === null || share === undefined) return "—";
  return `${Math.round(share * 100)}%`;
}
