// Create a video consultation: modality, patient, other professionals, date and time.

import { api, listOf, currentUser, ApiError } from "../api";
import { h, showScreen, errorBox, clear } from "../dom";
import { MODALITIES, VIDEO_MODALITIES, ROLES } from "../labels";
import { navigate } from "../router";
import { renderNav, requireLogin } from "../nav";
import { setScreen } from "../testmode";

interface PatientRow {
  id: string;
  name: string;
  cpf?: string | null;
  birth_date?: string | null;
}

interface ProfessionalRow {
  id: string;
  name: string;
  council_label?: string | null;
}

const PROFESSIONAL_ROLES = ["solicitante", "teleconsultor", "regulador"];

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

function maskCpf(cpf: string | null | undefined): string {
  const d = (cpf ?? "").replace(/\D/g, "");
  return d.length === 11 ? `***.${d.slice(3, 6)}.${d.slice(6, 9)}-**` : "";
}

export async function createScreen(): Promise<void> {
  if (!requireLogin()) return;
  setScreen("nova-consulta");
  renderNav();
  const me = currentUser();
  const now = new Date(Date.now() + 5 * 60_000);

  const modality = h("select", { id: "modalidade", required: true }, VIDEO_MODALITIES.map((m) => h("option", { value: m }, MODALITIES[m])));
  const title = h("input", { id: "titulo", maxlength: "200", placeholder: "Ex.: Retorno de hipertensão" });
  const date = h("input", { id: "data", type: "date", required: true, value: `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}` });
  const time = h("input", { id: "hora", type: "time", required: true, value: `${pad(now.getHours())}:${pad(now.getMinutes())}` });
  const duration = h("input", { id: "duracao", type: "number", min: "5", max: "240", step: "5", value: "30", required: true });
  const myRole = h("select", { id: "meu-papel" }, PROFESSIONAL_ROLES.map((r) => h("option", { value: r }, ROLES[r])));

  let chosenPatient: PatientRow | null = null;
  const patientSearch = h("input", { id: "busca-paciente", type: "search", autocomplete: "off", placeholder: "Nome, CPF ou CNS", "aria-controls": "resultado-pacientes", "aria-describedby": "paciente-escolhido" });
  const patientResults = h("ul", { id: "resultado-pacientes", class: "resultados", "aria-label": "Pacientes encontrados" });
  const patientChosen = h("p", { id: "paciente-escolhido", class: "dica", "aria-live": "polite" }, "Nenhum paciente escolhido.");

  const others = h("fieldset", { id: "outros-profissionais", class: "profissionais" }, h("legend", {}, "Outros profissionais (opcional)"), h("p", { class: "dica" }, "Carregando…"));
  const feedback = h("div", { "aria-live": "assertive" });
  const submit = h("button", { type: "submit", class: "primario", id: "btn-criar" }, "Agendar consulta");

  let searchTimer = 0;
  let searchSeq = 0;
  patientSearch.addEventListener("input", () => {
    window.clearTimeout(searchTimer);
    searchTimer = window.setTimeout(async () => {
      const q = patientSearch.value.trim();
      const seq = ++searchSeq;
      clear(patientResults);
      if (q.length < 2) return;
      try {
        const rows = listOf<PatientRow>(await api<unknown>(`/api/patients?q=${encodeURIComponent(q)}`), "patients");
        if (seq !== searchSeq) return;
        if (rows.length === 0) patientResults.append(h("li", { class: "dica" }, "Nenhum paciente encontrado."));
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
                    chosenPatient = p;
                    patientChosen.textContent = `Paciente: ${p.name}`;
                    clear(patientResults);
                    patientSearch.value = p.name;
                  },
                },
                p.name,
                p.cpf ? h("span", { class: "dica" }, ` · CPF ${maskCpf(p.cpf)}`) : null,
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
    { class: "cartao", id: "form-consulta", novalidate: true },
    h("h1", {}, "Nova consulta por vídeo"),
    h("div", { class: "campos" }, h("label", { for: "modalidade" }, "Modalidade", modality), h("label", { for: "meu-papel" }, "Meu papel", myRole)),
    h("label", { for: "titulo" }, "Motivo ou título (opcional)", title),
    h("div", { class: "campos" }, h("label", { for: "data" }, "Data", date), h("label", { for: "hora" }, "Hora", time), h("label", { for: "duracao" }, "Duração (min)", duration)),
    h("label", { for: "busca-paciente" }, "Paciente", patientSearch),
    patientResults,
    patientChosen,
    others,
    feedback,
    h("div", { class: "acoes" }, submit, h("a", { href: "/agenda", "data-link": true, class: "botao secundario" }, "Cancelar")),
  );

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    feedback.replaceChildren();
    const when = new Date(`${date.value}T${time.value}`);
    const problems: string[] = [];
    if (Number.isNaN(when.getTime())) problems.push("Informe a data e a hora.");
    if ((modality.value === "teleconsulta" || modality.value === "teleinterconsulta") && !chosenPatient) problems.push("Escolha o paciente.");
    if (problems.length) {
      feedback.append(errorBox(problems.join(" ")));
      return;
    }
    const participants = [{ professional_id: me?.id, role: myRole.value }];
    for (const box of others.querySelectorAll<HTMLInputElement>("input[type=checkbox]:checked")) {
      const role = others.querySelector<HTMLSelectElement>(`select[data-professional-id="${box.value}"]`)?.value ?? "teleconsultor";
      participants.push({ professional_id: box.value, role });
    }
    submit.disabled = true;
    try {
      const created = await api<{ id: string }>("/api/consultations", {
        body: {
          modality: modality.value,
          mode: "sync",
          scheduled_for: when.toISOString(),
          expected_duration_min: Number(duration.value),
          patient_id: chosenPatient?.id ?? null,
          nucleo_id: me?.nucleo_id ?? null,
          ponto_id: me?.ponto_id ?? null,
          title: title.value.trim() || null,
          participants,
        },
      });
      navigate(`/consultas/${created.id}`);
    } catch (err) {
      feedback.append(errorBox(err instanceof ApiError ? err.fullMessage() : "Não foi possível agendar."));
      submit.disabled = false;
    }
  });

  showScreen("Nova consulta", form);

  try {
    const pros = listOf<ProfessionalRow>(await api<unknown>("/api/professionals"), "professionals").filter((p) => p.id !== me?.id);
    others.querySelector("p")?.remove();
    if (pros.length === 0) others.append(h("p", { class: "dica" }, "Nenhum outro profissional cadastrado."));
    for (const p of pros) {
      const id = `prof-${p.id}`;
      others.append(
        h(
          "div",
          { class: "profissional" },
          h("input", { type: "checkbox", id, value: p.id }),
          h("label", { for: id }, `${p.name}${p.council_label ? ` (${p.council_label})` : ""}`),
          h("select", { "data-professional-id": p.id, "aria-label": `Papel de ${p.name}` }, PROFESSIONAL_ROLES.map((r) => h("option", { value: r, selected: r === "teleconsultor" }, ROLES[r]))),
        ),
      );
    }
  } catch (err) {
    others.querySelector("p")?.replaceWith(errorBox(err instanceof ApiError ? err.message : "Não foi possível carregar os profissionais."));
  }
}
