// Gestor reports: production by month × modality (inline SVG bars, with the same figures as a
// table for screen readers), answer time p50/p90, share within deadline, referrals avoided,
// satisfaction; the annual activity report (art. 454-A) as PDF and CSV.

import { api, currentUser, ApiError } from "../api";
import { h, showScreen, errorBox, toast, mainEl } from "../dom";
import { modalityLabel } from "../labels";
import { renderNav, requireLogin } from "../nav";
import { setScreen } from "../testmode";
import { download } from "./http";
import { formatHours, formatPercent } from "./labels";
import type { ProductionReport } from "./types";
import "./cases.css";

const SVG = "http://www.w3.org/2000/svg";
const COLOURS = ["#0b5394", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#7a4b00", "#4c1d95", "#14532d"];
const MONTHS = ["jan", "fev", "mar", "abr", "mai", "jun", "jul", "ago", "set", "out", "nov", "dez"];

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

function monthLabel(month: string): string {
  const [y, m] = month.split("-");
  return `${MONTHS[Number(m) - 1] ?? m}/${y.slice(2)}`;
}

/** month → modality → count, summing modes and Pontos. */
export function byMonthAndModality(report: ProductionReport): { months: string[]; modalities: string[]; counts: Map<string, Map<string, number>> } {
  const counts = new Map<string, Map<string, number>>();
  const modalities = new Set<string>();
  for (const r of report.rows) {
    modalities.add(r.modality);
    const row = counts.get(r.month) ?? new Map<string, number>();
    row.set(r.modality, (row.get(r.modality) ?? 0) + r.count);
    counts.set(r.month, row);
  }
  // Every month of the period gets a slot: a month without activity is a fact worth seeing.
  const months = new Set<string>(monthsBetween(report.from, report.to));
  for (const m of counts.keys()) months.add(m);
  return { months: [...months].sort(), modalities: [...modalities].sort(), counts };
}

function monthsBetween(from: string, to: string): string[] {
  const out: string[] = [];
  let [y, m] = from.split("-").map(Number);
  const [ty, tm] = to.split("-").map(Number);
  while ((y < ty || (y === ty && m <= tm)) && out.length < 48) {
    out.push(`${y}-${String(m).padStart(2, "0")}`);
    m += 1;
    if (m > 12) {
      m = 1;
      y += 1;
    }
  }
  return out;
}

function chart(report: ProductionReport): HTMLElement {
  const { months, modalities, counts } = byMonthAndModality(report);
  if (!report.rows.length) return h("p", { class: "dica" }, "Nenhuma atividade no período.");
  const totals = months.map((m) => [...(counts.get(m)?.values() ?? [])].reduce((a, b) => a + b, 0));
  const max = Math.max(1, ...totals);
  const barW = 36;
  const gap = 18;
  const height = 200;
  const left = 36;
  const width = left + months.length * (barW + gap) + gap;
  const top = 20; // room for the total above the tallest bar
  const root = svg("svg", { viewBox: `0 0 ${width} ${height + top + 30}`, width: "100%", role: "img", "aria-labelledby": "grafico-titulo", class: "grafico", id: "grafico-producao" });
  root.append(svg("title", { id: "grafico-titulo" }, "Atendimentos por mês e modalidade"));
  // Whole-number gridlines only: half a consultation is not a thing.
  for (const tick of new Set([0, Math.ceil(max / 2), max])) {
    const y = height - (tick / max) * height + top;
    root.append(svg("line", { x1: left, x2: width, y1: y, y2: y, stroke: "#c9d1db" }), svg("text", { x: left - 6, y: y + 4, "text-anchor": "end", "font-size": 11, fill: "#5b6470" }, String(tick)));
  }
  months.forEach((month, i) => {
    const x = left + gap + i * (barW + gap);
    let y = height + top;
    modalities.forEach((mod, j) => {
      const n = counts.get(month)?.get(mod) ?? 0;
      if (!n) return;
      const hgt = (n / max) * height;
      y -= hgt;
      const rect = svg("rect", { x, y, width: barW, height: hgt, fill: COLOURS[j % COLOURS.length], "data-month": month, "data-modality": mod, "data-count": n });
      rect.append(svg("title", {}, `${monthLabel(month)} · ${modalityLabel(mod)}: ${n}`));
      root.append(rect);
    });
    root.append(svg("text", { x: x + barW / 2, y: height + top + 18, "text-anchor": "middle", "font-size": 11, fill: "#1b1f24" }, monthLabel(month)));
    if (totals[i]) root.append(svg("text", { x: x + barW / 2, y: y - 4, "text-anchor": "middle", "font-size": 11, fill: "#1b1f24" }, String(totals[i])));
  });
  const legend = h("ul", { class: "legenda-grafico" }, modalities.map((m, j) => h("li", {}, h("span", { class: "cor", style: `background:${COLOURS[j % COLOURS.length]}` }), modalityLabel(m))));
  const table = h(
    "table",
    { class: "tabela", id: "tabela-producao" },
    h("caption", {}, "Atendimentos por mês e modalidade"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Mês"), modalities.map((m) => h("th", { scope: "col" }, modalityLabel(m))), h("th", { scope: "col" }, "Total"))),
    h(
      "tbody",
      {},
      months.map((m, i) => h("tr", {}, h("th", { scope: "row" }, monthLabel(m)), modalities.map((mod) => h("td", {}, String(counts.get(m)?.get(mod) ?? 0))), h("td", {}, String(totals[i])))),
    ),
  );
  const box = h("div", { class: "grafico-caixa" });
  box.append(root as unknown as Node);
  return h("div", {}, box, legend, h("details", {}, h("summary", {}, "Ver os números em tabela"), table));
}

function figure(id: string, label: string, value: string, hint?: string): HTMLElement {
  return h("div", { class: "indicador", id }, h("span", { class: "indicador-valor" }, value), h("span", { class: "indicador-nome" }, label), hint ? h("span", { class: "dica" }, hint) : null);
}

function figures(r: ProductionReport): HTMLElement {
  const counts = r.outcomes.satisfaction_counts;
  return h(
    "div",
    { class: "indicadores" },
    figure("ind-recebidos", "Casos recebidos", String(r.sla.received)),
    figure("ind-respondidos", "Respondidos", String(r.sla.answered)),
    figure("ind-p50", "Tempo de resposta (mediana)", formatHours(r.sla.answer_hours_p50)),
    figure("ind-p90", "Tempo de resposta (90% até)", formatHours(r.sla.answer_hours_p90)),
    figure("ind-prazo", "Respondidos no prazo", formatPercent(r.sla.share_within_deadline), `${r.sla.answered_within_deadline} de ${r.sla.answered}`),
    figure("ind-vencidos", "Abertos com prazo vencido", String(r.sla.open_overdue)),
    figure("ind-evitados", "Encaminhamentos evitados", String(r.outcomes.referrals_avoided), `casos avaliados: ${r.outcomes.closed_rated}`),
    figure(
      "ind-satisfacao",
      "Satisfação média (1 a 5)",
      r.outcomes.satisfaction_mean === null ? "—" : r.outcomes.satisfaction_mean.toFixed(1).replace(".", ","),
      Object.keys(counts).length ? Object.entries(counts).map(([k, v]) => `${k}: ${v}`).join(" · ") : undefined,
    ),
  );
}

function isoDay(d: Date): string {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

interface Deadlines {
  regulation_hours: number;
  specialist_hours: number;
  total_hours: number;
  max_total_hours: number;
}

/** The Núcleo's queue deadlines; the server refuses a total above 72 h (art. 448 §3). */
function deadlinesSection(nucleoId: string): HTMLElement {
  const regulation = h("input", { id: "prazo-regulacao", type: "number", min: "1", max: "72", required: true, inputmode: "numeric" });
  const specialist = h("input", { id: "prazo-especialista", type: "number", min: "1", max: "72", required: true, inputmode: "numeric" });
  const info = h("p", { class: "dica", id: "prazo-atual", "aria-live": "polite" }, "Carregando…");
  const feedback = h("div", { id: "prazo-retorno", "aria-live": "assertive" });
  const show = (d: Deadlines): void => {
    regulation.value = String(d.regulation_hours);
    specialist.value = String(d.specialist_hours);
    info.textContent = `Total atual: ${d.total_hours} h do recebimento à resposta (máximo legal: ${d.max_total_hours} h). Novos prazos valem para os casos recebidos depois da mudança.`;
  };
  const form = h(
    "form",
    { class: "cartao", id: "form-prazos", novalidate: true, "aria-labelledby": "t-prazos" },
    h("h2", { id: "t-prazos" }, "Prazos da fila de teleconsultoria"),
    h("div", { class: "campos" }, h("label", { for: "prazo-regulacao" }, "Regulação (horas)", regulation), h("label", { for: "prazo-especialista" }, "Especialista (horas)", specialist)),
    info,
    feedback,
    h("div", { class: "acoes" }, h("button", { type: "submit", class: "secundario", id: "btn-salvar-prazos" }, "Salvar prazos")),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    feedback.replaceChildren();
    try {
      show(await api<Deadlines>(`/api/nucleos/${nucleoId}/case-deadlines`, { method: "PUT", body: { regulation_hours: Number(regulation.value), specialist_hours: Number(specialist.value) } }));
      toast("Prazos salvos.");
    } catch (err) {
      feedback.append(errorBox(err instanceof ApiError ? err.fullMessage() : "Não foi possível salvar os prazos."));
    }
  });
  api<Deadlines>(`/api/nucleos/${nucleoId}/case-deadlines`)
    .then(show)
    .catch((err: unknown) => info.replaceWith(errorBox(err instanceof ApiError ? err.message : "Não foi possível carregar os prazos.")));
  return form;
}

export async function reportsScreen(): Promise<void> {
  if (!requireLogin()) return;
  setScreen("relatorios");
  renderNav();
  const me = currentUser();
  const today = new Date();
  const from = h("input", { id: "rel-de", type: "date", value: `${today.getFullYear()}-01-01`, required: true });
  const to = h("input", { id: "rel-ate", type: "date", value: isoDay(today), required: true });
  const year = h("input", { id: "rel-ano", type: "number", min: "2000", max: "2100", value: String(today.getFullYear()) });
  const out = h("div", { id: "relatorio", "aria-live": "polite" });
  const exportFeedback = h("div", { "aria-live": "assertive" });
  const form = h(
    "form",
    { class: "cartao", id: "form-relatorio", novalidate: true },
    h("div", { class: "campos" }, h("label", { for: "rel-de" }, "De", from), h("label", { for: "rel-ate" }, "Até", to)),
    h("div", { class: "acoes" }, h("button", { type: "submit", class: "primario" }, "Atualizar")),
  );
  const nucleo = me?.nucleo_id ?? "";
  const exportAnnual = (format: "pdf" | "csv") => async () => {
    exportFeedback.replaceChildren();
    try {
      await download(`/api/reports/annual?nucleo_id=${nucleo}&year=${encodeURIComponent(year.value)}&format=${format}`, `relatorio-anual-${year.value}.${format}`);
      toast("Download iniciado.");
    } catch (err) {
      exportFeedback.append(errorBox(err instanceof ApiError ? err.fullMessage() : "Não foi possível gerar o relatório."));
    }
  };
  const load = async (): Promise<void> => {
    out.setAttribute("aria-busy", "true");
    try {
      const r = await api<ProductionReport>(`/api/reports/production?nucleo_id=${nucleo}&from=${from.value}&to=${to.value}`);
      out.replaceChildren(
        h("section", { class: "cartao", "aria-labelledby": "t-indicadores" }, h("h2", { id: "t-indicadores" }, "Teleconsultoria assíncrona"), figures(r)),
        h("section", { class: "cartao", "aria-labelledby": "t-producao" }, h("h2", { id: "t-producao" }, "Produção por mês e modalidade"), h("p", { class: "dica" }, "Sessões por vídeo e casos assíncronos somados."), chart(r)),
      );
    } catch (err) {
      out.replaceChildren(errorBox(err instanceof ApiError ? err.fullMessage() : "Não foi possível carregar o relatório."));
    } finally {
      out.removeAttribute("aria-busy");
    }
  };
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void load();
  });
  showScreen(
    "Relatórios",
    h("h1", {}, "Relatórios do Núcleo"),
    me?.role !== "gestor" ? errorBox("Os relatórios são restritos ao gestor do Núcleo.") : null,
    form,
    out,
    h(
      "section",
      { class: "cartao", "aria-labelledby": "t-anual" },
      h("h2", { id: "t-anual" }, "Relatório anual de atividades (art. 454-A)"),
      h("label", { for: "rel-ano" }, "Ano", year),
      exportFeedback,
      h(
        "div",
        { class: "acoes" },
        h("button", { type: "button", class: "secundario", id: "btn-anual-pdf", onclick: exportAnnual("pdf") }, "Baixar PDF"),
        h("button", { type: "button", class: "secundario", id: "btn-anual-csv", onclick: exportAnnual("csv") }, "Baixar CSV"),
      ),
    ),
  );
  if (me?.role === "gestor" && nucleo) {
    mainEl().append(deadlinesSection(nucleo));
    await load();
  }
}
