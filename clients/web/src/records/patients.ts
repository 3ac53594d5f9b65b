// /prontuarios: find a patient and open their record. The server decides who may read it (only
// professionals linked to the patient by a consultation) and audits every attempt.

import { api, ApiError, listOf } from "../api";
import { h, showScreen, errorBox, clear } from "../dom";
import { renderNav, requireLogin } from "../nav";
import { setScreen } from "../testmode";
import "./records.css";

interface PatientRow {
  id: string;
  name: string;
  social_name?: string | null;
  birth_date?: string | null;
}

export function patientsScreen(): void {
  if (!requireLogin()) return;
  renderNav();
  setScreen("prontuarios");
  const search = h("input", { id: "busca-paciente", type: "search", autocomplete: "off", maxlength: "100", placeholder: "Nome, CPF ou CNS" });
  const results = h("ul", { class: "resultados", id: "resultados-pacientes", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "cartao", role: "search" },
    h("label", { for: "busca-paciente" }, "Buscar paciente", search),
    h("div", { class: "acoes" }, h("button", { type: "submit", class: "primario" }, "Buscar")),
  );
  let seq = 0;
  const run = async (): Promise<void> => {
    const q = search.value.trim();
    const mine = ++seq;
    clear(results);
    if (q.length < 2) {
      results.append(h("li", { class: "dica" }, "Digite ao menos 2 caracteres."));
      return;
    }
    try {
      const rows = listOf<PatientRow>(await api<unknown>(`/api/patients?q=${encodeURIComponent(q)}`), "patients");
      if (mine !== seq) return;
      if (!rows.length) results.append(h("li", { class: "dica" }, "Nenhum paciente encontrado."));
      for (const p of rows.slice(0, 20)) {
        results.append(
          h(
            "li",
            {},
            h(
              "a",
              { href: `/pacientes/${p.id}/prontuario`, "data-link": true, class: "resultado" },
              p.social_name || p.name,
              p.birth_date ? h("span", { class: "dica" }, ` · nasc. ${p.birth_date.split("-").reverse().join("/")}`) : null,
            ),
          ),
        );
      }
    } catch (err) {
      results.append(h("li", {}, errorBox(err instanceof ApiError ? err.message : "Não foi possível buscar.")));
    }
  };
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void run();
  });
  showScreen(
    "Prontuários",
    h("h1", {}, "Prontuários"),
    h("p", { class: "dica" }, "Você vê o prontuário dos pacientes que atendeu ou vai atender. Todo acesso fica registrado."),
    form,
    results,
  );
}
