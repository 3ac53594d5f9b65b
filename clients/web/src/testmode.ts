// Test mode (?test=1 or localStorage.telessaudeTest): the client's state on window.__telessaude,
// so end-to-end tests read state instead of scraping the screen.

export interface RemoteTrackState {
  participantId: string;
  source: string;
  kind: string;
  mid: string | null;
  trackId: string;
}

export interface InboundStats {
  mid: string | null;
  kind: string;
  participantId: string | null;
  source: string | null;
  framesDecoded: number;
  packetsReceived: number;
  packetsLost: number;
  bytesReceived: number;
  audioLevel: number;
  frameWidth: number;
}

export interface TestState {
  screen: string;
  socket: string;
  pc: string;
  joined: boolean;
  admitted: boolean;
  holdReason: string | null;
  participantId: string | null;
  consultationId: string | null;
  participants: unknown[];
  remoteTracks: RemoteTrackState[];
  localTracks: Record<string, boolean>;
  stats: { at: number; inbound: InboundStats[]; rttMs: number | null; quality: string };
  chat: unknown[];
  errors: { code: string; message: string; at: number }[];
  offers: number;
  joins: number;
  /** getUserMedia calls: a refused consent must leave this at 0. */
  mediaRequests: number;
  ended: boolean;
  marks: Record<string, number>;
  /** Fresh getStats() sample (the periodic snapshot may be a second old). */
  sampleStats?: () => Promise<InboundStats[]>;
}

const enabled = (() => {
  try {
    if (new URLSearchParams(location.search).has("test")) {
      localStorage.setItem("telessaudeTest", "1");
      return true;
    }
    return localStorage.getItem("telessaudeTest") !== null;
  } catch {
    return false;
  }
})();

export const testState: TestState = {
  screen: "",
  socket: "disconnected",
  pc: "none",
  joined: false,
  admitted: false,
  holdReason: null,
  participantId: null,
  consultationId: null,
  participants: [],
  remoteTracks: [],
  localTracks: {},
  stats: { at: 0, inbound: [], rttMs: null, quality: "desconhecida" },
  chat: [],
  errors: [],
  offers: 0,
  joins: 0,
  mediaRequests: 0,
  ended: false,
  marks: {},
};

if (enabled) (window as unknown as { __telessaude: TestState }).__telessaude = testState;

export function isTestMode(): boolean {
  return enabled;
}

export function setScreen(name: string): void {
  testState.screen = name;
  document.body.dataset.screen = name;
}

export function recordError(code: string, message: string): void {
  testState.errors.push({ code, message, at: Date.now() });
  if (testState.errors.length > 50) testState.errors.shift();
}

/** performance.now() marks for the join-to-first-frame benchmark. */
export function mark(name: string): void {
  if (!(name in testState.marks)) testState.marks[name] = performance.now();
}
