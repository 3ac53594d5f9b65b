// Case screens' state on window.__telessaude.cases (test mode only), read by the e2e tests.

import { isTestMode, testState } from "../testmode";
import type { CaseEvent } from "./socket";

export interface CaseTestState {
  socket: string;
  caseId: string | null;
  status: string | null;
  /** Stored messages shown, by server id order. */
  messages: { id: number; clientMsgId: string; author: string; text: string }[];
  /** Messages typed but not yet acknowledged as stored. */
  pending: { clientMsgId: string; text: string; state: string }[];
  lastId: number;
  sends: number;
  events: CaseEvent[];
  /** Drop / restore the case screen's connection, as a flaky network would. */
  offline?: () => void;
  online?: () => void;
}

export const caseTest: CaseTestState = {
  socket: "disconnected",
  caseId: null,
  status: null,
  messages: [],
  pending: [],
  lastId: 0,
  sends: 0,
  events: [],
};

if (isTestMode()) (testState as unknown as { cases: CaseTestState }).cases = caseTest;
