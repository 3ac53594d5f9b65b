// Shapes of the /consultation Socket.IO protocol (docs/PROTOCOL.md).

export type Source = "microphone" | "camera" | "screen";

export interface Participant {
  participant_id: string;
  display_name: string;
  role: string;
  kind: "professional" | "patient" | "guest";
  presence: "online" | "reconnecting";
  admitted: boolean;
  hold_reason: string | null;
  muted: { microphone: boolean; camera: boolean };
  screen_sharing: boolean;
}

export interface Slot {
  mid: string;
  kind: "audio" | "video";
  direction: "publish" | "subscribe";
  source: Source | null;
  publisher_id: string | null;
}

export interface Offer {
  type: "offer";
  sdp: string;
  slots: Slot[];
  ice_servers: RTCIceServer[];
  new_peer_connection: boolean;
}

export interface ProtocolError {
  code: string;
  message: string;
  details?: { field?: string; message?: string }[];
  /** `server_busy`: when to try the join again. */
  retry_after_ms?: number;
  /** `room_elsewhere`: the server process that hosts the room. */
  redirect?: { node_id: string; url: string };
}

export type Ack<T = Record<string, unknown>> = ({ ok: true } & T) | { ok: false; error: ProtocolError };

export interface JoinAck {
  consultation_id: string;
  consultation: { status: string; started_at: string | null; modality: string };
  participant_id: string;
  role: string;
  kind: string;
  display_name: string;
  admitted: boolean;
  hold_reason: string | null;
  reconnected: boolean;
  ice_servers: RTCIceServer[];
  participants: Participant[];
  chat: { last_id: number };
}

export interface ChatMessage {
  id: number;
  client_msg_id: string;
  author: { kind: string; participant_id: string | null; display_name: string };
  text: string;
  attachment_id: string | null;
  created_at: string;
}

export interface PresenceEvent {
  type: string;
  participant: Participant;
  reason: string | null;
}
