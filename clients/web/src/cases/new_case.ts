// "Novo caso": question, specialty, Núcleo, optional patient (registered or only age and sex),
// attachments. The case is created first, then each file goes to it; a refused file is reported
// on the case screen (the case itself is valid without it).

import { api, listOf, currentUser, ApiError } from "../api";
import { h, showScreen, errorBox, clear } from "../dom";
import { navigate } from "../router";
import { renderNav, requireLogin } from "../nav";
import { setScreen } from "../testmode";
import { uploadFile } from "./http";
import { flash } from "./flash";
import { SEXES } from "./labels";
import "./cases.css";

interface PontoRow {
  id: string;
  name: string;
  nucleo_ids: string[];
}
interface NucleoRow {
  id: string;
  name: string;
}
interface PatientRow {
  id: string;
  name: string;
  birth_date?: string | null;
}

const SPECIALTIES = [
  "Cardiologia",
  "Dermatologia",
  "Endocrinologia",
  "Gastroenterologia",
  "Ginecologia e obstetrícia",
  "Infectologia",
  "Nefrologia",
  "Neurologia",
  "Ortopedia",
  "Pediatria",
  "Pneumologia",
  "Psiquiatria",
  "Reumatologia",
  "Saúde mental",
];

export const ACCEPT = "image/png,image/jpeg,image/webp,application/pdf,.png,.jpg,.jpeg,.webp,.pdf";

export async function newCaseScreen(): Promise<void> {
  if (!requireLogin()) return;
  setScreen("novo-caso");
  renderNav();
  const me = currentUser();

  const nucleo = h("select", { id: "nucleo", required: true }, h("option", { value: "" }, "Carregando…"));
  const specialty = h("input", { id: "especialidade", list: "especialidades", required: true, maxlength: "80", autocomplete: "off", placeholder: "Ex.: Cardiologia" });
  const question = h("textarea", { id: "pergunta", rows: "6", required: true, maxlength: "8000", "aria-describedby": "pergunta-ajuda" });
  const mode = (value: string, label: string, checked = false): HTMLElement => {
    const id = `paciente-${value}`;
    return h("label", { class: "opcao", for: id }, h("input", { type: "radio", name: "paciente-modo", id, value, checked }), label);
  };
  const patientSearch = h("input", { id: "busca-paciente", type: "search", autocomplete: "off", placeholder: "Nome, CPF ou CNS", "aria-controls": "resultado-pacientes" });
  const patientResults = h("ul", { id: "resultado-pacientes", class: "resultados", "aria-label": "Pacientes encontrados" });
  const patientChosen = h("p", { id: "paciente-escolhido", class: "dica", "aria-live": "polite" }, "Nenhum paciente escolhido.");
  const age = h("input", { id: "idade", type: "number", min: "0", max: "130", inputmode: "numeric" });
  const sex = h("select", { id: "sexo" }, h("option", { value: "" }, "Selecione"), Object.entries(SEXES).map(([v, l]) => h("option", { value: v }, l)));
  const identified = h("div", { id: "bloco-identificado", hidden: true }, h("label", { for: "busca-paciente" }, "Buscar paciente (nome, CPF ou CNS)"), patientSearch, patientResults, patientChosen);
  const deidentified = h(
    "div",
    { id: "bloco-anonimo", class: "campos", hidden: true },
    h("label", { for: "idade" }, "Idade (anos)", age),
    h("label", { for: "sexo" }, "Sexo", sex),
  );
  const files = h("input", { id: "anexos", type: "file", multiple: true, accept: ACCEPT, "aria-describedby": "anexos-ajuda" });
  const feedback = h("div", { "aria-live": "assertive" });
  const submit = h("button", { type: "submit", class: "primario", id: "btn-enviar-caso" }, "Enviar caso");

  let chosen: PatientRow | null = null;
  const modeValue = (): string => (document.querySelector<HTMLInputElement>("input[name=paciente-modo]:checked")?.value ?? "nenhum");

  let timer = 0;
  let seq = 0;
  patientSearch.addEventListener("input", () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(async () => {
      const q = patientSearch.value.trim();
      const mySeq = ++seq;
      clear(patientResults);
      if (q.length < 2) return;
      try {
        const rows = listOf<PatientRow>(await api<unknown>(`/api/patients?q=${encodeURIComponent(q)}`), "patients");
        if (mySeq !== seq) return;
        if (!rows.length) patientResults.append(h("li", { class: "dica" }, "Nenhum paciente encontrado."));
        for (const p of rows.slice(0, 20)) {
          patientResults.append(
            h(
              "li",
              {},
              h(
                "button",
                {
                  type: "button",
                  class: "resultado",
                  "data-patient-id": p.id,
                  onclick: () => {
                    chosen = p;
                    patientChosen.textContent = `Paciente: ${p.name}`;
                    patientSearch.value = p.name;
                    clear(patientResults);
                  },
                },
                p.name,
                p.birth_date ? h("span", { class: "dica" }, ` · nasc. ${p.birth_date.split("-").reverse().join("/")}`) : null,
              ),
            ),
          );
        }
      } catch (err) {
        patientResults.append(h("li", {}, errorBox(err instanceof ApiError ? err.message : "Falha na busca.")));
      }
    }, 250);
  });

  const form = h(
    "form",
    { class: "cartao", id: "form-caso", novalidate: true },
    h("h1", {}, "Novo caso de teleconsultoria"),
    h("p", { class: "dica" }, "A pergunta vai para a regulação do Núcleo, que a encaminha a um especialista. Resposta em até 72 horas."),
    h("div", { class: "campos" }, h("label", { for: "nucleo" }, "Núcleo de Telessaúde", nucleo), h("label", { for: "especialidade" }, "Especialidade", specialty)),
    h("datalist", { id: "especialidades" }, SPECIALTIES.map((s) => h("option", { value: s }))),
    h("label", { for: "pergunta" }, "Pergunta ao especialista", question),
    h("p", { class: "dica", id: "pergunta-ajuda" }, "Descreva o caso e a dúvida (mínimo de 10 caracteres). Não é preciso escrever o nome do paciente."),
    h("fieldset", { class: "profissionais" }, h("legend", {}, "Paciente (opcional)"), mode("nenhum", "Sem paciente (dúvida geral)", true), mode("cadastrado", "Paciente cadastrado"), mode("anonimo", "Paciente não identificado: só idade e sexo"), identified, deidentified),
    h("label", { for: "anexos" }, "Anexos (opcional)", files),
    h("p", { class: "dica", id: "anexos-ajuda" }, "Imagens PNG, JPEG ou WebP e documentos PDF."),
    feedback,
    h("div", { class: "acoes" }, submit, h("a", { href: "/casos", "data-link": true, class: "botao secundario" }, "Cancelar")),
  );
  form.addEventListener("change", (ev) => {
    if ((ev.target as HTMLInputElement).name !== "paciente-modo") return;
    identified.hidden = modeValue() !== "cadastrado";
    deidentified.hidden = modeValue() !== "anonimo";
  });

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    feedback.replaceChildren();
    const problems: string[] = [];
    if (!nucleo.value) problems.push("Escolha o Núcleo.");
    if (specialty.value.trim().length < 2) problems.push("Informe a especialidade.");
    if (question.value.trim().length < 10) problems.push("Escreva a pergunta (mínimo de 10 caracteres).");
    const body: Record<string, unknown> = { nucleo_id: nucleo.value, specialty: specialty.value.trim(), question: question.value.trim() };
    if (modeValue() === "cadastrado") {
      if (!chosen) problems.push("Escolha o paciente na busca.");
      else body.patient_id = chosen.id;
    } else if (modeValue() === "anonimo") {
      if (age.value === "" && !sex.value) problems.push("Informe a idade ou o sexo do paciente.");
      if (age.value !== "") body.patient_age_years = Number(age.value);
      if (sex.value) body.patient_sex = sex.value;
    }
    if (problems.length) {
      feedback.append(errorBox(problems.join(" ")));
      return;
    }
    submit.disabled = true;
    submit.textContent = "Enviando…";
    try {
      const created = await api<{ id: string }>("/api/cases", { body });
      for (const file of Array.from(files.files ?? [])) {
        try {
          await uploadFile(`/api/cases/${created.id}/attachments`, file);
        } catch (err) {
          flash(`O anexo "${file.name}" não foi enviado: ${err instanceof ApiError ? err.message : "falha no envio."}`);
        }
      }
      navigate(`/casos/${created.id}`);
    } catch (err) {
      feedback.append(errorBox(err instanceof ApiError ? err.fullMessage() : "Não foi possível enviar o caso."));
      submit.disabled = false;
      submit.textContent = "Enviar caso";
    }
  });

  showScreen("Novo caso", form);
  if (!me?.ponto_id) feedback.append(errorBox("Seu cadastro não está vinculado a um Ponto de Telessaúde: peça ao gestor para vinculá-lo antes de abrir casos."));

  try {
    const [pontos, nucleos] = await Promise.all([api<unknown>("/api/pontos"), api<unknown>("/api/nucleos")]);
    const mine = listOf<PontoRow>(pontos).find((p) => p.id === me?.ponto_id);
    const names = new Map(listOf<NucleoRow>(nucleos).map((n) => [n.id, n.name]));
    const ids = mine?.nucleo_ids ?? [];
    nucleo.replaceChildren(
      ...(ids.length === 1 ? [] : [h("option", { value: "" }, ids.length ? "Selecione" : "Nenhum Núcleo vinculado ao seu Ponto")]),
      ...ids.map((id) => h("option", { value: id }, names.get(id) ?? "Núcleo")),
    );
  } catch (err) {
    nucleo.replaceChildren(h("option", { value: "" }, "Não foi possível carregar"));
    feedback.append(errorBox(err instanceof ApiError ? err.message : "Não foi possível carregar os Núcleos."));
  }
}
