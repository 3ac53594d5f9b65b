// Shapes of the cases, chat, attachments, SOF and reports API (docs/CASES.md).

export interface Transition {
  action: string;
  from: string | null;
  to: string;
  actor_id: string;
  at: string;
  reason: string | null;
}

export interface CaseSummary {
  id: string;
  status: string;
  status_label: string;
  specialty: string;
  nucleo_id: string;
  ponto_id: string;
  solicitante_id: string;
  regulador_id: string | null;
  specialist_id: string | null;
  identified: boolean;
  received_at: string;
  regulation_due_at: string;
  answer_due_at: string;
  due_at: string | null;
  overdue: boolean;
  due_soon: boolean;
  answered_at: string | null;
  closed_at: string | null;
  my_roles: string[];
}

export interface CaseDetail extends CaseSummary {
  consultation_id: string;
  question: string;
  patient_id: string | null;
  patient_age_years: number | null;
  patient_sex: string | null;
  answer: string | null;
  outcome_reason: string | null;
  satisfaction: number | null;
  referral_avoided: boolean | null;
  transitions: Transition[];
}

export interface CaseMessage {
  id: number;
  client_msg_id: string;
  author: { kind: string; id: string; name: string };
  text: string;
  attachment_id: string | null;
  created_at: string;
}

export interface Attachment {
  id: string;
  case_id: string;
  filename: string;
  content_type: string;
  size_bytes: number;
  sha256: string;
  uploaded_by_id: string;
  created_at: string;
  url: string;
}

export interface SofSummary {
  id: string;
  title: string;
  specialty: string;
  tags: string[];
  ciap2: string[];
  status: string;
  published_at: string | null;
  nucleo_id: string;
}

export interface Sof extends SofSummary {
  question: string;
  answer: string;
  references: string[];
  author_id: string;
}

export interface ProductionRow {
  month: string;
  modality: string;
  mode: string;
  nucleo_id: string;
  ponto_id: string | null;
  ponto_name: string | null;
  ponto_cnes: string | null;
  count: number;
}

export interface ProductionReport {
  nucleo_id: string;
  from: string;
  to: string;
  rows: ProductionRow[];
  sla: {
    received: number;
    answered: number;
    answered_within_deadline: number;
    share_within_deadline: number | null;
    open_overdue: number;
    answer_hours_p50: number | null;
    answer_hours_p90: number | null;
  };
  outcomes: {
    closed_rated: number;
    referrals_avoided: number;
    satisfaction_mean: number | null;
    satisfaction_counts: Record<string, number>;
  };
}

export interface Professional {
  id: string;
  name: string;
  social_name?: string | null;
  role: string;
  council_label?: string | null;
  category?: string | null;
  specialties?: string | null;
  nucleo_id?: string | null;
  active?: boolean;
}
