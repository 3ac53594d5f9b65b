// A signed document's verification as a person reads it: valid or not, signer, time, integrity.

import { api, ApiError } from "../api";
import { h, errorBox } from "../dom";
import { formatDateTime } from "../labels";
import { devMarker } from "./entries";
import { fetchFile, openFile, saveFile } from "./download";

export interface Verification {
  document_id: string | null;
  signed: boolean;
  intact: boolean;
  covers_whole_file: boolean;
  trusted: boolean;
  valid: boolean;
  signer: string | null;
  signing_time: string | null;
  matches_stored_hash: boolean | null;
  development_signature: boolean | null;
  summary: string;
}

const yes = (ok: boolean, good: string, bad: string): HTMLElement => h("span", { class: ok ? "sim" : "nao" }, ok ? good : bad);

export function verificationBox(v: Verification): HTMLElement {
  // The development chain is "trusted" only because this server trusts its own test root: the
  // marker makes sure nobody takes such a document for a legally valid one.
  const dev = v.development_signature === true || /n[aã]o ICP-Brasil/i.test(v.signer ?? "");
  return h(
    "section",
    { class: `verificacao-doc ${v.valid ? "valida" : "invalida"}`, "aria-label": "Verificação da assinatura", "data-valid": String(v.valid) },
    h(
      "p",
      { class: "resultado-verificacao", role: "status" },
      h("strong", {}, v.valid ? "Assinatura válida" : "Assinatura NÃO confere"),
      // The server's summary repeats the headline when valid; show it when it says more.
      v.summary.startsWith("Assinatura válida") ? ": o documento não foi alterado desde a assinatura." : ` · ${v.summary}`,
    ),
    dev ? devMarker() : null,
    h(
      "dl",
      { class: "campos-registro" },
      h("dt", {}, "Assinado por"),
      h("dd", { class: "assinante" }, v.signer ?? "—"),
      h("dt", {}, "Data e hora da assinatura"),
      h("dd", {}, v.signing_time ? formatDateTime(v.signing_time) : "—"),
      h("dt", {}, "Integridade"),
      h("dd", {}, yes(v.signed && v.intact, "o conteúdo não foi alterado desde a assinatura", v.signed ? "o conteúdo foi ALTERADO depois da assinatura" : "o arquivo não tem assinatura digital")),
      h("dt", {}, "Arquivo completo"),
      h("dd", {}, yes(v.covers_whole_file, "nada foi acrescentado depois da assinatura", "há dados acrescentados depois da assinatura")),
      h("dt", {}, "Certificado"),
      h("dd", {}, yes(v.trusted, dev ? "cadeia de teste deste servidor (não ICP-Brasil)" : "cadeia confiável", "não é de uma cadeia confiável")),
      v.matches_stored_hash === null ? null : [h("dt", {}, "Confere com o prontuário"), h("dd", {}, yes(v.matches_stored_hash, "sim, é o arquivo gravado", "não"))],
    ),
  );
}

/** Download / open / verify buttons of one stored document, with the result shown below them. */
export function documentActions(documentId: string, kind: string, token?: string | null): HTMLElement {
  const out = h("div", { class: "resultado-documento", "aria-live": "polite" });
  const get = (): ReturnType<typeof fetchFile> => fetchFile(`/api/documents/${documentId}`, `${kind}.pdf`, token);
  const failed = (err: unknown): void => {
    out.replaceChildren(errorBox(err instanceof ApiError ? err.message : "Não foi possível obter o documento."));
  };
  return h(
    "div",
    { class: "documento-acoes", "data-document-id": documentId },
    h(
      "div",
      { class: "acoes" },
      h("button", { type: "button", class: "secundario pequeno", onclick: () => void get().then(openFile, failed) }, "Ver PDF assinado"),
      h("button", { type: "button", class: "secundario pequeno", onclick: () => void get().then(saveFile, failed) }, "Baixar PDF"),
      h(
        "button",
        {
          type: "button",
          class: "secundario pequeno",
          onclick: async () => {
            out.replaceChildren(h("p", { class: "dica" }, "Verificando a assinatura…"));
            try {
              out.replaceChildren(verificationBox(await api<Verification>(`/api/documents/${documentId}/verification`, { token })));
            } catch (err) {
              failed(err);
            }
          },
        },
        "Verificar assinatura",
      ),
    ),
    out,
  );
}
