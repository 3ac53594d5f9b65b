// The /cases Socket.IO namespace: one connection per screen (opened on entry, closed on leave),
// so a case room joined on one screen never leaks its messages into the next one.

import { io, type Socket } from "socket.io-client";
import { freshAccessToken } from "../api";
import { toast } from "../dom";
import { caseTest } from "./testmode";

export interface CaseEvent {
  event: string;
  case_id: string;
  status: string;
  message: string;
}

export function openCasesSocket(onEvent?: (ev: CaseEvent) => void): Socket {
  const socket = io("/cases", {
    // A function: asked again on every reconnection, so a refreshed token is used.
    auth: (cb) => {
      void freshAccessToken().then((token) => cb({ token }));
    },
    transports: ["websocket"],
    reconnectionDelay: 500,
    reconnectionDelayMax: 3000,
  });
  socket.on("connect", () => (caseTest.socket = "connected"));
  socket.on("disconnect", () => (caseTest.socket = "disconnected"));
  socket.on("connect_error", () => (caseTest.socket = "error"));
  socket.on("case_event", (ev: CaseEvent) => {
    caseTest.events.push(ev);
    // The server's subject line is pt-BR and free of clinical content.
    toast(ev.message);
    onEvent?.(ev);
  });
  return socket;
}
