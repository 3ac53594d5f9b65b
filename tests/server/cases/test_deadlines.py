"""Due times: calendar hours from receipt, across day, month and year boundaries and time zones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from server.cases.deadlines import (
    BRAZIL_TZ,
    Deadlines,
    DeadlineTooLongError,
    InvalidDeadlineError,
    answer_due,
    format_local,
    is_due_soon,
    is_overdue,
    legal_limit,
    local,
    regulation_due,
)

SP = ZoneInfo("America/Sao_Paulo")


def test_a_case_received_late_on_the_last_day_of_the_month_is_due_in_the_next_month() -> None:
    received = datetime(2025, 1, 31, 22, 30, tzinfo=SP)
    deadlines = Deadlines(24, 48)
    assert local(regulation_due(received, deadlines)) == datetime(2025, 2, 1, 22, 30, tzinfo=SP)
    assert local(answer_due(received, deadlines)) == datetime(2025, 2, 3, 22, 30, tzinfo=SP)


def test_february_of_a_leap_year_has_its_29th_day() -> None:
    received = datetime(2024, 2, 28, 9, 0, tzinfo=SP)
    assert local(regulation_due(received, Deadlines(24, 48))).date().isoformat() == "2024-02-29"


def test_a_case_received_on_new_years_eve_is_due_in_the_next_year() -> None:
    received = datetime(2024, 12, 31, 23, 59, tzinfo=SP)
    assert local(answer_due(received, Deadlines(24, 48))) == datetime(2025, 1, 3, 23, 59, tzinfo=SP)


def test_late_evening_in_brasilia_is_already_the_next_day_in_utc() -> None:
    received = datetime(2025, 3, 10, 22, 0, tzinfo=SP)
    due = regulation_due(received, Deadlines(24, 48))
    assert due.astimezone(UTC) == datetime(2025, 3, 12, 1, 0, tzinfo=UTC)
    assert format_local(due) == "11/03/2025 22:00"


def test_deadlines_are_elapsed_hours_even_across_a_daylight_saving_change() -> None:
    # Brazil's last DST started on 2018-11-04 at 00:00 (clocks jumped to 01:00).
    received = datetime(2018, 11, 3, 12, 0, tzinfo=SP)
    due = regulation_due(received, Deadlines(24, 48))
    assert due - received == timedelta(hours=24)
    assert local(due).hour == 13  # the wall clock moved, the elapsed time did not


def test_the_same_instant_given_in_another_zone_gets_the_same_due_time() -> None:
    in_sp = datetime(2025, 6, 1, 8, 0, tzinfo=SP)
    in_manaus = in_sp.astimezone(ZoneInfo("America/Manaus"))
    assert answer_due(in_sp, Deadlines(10, 20)) == answer_due(in_manaus, Deadlines(10, 20))


@pytest.mark.parametrize(("regulation", "specialist"), [(24, 49), (72, 1), (1, 72), (48, 48)])
def test_a_total_above_72_hours_is_refused(regulation: int, specialist: int) -> None:
    with pytest.raises(DeadlineTooLongError):
        Deadlines(regulation, specialist)


def test_exactly_72_hours_is_allowed_and_never_passes_the_legal_limit() -> None:
    received = datetime(2025, 5, 30, 17, 0, tzinfo=BRAZIL_TZ)
    deadlines = Deadlines(24, 48)
    assert answer_due(received, deadlines) == legal_limit(received)


@pytest.mark.parametrize(("regulation", "specialist"), [(0, 48), (24, 0), (-1, 10)])
def test_a_deadline_below_one_hour_is_refused(regulation: int, specialist: int) -> None:
    with pytest.raises(InvalidDeadlineError):
        Deadlines(regulation, specialist)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        answer_due(datetime(2025, 1, 1, 10, 0), Deadlines())


def test_due_soon_is_the_last_quarter_of_the_window_and_overdue_is_after_it() -> None:
    start = datetime(2025, 1, 1, 0, 0, tzinfo=UTC)
    due = start + timedelta(hours=24)
    assert not is_due_soon(start, due, start + timedelta(hours=17, minutes=59))
    assert is_due_soon(start, due, start + timedelta(hours=18))
    assert not is_overdue(due, due)
    assert is_overdue(due, due + timedelta(seconds=1))
    assert not is_due_soon(start, due, due + timedelta(seconds=1))
