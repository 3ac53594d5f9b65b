// Case chat over /cases: a message is shown as stored only after the server's ack (it commits
// first); until then it stays pending and is retried with the SAME client_msg_id, so a retry
// after a lost ack can never duplicate it. A reconnect asks for everything after the last id.

import type { Socket } from "socket.io-client";
import { h, clear, errorBox } from "../dom";
import { formatTime } from "../labels";
import type { CaseMessage } from "./types";
import { caseTest } from "./testmode";

interface Ack {
  ok: boolean;
  messages?: CaseMessage[];
  message?: CaseMessage;
  created?: boolean;
  last_read?: number;
  error?: { code: string; message: string };
}

interface Pending {
  clientMsgId: string;
  text: string;
  attachmentId: string | null;
  state: "enviando" | "falhou";
  error: string | null;
  attempts: number;
  timer: number | undefined;
}

/** Failures worth retrying by themselves: the message may go through a moment later. */
const TRANSIENT = new Set(["db_unavailable", "timeout", "overloaded"]);
const MAX_RETRY_DELAY_MS = 30_000;

const ACK_TIMEOUT_MS = 8000;

export function newClientMsgId(): string {
  // randomUUID needs a secure context; a UBS intranet over plain HTTP still gets a random id.
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

export interface ChatHooks {
  myId: string;
  /** Name of an attachment (for the chip on a message), or null if unknown yet. */
  attachmentName: (id: string) => string | null;
  onAttachmentClick: (id: string) => void;
  /** A message refers to an attachment the screen has not listed yet. */
  onUnknownAttachment: () => void;
}

export class CaseChat {
  readonly list: HTMLUListElement;
  readonly status: HTMLElement;
  private stored = new Map<number, CaseMessage>();
  private pending = new Map<string, Pending>();
  private lastId = 0;
  private othersRead = 0;
  private closed = false;

  constructor(
    private readonly socket: Socket,
    private readonly caseId: string,
    private readonly hooks: ChatHooks,
  ) {
    this.list = h("ul", { class: "chat-mensagens caso-chat", id: "caso-mensagens", "aria-label": "Mensagens do caso" });
    this.status = h("p", { class: "dica", id: "chat-estado", "aria-live": "polite" });
    caseTest.messages = [];
    caseTest.pending = [];
    caseTest.lastId = 0;
    socket.on("connect", () => void this.subscribe());
    socket.on("disconnect", () => this.setStatus("Sem conexão: as mensagens serão enviadas quando a conexão voltar."));
    socket.on("connect_error", (err: Error & { data?: { message?: string } }) =>
      this.setStatus(err.data?.message ?? "Sem conexão com o servidor de mensagens. Tentando de novo…"),
    );
    socket.on("message", (m: CaseMessage) => this.add([m]));
    socket.on("receipt", (r: { case_id: string; reader_id: string; last_read: number }) => {
      if (r.case_id === this.caseId && r.reader_id !== hooks.myId) this.othersReadUpTo(r.last_read);
    });
    // Messages typed before a reload or a trip to another screen, still with their first id.
    for (const saved of this.loadPending()) this.pending.set(saved.clientMsgId, { ...saved, state: "falhou", error: null, attempts: 0, timer: undefined });
    if (socket.connected) void this.subscribe();
  }

  private get storageKey(): string {
    return `telessaude.caso.${this.caseId}.pendentes`;
  }

  private loadPending(): { clientMsgId: string; text: string; attachmentId: string | null }[] {
    try {
      const raw = sessionStorage.getItem(this.storageKey);
      return raw ? (JSON.parse(raw) as { clientMsgId: string; text: string; attachmentId: string | null }[]) : [];
    } catch {
      return [];
    }
  }

  private savePending(): void {
    // sessionStorage: the tab's own, gone when it closes (a shared UBS computer keeps nothing).
    const rows = [...this.pending.values()].map(({ clientMsgId, text, attachmentId }) => ({ clientMsgId, text, attachmentId }));
    try {
      if (rows.length) sessionStorage.setItem(this.storageKey, JSON.stringify(rows));
      else sessionStorage.removeItem(this.storageKey);
    } catch {
      /* storage full or disabled: the message still lives in memory */
    }
  }

  /** Stop writing (case closed): keep the history visible. */
  setClosed(closed: boolean): void {
    this.closed = closed;
  }

  /** Re-draw (e.g. once the names of newly listed attachments are known). */
  refresh(): void {
    this.render();
  }

  othersReadUpTo(id: number): void {
    if (id > this.othersRead) {
      this.othersRead = id;
      this.render();
    }
  }

  private setStatus(text: string): void {
    this.status.textContent = text;
  }

  private async subscribe(): Promise<void> {
    this.setStatus("Conectado.");
    let ack: Ack;
    try {
      ack = (await this.socket.timeout(ACK_TIMEOUT_MS).emitWithAck("subscribe", { case_id: this.caseId, after_id: this.lastId || undefined })) as Ack;
    } catch {
      this.setStatus("O servidor não respondeu. Tentando de novo…");
      window.setTimeout(() => this.socket.connected && void this.subscribe(), 2000);
      return;
    }
    if (!ack.ok) {
      this.setStatus(ack.error?.message ?? "Não foi possível abrir o chat.");
      return;
    }
    this.add(ack.messages ?? [], this.lastId > 0);
    // Whatever was typed while offline goes now, with its original id.
    for (const p of this.pending.values()) void this.flush(p.clientMsgId);
  }

  private add(messages: CaseMessage[], announce = true): void {
    // The list is rebuilt on each change; only what is new from others is announced.
    const fresh = messages.filter((m) => !this.stored.has(m.id) && m.author.id !== this.hooks.myId);
    if (announce && fresh.length) this.setStatus(`Nova mensagem de ${fresh[fresh.length - 1].author.name}.`);
    for (const m of messages) {
      this.stored.set(m.id, m);
      this.pending.delete(m.client_msg_id);
      if (m.id > this.lastId) this.lastId = m.id;
      if (m.attachment_id && this.hooks.attachmentName(m.attachment_id) === null) this.hooks.onUnknownAttachment();
    }
    this.render();
    if (messages.length && document.visibilityState === "visible") void this.markRead();
  }

  private async markRead(): Promise<void> {
    try {
      await this.socket.timeout(ACK_TIMEOUT_MS).emitWithAck("read", { case_id: this.caseId, last_id: this.lastId });
    } catch {
      /* a receipt is a courtesy: the next message marks it again */
    }
  }

  /** Queue a message and try to deliver it; false (and nothing queued) if it is empty. */
  send(text: string, attachmentId: string | null = null): boolean {
    const clean = text.trim();
    if (!clean && !attachmentId) return false;
    const p: Pending = { clientMsgId: newClientMsgId(), text: clean, attachmentId, state: "enviando", error: null, attempts: 0, timer: undefined };
    this.pending.set(p.clientMsgId, p);
    this.render();
    void this.flush(p.clientMsgId);
    return true;
  }

  private async flush(clientMsgId: string): Promise<void> {
    const p = this.pending.get(clientMsgId);
    if (!p) return;
    window.clearTimeout(p.timer);
    p.attempts += 1;
    p.state = "enviando";
    p.error = null;
    this.render();
    if (!this.socket.connected) {
      p.state = "falhou";
      p.error = "Sem conexão. Será reenviada quando a conexão voltar.";
      this.render();
      return;
    }
    caseTest.sends += 1;
    let ack: Ack;
    try {
      ack = (await this.socket.timeout(ACK_TIMEOUT_MS).emitWithAck("send", {
        case_id: this.caseId,
        client_msg_id: p.clientMsgId,
        text: p.text,
        ...(p.attachmentId ? { attachment_id: p.attachmentId } : {}),
      })) as Ack;
    } catch {
      ack = { ok: false, error: { code: "timeout", message: "O servidor não confirmou o recebimento. Tentando de novo…" } };
    }
    if (ack.ok && ack.message) {
      this.add([ack.message]);
      return;
    }
    // Kept either way: a temporary failure is retried (same id, so never twice), a refusal is
    // explained next to the text and waits for the person.
    p.state = "falhou";
    p.error = ack.error?.message ?? "A mensagem não foi salva.";
    if (TRANSIENT.has(ack.error?.code ?? "") && !this.closed) {
      const delay = Math.min(MAX_RETRY_DELAY_MS, 1000 * 2 ** Math.min(p.attempts, 5));
      p.timer = window.setTimeout(() => this.socket.connected && void this.flush(p.clientMsgId), delay);
    }
    this.render();
  }

  /** Leaving the screen: stop the retry timers; unsent messages stay in this tab's storage. */
  dispose(): void {
    for (const p of this.pending.values()) window.clearTimeout(p.timer);
  }

  private render(): void {
    clear(this.list);
    const stored = [...this.stored.values()].sort((a, b) => a.id - b.id);
    let lastMine = 0;
    for (const m of stored) if (m.author.id === this.hooks.myId) lastMine = m.id;
    for (const m of stored) {
      const mine = m.author.id === this.hooks.myId;
      const name = m.attachment_id ? this.hooks.attachmentName(m.attachment_id) : null;
      this.list.append(
        h(
          "li",
          { class: mine ? "minha" : "", "data-message-id": String(m.id) },
          h("span", { class: "autor" }, mine ? "Você" : m.author.name),
          " ",
          h("time", { datetime: m.created_at }, formatTime(m.created_at)),
          m.text ? h("p", {}, m.text) : null,
          m.attachment_id
            ? h("button", { type: "button", class: "link anexo-chip", onclick: () => this.hooks.onAttachmentClick(m.attachment_id as string) }, `Anexo: ${name ?? "arquivo"}`)
            : null,
          mine && m.id === lastMine && this.othersRead >= m.id ? h("span", { class: "lida", "aria-label": "Mensagem lida" }, " ✓ lida") : null,
        ),
      );
    }
    for (const p of this.pending.values()) {
      this.list.append(
        h(
          "li",
          { class: "minha pendente", "data-client-msg-id": p.clientMsgId },
          h("span", { class: "autor" }, "Você"),
          " ",
          h("span", { class: "dica" }, p.state === "enviando" ? "enviando…" : "não enviada"),
          p.text ? h("p", {}, p.text) : null,
          p.attachmentId ? h("p", { class: "dica" }, "Anexo") : null,
          p.error ? errorBox(p.error) : null,
          p.state === "falhou" && !this.closed
            ? h("button", { type: "button", class: "secundario pequeno", onclick: () => void this.flush(p.clientMsgId) }, "Tentar de novo")
            : null,
        ),
      );
    }
    this.list.scrollTop = this.list.scrollHeight;
    this.savePending();
    caseTest.messages = stored.map((m) => ({ id: m.id, clientMsgId: m.client_msg_id, author: m.author.name, text: m.text }));
    caseTest.pending = [...this.pending.values()].map((p) => ({ clientMsgId: p.clientMsgId, text: p.text, state: p.state }));
    caseTest.lastId = this.lastId;
  }
}
