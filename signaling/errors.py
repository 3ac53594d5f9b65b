"""The signaling package's refusals: a stable code and a message a person can read (pt-BR)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from media import MediaError

_MESSAGES: dict[str, str] = {
    "token_missing": "Faça login ou use o link do convite para entrar.",
    "token_invalid": "Sua sessão expirou ou o link é inválido. Entre novamente.",
    "invite_revoked": "Este convite foi cancelado. Peça um novo link ao profissional.",
    "invite_expired": "Este convite expirou. Peça um novo link ao profissional.",
    "account_inactive": "Sua conta está desativada. Procure o gestor do seu núcleo.",
    "invalid_payload": "Dados inválidos.",
    "unknown_event": "Evento desconhecido.",
    "rate_limited": "Muitas mensagens em pouco tempo. Aguarde um instante.",
    "not_joined": "Entre na consulta antes de fazer isso.",
    "already_joined": "Você já está nesta consulta.",
    "consultation_not_found": "Consulta não encontrada.",
    "not_a_participant": "Você não participa desta consulta.",
    "consultation_closed": "Esta consulta já foi encerrada.",
    "not_a_video_consultation": "Esta consulta não é por vídeo.",
    "forbidden": "Somente profissionais podem fazer isso.",
    "not_admitted": "Aguarde ser admitido na consulta.",
    "consent_required": "O consentimento do paciente ainda não foi registrado.",
    "media_not_ready": "A conexão de mídia ainda está sendo estabelecida. Tente de novo.",
    "participant_not_found": "Participante não encontrado nesta sala.",
    "invalid_candidate": "Candidato ICE inválido.",
    "invalid_sdp": "A conexão de mídia falhou. Tente entrar novamente.",
    "unsupported_codec": "A conexão de mídia falhou. Tente entrar novamente.",
    "negotiation_failed": "A conexão de mídia falhou. Tente entrar novamente.",
    "media_error": "A conexão de mídia falhou. Tente entrar novamente.",
    "room_closed": "A sala de vídeo foi encerrada.",
    "participant_closed": "Sua conexão de mídia foi encerrada.",
    "invalid_chat_message": "Mensagem inválida.",
    "internal_error": "Erro interno. Tente novamente.",
}

_PT_FIELD_MESSAGES = {
    "missing": "campo obrigatório",
    "extra_forbidden": "campo não permitido",
    "string_too_long": "texto longo demais",
    "string_too_short": "texto curto demais",
    "string_type": "deve ser um texto",
    "int_type": "deve ser um número inteiro",
    "int_parsing": "deve ser um número inteiro",
    "bool_type": "deve ser verdadeiro ou falso",
    "uuid_parsing": "identificador inválido",
    "uuid_type": "identificador inválido",
    "enum": "valor não permitido",
    "literal_error": "valor não permitido",
    "greater_than_equal": "valor pequeno demais",
    "less_than_equal": "valor grande demais",
    "model_type": "deve ser um objeto",
    "dict_type": "deve ser um objeto",
}


class SignalingError(Exception):
    """A refusal to show the client: `code` is stable, `message` is pt-BR."""

    def __init__(
        self, code: str, message: str | None = None, details: list[dict[str, Any]] | None = None
    ) -> None:
        self.code = code
        self.message = message or _MESSAGES.get(code, _MESSAGES["internal_error"])
        self.details = details
        super().__init__(f"{code}: {self.message}")

    def as_error(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        return error

    def ack(self) -> dict[str, Any]:
        return {"ok": False, "error": self.as_error()}


def from_validation(exc: ValidationError) -> SignalingError:
    details = []
    for err in exc.errors(include_url=False, include_input=False):
        kind = str(err.get("type", ""))
        details.append(
            {
                "field": ".".join(str(part) for part in err.get("loc", ())),
                "code": kind,
                "message": _PT_FIELD_MESSAGES.get(kind, "valor inválido"),
            }
        )
    return SignalingError("invalid_payload", details=details)


def from_media(exc: MediaError) -> SignalingError:
    # MediaError messages are English and may name internals: only the code crosses the wire.
    return SignalingError(exc.code if exc.code in _MESSAGES else "media_error")
