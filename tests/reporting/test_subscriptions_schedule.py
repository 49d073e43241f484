"""Send times computed in the subscriber's zone: DST changes, skipped and repeated local times."""

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from reporting.subscriptions import Schedule, next_send, period_for

BERLIN = ZoneInfo("Europe/Berlin")


def _daily(at=time(8, 0), zone=BERLIN):
    return Schedule(frequency="daily", at=at, zone=zone)


def _sends(schedule, after, n):
    out = []
    for _ in range(n):
        after = next_send(schedule, after=after)
        out.append(after)
    return out


def test_daily_0800_berlin_stays_0800_local_across_the_march_change():
    # 2026-03-29 is the spring-forward Sunday in Europe (CET +1 -> CEST +2).
    sends = _sends(_daily(), datetime(2026, 3, 27, 12, 0, tzinfo=UTC), 4)
    assert [s.astimezone(BERLIN).strftime("%m-%d %H:%M") for s in sends] == [
        "03-28 08:00",
        "03-29 08:00",
        "03-30 08:00",
        "03-31 08:00",
    ]
    assert [s.hour for s in sends] == [7, 6, 6, 6]  # UTC moves, local does not


def test_daily_0800_berlin_stays_0800_local_across_the_october_change():
    # 2026-10-25 is the fall-back Sunday (CEST +2 -> CET +1).
    sends = _sends(_daily(), datetime(2026, 10, 23, 12, 0, tzinfo=UTC), 3)
    assert [s.astimezone(BERLIN).strftime("%m-%d %H:%M") for s in sends] == [
        "10-24 08:00",
        "10-25 08:00",
        "10-26 08:00",
    ]
    assert [s.hour for s in sends] == [6, 7, 7]
    assert all(s.tzinfo == UTC for s in sends)


def test_a_time_skipped_by_spring_forward_goes_at_the_same_instant_one_hour_later_local():
    sends = _sends(_daily(time(2, 30)), datetime(2026, 3, 28, 12, 0, tzinfo=UTC), 2)
    # 02:30 does not exist on 03-29: read with the winter offset, 01:30 UTC = 03:30 CEST.
    assert sends[0] == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert sends[0].astimezone(BERLIN).strftime("%H:%M") == "03:30"
    assert sends[1] == datetime(2026, 3, 30, 0, 30, tzinfo=UTC)  # 02:30 CEST again
    assert len({s.astimezone(BERLIN).date() for s in sends}) == 2


def test_a_time_repeated_by_fall_back_is_sent_once_at_the_first_occurrence():
    sends = _sends(_daily(time(2, 30)), datetime(2026, 10, 24, 12, 0, tzinfo=UTC), 2)
    assert sends[0] == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST, the first one
    assert sends[1] == datetime(2026, 10, 26, 1, 30, tzinfo=UTC)


def test_weekly_and_monthly_pick_their_day():
    monday = Schedule(frequency="weekly", at=time(9, 0), zone=ZoneInfo("America/New_York"), weekday=0)
    sent = next_send(monday, after=datetime(2026, 3, 4, tzinfo=UTC))  # a Wednesday
    local = sent.astimezone(ZoneInfo("America/New_York"))
    assert (local.weekday(), local.day, local.hour) == (0, 9, 9)
    monthly = Schedule(frequency="monthly", at=time(7, 15), zone=UTC, monthday=28)
    assert next_send(monthly, after=datetime(2026, 2, 28, 7, 15, tzinfo=UTC)) == datetime(
        2026, 3, 28, 7, 15, tzinfo=UTC
    )


def test_next_send_is_strictly_after():
    at = datetime(2026, 5, 1, 6, 0, tzinfo=UTC)  # 08:00 Berlin exactly
    assert next_send(_daily(), after=at) == datetime(2026, 5, 2, 6, 0, tzinfo=UTC)


def test_periods_are_whole_local_days_stored_in_utc():
    send = datetime(2026, 3, 30, 6, 0, tzinfo=UTC)  # Monday 08:00 CEST
    start, end = period_for(_daily(), send_at=send)
    assert (start, end) == (datetime(2026, 3, 28, 23, 0, tzinfo=UTC), datetime(2026, 3, 29, 22, 0, tzinfo=UTC))
    assert (end - start).total_seconds() == 23 * 3600  # the short day
    weekly = Schedule(frequency="weekly", at=time(8, 0), zone=BERLIN, weekday=0)
    start, end = period_for(weekly, send_at=send)
    assert start == datetime(2026, 3, 22, 23, 0, tzinfo=UTC) and end == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)
    monthly = Schedule(frequency="monthly", at=time(8, 0), zone=UTC, monthday=1)
    assert period_for(monthly, send_at=datetime(2026, 1, 1, 8, tzinfo=UTC)) == (
        datetime(2025, 12, 1, tzinfo=UTC),
        datetime(2026, 1, 1, tzinfo=UTC),
    )
