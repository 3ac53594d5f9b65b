// The call screen: responsive grid, controls, waiting room, chat and participant list.

import { h, clear, toast } from "../dom";
import { HOLD_REASONS, roleLabel, modalityLabel, formatTime } from "../labels";
import type { CallSession, CallStatus, RemoteMedia } from "./session";
import { mark } from "../testmode";
import type { Participant } from "./protocol";
import { consentButton } from "../records/call_consent";

export interface CallViewOptions {
  isProfessional: boolean;
  camId: string | null;
  onExit: (status: CallStatus) => void;
}

const QUALITY_TEXT: Record<string, string> = {
  boa: "Conexão boa",
  regular: "Conexão instável",
  ruim: "Conexão ruim",
  desconhecida: "Conectando…",
};

function initials(name: string): string {
  return name
    .split(/\s+/)
    .filter((w) => w.length > 2 || /^[A-Z]/.test(w))
    .slice(0, 2)
    .map((w) => w[0]?.toUpperCase() ?? "")
    .join("");
}

function iconButton(id: string, label: string, text: string, onclick: () => void, extra: Record<string, string> = {}): HTMLButtonElement {
  return h("button", { type: "button", id, class: "controle", "aria-label": label, title: label, onclick, ...extra }, text);
}

export function renderCall(container: HTMLElement, session: CallSession, opts: CallViewOptions): () => void {
  const tiles = new Map<string, HTMLElement>();
  const audios = new Map<string, HTMLAudioElement>();
  let sidePanel: "chat" | "pessoas" | null = window.matchMedia("(min-width: 900px)").matches ? "chat" : null;
  let unread = 0;

  const banner = h("div", { id: "banner-reconectando", class: "banner", role: "status", hidden: true }, "Reconectando…");
  const soundBanner = h(
    "button",
    { type: "button", id: "btn-ativar-som", class: "banner acao", hidden: true, onclick: () => resumeAudio() },
    "Toque aqui para ativar o som da consulta",
  );
  const quality = h("span", { id: "qualidade", class: "qualidade q-desconhecida", role: "status", "aria-label": "Qualidade da conexão: conectando" }, QUALITY_TEXT.desconhecida);
  const title = h("h1", { class: "titulo-sala" }, "Consulta");
  const waiting = h("section", { id: "sala-espera", class: "sala-espera", "aria-live": "polite", hidden: true });
  const grid = h("section", { id: "grade", class: "grade", "aria-label": "Participantes em vídeo" });
  const chatList = h("ol", { id: "chat-mensagens", class: "chat-mensagens", "aria-live": "polite", "aria-label": "Mensagens do chat" });
  const chatInput = h("input", { id: "chat-texto", type: "text", maxlength: "4000", autocomplete: "off", "aria-label": "Escreva uma mensagem", placeholder: "Escreva uma mensagem" });
  const chatError = h("p", { class: "erro", role: "alert", hidden: true });
  const chatForm = h(
    "form",
    { class: "chat-form", id: "chat-form" },
    chatInput,
    h("button", { type: "submit", class: "primario", id: "chat-enviar", "aria-label": "Enviar mensagem" }, "Enviar"),
  );
  const peopleList = h("ul", { id: "lista-participantes", class: "lista-participantes", "aria-label": "Participantes" });
  const chatPanel = h("section", { id: "painel-chat", class: "painel", "aria-label": "Chat" }, h("h2", {}, "Chat"), chatList, chatError, chatForm);
  const peoplePanel = h("section", { id: "painel-participantes", class: "painel", "aria-label": "Participantes" }, h("h2", {}, "Participantes"), peopleList);
  const side = h("aside", { class: "lateral", id: "lateral" }, chatPanel, peoplePanel);

  const micBtn = iconButton("btn-microfone", "Desligar microfone", "Microfone", () => void session.setMicMuted(!session.micMuted));
  const camBtn = iconButton("btn-camera", "Desligar câmera", "Câmera", () => void session.setCameraMuted(!session.cameraMuted));
  const audioOnlyBtn = iconButton("btn-so-audio", "Usar só áudio", "Só áudio", () => void toggleAudioOnly());
  const screenBtn = iconButton("btn-tela", "Compartilhar tela", "Tela", () => void toggleScreen());
  const chatBtn = iconButton("btn-chat", "Abrir chat", "Chat", () => toggleSide("chat"));
  const peopleBtn = iconButton("btn-participantes", "Ver participantes", "Pessoas", () => toggleSide("pessoas"));
  const leaveBtn = iconButton("btn-sair", "Sair da consulta", "Sair", () => void leave(), { class: "controle perigo" });
  const endBtn = opts.isProfessional
    ? iconButton("btn-encerrar", "Encerrar a consulta para todos", "Encerrar", () => void endCall(), { class: "controle perigo forte" })
    : null;
  if (!navigator.mediaDevices || !("getDisplayMedia" in navigator.mediaDevices)) screenBtn.hidden = true;

  const controls = h("nav", { class: "controles", "aria-label": "Controles da chamada" }, micBtn, camBtn, audioOnlyBtn, screenBtn, chatBtn, peopleBtn, leaveBtn, endBtn);
  const root = h(
    "div",
    { class: "sala", id: "sala" },
    banner,
    soundBanner,
    h("div", { class: "sala-topo" }, title, quality),
    h("div", { class: "sala-corpo" }, h("div", { class: "palco" }, waiting, grid), side),
    controls,
  );
  container.append(root);

  // ---------------------------------------------------------------- rendering

  function renderControls(): void {
    const setPressed = (b: HTMLButtonElement, pressed: boolean, onLabel: string, offLabel: string): void => {
      b.setAttribute("aria-pressed", String(pressed));
      b.setAttribute("aria-label", pressed ? onLabel : offLabel);
      b.title = pressed ? onLabel : offLabel;
    };
    micBtn.disabled = !session.local.microphone;
    setPressed(micBtn, session.micMuted, "Ligar microfone", "Desligar microfone");
    camBtn.disabled = !session.local.camera;
    setPressed(camBtn, session.cameraMuted, "Ligar câmera", "Desligar câmera");
    setPressed(audioOnlyBtn, session.audioOnly, "Voltar a usar a câmera", "Usar só áudio");
    setPressed(screenBtn, !!session.local.screen, "Parar de compartilhar a tela", "Compartilhar tela");
    screenBtn.disabled = !session.admitted;
    setPressed(chatBtn, sidePanel === "chat", "Fechar chat", "Abrir chat");
    chatBtn.textContent = unread > 0 && sidePanel !== "chat" ? `Chat (${unread})` : "Chat";
    setPressed(peopleBtn, sidePanel === "pessoas", "Fechar participantes", "Ver participantes");
    side.hidden = sidePanel === null;
    chatPanel.hidden = sidePanel !== "chat";
    peoplePanel.hidden = sidePanel !== "pessoas";
    root.classList.toggle("com-lateral", sidePanel !== null);
  }

  function tileFor(key: string, p: Participant | undefined, pid: string, source: string): HTMLElement {
    let tile = tiles.get(key);
    if (!tile) {
      const video = h("video", { autoplay: true, playsinline: true, muted: true, "data-participant-id": pid, "data-source": source });
      video.muted = true; // sound goes through the <audio> elements; a muted video always autoplays
      tile = h(
        "figure",
        { class: "bloco", "data-participant-id": pid, "data-source": source, tabindex: "0" },
        video,
        h("div", { class: "avatar", "aria-hidden": "true" }),
        h("figcaption", { class: "legenda" }),
      );
      tiles.set(key, tile);
    }
    const name = p?.display_name ?? "Participante";
    const caption = tile.querySelector("figcaption") as HTMLElement;
    const isMe = pid === session.meId;
    const parts = [source === "screen" ? `Tela de ${name}` : name + (isMe ? " (você)" : "")];
    if (p && source !== "screen") parts.push(roleLabel(p.role));
    caption.textContent = parts.join(" · ");
    if (p?.muted.microphone && source !== "screen") caption.append(h("span", { class: "mudo", "aria-label": "microfone desligado", title: "Microfone desligado" }, " · sem microfone"));
    if (p?.presence === "reconnecting") caption.append(h("span", { class: "reconectando" }, " · reconectando…"));
    (tile.querySelector(".avatar") as HTMLElement).textContent = initials(name);
    tile.setAttribute("aria-label", caption.textContent ?? name);
    return tile;
  }

  function attach(tile: HTMLElement, track: MediaStreamTrack | undefined, showVideo: boolean): void {
    const video = tile.querySelector("video") as HTMLVideoElement;
    const current = (video.srcObject as MediaStream | null)?.getVideoTracks()[0];
    if (track !== current) {
      video.srcObject = track ? new MediaStream([track]) : null;
      if (track) void video.play().catch(() => undefined);
      if (track && tile.dataset.participantId !== session.meId && "requestVideoFrameCallback" in video) {
        // The join-to-first-remote-frame benchmark reads this mark (bench/browser_join.py).
        video.requestVideoFrameCallback(() => mark("first_remote_frame"));
      }
    }
    tile.classList.toggle("sem-video", !track || !showVideo);
  }

  function renderGrid(): void {
    const wanted = new Set<string>();
    const order: HTMLElement[] = [];
    const remoteBy = (pid: string, source: string): RemoteMedia | undefined =>
      session.remote.find((r) => r.participantId === pid && r.source === source);
    const people = [...session.participants.values()].filter((p) => p.admitted || p.participant_id === session.meId);
    // Me first, then professionals, then the patient and guests: stable positions on screen.
    people.sort((a, b) => Number(b.participant_id === session.meId) - Number(a.participant_id === session.meId) || a.kind.localeCompare(b.kind) || a.display_name.localeCompare(b.display_name));
    if (session.admitted) {
      for (const p of people) {
        const pid = p.participant_id;
        const isMe = pid === session.meId;
        const key = `${pid}:camera`;
        wanted.add(key);
        const tile = tileFor(key, p, pid, "camera");
        tile.classList.toggle("eu", isMe);
        const track = isMe ? session.local.camera : remoteBy(pid, "camera")?.track;
        const muted = isMe ? session.cameraMuted : p.muted.camera;
        attach(tile, track, !muted);
        tile.classList.toggle("falando", pid === session.speakerId);
        order.push(tile);
        // presence screen_share ends a share even before the server's next offer reuses the slot.
        const screenTrack = isMe ? session.local.screen : p.screen_sharing ? remoteBy(pid, "screen")?.track : undefined;
        if (screenTrack) {
          const skey = `${pid}:screen`;
          wanted.add(skey);
          const stile = tileFor(skey, p, pid, "screen");
          stile.classList.add("tela");
          attach(stile, screenTrack, true);
          order.unshift(stile);
        }
      }
    }
    for (const [key, tile] of tiles) {
      if (!wanted.has(key)) {
        (tile.querySelector("video") as HTMLVideoElement).srcObject = null;
        tile.remove();
        tiles.delete(key);
      }
    }
    order.forEach((tile, i) => {
      if (grid.children[i] !== tile) grid.insertBefore(tile, grid.children[i] ?? null);
    });
    grid.dataset.count = String(order.length);
    grid.hidden = !session.admitted;
    renderAudio();
  }

  function renderAudio(): void {
    const mics = session.remote.filter((r) => r.source === "microphone");
    const keep = new Set(mics.map((m) => m.mid));
    for (const [mid, el] of audios) {
      if (!keep.has(mid)) {
        el.srcObject = null;
        el.remove();
        audios.delete(mid);
      }
    }
    for (const m of mics) {
      let el = audios.get(m.mid);
      if (!el) {
        el = h("audio", { autoplay: true, "data-participant-id": m.participantId, "data-source": "microphone" });
        audios.set(m.mid, el);
        root.append(el);
      }
      el.dataset.participantId = m.participantId;
      const current = (el.srcObject as MediaStream | null)?.getAudioTracks()[0];
      if (current !== m.track) {
        el.srcObject = new MediaStream([m.track]);
        el.play().catch((err: unknown) => {
          // Only a blocked autoplay needs the user's tap; an AbortError is just a newer srcObject.
          if (err instanceof DOMException && err.name === "NotAllowedError") soundBanner.hidden = false;
        });
      }
    }
  }

  function resumeAudio(): void {
    soundBanner.hidden = true;
    for (const el of audios.values()) el.play().catch(() => (soundBanner.hidden = false));
  }

  function renderWaiting(): void {
    clear(waiting);
    waiting.hidden = session.admitted || session.status !== "joined";
    if (waiting.hidden) return;
    const reason = HOLD_REASONS[session.holdReason ?? ""] ?? "Aguarde: você logo será admitido na consulta.";
    waiting.append(
      h("h2", {}, "Sala de espera"),
      h("p", { class: "espera-motivo", id: "espera-motivo" }, reason),
      h("p", { class: "dica" }, "Deixe esta página aberta. A chamada começa sozinha quando o profissional entrar. Enquanto isso, você pode usar o chat."),
      h("div", { class: "pulso", "aria-hidden": "true" }),
    );
  }

  function renderPeople(): void {
    clear(peopleList);
    const all = [...session.participants.values()];
    for (const p of all) {
      const held = !p.admitted && p.participant_id !== session.meId;
      const item = h(
        "li",
        { "data-participant-id": p.participant_id, class: held ? "aguardando" : "" },
        h("strong", {}, p.display_name + (p.participant_id === session.meId ? " (você)" : "")),
        h("span", { class: "papel" }, ` · ${roleLabel(p.role)}`),
        p.presence === "reconnecting" ? h("span", { class: "reconectando" }, " · reconectando…") : null,
        p.screen_sharing ? h("span", {}, " · compartilhando a tela") : null,
        held ? h("span", { class: "espera" }, ` · na sala de espera (${HOLD_REASONS[p.hold_reason ?? ""] ?? "aguardando"})`) : null,
      );
      if (held && opts.isProfessional) {
        item.append(
          h(
            "button",
            {
              type: "button",
              class: "secundario pequeno",
              "aria-label": `Admitir ${p.display_name}`,
              onclick: async () => {
                const err = await session.admit(p.participant_id);
                toast(err ? err.message : `${p.display_name} foi admitido(a).`);
              },
            },
            "Admitir",
          ),
        );
        // A patient held for consent: the professional can record it verbally or from a legal
        // representative, then the patient is admitted (PROTOCOL.md: admit after consent).
        if (p.role === "paciente" && p.hold_reason === "consent_required") {
          item.append(consentButton(session, p));
        }
      }
      peopleList.append(item);
    }
    const waitingCount = all.filter((p) => !p.admitted && p.participant_id !== session.meId).length;
    peopleBtn.textContent = waitingCount > 0 && opts.isProfessional ? `Pessoas (${waitingCount} aguardando)` : "Pessoas";
  }

  function renderChat(): void {
    clear(chatList);
    for (const m of session.chat) {
      const mine = m.author.participant_id === session.meId;
      chatList.append(
        h(
          "li",
          { class: mine ? "minha" : "", "data-message-id": String(m.id) },
          h("span", { class: "autor" }, mine ? "Você" : m.author.display_name),
          h("time", { datetime: m.created_at }, ` ${formatTime(m.created_at)}`),
          h("p", {}, m.text),
        ),
      );
    }
    for (const p of session.pendingChat) {
      chatList.append(h("li", { class: "minha pendente" }, h("span", { class: "autor" }, "Você"), h("span", { class: "estado" }, p.failed ? " · não enviada (tentaremos de novo)" : " · enviando…"), h("p", {}, p.text)));
    }
    chatList.scrollTop = chatList.scrollHeight;
  }

  function renderTitle(): void {
    title.textContent = session.modality ? modalityLabel(session.modality) : "Consulta";
  }

  function toggleSide(panel: "chat" | "pessoas"): void {
    sidePanel = sidePanel === panel ? null : panel;
    if (sidePanel === "chat") {
      unread = 0;
      chatInput.focus();
    }
    renderControls();
  }

  // ---------------------------------------------------------------- actions

  async function toggleAudioOnly(): Promise<void> {
    const problem = await session.setAudioOnly(!session.audioOnly, opts.camId);
    if (problem) toast("Não foi possível ligar a câmera. Continue só com áudio.");
    renderControls();
    renderGrid();
  }

  async function toggleScreen(): Promise<void> {
    if (session.local.screen) await session.stopScreenShare();
    else {
      const problem = await session.startScreenShare();
      if (problem === "NotAllowedError") toast("O compartilhamento de tela foi cancelado.");
      else if (problem) toast("Não foi possível compartilhar a tela.");
    }
    renderControls();
    renderGrid();
  }

  async function leave(): Promise<void> {
    await session.leave();
  }

  async function endCall(): Promise<void> {
    if (!window.confirm("Encerrar a consulta para todos os participantes?")) return;
    const err = await session.end();
    if (err) toast(err.message);
  }

  chatForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = chatInput.value.trim();
    if (!text) return;
    chatInput.value = "";
    chatError.hidden = true;
    void session.sendChat(text).then((err) => {
      if (err) {
        chatError.textContent = err.message;
        chatError.hidden = false;
      }
    });
  });

  // ---------------------------------------------------------------- session events

  session.on("status", (status) => {
    banner.hidden = status !== "reconnecting";
    // A join refused for lack of capacity is retried: the banner says why it is taking long.
    banner.textContent = session.lastError?.code === "server_busy" ? session.lastError.message : "Reconectando…";
    if (status === "ended" || status === "left" || status === "replaced" || status === "failed") {
      opts.onExit(status);
      return;
    }
    renderTitle();
    renderWaiting();
    renderGrid();
    renderControls();
  });
  session.on("participants", () => {
    renderWaiting();
    renderGrid();
    renderPeople();
    renderControls();
  });
  session.on("remote", () => renderGrid());
  session.on("local", () => {
    renderControls();
    renderGrid();
  });
  session.on("chat", () => {
    if (sidePanel !== "chat") unread += 1;
    renderChat();
    renderControls();
  });
  session.on("stats", ({ quality: q, speakerId }) => {
    quality.className = `qualidade q-${q.level}`;
    quality.textContent = QUALITY_TEXT[q.level];
    const detail = q.rttMs !== null ? ` (atraso ${Math.round(q.rttMs)} ms, perda ${(q.lossPct ?? 0).toFixed(1)}%)` : "";
    quality.setAttribute("aria-label", `Qualidade da conexão: ${QUALITY_TEXT[q.level]}${detail}`);
    quality.title = QUALITY_TEXT[q.level] + detail;
    for (const tile of tiles.values()) tile.classList.toggle("falando", tile.dataset.participantId === speakerId && tile.dataset.source === "camera");
  });

  renderControls();
  renderWaiting();
  return () => {
    for (const el of audios.values()) el.srcObject = null;
  };
}
