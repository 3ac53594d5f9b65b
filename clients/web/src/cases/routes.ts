// The case screens, registered from routes.ts with one line. Fixed paths before /casos/:id.

import { route } from "../router";
import { myCasesScreen, queueScreen, inboxScreen } from "./list";
import { newCaseScreen } from "./new_case";
import { caseScreen } from "./view";
import { sofCreateScreen, sofLibraryScreen, sofReadScreen } from "./sof";
import { reportsScreen } from "./reports";

export function registerCaseRoutes(): void {
  route("/casos", myCasesScreen);
  route("/casos/novo", newCaseScreen);
  route("/casos/fila", queueScreen);
  route("/casos/caixa", inboxScreen);
  route("/casos/:id", (p) => caseScreen({ id: p.id }));
  route("/casos/:id/sof", (p) => sofCreateScreen({ id: p.id }));
  route("/sof", sofLibraryScreen);
  route("/sof/:id", (p) => sofReadScreen({ id: p.id }));
  route("/relatorios", reportsScreen);
}
