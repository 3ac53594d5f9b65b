// Device check before joining: camera preview, microphone level, device choice, clear pt-BR
// messages for denied permission or missing devices, and the audio-only path.

import { h, clear, errorBox } from "../dom";
import { mediaErrorMessage } from "../labels";
import { recordError, testState, mark } from "../testmode";

export interface PreparedMedia {
  stream: MediaStream;
  audioOnly: boolean;
  micId: string | null;
  camId: string | null;
}

export interface DeviceCheckOptions {
  /** Text of the button that continues (e.g. "Entrar na consulta"). */
  continueLabel: string;
  audioOnly?: boolean;
  onContinue: (media: PreparedMedia) => void;
  onCancel?: () => void;
}

/** Level 0..1 of a microphone track, read with a WebAudio AnalyserNode. */
export class LevelMeter {
  private ctx: AudioContext | null = null;
  private analyser: AnalyserNode | null = null;
  private data = new Float32Array(512);

  constructor(track: MediaStreamTrack | undefined) {
    if (!track) return;
    try {
      this.ctx = new AudioContext();
      const source = this.ctx.createMediaStreamSource(new MediaStream([track]));
      this.analyser = this.ctx.createAnalyser();
      this.analyser.fftSize = 512;
      source.connect(this.analyser);
    } catch {
      this.ctx = null;
    }
  }

  level(): number {
    if (!this.analyser) return 0;
    this.analyser.getFloatTimeDomainData(this.data);
    let sum = 0;
    for (const v of this.data) sum += v * v;
    // RMS of speech sits around 0.02–0.2; scale so normal speech fills most of the meter.
    return Math.min(1, Math.sqrt(sum / this.data.length) * 5);
  }

  close(): void {
    void this.ctx?.close().catch(() => undefined);
    this.ctx = null;
    this.analyser = null;
  }
}

export async function acquire(
  micId: string | null,
  camId: string | null,
  audioOnly: boolean,
): Promise<{ stream: MediaStream; problem: string | null; cameraDenied: boolean }> {
  const audio: MediaTrackConstraints | boolean = micId ? { deviceId: { exact: micId } } : true;
  const video: MediaTrackConstraints | boolean = audioOnly
    ? false
    : {
        ...(camId ? { deviceId: { exact: camId } } : {}),
        width: { ideal: 640 },
        height: { ideal: 480 },
        frameRate: { ideal: 24 },
      };
  if (!navigator.mediaDevices?.getUserMedia) {
    return {
      stream: new MediaStream(),
      problem: "Este navegador não permite chamadas de vídeo. Use uma versão recente do Chrome, Firefox, Edge ou Safari.",
      cameraDenied: true,
    };
  }
  testState.mediaRequests += 1;
  try {
    return { stream: await navigator.mediaDevices.getUserMedia({ audio, video }), problem: null, cameraDenied: false };
  } catch (err) {
    const problem = mediaErrorMessage(err);
    recordError((err as Error).name || "getUserMedia", problem);
    if (audioOnly) return { stream: new MediaStream(), problem, cameraDenied: true };
    // The camera is the usual culprit (denied, missing or busy): try the microphone alone.
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio, video: false });
      return { stream, problem, cameraDenied: true };
    } catch (err2) {
      recordError((err2 as Error).name || "getUserMedia", mediaErrorMessage(err2));
      return { stream: new MediaStream(), problem: mediaErrorMessage(err2), cameraDenied: true };
    }
  }
}

export function stopStream(stream: MediaStream | null | undefined): void {
  stream?.getTracks().forEach((t) => t.stop());
}

/** Renders the device check into `container`; calls onContinue with the chosen stream. */
export function renderDeviceCheck(container: HTMLElement, opts: DeviceCheckOptions): () => void {
  let stream: MediaStream | null = null;
  let meter: LevelMeter | null = null;
  let raf = 0;
  let audioOnly = opts.audioOnly ?? false;
  let cameraUnavailable = false;
  let micId: string | null = null;
  let camId: string | null = null;
  let done = false;

  const preview = h("video", {
    class: "preview espelhado",
    autoplay: true,
    playsinline: true,
    muted: true,
    "aria-label": "Prévia da sua câmera",
  });
  preview.muted = true;
  const noCamera = h("div", { class: "preview-vazio", hidden: true }, "Câmera desligada");
  const level = h("meter", { min: "0", max: "1", value: "0", class: "nivel", "aria-label": "Nível do microfone", id: "nivel-microfone" });
  const message = h("div", { class: "mensagens", "aria-live": "polite" });
  const micSelect = h("select", { id: "sel-microfone", "aria-label": "Microfone" });
  const camSelect = h("select", { id: "sel-camera", "aria-label": "Câmera" });
  const audioOnlyBox = h("input", { type: "checkbox", id: "so-audio", "aria-describedby": "so-audio-ajuda" });
  const continueBtn = h("button", { class: "primario", type: "button", id: "btn-continuar" }, opts.continueLabel);

  async function refreshDevices(): Promise<void> {
    let devices: MediaDeviceInfo[] = [];
    try {
      devices = await navigator.mediaDevices.enumerateDevices();
    } catch {
      devices = [];
    }
    const fill = (select: HTMLSelectElement, kind: MediaDeviceKind, current: string | null, noneLabel: string): void => {
      clear(select);
      const list = devices.filter((d) => d.kind === kind && d.deviceId);
      if (list.length === 0) select.append(h("option", { value: "" }, noneLabel));
      list.forEach((d, i) =>
        select.append(h("option", { value: d.deviceId, selected: d.deviceId === current }, d.label || `${noneLabel.split(" ")[1] ?? "Dispositivo"} ${i + 1}`)),
      );
      select.disabled = list.length === 0;
    };
    const liveMic = stream?.getAudioTracks()[0]?.getSettings().deviceId ?? micId;
    const liveCam = stream?.getVideoTracks()[0]?.getSettings().deviceId ?? camId;
    fill(micSelect, "audioinput", liveMic, "Nenhum microfone");
    fill(camSelect, "videoinput", liveCam, "Nenhuma câmera");
  }

  async function start(): Promise<void> {
    cancelAnimationFrame(raf);
    meter?.close();
    stopStream(stream);
    clear(message);
    message.append(h("p", { class: "dica" }, "Verificando câmera e microfone…"));
    const got = await acquire(micId, camId, audioOnly);
    if (done) {
      stopStream(got.stream);
      return;
    }
    stream = got.stream;
    cameraUnavailable = got.cameraDenied && !audioOnly;
    clear(message);
    if (got.problem) {
      message.append(errorBox(got.problem));
      if (stream.getAudioTracks().length > 0) {
        message.append(h("p", { class: "dica" }, "Seu microfone funciona: você pode entrar só com áudio."));
      } else {
        message.append(h("p", { class: "dica" }, "Você ainda pode entrar para ouvir, ver os outros participantes e usar o chat."));
      }
    }
    const hasVideo = stream.getVideoTracks().length > 0;
    preview.srcObject = hasVideo ? stream : null;
    preview.hidden = !hasVideo;
    noCamera.hidden = hasVideo;
    noCamera.textContent = audioOnly ? "Só áudio: a câmera ficará desligada" : "Câmera indisponível";
    audioOnlyBox.checked = audioOnly || cameraUnavailable;
    audioOnlyBox.disabled = cameraUnavailable && !audioOnly;
    if (!hasVideo && !audioOnly) continueBtn.textContent = "Entrar só com áudio";
    else continueBtn.textContent = opts.continueLabel;
    meter = new LevelMeter(stream.getAudioTracks()[0]);
    const tick = (): void => {
      level.value = meter?.level() ?? 0;
      raf = requestAnimationFrame(tick);
    };
    tick();
    await refreshDevices();
  }

  micSelect.addEventListener("change", () => {
    micId = micSelect.value || null;
    void start();
  });
  camSelect.addEventListener("change", () => {
    camId = camSelect.value || null;
    void start();
  });
  audioOnlyBox.addEventListener("change", () => {
    audioOnly = audioOnlyBox.checked;
    void start();
  });
  continueBtn.addEventListener("click", () => {
    if (!stream) return;
    mark("join_click");
    done = true;
    cancelAnimationFrame(raf);
    meter?.close();
    const media: PreparedMedia = {
      stream,
      audioOnly: audioOnly || stream.getVideoTracks().length === 0,
      micId: stream.getAudioTracks()[0]?.getSettings().deviceId ?? micId,
      camId: stream.getVideoTracks()[0]?.getSettings().deviceId ?? camId,
    };
    stream = null; // handed over: the call owns the tracks now
    opts.onContinue(media);
  });

  container.append(
    h(
      "section",
      { class: "cartao verificacao", "aria-labelledby": "titulo-verificacao" },
      h("h2", { id: "titulo-verificacao" }, "Teste de câmera e microfone"),
      h("div", { class: "preview-caixa" }, preview, noCamera),
      h("label", { for: "nivel-microfone", class: "rotulo" }, "Fale algo: a barra deve se mexer"),
      level,
      message,
      h(
        "div",
        { class: "campos" },
        h("label", { for: "sel-microfone" }, "Microfone", micSelect),
        h("label", { for: "sel-camera" }, "Câmera", camSelect),
      ),
      h(
        "label",
        { class: "opcao", for: "so-audio" },
        audioOnlyBox,
        " Entrar só com áudio",
      ),
      h("p", { class: "dica", id: "so-audio-ajuda" }, "Use só áudio se a sua internet estiver fraca."),
      h(
        "div",
        { class: "acoes" },
        continueBtn,
        opts.onCancel ? h("button", { type: "button", class: "secundario", onclick: () => opts.onCancel?.() }, "Voltar") : null,
      ),
    ),
  );
  void start();
  return () => {
    done = true;
    cancelAnimationFrame(raf);
    meter?.close();
    stopStream(stream);
  };
}
