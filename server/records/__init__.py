"""The prontuário: consent, append-only hash-chained entries, session records, notes."""

from server.records.chain import AppendOnlyError, append_entry, verify_chain
from server.records.consent import has_consent, record_consent
from server.records.errors import RecordError
from server.records.models import (
    Consent,
    ConsentChannel,
    ConsentDecision,
    ConsentTerm,
    EntryKind,
    RecordEntry,
)
from server.records.session_record import write_case_entry, write_session_entry

__all__ = [
    "AppendOnlyError",
    "Consent",
    "ConsentChannel",
    "ConsentDecision",
    "ConsentTerm",
    "EntryKind",
    "RecordEntry",
    "RecordError",
    "append_entry",
    "has_consent",
    "record_consent",
    "verify_chain",
    "write_case_entry",
    "write_session_entry",
]
