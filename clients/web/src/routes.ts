// Every screen of the app, one line each. Other features add theirs here (e.g. cases/).

import { route } from "./router";
import { currentUser } from "./api";
import { navigate } from "./router";
import { loginScreen } from "./screens/login";
import { agendaScreen } from "./screens/agenda";
import { createScreen } from "./screens/create";
import { consultationScreen } from "./screens/consultation";
import { professionalRoomScreen } from "./screens/professional_room";
import { noteScreen } from "./screens/note";
import { inviteScreen } from "./screens/invite";
import { registerCaseRoutes } from "./cases/routes";
import { recordScreen } from "./records/record";
import { documentsScreen } from "./records/documents";
import { verifyScreen } from "./records/verify";
import { patientsScreen } from "./records/patients";

export function registerRoutes(): void {
  route("/", () => navigate(currentUser() ? "/agenda" : "/login", true));
  route("/login", loginScreen);
  route("/agenda", agendaScreen);
  route("/consultas/nova", createScreen);
  route("/consultas/:id", consultationScreen);
  route("/consultas/:id/sala", professionalRoomScreen);
  route("/consultas/:id/registro", noteScreen);
  route("/pacientes/:id/prontuario", recordScreen);
  route("/consultas/:id/documentos", documentsScreen);
  route("/verificar", verifyScreen);
  route("/prontuarios", patientsScreen);
  registerCaseRoutes(); // /casos…, /sof…, /relatorios
  route("/entrar/:token", inviteScreen);
  route("/entrar", inviteScreen); // /entrar?convite=<token>
}
