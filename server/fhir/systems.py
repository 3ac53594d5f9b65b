"""Identifier and code systems used in the FHIR export (RNDS by default, configurable)."""

from __future__ import annotations

from dataclasses import dataclass

RNDS = "http://rnds.saude.gov.br/fhir/r4/NamingSystem"
MS_CODESYSTEM = "http://www.saude.gov.br/fhir/r4/CodeSystem"


@dataclass(frozen=True)
class FhirSystems:
    """Where each identifier and code comes from. A deployment that profiles differently (or
    a state's own namespace) passes its own instance; tests check these exact values."""

    cpf: str = f"{RNDS}/cpf"
    cns: str = f"{RNDS}/cns"
    cnes: str = f"{RNDS}/cnes"
    cbo: str = f"{MS_CODESYSTEM}/BRCBO"
    cid10: str = f"{MS_CODESYSTEM}/BRCID10"
    ciap2: str = f"{MS_CODESYSTEM}/BRCIAP2"
    council_base: str = "urn:telessaude:conselho"
    "Council registrations: ``<base>:<council>:<uf>`` with the number as value."
    entry_id: str = "urn:telessaude:record-entry"
    tcle_sha256: str = "urn:telessaude:tcle-sha256"
    document_sha256: str = "urn:telessaude:document-sha256"

    def council(self, council: str, uf: str) -> str:
        return f"{self.council_base}:{council}:{uf}"


DEFAULT_SYSTEMS = FhirSystems()

ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
LOINC = "http://loinc.org"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
