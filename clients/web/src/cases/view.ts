// The case screen (/casos/:id, the address the case e-mails link to): question, patient data,
// answer, the actions the caller's role allows now, the timeline, attachments and the chat.

import { api, listOf, currentUser, ApiError } from "../api";
import { h, showScreen, errorBox, toast, clear, append } from "../dom";
import { onLeave } from "../router";
import { renderNav, requireLogin } from "../nav";
import { setScreen } from "../testmode";
import { CaseChat } from "./chat";
import { professionals, nameOf, specialistsOf } from "./directory";
import { takeFlash } from "./flash";
import { download, uploadFile } from "./http";
import { actionLabel, formatBytes, formatDue, SEXES, FINAL, CASE_ROLES } from "./labels";
import { statusBadge, dueBadge } from "./list";
import { ACCEPT } from "./new_case";
import { openCasesSocket } from "./socket";
import { caseTest } from "./testmode";
import type { Attachment, CaseDetail } from "./types";
import "./cases.css";

type Act = (path: string, body?: unknown) => Promise<void>;

function textForm(opts: { id: string; label: string; button: string; minLength?: number; hint?: string; onSubmit: (text: string) => Promise<void> }): HTMLElement {
  const area = h("textarea", { id: opts.id, rows: "4", maxlength: "8000" });
  const feedback = h("div", { "aria-live": "assertive" });
  const button = h("button", { type: "submit", class: "primario" }, opts.button);
  const form = h("form", { class: "acao-caso", novalidate: true }, h("label", { for: opts.id }, opts.label), opts.hint ? h("p", { class: "dica" }, opts.hint) : null, area, feedback, h("div", { class: "acoes" }, button));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    feedback.replaceChildren();
    if (area.value.trim().length < (opts.minLength ?? 1)) {
      feedback.append(errorBox(`Escreva ao menos ${opts.minLength ?? 1} caracteres.`));
      return;
    }
    button.disabled = true;
    try {
      await opts.onSubmit(area.value.trim());
    } catch (err) {
      feedback.append(errorBox(err instanceof ApiError ? err.fullMessage() : "Não foi possível concluir a ação."));
      button.disabled = false;
    }
  });
  return form;
}

async function triage(c: CaseDetail, act: Act): Promise<HTMLElement> {
  const select = h("select", { id: "especialista" }, h("option", { value: "" }, "Carregando…"));
  const assignFeedback = h("div", { "aria-live": "assertive" });
  const assign = h(
    "form",
    { class: "acao-caso", id: "form-atribuir", novalidate: true },
    h("label", { for: "especialista" }, c.specialist_id ? "Reatribuir a outro especialista" : "Atribuir a um especialista", select),
    assignFeedback,
    h("div", { class: "acoes" }, h("button", { type: "submit", class: "primario", id: "btn-atribuir" }, c.specialist_id ? "Reatribuir" : "Atribuir")),
  );
  assign.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    assignFeedback.replaceChildren();
    if (!select.value) {
      assignFeedback.append(errorBox("Escolha o especialista."));
      return;
    }
    try {
      await act("assign", { specialist_id: select.value });
    } catch (err) {
      assignFeedback.append(errorBox(err instanceof ApiError ? err.fullMessage() : "Não foi possível atribuir."));
    }
  });
  try {
    const people = await specialistsOf(c.nucleo_id);
    select.replaceChildren(
      h("option", { value: "" }, "Selecione"),
      ...people.map((p) => h("option", { value: p.id, selected: p.id === c.specialist_id }, `${p.social_name || p.name}${p.category ? ` (${p.category})` : ""}`)),
    );
  } catch (err) {
    select.replaceChildren(h("option", { value: "" }, "Não foi possível carregar"));
    assignFeedback.append(errorBox(err instanceof ApiError ? err.message : "Falha ao listar especialistas."));
  }

  const reason = h("textarea", { id: "motivo", rows: "3", maxlength: "2000" });
  const reasonFeedback = h("div", { "aria-live": "assertive" });
  const reasonAct = (action: string) => async () => {
    reasonFeedback.replaceChildren();
    if (reason.value.trim().length < 3) {
      reasonFeedback.append(errorBox("Escreva o motivo ou o pedido (ao menos 3 caracteres)."));
      return;
    }
    try {
      await act(action, { reason: reason.value.trim() });
    } catch (err) {
      reasonFeedback.append(errorBox(err instanceof ApiError ? err.fullMessage() : "Não foi possível concluir a ação."));
    }
  };
  const early = c.status === "submitted" || c.status === "in_regulation";
  return h(
    "section",
    { class: "cartao", "aria-labelledby": "t-triagem" },
    h("h2", { id: "t-triagem" }, "Regulação"),
    c.status === "submitted"
      ? h("div", { class: "acoes" }, h("button", { type: "button", class: "secundario", id: "btn-assumir", onclick: () => void act("claim").catch((e: unknown) => toast(e instanceof ApiError ? e.message : "Falha.")) }, "Assumir a regulação"))
      : null,
    assign,
    h(
      "div",
      { class: "acao-caso" },
      h("label", { for: "motivo" }, "Pedido ao solicitante ou motivo"),
      reason,
      reasonFeedback,
      h(
        "div",
        { class: "acoes" },
        h("button", { type: "button", class: "secundario", onclick: reasonAct("request-info") }, "Pedir mais informações"),
        early ? h("button", { type: "button", class: "secundario", onclick: reasonAct("return") }, "Devolver ao solicitante") : null,
        early ? h("button", { type: "button", class: "secundario perigo", onclick: reasonAct("refuse") }, "Recusar o caso") : null,
      ),
    ),
  );
}

function closeForm(act: Act): HTMLElement {
  const stars = h(
    "fieldset",
    { class: "escala", id: "satisfacao" },
    h("legend", {}, "Satisfação com a resposta (1 = muito insatisfeito, 5 = muito satisfeito)"),
    [1, 2, 3, 4, 5].map((n) => h("label", { class: "opcao", for: `nota-${n}` }, h("input", { type: "radio", name: "satisfacao", id: `nota-${n}`, value: String(n) }), String(n))),
  );
  const referral = h(
    "fieldset",
    { class: "escala", id: "encaminhamento" },
    h("legend", {}, "A teleconsultoria evitou um encaminhamento presencial?"),
    h("label", { class: "opcao", for: "evitou-sim" }, h("input", { type: "radio", name: "evitou", id: "evitou-sim", value: "sim" }), "Sim"),
    h("label", { class: "opcao", for: "evitou-nao" }, h("input", { type: "radio", name: "evitou", id: "evitou-nao", value: "nao" }), "Não"),
  );
  const feedback = h("div", { "aria-live": "assertive" });
  const form = h("form", { class: "acao-caso", id: "form-encerrar", novalidate: true }, h("h3", {}, "Encerrar e avaliar"), stars, referral, feedback, h("div", { class: "acoes" }, h("button", { type: "submit", class: "primario", id: "btn-encerrar" }, "Encerrar caso")));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    feedback.replaceChildren();
    const nota = form.querySelector<HTMLInputElement>("input[name=satisfacao]:checked")?.value;
    const evitou = form.querySelector<HTMLInputElement>("input[name=evitou]:checked")?.value;
    if (!nota || !evitou) {
      feedback.append(errorBox("Escolha a nota de satisfação e se o encaminhamento foi evitado."));
      return;
    }
    try {
      await act("close", { satisfaction: Number(nota), referral_avoided: evitou === "sim" });
    } catch (err) {
      feedback.append(errorBox(err instanceof ApiError ? err.fullMessage() : "Não foi possível encerrar."));
    }
  });
  return form;
}

async function actions(c: CaseDetail, act: Act): Promise<HTMLElement[]> {
  const roles = new Set(c.my_roles);
  const out: HTMLElement[] = [];
  if (roles.has("regulador") && ["submitted", "in_regulation", "assigned"].includes(c.status)) out.push(await triage(c, act));
  if (roles.has("teleconsultor")) {
    const parts: (HTMLElement | null)[] = [];
    if (c.status === "assigned") {
      parts.push(
        textForm({ id: "resposta", label: "Sua resposta", button: "Enviar resposta", hint: "Baseada em evidências; o solicitante poderá fazer novas perguntas antes de encerrar.", onSubmit: (text) => act("answer", { text }) }),
        textForm({ id: "pedido-especialista", label: "Pedir mais informações ao solicitante", button: "Pedir informações", minLength: 3, onSubmit: (reason) => act("request-info", { reason }) }),
      );
    }
    if (c.status === "answered" || c.status === "closed") {
      parts.push(h("div", { class: "acoes" }, h("a", { href: `/casos/${c.id}/sof`, "data-link": true, class: "botao primario", id: "btn-sof" }, "Transformar em SOF")));
    }
    if (parts.some(Boolean)) out.push(h("section", { class: "cartao", "aria-labelledby": "t-especialista" }, h("h2", { id: "t-especialista" }, "Especialista"), parts));
  }
  if (roles.has("solicitante")) {
    const parts: HTMLElement[] = [];
    if (c.status === "more_info_requested") {
      parts.push(textForm({ id: "informacoes", label: "Informações complementares", button: "Enviar informações", onSubmit: (text) => act("provide-info", { text }) }));
    }
    if (c.status === "answered") {
      parts.push(
        textForm({ id: "nova-duvida", label: "Ainda tem dúvida? Pergunte de novo ao especialista", button: "Enviar nova dúvida", onSubmit: (text) => act("follow-up", { text }) }),
        closeForm(act),
      );
    }
    if (parts.length) out.push(h("section", { class: "cartao", "aria-labelledby": "t-solicitante" }, h("h2", { id: "t-solicitante" }, "Sua parte"), parts));
  }
  return out;
}

async function patientLine(c: CaseDetail): Promise<string> {
  if (c.patient_id) {
    try {
      const p = await api<{ name: string; social_name?: string | null }>(`/api/patients/${c.patient_id}`);
      return `Paciente: ${p.social_name || p.name}`;
    } catch {
      return "Paciente identificado (cadastro restrito)";
    }
  }
  if (c.patient_age_years !== null || c.patient_sex) {
    const bits = [c.patient_age_years !== null ? `${c.patient_age_years} anos` : null, c.patient_sex ? `sexo ${SEXES[c.patient_sex]?.toLowerCase() ?? c.patient_sex}` : null].filter(Boolean);
    return `Paciente não identificado: ${bits.join(", ")}`;
  }
  return "Sem paciente (dúvida geral)";
}

async function timeline(c: CaseDetail): Promise<HTMLElement> {
  const names = await Promise.all(c.transitions.map((t) => nameOf(t.actor_id)));
  return h(
    "section",
    { class: "cartao", "aria-labelledby": "t-historico" },
    h("h2", { id: "t-historico" }, "Histórico"),
    h(
      "ol",
      { class: "linha-tempo", id: "linha-tempo" },
      c.transitions.map((t, i) =>
        h(
          "li",
          { "data-action": t.action },
          h("time", { datetime: t.at }, formatDue(t.at)),
          " ",
          h("strong", {}, actionLabel(t.action)),
          ` · por ${names[i]}`,
          t.reason ? h("p", { class: "motivo" }, t.reason) : null,
        ),
      ),
    ),
  );
}

export async function caseScreen(params: { id: string }): Promise<void> {
  if (!requireLogin()) return;
  setScreen("caso");
  renderNav();
  const me = currentUser();
  const caseId = params.id;
  caseTest.caseId = caseId;
  const notices = takeFlash();
  const detailBox = h("div", { id: "caso-detalhe", "aria-busy": "true" }, h("p", { class: "dica" }, "Carregando…"));
  const attachList = h("ul", { class: "anexos", id: "lista-anexos", "aria-label": "Anexos do caso" });
  const attachFeedback = h("div", { id: "anexo-retorno", "aria-live": "assertive" });
  const fileInput = h("input", { type: "file", id: "novo-anexo", accept: ACCEPT, "aria-describedby": "novo-anexo-ajuda" });
  const uploadButton = h("button", { type: "submit", class: "secundario", id: "btn-anexar" }, "Enviar anexo");
  const uploadForm = h("form", { class: "acao-caso", id: "form-anexo", novalidate: true }, h("label", { for: "novo-anexo" }, "Adicionar anexo", fileInput), h("p", { class: "dica", id: "novo-anexo-ajuda" }, "PNG, JPEG, WebP ou PDF. O tipo é conferido pelo conteúdo do arquivo."), attachFeedback, h("div", { class: "acoes" }, uploadButton));
  const chatInput = h("textarea", { id: "caso-texto", rows: "2", maxlength: "4000", "aria-label": "Escreva uma mensagem para o caso" });
  const chatForm = h("form", { class: "chat-form", id: "form-chat", novalidate: true }, chatInput, h("button", { type: "submit", class: "primario", "aria-label": "Enviar mensagem" }, "Enviar"));

  showScreen(
    "Caso",
    ...notices.map((n) => errorBox(n)),
    detailBox,
    h(
      "div",
      { class: "caso-colunas" },
      h("section", { class: "cartao", "aria-labelledby": "t-chat" }, h("h2", { id: "t-chat" }, "Conversa do caso"), h("div", { id: "chat-caixa" }), chatForm),
      h("section", { class: "cartao", "aria-labelledby": "t-anexos" }, h("h2", { id: "t-anexos" }, "Anexos"), attachList, uploadForm),
    ),
  );

  let attachments: Attachment[] = [];
  const fetchAttachment = (id: string): void => {
    const a = attachments.find((x) => x.id === id);
    download(`/api/attachments/${id}`, a?.filename ?? "anexo").catch((err: unknown) => toast(err instanceof ApiError ? err.message : "Falha no download."));
  };
  const renderAttachments = (): void => {
    attachList.replaceChildren(
      ...(attachments.length
        ? attachments.map((a) =>
            h(
              "li",
              { "data-attachment-id": a.id },
              h("button", { type: "button", class: "link", onclick: () => fetchAttachment(a.id), "aria-label": `Baixar ${a.filename}` }, a.filename),
              h("span", { class: "dica" }, ` · ${formatBytes(a.size_bytes)} · ${formatDue(a.created_at)}`),
            ),
          )
        : [h("li", { class: "dica" }, "Nenhum anexo.")]),
    );
  };
  let loadingAttachments: Promise<void> | null = null;
  const loadAttachments = (): Promise<void> =>
    (loadingAttachments ??= api<unknown>(`/api/cases/${caseId}/attachments`)
      .then((body) => {
        attachments = listOf<Attachment>(body);
        renderAttachments();
        chat?.refresh();
      })
      .catch((err: unknown) => attachList.replaceChildren(h("li", {}, errorBox(err instanceof ApiError ? err.message : "Falha ao listar anexos."))))
      .finally(() => (loadingAttachments = null)));

  let chat: CaseChat | null = null;
  const render = async (c: CaseDetail): Promise<void> => {
    caseTest.status = c.status;
    const [patient, acts, hist] = await Promise.all([patientLine(c), actions(c, act), timeline(c)]);
    const roles = c.my_roles.map((r) => CASE_ROLES[r] ?? r).join(", ");
    clear(detailBox);
    append(
      detailBox,
      h(
        "div",
        { class: "cabecalho" },
        h("h1", {}, `Teleconsultoria: ${c.specialty}`),
        h("div", { class: "consulta-info" }, statusBadge(c.status), dueBadge(c)),
      ),
      h(
        "section",
        { class: "cartao", "aria-labelledby": "t-pergunta" },
        h("h2", { id: "t-pergunta" }, "Pergunta"),
        h("p", { class: "texto-caso", id: "caso-pergunta" }, c.question),
        h("p", { class: "paciente", id: "caso-paciente" }, patient),
        h("p", { class: "dica" }, `Recebido ${formatDue(c.received_at)} · prazo da regulação ${formatDue(c.regulation_due_at)} · prazo da resposta ${formatDue(c.answer_due_at)} (horário de Brasília)`),
        roles ? h("p", { class: "dica" }, `Seu papel: ${roles}`) : null,
      ),
      c.answer ? h("section", { class: "cartao resposta", "aria-labelledby": "t-resposta" }, h("h2", { id: "t-resposta" }, "Resposta do especialista"), h("p", { class: "texto-caso", id: "caso-resposta" }, c.answer)) : null,
      c.status === "closed" && c.satisfaction
        ? h("p", { class: "dica", id: "caso-avaliacao" }, `Avaliação: satisfação ${c.satisfaction}/5 · encaminhamento presencial evitado: ${c.referral_avoided ? "sim" : "não"}`)
        : null,
      c.outcome_reason && (c.status === "returned" || c.status === "refused") ? h("p", { class: "erro" }, `Motivo: ${c.outcome_reason}`) : null,
      ...acts,
      hist,
    );
    detailBox.removeAttribute("aria-busy");
    const final = FINAL.has(c.status);
    chat?.setClosed(final);
    chatForm.hidden = final;
    uploadForm.hidden = final;
  };
  const load = async (): Promise<void> => {
    try {
      await render(await api<CaseDetail>(`/api/cases/${caseId}`));
    } catch (err) {
      detailBox.replaceChildren(errorBox(err instanceof ApiError ? err.message : "Não foi possível abrir o caso."));
      detailBox.removeAttribute("aria-busy");
    }
  };
  const act: Act = async (action, body) => {
    const updated = await api<CaseDetail>(`/api/cases/${caseId}/${action}`, { method: "POST", body: body ?? {} });
    toast("Caso atualizado.");
    await render(updated);
  };

  const socket = openCasesSocket((ev) => {
    if (ev.case_id === caseId) void load();
  });
  // Not every transition notifies every participant (assignment tells only the specialist):
  // a slow refresh keeps the status honest on a screen left open.
  const refresher = window.setInterval(() => document.visibilityState === "visible" && void load(), 60_000);
  onLeave(() => {
    window.clearInterval(refresher);
    chat?.dispose();
    socket.disconnect();
    caseTest.offline = caseTest.online = undefined;
  });
  caseTest.offline = () => socket.disconnect();
  caseTest.online = () => socket.connect();
  const caseChat = new CaseChat(socket, caseId, {
    myId: me?.id ?? "",
    attachmentName: (id) => attachments.find((a) => a.id === id)?.filename ?? null,
    onAttachmentClick: fetchAttachment,
    onUnknownAttachment: () => void loadAttachments(),
  });
  chat = caseChat;
  document.getElementById("chat-caixa")?.replaceWith(caseChat.list, caseChat.status);

  chatForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (chat?.send(chatInput.value)) chatInput.value = "";
    chatInput.focus();
  });
  chatInput.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey) {
      ev.preventDefault();
      chatForm.requestSubmit();
    }
  });
  uploadForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    attachFeedback.replaceChildren();
    const file = fileInput.files?.[0];
    if (!file) {
      attachFeedback.append(errorBox("Escolha um arquivo."));
      return;
    }
    uploadButton.disabled = true;
    try {
      const a = await uploadFile<Attachment>(`/api/cases/${caseId}/attachments`, file);
      attachments.push(a);
      renderAttachments();
      fileInput.value = "";
      toast(`Anexo "${a.filename}" enviado.`);
      // Tell the others in the conversation, in real time, with the file attached.
      chat?.send("", a.id);
    } catch (err) {
      attachFeedback.append(errorBox(err instanceof ApiError ? err.message : "Não foi possível enviar o anexo."));
    } finally {
      uploadButton.disabled = false;
    }
  });

  void professionals().catch(() => undefined);
  await Promise.all([load(), loadAttachments()]);
}
