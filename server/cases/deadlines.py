"""Due times of an asynchronous case.

Decision: deadlines run in **calendar hours**, not business hours. Art. 448 §3 caps the time
from receipt to answer at 72 h of calendar time, whatever day it is; a business-hours clock
would let a case received on a Friday evening legally cross the ceiling. Using one clock for
the protocol deadlines and the ceiling keeps "due" and "legal" from ever disagreeing.

Arithmetic is done on UTC instants (``received_at + hours``), so a deadline is an elapsed
duration: a daylight-saving change in the local zone (Brazil had DST until 2019) never makes a
24 h deadline 23 or 25 h long. Local time (America/Sao_Paulo by default) is only for display.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

MAX_TOTAL_HOURS = 72
DEFAULT_REGULATION_HOURS = 24
DEFAULT_SPECIALIST_HOURS = 48
DUE_SOON_FRACTION = 0.25
"A case is 'due soon' in the last quarter of its window (18 h of 72 h, 6 h of 24 h)."
BRAZIL_TZ = ZoneInfo("America/Sao_Paulo")


class DeadlineTooLongError(ValueError):
    """Regulation + specialist hours exceed the 72 h legal ceiling."""


class InvalidDeadlineError(ValueError):
    """A deadline that is not a positive number of hours."""


@dataclass(frozen=True)
class Deadlines:
    regulation_hours: int = DEFAULT_REGULATION_HOURS
    specialist_hours: int = DEFAULT_SPECIALIST_HOURS

    def __post_init__(self) -> None:
        check_deadlines(self.regulation_hours, self.specialist_hours)

    @property
    def total_hours(self) -> int:
        return self.regulation_hours + self.specialist_hours


def check_deadlines(regulation_hours: int, specialist_hours: int) -> None:
    if regulation_hours < 1 or specialist_hours < 1:
        raise InvalidDeadlineError("deadlines are at least 1 hour")
    if regulation_hours + specialist_hours > MAX_TOTAL_HOURS:
        raise DeadlineTooLongError(
            f"{regulation_hours} + {specialist_hours} h exceeds {MAX_TOTAL_HOURS} h"
        )


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: deadlines need timezone-aware instants")
    return moment


def _utc(moment: datetime) -> datetime:
    # Python adds timedeltas to aware datetimes in *wall-clock* time of their own zone;
    # converting to UTC first makes "+24 h" mean 24 elapsed hours across a DST change.
    return _aware(moment).astimezone(UTC)


def regulation_due(received_at: datetime, deadlines: Deadlines) -> datetime:
    return _utc(received_at) + timedelta(hours=deadlines.regulation_hours)


def answer_due(received_at: datetime, deadlines: Deadlines) -> datetime:
    """Receipt + regulation + specialist hours: by construction never past the 72 h ceiling."""
    return _utc(received_at) + timedelta(hours=deadlines.total_hours)


def legal_limit(received_at: datetime) -> datetime:
    return _utc(received_at) + timedelta(hours=MAX_TOTAL_HOURS)


def is_overdue(due_at: datetime, now: datetime) -> bool:
    return _aware(now) > _aware(due_at)


def is_due_soon(start: datetime, due_at: datetime, now: datetime) -> bool:
    """Not overdue yet, but within the last ``DUE_SOON_FRACTION`` of the window."""
    if is_overdue(due_at, now):
        return False
    window = due_at - start
    return due_at - now <= window * DUE_SOON_FRACTION


def local(moment: datetime, tz: ZoneInfo = BRAZIL_TZ) -> datetime:
    """The instant as a person in Brazil reads it (e-mails, PDFs, screens)."""
    return _aware(moment).astimezone(tz)


def format_local(moment: datetime, tz: ZoneInfo = BRAZIL_TZ) -> str:
    return local(moment, tz).strftime("%d/%m/%Y %H:%M")
