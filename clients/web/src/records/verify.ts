// Public "Verificar documento" page: anyone holding an atestado or receita (a pharmacy, an employer)
// checks its signature. The file goes to the server, which reveals nothing that is not in it.

import { ApiError } from "../api";
import { h, showScreen, errorBox } from "../dom";
import { renderNav } from "../nav";
import { setScreen } from "../testmode";
import { verificationBox, type Verification } from "./verification";
import "./records.css";

const MAX_BYTES = 20 * 1024 * 1024;

export function verifyScreen(): void {
  renderNav();
  setScreen("verificar-documento");
  const file = h("input", { type: "file", id: "arquivo-pdf", accept: "application/pdf,.pdf", required: true });
  const result = h("div", { id: "resultado-verificacao", "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "primario", id: "btn-verificar" }, "Verificar");
  const form = h(
    "form",
    { class: "cartao estreito", id: "form-verificar", novalidate: true },
    h("h1", {}, "Verificar documento"),
    h("p", {}, "Confira se um atestado ou uma receita emitidos pela Telessaúde foram assinados digitalmente e não foram alterados depois."),
    h("label", { for: "arquivo-pdf" }, "Arquivo PDF do documento", file),
    h("div", { class: "acoes" }, submit),
    result,
    h("p", { class: "dica" }, "O arquivo é usado só para a verificação e não fica guardado."),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    result.replaceChildren();
    const chosen = file.files?.[0];
    if (!chosen) {
      result.append(errorBox("Escolha o arquivo PDF do documento."));
      return;
    }
    if (chosen.size > MAX_BYTES) {
      result.append(errorBox("O arquivo é grande demais para um atestado ou receita (máximo 20 MB)."));
      return;
    }
    submit.disabled = true;
    result.append(h("p", { class: "dica" }, "Verificando…"));
    try {
      const body = await chosen.arrayBuffer();
      let res: Response;
      try {
        res = await fetch("/api/documents/verification", { method: "POST", headers: { "Content-Type": "application/pdf", Accept: "application/json" }, body });
      } catch {
        throw new ApiError(0, "network", "Sem conexão com o servidor. Verifique sua internet e tente de novo.");
      }
      const json = (await res.json().catch(() => null)) as (Verification & { error?: { message?: string } }) | null;
      if (!res.ok || !json) throw new ApiError(res.status, "error", json?.error?.message ?? "Não foi possível verificar o arquivo.");
      setScreen("documento-verificado");
      result.replaceChildren(verificationBox(json));
    } catch (err) {
      result.replaceChildren(errorBox(err instanceof ApiError ? err.message : "Não foi possível verificar o arquivo."));
    } finally {
      submit.disabled = false;
    }
  });
  showScreen("Verificar documento", form);
}

