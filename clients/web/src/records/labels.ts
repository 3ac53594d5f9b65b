// pt-BR words of the prontuário screens: entry kinds, consent channels, chain check reasons.

export const ENTRY_KINDS: Record<string, string> = {
  consent: "Consentimento (TCLE)",
  session_summary: "Registro da sessão",
  clinical_note: "Nota clínica",
  recommendation: "RATI",
  document: "Documento assinado",
  correction: "Correção",
  chat_transcript: "Registro do chat",
};

export const CONSENT_CHANNELS: Record<string, string> = {
  browser: "aceito pelo(a) paciente no navegador",
  verbal_transcribed: "verbal, transcrito pelo profissional",
  legal_representative: "pelo representante legal",
};

export const CONSENT_DECISIONS: Record<string, string> = {
  accepted: "Aceito",
  refused: "Recusado",
  revoked: "Revogado",
};

export const DOCUMENT_KINDS: Record<string, string> = {
  atestado: "Atestado",
  receita: "Receita",
};

export const BROKEN_REASONS: Record<string, string> = {
  hash_mismatch: "o conteúdo do registro foi alterado depois de gravado",
  prev_hash_mismatch: "o encadeamento com o registro anterior não confere",
  seq_gap: "falta um registro na sequência (foi removido)",
};

export function label(table: Record<string, string>, code: string | null | undefined): string {
  if (!code) return "—";
  return table[code] ?? code;
}

/** "1 h 05 min", "12 min", "45 s": durations of sessions as people say them. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "—";
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (h) return `${h} h ${String(m).padStart(2, "0")} min`;
  if (m) return `${m} min ${String(s % 60).padStart(2, "0")} s`;
  return `${s} s`;
}
