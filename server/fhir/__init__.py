"""FHIR R4 (fhir.resources R4B models) export of the prontuário."""

from server.fhir.bundle import build_bundle
from server.fhir.systems import DEFAULT_SYSTEMS, FhirSystems

__all__ = ["DEFAULT_SYSTEMS", "FhirSystems", "build_bundle"]
