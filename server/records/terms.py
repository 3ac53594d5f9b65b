"""The TCLE (termo de consentimento livre e esclarecido) texts, one current version per modality.

Texts live in code so that they are reviewed like code; the database keeps every version ever
shown (``ConsentTerm``), and a consent points at the exact version and its SHA-256. To change a
text, bump ``TERM_VERSION`` (or the modality's entry in ``_VERSION_OVERRIDES``): the new version
is stored the first time it is needed and the old ones stay.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from server.db.models import Modality

TERM_VERSION = 1
_VERSION_OVERRIDES: dict[Modality, int] = {}

_NAMES: dict[Modality, str] = {
    Modality.TELECONSULTORIA: "teleconsultoria",
    Modality.TELETRIAGEM: "teletriagem",
    Modality.TELECONSULTA: "teleconsulta",
    Modality.TELEDIAGNOSTICO: "telediagnóstico",
    Modality.TELEMONITORAMENTO: "telemonitoramento",
    Modality.TELEINTERCONSULTA: "teleinterconsulta",
    Modality.TELEDUCACAO: "teleducação",
    Modality.TELERREGULACAO: "telerregulação",
    Modality.TELEORIENTACAO: "teleorientação",
}

_WHAT: dict[Modality, str] = {
    Modality.TELECONSULTORIA: (
        "profissionais de saúde trocarão informações sobre o seu caso para esclarecer dúvidas "
        "sobre o seu cuidado; você pode ou não participar da conversa."
    ),
    Modality.TELETRIAGEM: (
        "um profissional de saúde avaliará a distância os seus sinais e sintomas para indicar "
        "o atendimento mais adequado e o momento dele."
    ),
    Modality.TELECONSULTA: (
        "você será atendido(a) por um profissional de saúde por vídeo; ele poderá emitir "
        "receitas e atestados assinados digitalmente."
    ),
    Modality.TELEDIAGNOSTICO: (
        "exames seus serão analisados a distância por um profissional de saúde, que emitirá "
        "um laudo ou parecer."
    ),
    Modality.TELEMONITORAMENTO: (
        "a sua condição de saúde será acompanhada a distância, por contatos periódicos com a "
        "equipe de saúde."
    ),
    Modality.TELEINTERCONSULTA: (
        "o profissional que cuida de você conversará, por vídeo e na sua presença, com um ou "
        "mais especialistas, que deixarão recomendações registradas no seu prontuário."
    ),
    Modality.TELEDUCACAO: (
        "informações sobre o seu caso poderão ser usadas em atividade educativa entre "
        "profissionais, sem identificar você."
    ),
    Modality.TELERREGULACAO: (
        "profissionais reguladores avaliarão a distância o seu caso para organizar o seu "
        "acesso a consultas, exames ou internação."
    ),
    Modality.TELEORIENTACAO: (
        "um profissional de saúde dará orientações a você a distância sobre cuidados e "
        "serviços de saúde."
    ),
}

_BODY = """Termo de Consentimento Livre e Esclarecido — {name}

1. O que é: neste atendimento de {name}, {what}

2. Como funciona: o atendimento usa tecnologia de comunicação a distância (videochamada ou \
mensagens). O atendimento a distância tem limites: pode não substituir o exame físico, e o \
profissional pode indicar um atendimento presencial a qualquer momento.

3. Seus direitos: a sua participação é livre. Você pode recusar este atendimento e pedir \
atendimento presencial, sem nenhum prejuízo ao seu cuidado no SUS. Você pode retirar este \
consentimento a qualquer momento, inclusive durante a chamada.

4. Registro e sigilo: o atendimento será registrado no seu prontuário (data, hora, tecnologia \
usada, profissionais com número de registro no conselho e as anotações clínicas). A chamada \
não é gravada. Os seus dados são tratados com sigilo, segundo a Lei Geral de Proteção de \
Dados (Lei nº 13.709/2018), e só os profissionais que cuidam de você têm acesso a eles. Todo \
acesso ao seu prontuário fica registrado.

5. Cópia: você pode pedir a qualquer momento uma cópia do seu prontuário, digital ou impressa.

Ao aceitar, declaro que li (ou ouvi a leitura de) este termo, que entendi as informações e \
que concordo em ser atendido(a) por {name}."""


@dataclass(frozen=True)
class TermText:
    modality: Modality
    version: int
    title: str
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


def current_term_text(modality: Modality) -> TermText:
    name = _NAMES[modality]
    return TermText(
        modality=modality,
        version=_VERSION_OVERRIDES.get(modality, TERM_VERSION),
        title=f"Termo de Consentimento Livre e Esclarecido — {name}",
        text=_BODY.format(name=name, what=_WHAT[modality]),
    )
