// One participant's live call: the Socket.IO signaling (docs/PROTOCOL.md), the RTCPeerConnection
// answering the server's offers, presence, chat with idempotent retries, stats and reconnection.
// The view (call/view.ts) renders what this exposes; it never touches the socket itself.

import { io, type Socket } from "socket.io-client";
import { testState, recordError, mark, type InboundStats, type RemoteTrackState } from "../testmode";
import type { Ack, ChatMessage, JoinAck, Offer, Participant, PresenceEvent, ProtocolError, Slot, Source } from "./protocol";

export type CallStatus = "connecting" | "joined" | "reconnecting" | "ended" | "replaced" | "failed" | "left";

export interface RemoteMedia {
  participantId: string;
  source: Source;
  track: MediaStreamTrack;
  mid: string;
}

export interface Quality {
  level: "boa" | "regular" | "ruim" | "desconhecida";
  rttMs: number | null;
  lossPct: number | null;
}

type Events = {
  status: CallStatus;
  participants: Map<string, Participant>;
  remote: RemoteMedia[];
  chat: ChatMessage[];
  stats: { quality: Quality; speakerId: string | null };
  error: ProtocolError;
  local: void;
};

export interface CallOptions {
  consultationId: string;
  /** The socket's auth token, asked again at every (re)connection. */
  token: () => Promise<string | null>;
  stream: MediaStream;
  audioOnly: boolean;
}

const ACK_TIMEOUT_MS = 8000;
const CHAT_RETRIES = 5;
/** Consecutive moves between server processes before a join counts as failed (no redirect loop). */
const MAX_MOVES = 5;

function newClientMsgId(): string {
  if (typeof crypto !== "undefined" && "randomUUID" in crypto) return crypto.randomUUID();
  return `${Date.now().toString(16)}-${Math.random().toString(16).slice(2)}`;
}

export class CallSession {
  readonly consultationId: string;
  status: CallStatus = "connecting";
  me: Participant | null = null;
  meId: string | null = null;
  role: string | null = null;
  kind: string | null = null;
  admitted = false;
  holdReason: string | null = null;
  modality: string | null = null;
  participants = new Map<string, Participant>();
  remote: RemoteMedia[] = [];
  chat: ChatMessage[] = [];
  pendingChat: { client_msg_id: string; text: string; failed: boolean }[] = [];
  local: Partial<Record<Source, MediaStreamTrack>> = {};
  micMuted = false;
  cameraMuted = false;
  audioOnly: boolean;
  quality: Quality = { level: "desconhecida", rttMs: null, lossPct: null };
  speakerId: string | null = null;
  endedReason: string | null = null;
  lastError: ProtocolError | null = null;

  private socket: Socket;
  private pc: RTCPeerConnection | null = null;
  private slots: Slot[] = [];
  private answering = false;
  private queuedCandidates: RTCIceCandidate[] = [];
  private listeners: { [K in keyof Events]?: ((v: Events[K]) => void)[] } = {};
  private statsTimer = 0;
  private prevLoss = { lost: 0, received: 0 };
  private lastChatId = 0;
  private joining = false;
  private closed = false;
  private pcFailTimer = 0;
  private moves = 0;

  constructor(opts: CallOptions) {
    this.consultationId = opts.consultationId;
    this.audioOnly = opts.audioOnly;
    const audio = opts.stream.getAudioTracks()[0];
    const video = opts.stream.getVideoTracks()[0];
    if (audio) this.local.microphone = audio;
    if (video && !opts.audioOnly) this.local.camera = video;
    else video?.stop();
    this.cameraMuted = !this.local.camera;
    this.micMuted = !this.local.microphone;
    this.syncLocalTestState();

    mark("socket_create");
    this.socket = io("/consultation", {
      // A function: socket.io asks it again on every reconnection, so a refreshed token is used.
      auth: (cb) => {
        void opts.token().then((token) => cb({ token }));
      },
      transports: ["websocket"],
      reconnectionDelay: 500,
      reconnectionDelayMax: 3000,
    });
    this.bindSocket();
    this.statsTimer = window.setInterval(() => void this.pollStats(), 1000);
    testState.sampleStats = () => this.sampleInbound();
  }

  on<K extends keyof Events>(event: K, fn: (v: Events[K]) => void): void {
    ((this.listeners[event] ??= []) as ((v: Events[K]) => void)[]).push(fn);
  }

  private emit<K extends keyof Events>(event: K, value: Events[K]): void {
    for (const fn of (this.listeners[event] ?? []) as ((v: Events[K]) => void)[]) fn(value);
  }

  private setStatus(status: CallStatus): void {
    this.status = status;
    testState.joined = status === "joined";
    this.emit("status", status);
  }

  private fail(error: ProtocolError): void {
    this.lastError = error;
    recordError(error.code, error.message);
    this.emit("error", error);
  }

  private async request<T>(event: string, payload: unknown, timeout = ACK_TIMEOUT_MS): Promise<Ack<T>> {
    try {
      return (await this.socket.timeout(timeout).emitWithAck(event, payload)) as Ack<T>;
    } catch {
      return { ok: false, error: { code: "timeout", message: "O servidor demorou a responder. Tente novamente." } };
    }
  }

  // ------------------------------------------------------------------ socket and join

  private bindSocket(): void {
    const s = this.socket;
    s.on("connect", () => {
      testState.socket = "connected";
      mark("socket_connected");
      void this.join();
    });
    s.on("disconnect", (reason) => {
      testState.socket = "disconnected";
      if (this.closed) return;
      this.setStatus("reconnecting");
      // The server dropping us is not retried by socket.io itself; a network loss is.
      if (reason === "io server disconnect") s.connect();
    });
    s.on("connect_error", (err: Error & { data?: { code?: string; message?: string } }) => {
      testState.socket = "error";
      const code = err.data?.code ?? err.message;
      const message = err.data?.message ?? "Não foi possível conectar ao servidor. Tentando de novo…";
      if (err.data?.code) {
        // Refused by the server (invalid, revoked or expired invite): retrying will not help.
        this.closed = true;
        s.disconnect();
        this.fail({ code, message });
        this.setStatus("failed");
      } else if (this.status !== "connecting") {
        this.setStatus("reconnecting");
      }
    });
    s.on("offer", (offer: Offer, ack: (answer: unknown) => void) => void this.onOffer(offer, ack));
    s.on("presence", (ev: PresenceEvent) => this.onPresence(ev));
    s.on("replaced", () => {
      this.closeMedia();
      this.closed = true;
      s.disconnect();
      this.setStatus("replaced");
    });
    s.on("ended", (ev: { reason: string }) => {
      this.endedReason = ev.reason;
      this.finish("ended");
    });
    s.on("media_error", (err: ProtocolError) => {
      this.fail(err);
      this.closeMedia();
      // The server removed our media connection; a fresh join negotiates a new one.
      window.setTimeout(() => void this.rejoin(), 1000);
    });
    s.on("server_draining", (ev: { retry_after_ms?: number }) => this.moveTo(null, ev.retry_after_ms ?? 500));
    s.on("chat_message", (ev: { message: ChatMessage }) => this.addChat([ev.message]));
    s.on("chat_read", () => undefined);
  }

  private async join(): Promise<void> {
    if (this.joining || this.closed) return;
    this.joining = true;
    try {
      mark("join_sent");
      let ack = await this.request<JoinAck>("join", { consultation_id: this.consultationId });
      if (!ack.ok && ack.error.code === "already_joined") {
        await this.request("leave", {});
        ack = await this.request<JoinAck>("join", { consultation_id: this.consultationId });
      }
      if (!ack.ok && ack.error.code === "room_elsewhere" && ack.error.redirect && this.moves < MAX_MOVES) {
        // Several server processes: the room lives on another one. The reverse proxy routes
        // `?node=` to it (docs/PROTOCOL.md §2); the fresh socket joins again on "connect".
        this.moveTo(ack.error.redirect.node_id, 0);
        return;
      }
      if (!ack.ok && ack.error.code === "server_draining" && this.moves < MAX_MOVES) {
        this.moveTo(null, 500); // that process is shutting down: any other one
        return;
      }
      if (!ack.ok && ack.error.code === "server_busy") {
        // Load shedding: the video server has no capacity for this call right now. Not a
        // failure: say so and try again after the delay the server asked for.
        this.fail(ack.error);
        this.setStatus("reconnecting");
        const delay = Number(ack.error.retry_after_ms) || 3000;
        window.setTimeout(() => void this.join(), delay);
        return;
      }
      if (!ack.ok) {
        this.fail(ack.error);
        if (ack.error.code === "consultation_closed") this.finish("ended");
        else if (ack.error.code !== "timeout") this.setStatus("failed");
        return;
      }
      mark("join_ack");
      if (this.lastError?.code === "server_busy") this.lastError = null;
      this.moves = 0;
      testState.joins += 1;
      this.meId = ack.participant_id;
      this.role = ack.role;
      this.kind = ack.kind;
      this.modality = ack.consultation.modality;
      this.admitted = ack.admitted;
      this.holdReason = ack.hold_reason;
      testState.participantId = ack.participant_id;
      testState.consultationId = ack.consultation_id;
      testState.admitted = ack.admitted;
      testState.holdReason = ack.hold_reason;
      this.participants = new Map(ack.participants.map((p) => [p.participant_id, p]));
      this.me = this.participants.get(ack.participant_id) ?? null;
      this.participantsChanged();
      this.setStatus("joined");
      // Tell the room what is already off (remembered while held, applied on admission).
      if (this.micMuted) void this.request("mute", { source: "microphone", muted: true });
      if (this.cameraMuted) void this.request("mute", { source: "camera", muted: true });
      await this.fetchHistory();
      for (const p of this.pendingChat.filter((m) => m.failed)) void this.deliver(p.client_msg_id, p.text);
    } finally {
      this.joining = false;
    }
  }

  /** Reconnect the socket, to one server process (`node`) or to any (null), then join again. */
  private moveTo(node: string | null, delayMs: number): void {
    this.moves += 1;
    this.setStatus("reconnecting");
    this.closeMedia();
    const s = this.socket;
    s.io.opts.query = node ? { node } : {};
    s.disconnect();
    window.setTimeout(() => {
      if (!this.closed) s.connect();
    }, delayMs);
  }

  /** leave + join: a fresh media connection (after a failed one, or to re-publish the camera). */
  async rejoin(): Promise<void> {
    if (this.closed || !this.socket.connected) return;
    this.closeMedia();
    await this.request("leave", {});
    await this.join();
  }

  // ------------------------------------------------------------------ media

  private async onOffer(offer: Offer, ack: (answer: unknown) => void): Promise<void> {
    testState.offers += 1;
    mark("first_offer");
    this.answering = true;
    try {
      if (offer.new_peer_connection || !this.pc) this.newPeerConnection(offer.ice_servers);
      const pc = this.pc as RTCPeerConnection;
      await pc.setRemoteDescription({ type: "offer", sdp: offer.sdp });
      this.slots = offer.slots;
      for (const t of pc.getTransceivers()) {
        const slot = offer.slots.find((s) => s.mid === t.mid);
        if (slot?.direction !== "publish" || !slot.source) continue;
        const track = this.local[slot.source] ?? null;
        await t.sender.replaceTrack(track);
        t.direction = track ? "sendonly" : "inactive";
      }
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      ack({ type: "answer", sdp: pc.localDescription?.sdp ?? answer.sdp });
      const wasHeld = !this.admitted;
      this.admitted = true;
      testState.admitted = true;
      testState.holdReason = null;
      this.holdReason = null;
      if (this.me) this.me = { ...this.me, admitted: true, hold_reason: null };
      if (wasHeld) this.participantsChanged();
      this.updateRemote();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      recordError("negotiation", message);
      ack({ error: { code: "client_error", message: message.slice(0, 400) } });
    } finally {
      this.answering = false;
      const queued = this.queuedCandidates.splice(0);
      for (const c of queued) this.sendCandidate(c);
    }
  }

  private newPeerConnection(iceServers: RTCIceServer[]): void {
    this.closeMedia();
    const pc = new RTCPeerConnection({ iceServers, bundlePolicy: "max-bundle" });
    this.pc = pc;
    testState.pc = pc.connectionState;
    pc.onicecandidate = ({ candidate }) => {
      if (pc !== this.pc) return;
      // Candidates wait until the answer is acked, so the server never sees one before the answer.
      if (this.answering && candidate) this.queuedCandidates.push(candidate);
      else this.sendCandidate(candidate);
    };
    pc.ontrack = () => this.updateRemote();
    pc.onconnectionstatechange = () => {
      if (pc !== this.pc) return;
      testState.pc = pc.connectionState;
      if (pc.connectionState === "connected") mark("pc_connected");
      window.clearTimeout(this.pcFailTimer);
      if (pc.connectionState === "failed") {
        // ICE gave up (network change): negotiate a fresh connection if the socket is up.
        this.pcFailTimer = window.setTimeout(() => void this.rejoin(), 1500);
      }
    };
  }

  private sendCandidate(candidate: RTCIceCandidate | null): void {
    const payload = candidate
      ? { candidate: candidate.candidate, sdpMid: candidate.sdpMid, sdpMLineIndex: candidate.sdpMLineIndex }
      : { candidate: "", sdpMid: this.slots[0]?.mid ?? "0", sdpMLineIndex: 0 };
    void this.request("ice_candidate", payload).then((ack) => {
      if (!ack.ok && ack.error.code !== "not_admitted" && ack.error.code !== "not_joined") {
        recordError(ack.error.code, ack.error.message);
      }
    });
  }

  private closeMedia(): void {
    window.clearTimeout(this.pcFailTimer);
    if (this.pc) {
      this.pc.onicecandidate = null;
      this.pc.ontrack = null;
      this.pc.onconnectionstatechange = null;
      this.pc.close();
    }
    this.pc = null;
    this.slots = [];
    this.queuedCandidates = [];
    testState.pc = "closed";
    this.updateRemote();
  }

  /** Re-read the slot map: which participant's source arrives on which transceiver. */
  private updateRemote(): void {
    const remote: RemoteMedia[] = [];
    const pc = this.pc;
    if (pc) {
      for (const t of pc.getTransceivers()) {
        const slot = this.slots.find((s) => s.mid === t.mid);
        if (slot?.direction !== "subscribe" || !slot.publisher_id || !slot.source) continue;
        if (!t.receiver.track) continue;
        remote.push({ participantId: slot.publisher_id, source: slot.source, track: t.receiver.track, mid: slot.mid });
      }
    }
    this.remote = remote;
    testState.remoteTracks = remote.map<RemoteTrackState>((r) => ({
      participantId: r.participantId,
      source: r.source,
      kind: r.track.kind,
      mid: r.mid,
      trackId: r.track.id,
    }));
    this.emit("remote", remote);
  }

  private publishSlot(source: Source): RTCRtpTransceiver | null {
    const slot = this.slots.find((s) => s.direction === "publish" && s.source === source);
    return this.pc?.getTransceivers().find((t) => t.mid === slot?.mid) ?? null;
  }

  // ------------------------------------------------------------------ controls

  async setMicMuted(muted: boolean): Promise<void> {
    if (!this.local.microphone) return;
    this.micMuted = muted;
    this.local.microphone.enabled = !muted;
    this.syncLocalTestState();
    this.emit("local", undefined);
    await this.request("mute", { source: "microphone", muted });
  }

  async setCameraMuted(muted: boolean): Promise<void> {
    if (!this.local.camera) return;
    this.cameraMuted = muted;
    this.local.camera.enabled = !muted;
    this.syncLocalTestState();
    this.emit("local", undefined);
    await this.request("mute", { source: "camera", muted });
  }

  /** Audio-only for a weak link: the camera is released, not just muted. */
  async setAudioOnly(on: boolean, camId: string | null): Promise<string | null> {
    if (on) {
      this.audioOnly = true;
      const cam = this.local.camera;
      delete this.local.camera;
      await this.publishSlot("camera")?.sender.replaceTrack(null);
      cam?.stop();
      this.cameraMuted = true;
      this.syncLocalTestState();
      this.emit("local", undefined);
      await this.request("mute", { source: "camera", muted: true });
      return null;
    }
    let track: MediaStreamTrack | undefined;
    try {
      const stream = await navigator.mediaDevices.getUserMedia({
        video: camId ? { deviceId: { ideal: camId }, width: { ideal: 640 }, height: { ideal: 480 } } : { width: { ideal: 640 }, height: { ideal: 480 } },
      });
      track = stream.getVideoTracks()[0];
    } catch (err) {
      const name = (err as Error).name;
      recordError(name, "camera");
      return name || "Error";
    }
    if (!track) return "NotFoundError";
    this.audioOnly = false;
    this.local.camera = track;
    this.cameraMuted = false;
    this.syncLocalTestState();
    this.emit("local", undefined);
    await this.request("mute", { source: "camera", muted: false });
    const t = this.publishSlot("camera");
    if (t && t.currentDirection === "sendonly") await t.sender.replaceTrack(track);
    else await this.rejoin(); // the camera m-line was answered inactive: only a new offer can open it
    return null;
  }

  async startScreenShare(): Promise<string | null> {
    let track: MediaStreamTrack | undefined;
    try {
      const stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 10 } }, audio: false });
      track = stream.getVideoTracks()[0];
    } catch (err) {
      return (err as Error).name || "Error";
    }
    if (!track) return "NotFoundError";
    // Set before asking: the server's offer with the screen slot arrives before the ack.
    this.local.screen = track;
    track.addEventListener("ended", () => void this.stopScreenShare());
    this.syncLocalTestState();
    this.emit("local", undefined);
    const ack = await this.request("screen_share_start", {});
    if (!ack.ok) {
      track.stop();
      delete this.local.screen;
      this.fail(ack.error);
      this.emit("local", undefined);
      return ack.error.code;
    }
    return null;
  }

  async stopScreenShare(): Promise<void> {
    const track = this.local.screen;
    if (!track) return;
    delete this.local.screen;
    track.stop();
    await this.publishSlot("screen")?.sender.replaceTrack(null);
    this.syncLocalTestState();
    this.emit("local", undefined);
    await this.request("screen_share_stop", {});
  }

  async admit(participantId: string): Promise<ProtocolError | null> {
    const ack = await this.request("admit", { participant_id: participantId });
    return ack.ok ? null : ack.error;
  }

  async leave(): Promise<void> {
    await this.request("leave", {}, 3000);
    this.finish("left");
  }

  async end(): Promise<ProtocolError | null> {
    const ack = await this.request("end", {});
    if (!ack.ok) return ack.error;
    this.endedReason = "ended_by_professional";
    this.finish("ended");
    return null;
  }

  private finish(status: CallStatus): void {
    if (this.closed && status !== "ended") return;
    this.closed = true;
    testState.ended = status === "ended";
    this.closeMedia();
    for (const t of Object.values(this.local)) t?.stop();
    this.local = {};
    this.syncLocalTestState();
    window.clearInterval(this.statsTimer);
    this.socket.disconnect();
    this.setStatus(status);
  }

  /** Leaving the page: stop everything without waiting (the server's grace period covers it). */
  dispose(): void {
    if (!this.closed) this.finish("left");
  }

  private syncLocalTestState(): void {
    testState.localTracks = {
      microphone: !!this.local.microphone && !this.micMuted,
      camera: !!this.local.camera && !this.cameraMuted,
      screen: !!this.local.screen,
    };
  }

  // ------------------------------------------------------------------ presence

  private onPresence(ev: PresenceEvent): void {
    const p = ev.participant;
    if (ev.type === "left") this.participants.delete(p.participant_id);
    else this.participants.set(p.participant_id, p);
    this.participantsChanged();
  }

  private participantsChanged(): void {
    if (this.me && this.meId) this.participants.set(this.meId, { ...this.me, ...this.participants.get(this.meId), admitted: this.admitted || !!this.participants.get(this.meId)?.admitted });
    testState.participants = [...this.participants.values()];
    this.emit("participants", this.participants);
  }

  // ------------------------------------------------------------------ chat

  private async fetchHistory(): Promise<void> {
    for (let page = 0; page < 20; page++) {
      const ack = await this.request<{ messages: ChatMessage[]; has_more: boolean }>("chat_history", {
        after_id: this.lastChatId || null,
        limit: 200,
      });
      if (!ack.ok) return;
      this.addChat(ack.messages);
      if (!ack.has_more || ack.messages.length === 0) return;
    }
  }

  private addChat(messages: ChatMessage[]): void {
    let changed = false;
    for (const m of messages) {
      if (this.chat.some((c) => c.id === m.id)) continue;
      this.chat.push(m);
      this.pendingChat = this.pendingChat.filter((p) => p.client_msg_id !== m.client_msg_id);
      this.lastChatId = Math.max(this.lastChatId, m.id);
      changed = true;
    }
    if (!changed) return;
    this.chat.sort((a, b) => a.id - b.id);
    testState.chat = this.chat.map((m) => ({ id: m.id, text: m.text, author: m.author.display_name, participantId: m.author.participant_id }));
    this.emit("chat", this.chat);
    if (this.socket.connected) void this.request("chat_read", { last_id: this.lastChatId });
  }

  /** Send a chat message; retried with the same client_msg_id so a lost ack never duplicates it. */
  async sendChat(text: string): Promise<ProtocolError | null> {
    const clientMsgId = newClientMsgId();
    this.pendingChat.push({ client_msg_id: clientMsgId, text, failed: false });
    this.emit("chat", this.chat);
    return this.deliver(clientMsgId, text);
  }

  private async deliver(clientMsgId: string, text: string): Promise<ProtocolError | null> {
    let last: ProtocolError | null = null;
    for (let attempt = 0; attempt < CHAT_RETRIES; attempt++) {
      const ack = await this.request<{ message: ChatMessage }>("chat_send", { client_msg_id: clientMsgId, text });
      if (ack.ok) {
        this.addChat([ack.message]);
        return null;
      }
      last = ack.error;
      if (!["timeout", "rate_limited", "not_joined", "internal_error"].includes(ack.error.code)) break;
      await new Promise((r) => window.setTimeout(r, 500 * (attempt + 1)));
    }
    const pending = this.pendingChat.find((p) => p.client_msg_id === clientMsgId);
    if (pending) pending.failed = true;
    if (last) recordError(last.code, last.message);
    this.emit("chat", this.chat);
    return last;
  }

  // ------------------------------------------------------------------ stats

  async sampleInbound(): Promise<InboundStats[]> {
    const pc = this.pc;
    if (!pc) return [];
    const report = await pc.getStats();
    const inbound: InboundStats[] = [];
    let rtt: number | null = null;
    let lost = 0;
    let received = 0;
    report.forEach((s: Record<string, unknown> & { type: string }) => {
      if (s.type === "inbound-rtp") {
        const mid = (s.mid as string | undefined) ?? null;
        const slot = this.slots.find((x) => x.mid === mid);
        inbound.push({
          mid,
          kind: String(s.kind ?? ""),
          participantId: slot?.publisher_id ?? null,
          source: slot?.source ?? null,
          framesDecoded: Number(s.framesDecoded ?? 0),
          packetsReceived: Number(s.packetsReceived ?? 0),
          packetsLost: Number(s.packetsLost ?? 0),
          bytesReceived: Number(s.bytesReceived ?? 0),
          audioLevel: Number(s.audioLevel ?? 0),
          frameWidth: Number(s.frameWidth ?? 0),
        });
        lost += Math.max(0, Number(s.packetsLost ?? 0));
        received += Number(s.packetsReceived ?? 0);
      } else if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") {
        if (typeof s.currentRoundTripTime === "number") rtt = s.currentRoundTripTime * 1000;
      } else if (s.type === "remote-inbound-rtp" && rtt === null && typeof s.roundTripTime === "number") {
        rtt = s.roundTripTime * 1000;
      }
    });
    const dLost = lost - this.prevLoss.lost;
    const dRecv = received - this.prevLoss.received;
    this.prevLoss = { lost, received };
    const lossPct = dRecv + dLost > 0 ? (100 * Math.max(0, dLost)) / (dRecv + dLost) : 0;
    let level: Quality["level"] = "desconhecida";
    if (rtt !== null || received > 0) {
      const r = rtt ?? 0;
      level = r < 200 && lossPct < 2 ? "boa" : r < 450 && lossPct < 8 ? "regular" : "ruim";
    }
    if (pc.connectionState !== "connected") level = "desconhecida";
    this.quality = { level, rttMs: rtt, lossPct };
    // Active speaker: the loudest remote microphone above a floor (no server event for it).
    let best: string | null = null;
    let bestLevel = 0.02;
    for (const s of inbound) {
      if (s.kind === "audio" && s.participantId && s.audioLevel > bestLevel) {
        best = s.participantId;
        bestLevel = s.audioLevel;
      }
    }
    this.speakerId = best;
    testState.stats = { at: Date.now(), inbound, rttMs: rtt, quality: level };
    return inbound;
  }

  private async pollStats(): Promise<void> {
    try {
      await this.sampleInbound();
      this.emit("stats", { quality: this.quality, speakerId: this.speakerId });
    } catch {
      /* the connection closed between two samples */
    }
  }
}
