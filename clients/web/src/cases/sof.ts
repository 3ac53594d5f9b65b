// Segunda Opinião Formativa: the specialist drafts one from an answered case and publishes it;
// every professional searches the published library by text, tag or CIAP-2 code and reads it.

import { api, listOf, ApiError } from "../api";
import { h, showScreen, errorBox, toast } from "../dom";
import { navigate } from "../router";
import { renderNav, requireLogin } from "../nav";
import { setScreen } from "../testmode";
import { formatDue } from "./labels";
import type { CaseDetail, Sof, SofSummary } from "./types";
import "./cases.css";

function splitList(value: string, sep: RegExp): string[] {
  return value
    .split(sep)
    .map((s) => s.trim())
    .filter(Boolean);
}

function tagList(sof: SofSummary): HTMLElement {
  return h(
    "p",
    { class: "etiquetas" },
    sof.specialty ? h("span", { class: "selo" }, sof.specialty) : null,
    sof.tags.map((t) => h("span", { class: "selo selo-etiqueta" }, t)),
    sof.ciap2.map((c) => h("span", { class: "selo selo-ciap" }, `CIAP-2 ${c}`)),
  );
}

export async function sofCreateScreen(params: { id: string }): Promise<void> {
  if (!requireLogin()) return;
  setScreen("sof-nova");
  renderNav();
  const feedback = h("div", { "aria-live": "assertive" });
  showScreen("Nova SOF", h("p", { class: "dica" }, "Carregando…"));
  let c: CaseDetail;
  try {
    c = await api<CaseDetail>(`/api/cases/${params.id}`);
  } catch (err) {
    showScreen("Nova SOF", errorBox(err instanceof ApiError ? err.message : "Não foi possível abrir o caso."));
    return;
  }
  const title = h("input", { id: "sof-titulo", maxlength: "200", required: true });
  const question = h("textarea", { id: "sof-pergunta", rows: "5", required: true });
  question.value = c.question;
  const answer = h("textarea", { id: "sof-resposta", rows: "8", required: true });
  answer.value = c.answer ?? "";
  const references = h("textarea", { id: "sof-referencias", rows: "4", required: true, "aria-describedby": "sof-ref-ajuda" });
  const tags = h("input", { id: "sof-etiquetas", placeholder: "hipertensão, idoso", "aria-describedby": "sof-etq-ajuda" });
  const ciap = h("input", { id: "sof-ciap", placeholder: "K86, K87", "aria-describedby": "sof-etq-ajuda" });
  const submit = h("button", { type: "submit", class: "primario", id: "btn-criar-sof" }, "Salvar rascunho");
  const form = h(
    "form",
    { class: "cartao", id: "form-sof", novalidate: true },
    h("h1", {}, "Transformar em Segunda Opinião Formativa"),
    h("p", { class: "dica" }, "A SOF é pública para todos os profissionais: retire qualquer dado que identifique o paciente. O servidor também remove CPF, CNS, telefones e e-mails."),
    h("label", { for: "sof-titulo" }, "Título", title),
    h("label", { for: "sof-pergunta" }, "Pergunta (sem identificar o paciente)", question),
    h("label", { for: "sof-resposta" }, "Resposta baseada em evidências", answer),
    h("label", { for: "sof-referencias" }, "Referências", references),
    h("p", { class: "dica", id: "sof-ref-ajuda" }, "Uma referência por linha (ao menos uma)."),
    h("div", { class: "campos" }, h("label", { for: "sof-etiquetas" }, "Palavras-chave", tags), h("label", { for: "sof-ciap" }, "Códigos CIAP-2", ciap)),
    h("p", { class: "dica", id: "sof-etq-ajuda" }, "Separe por vírgulas."),
    feedback,
    h("div", { class: "acoes" }, submit, h("a", { href: `/casos/${c.id}`, "data-link": true, class: "botao secundario" }, "Voltar ao caso")),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    feedback.replaceChildren();
    submit.disabled = true;
    try {
      const sof = await api<Sof>(`/api/cases/${c.id}/sof`, {
        body: {
          title: title.value.trim(),
          question: question.value.trim(),
          answer: answer.value.trim(),
          references: splitList(references.value, /\n/),
          tags: splitList(tags.value, /,/),
          ciap2: splitList(ciap.value, /[,\s]+/).map((x) => x.toUpperCase()),
        },
      });
      toast("Rascunho da SOF salvo.");
      navigate(`/sof/${sof.id}`);
    } catch (err) {
      feedback.append(errorBox(err instanceof ApiError ? err.fullMessage() : "Não foi possível salvar a SOF."));
      submit.disabled = false;
    }
  });
  showScreen("Nova SOF", form);
}

export async function sofReadScreen(params: { id: string }): Promise<void> {
  if (!requireLogin()) return;
  setScreen("sof");
  renderNav();
  showScreen("SOF", h("p", { class: "dica" }, "Carregando…"));
  let sof: Sof;
  try {
    sof = await api<Sof>(`/api/sof/${params.id}`);
  } catch (err) {
    showScreen("SOF", errorBox(err instanceof ApiError ? err.message : "SOF não encontrada."), h("a", { href: "/sof", "data-link": true }, "Voltar à biblioteca"));
    return;
  }
  const feedback = h("div", { "aria-live": "assertive" });
  const draft = sof.status !== "published";
  const publish = h("button", { type: "button", class: "primario", id: "btn-publicar" }, "Publicar na biblioteca");
  publish.addEventListener("click", async () => {
    publish.disabled = true;
    try {
      await api<Sof>(`/api/sof/${sof.id}/publish`, { method: "POST" });
      toast("SOF publicada.");
      await sofReadScreen(params);
    } catch (err) {
      feedback.append(errorBox(err instanceof ApiError ? err.message : "Não foi possível publicar."));
      publish.disabled = false;
    }
  });
  showScreen(
    sof.title,
    h(
      "article",
      { class: "cartao sof", "data-sof-id": sof.id, "data-status": sof.status },
      h("p", { class: "dica" }, draft ? h("strong", {}, "Rascunho: visível só para você até ser publicado.") : `Segunda Opinião Formativa · publicada em ${formatDue(sof.published_at)}`),
      h("h1", {}, sof.title),
      tagList(sof),
      h("h2", {}, "Pergunta"),
      h("p", { class: "texto-caso" }, sof.question),
      h("h2", {}, "Resposta"),
      h("p", { class: "texto-caso" }, sof.answer),
      h("h2", {}, "Referências"),
      h("ol", { class: "referencias" }, sof.references.map((r) => h("li", {}, r))),
      feedback,
      h("div", { class: "acoes" }, draft ? publish : null, h("a", { href: "/sof", "data-link": true, class: "botao secundario" }, "Biblioteca de SOF")),
    ),
  );
}

export async function sofLibraryScreen(_p: unknown, query: URLSearchParams): Promise<void> {
  if (!requireLogin()) return;
  setScreen("sof-biblioteca");
  renderNav();
  const q = h("input", { id: "sof-busca", type: "search", maxlength: "100", value: query.get("q") ?? "" });
  const tag = h("input", { id: "sof-tag", maxlength: "40", value: query.get("tag") ?? "" });
  const ciap = h("input", { id: "sof-busca-ciap", maxlength: "5", value: query.get("ciap2") ?? "", placeholder: "Ex.: K86" });
  const results = h("ul", { class: "lista-consultas", id: "sof-resultados", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "cartao", id: "form-busca-sof", role: "search" },
    h("div", { class: "campos" }, h("label", { for: "sof-busca" }, "Buscar no texto", q), h("label", { for: "sof-tag" }, "Palavra-chave", tag), h("label", { for: "sof-busca-ciap" }, "Código CIAP-2", ciap)),
    h("div", { class: "acoes" }, h("button", { type: "submit", class: "primario" }, "Buscar")),
  );
  const search = async (): Promise<void> => {
    const params = new URLSearchParams();
    if (q.value.trim()) params.set("q", q.value.trim());
    if (tag.value.trim()) params.set("tag", tag.value.trim().toLowerCase());
    if (ciap.value.trim()) params.set("ciap2", ciap.value.trim().toUpperCase());
    history.replaceState(null, "", `/sof${params.size ? `?${params}` : ""}`);
    results.setAttribute("aria-busy", "true");
    try {
      const items = listOf<SofSummary>(await api<unknown>(`/api/sof?${params}`));
      results.replaceChildren(
        ...(items.length
          ? items.map((s) =>
              h(
                "li",
                { class: "consulta", "data-sof-id": s.id },
                h("div", { class: "consulta-info" }, h("a", { href: `/sof/${s.id}`, "data-link": true, class: "consulta-titulo" }, s.title), tagList(s), h("span", { class: "quando" }, formatDue(s.published_at))),
              ),
            )
          : [h("li", { class: "dica" }, "Nenhuma SOF encontrada.")]),
      );
    } catch (err) {
      results.replaceChildren(errorBox(err instanceof ApiError ? err.fullMessage() : "Falha na busca."));
    } finally {
      results.removeAttribute("aria-busy");
    }
  };
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void search();
  });
  showScreen(
    "Biblioteca de SOF",
    h("h1", {}, "Biblioteca de Segundas Opiniões Formativas"),
    h("p", { class: "dica" }, "Perguntas reais da atenção primária respondidas por especialistas, sem dados de pacientes."),
    form,
    h("section", { class: "cartao", "aria-label": "Resultados" }, results),
  );
  await search();
}
