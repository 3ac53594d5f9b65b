// The top navigation: what a logged-in professional can reach; nothing for invitees.

import { currentUser, logout } from "./api";
import { h, clear } from "./dom";
import { navigate } from "./router";
import { caseNavLinks } from "./cases/nav";

export function renderNav(mode: "professional" | "invitee" | "auto" = "auto"): void {
  const nav = document.getElementById("topnav") as HTMLElement;
  clear(nav);
  const user = currentUser();
  if (mode === "invitee") return;
  // Checking a signed document needs no account (a pharmacy, an employer).
  if (!user) {
    nav.append(h("a", { href: "/verificar", "data-link": true }, "Verificar documento"));
    return;
  }
  nav.append(
    h("a", { href: "/agenda", "data-link": true }, "Agenda"),
    h("a", { href: "/consultas/nova", "data-link": true }, "Nova consulta"),
    ...caseNavLinks(user),
    // Gestores read the audit trail, not clinical content.
    ...(user.role === "gestor" ? [] : [h("a", { href: "/prontuarios", "data-link": true }, "Prontuários")]),
    h("a", { href: "/verificar", "data-link": true }, "Verificar documento"),
    h("span", { class: "usuario", "aria-label": "Usuário conectado" }, user.name),
    h(
      "button",
      {
        type: "button",
        class: "link",
        onclick: () => {
          logout();
          navigate("/login");
        },
      },
      "Sair",
    ),
  );
}

/** Professional-only screens call this first; it sends others to the login. */
export function requireLogin(): boolean {
  if (currentUser()) return true;
  navigate(`/login?voltar=${encodeURIComponent(location.pathname)}`, true);
  return false;
}
