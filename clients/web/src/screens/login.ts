// Professional login by CPF and password.

import { api, saveAuth, ApiError, type User } from "../api";
import { h, showScreen, errorBox } from "../dom";
import { navigate } from "../router";
import { setScreen } from "../testmode";
import { renderNav } from "../nav";

function formatCpf(value: string): string {
  const d = value.replace(/\D/g, "").slice(0, 11);
  return d
    .replace(/^(\d{3})(\d)/, "$1.$2")
    .replace(/^(\d{3})\.(\d{3})(\d)/, "$1.$2.$3")
    .replace(/\.(\d{3})(\d{1,2})$/, ".$1-$2");
}

export function loginScreen(_p: unknown, query: URLSearchParams): void {
  setScreen("login");
  renderNav();
  const cpf = h("input", { id: "cpf", name: "cpf", inputmode: "numeric", autocomplete: "username", required: true, placeholder: "000.000.000-00", "aria-describedby": "cpf-ajuda" });
  const password = h("input", { id: "senha", name: "senha", type: "password", autocomplete: "current-password", required: true });
  const feedback = h("div", { "aria-live": "assertive" });
  const submit = h("button", { type: "submit", class: "primario", id: "btn-entrar" }, "Entrar");
  cpf.addEventListener("input", () => (cpf.value = formatCpf(cpf.value)));
  const form = h(
    "form",
    { class: "cartao estreito", id: "form-login", novalidate: true },
    h("h1", {}, "Entrar como profissional"),
    h("label", { for: "cpf" }, "CPF"),
    cpf,
    h("p", { class: "dica", id: "cpf-ajuda" }, "Somente números ou no formato 000.000.000-00."),
    h("label", { for: "senha" }, "Senha"),
    password,
    feedback,
    h("div", { class: "acoes" }, submit),
    h("p", { class: "dica" }, "Paciente ou convidado? Use o link que você recebeu por WhatsApp ou e-mail: não é preciso ter conta."),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    feedback.replaceChildren();
    const digits = cpf.value.replace(/\D/g, "");
    if (digits.length !== 11 || !password.value) {
      feedback.append(errorBox("Informe o CPF com 11 dígitos e a senha."));
      return;
    }
    submit.disabled = true;
    submit.textContent = "Entrando…";
    try {
      const res = await api<{ access_token: string; refresh_token: string; user: User }>("/api/auth/login", {
        body: { cpf: digits, password: password.value },
        auth: false,
      });
      saveAuth(res);
      navigate(query.get("voltar") ?? "/agenda", true);
    } catch (err) {
      feedback.append(errorBox(err instanceof ApiError ? err.fullMessage() : "Não foi possível entrar. Tente novamente."));
      submit.disabled = false;
      submit.textContent = "Entrar";
      password.select();
    }
  });
  showScreen("Entrar", form);
  cpf.focus();
}
