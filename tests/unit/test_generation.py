import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tos.inventory.generation import (
    PatternError,
    format_hhmm,
    generate,
    local_to_utc,
    occurrence,
    parse_hhmm,
    parse_pattern,
    weekday_sun0,
)

D = dt.date
T = dt.time
TWO_HOURS = dt.timedelta(hours=2)


def run(raw, date_from, date_to, *, tz="Europe/Lisbon", kind="start_time", duration=TWO_HOURS):
    pattern = parse_pattern(raw, availability_type=kind)
    return list(generate(pattern, date_from=date_from, date_to=date_to, timezone=tz,
                         duration=duration))  # fmt: skip


def test_weekdays_count_from_sunday_as_zero():
    assert weekday_sun0(D(2026, 3, 8)) == 0  # a Sunday
    assert weekday_sun0(D(2026, 3, 9)) == 1  # Monday
    assert weekday_sun0(D(2026, 3, 14)) == 6  # Saturday


def test_a_sunday_only_pattern_generates_only_sundays():
    occs = run({"type": "recurring", "days_of_week": [0], "start_times": ["10:00"]},
               D(2026, 3, 1), D(2026, 3, 31))  # fmt: skip
    assert [o.date for o in occs] == [D(2026, 3, d) for d in (1, 8, 15, 22, 29)]
    assert all(o.date.strftime("%A") == "Sunday" for o in occs)


def test_every_start_time_of_a_day_becomes_its_own_occurrence_in_order():
    occs = run({"days_of_week": [1], "start_times": ["14:00", "09:00"]}, D(2026, 3, 9),
               D(2026, 3, 9))  # fmt: skip
    assert [format_hhmm(o.start_time) for o in occs] == ["09:00", "14:00"]
    assert [format_hhmm(o.end_time) for o in occs] == ["11:00", "16:00"]


def test_missing_days_of_week_means_every_day():
    occs = run({"type": "recurring", "start_times": ["09:00"]}, D(2026, 1, 1), D(2026, 1, 7))
    assert len(occs) == 7


def test_excluded_dates_are_skipped_even_with_a_time_part():
    raw = {"days_of_week": [0], "start_times": ["10:00"],
           "excluded_dates": ["2026-03-08", "2026-03-22T00:00:00.000Z"]}  # fmt: skip
    occs = run(raw, D(2026, 3, 1), D(2026, 3, 31))
    assert [o.date.day for o in occs] == [1, 15, 29]


def test_the_validity_window_bounds_the_range_on_both_ends_inclusively():
    raw = {"start_times": ["09:00"], "valid_from": "2026-05-03", "valid_until": "2026-05-05"}
    occs = run(raw, D(2026, 5, 1), D(2026, 5, 31))
    assert [o.date.day for o in occs] == [3, 4, 5]


def test_specific_dates_use_only_their_dates_within_range_and_not_excluded():
    raw = {
        "type": "specific_dates",
        "dates": ["2026-06-10", "2026-06-01", "2026-07-01"],
        "excluded_dates": ["2026-06-01"],
        "start_times": ["18:30"],
        "days_of_week": [3],
    }
    occs = run(raw, D(2026, 6, 1), D(2026, 6, 30))
    assert [o.date for o in occs] == [D(2026, 6, 10)]  # a Wednesday; days_of_week is ignored


def test_on_request_patterns_generate_nothing():
    assert run({"type": "on_request"}, D(2026, 1, 1), D(2026, 12, 31)) == []


def test_a_spring_forward_gap_start_is_shifted_forward_by_the_gap():
    # 2026-03-08 02:00 EST jumps to 03:00 EDT in New York: 02:30 does not exist that day.
    raw = {"days_of_week": [6, 0, 1], "start_times": ["02:30"]}
    occs = run(raw, D(2026, 3, 7), D(2026, 3, 9), tz="America/New_York")
    by_day = {o.date: o for o in occs}
    assert format_hhmm(by_day[D(2026, 3, 8)].start_time) == "03:30"
    assert by_day[D(2026, 3, 8)].starts_at == dt.datetime(2026, 3, 8, 7, 30, tzinfo=dt.UTC)
    assert by_day[D(2026, 3, 7)].starts_at == dt.datetime(2026, 3, 7, 7, 30, tzinfo=dt.UTC)
    assert format_hhmm(by_day[D(2026, 3, 9)].start_time) == "02:30"
    assert by_day[D(2026, 3, 9)].starts_at == dt.datetime(2026, 3, 9, 6, 30, tzinfo=dt.UTC)


def test_a_tour_lasts_its_real_duration_across_the_change():
    occ = occurrence(D(2026, 3, 8), T(1, 0), ZoneInfo("America/New_York"), duration=TWO_HOURS)
    assert occ.ends_at - occ.starts_at == TWO_HOURS
    assert format_hhmm(occ.end_time) == "04:00"  # one wall-clock hour vanished on the way


def test_an_ambiguous_fall_back_start_takes_the_first_occurrence():
    # 2026-10-25 in Berlin: 02:00-03:00 happens twice (CEST, then CET).
    occ = occurrence(D(2026, 10, 25), T(2, 30), ZoneInfo("Europe/Berlin"), duration=TWO_HOURS)
    assert occ.starts_at == dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC)  # 02:30 CEST
    assert format_hhmm(occ.start_time) == "02:30"


def test_a_gap_that_makes_two_pattern_times_meet_yields_the_instant_once():
    raw = {"days_of_week": [0], "start_times": ["02:30", "03:30"]}
    occs = run(raw, D(2026, 3, 8), D(2026, 3, 8), tz="America/New_York")
    assert [format_hhmm(o.start_time) for o in occs] == ["03:30"]


def test_opening_hours_run_from_open_to_close():
    raw = {"days_of_week": [1], "opening_hours": [{"open": "10:00", "close": "18:00"}]}
    occs = run(raw, D(2026, 3, 9), D(2026, 3, 9), kind="opening_hours")
    assert len(occs) == 1
    assert (format_hhmm(occs[0].start_time), format_hhmm(occs[0].end_time)) == ("10:00", "18:00")
    assert occs[0].ends_at - occs[0].starts_at == dt.timedelta(hours=8)


def test_opening_hours_may_close_at_midnight():
    raw = {"opening_hours": [{"open": "20:00", "close": "24:00"}]}
    (occ,) = run(raw, D(2026, 7, 1), D(2026, 7, 1), tz="UTC", kind="opening_hours")
    assert format_hhmm(occ.end_time) == "00:00"
    assert occ.ends_at == dt.datetime(2026, 7, 2, 0, 0, tzinfo=dt.UTC)


def test_an_end_time_before_the_start_ends_the_next_day():
    occ = occurrence(D(2026, 7, 1), T(22, 0), ZoneInfo("UTC"), end=T(1, 0))
    assert occ.ends_at == dt.datetime(2026, 7, 2, 1, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "raw,kind,path",
    [
        ({"type": "weekly"}, "start_time", ["type"]),
        ({"days_of_week": [7], "start_times": ["09:00"]}, "start_time", ["days_of_week"]),
        ({"days_of_week": [True], "start_times": ["09:00"]}, "start_time", ["days_of_week"]),
        ({"start_times": []}, "start_time", ["start_times"]),
        ({"start_times": ["9am"]}, "start_time", ["start_times", 0]),
        ({"start_times": ["09:00"], "valid_from": "soon"}, "start_time", ["valid_from"]),
        ({"start_times": ["09:00"], "excluded_dates": "2026-01-01"}, "start_time",
         ["excluded_dates"]),
        ({"start_times": ["09:00"]}, "opening_hours", ["opening_hours"]),
        ({"opening_hours": [{"open": "18:00", "close": "10:00"}]}, "opening_hours",
         ["opening_hours", 0, "close"]),
        ({"opening_hours": [{"open": "10:00"}]}, "opening_hours", ["opening_hours", 0]),
    ],
)  # fmt: skip
def test_unreadable_patterns_are_refused_with_a_path(raw, kind, path):
    with pytest.raises(PatternError) as err:
        parse_pattern(raw, availability_type=kind)
    assert err.value.path == path


def test_a_missing_pattern_is_refused():
    with pytest.raises(PatternError):
        parse_pattern(None, availability_type="start_time")


def test_times_must_be_hh_mm():
    assert parse_hhmm("07:05") == T(7, 5)
    for bad in ("7:05", "24:00", "12:60", "12:00:00", 900, None):
        with pytest.raises(ValueError):
            parse_hhmm(bad)


def test_local_to_utc_is_timezone_aware():
    assert local_to_utc(D(2026, 1, 1), T(9), ZoneInfo("Asia/Kolkata")).tzinfo is dt.UTC


ZONES = ["UTC", "Europe/Lisbon", "Europe/Berlin", "America/New_York", "Australia/Sydney",
         "Asia/Kolkata", "America/Santiago", "Pacific/Chatham"]  # fmt: skip
times = st.builds(
    lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.sampled_from([0, 15, 30, 45])
)
dates = st.dates(D(2024, 1, 1), D(2028, 12, 31))
# Days with a DST change in some of ZONES, so the gap and overlap rules are exercised often.
CHANGES = [D(2026, 3, 8), D(2026, 3, 29), D(2026, 10, 25), D(2026, 11, 1), D(2026, 4, 5),
           D(2026, 10, 4), D(2026, 9, 6), D(2026, 9, 27)]  # fmt: skip
starts = dates | st.sampled_from(CHANGES)


@given(
    zone=st.sampled_from(ZONES),
    days=st.sets(st.integers(0, 6), min_size=1),
    start_times=st.lists(times, min_size=1, max_size=3, unique=True),
    start=starts,
    span=st.integers(0, 60),
    excluded=st.lists(dates, max_size=10),
    validity=st.tuples(st.none() | dates, st.none() | dates),
    minutes=st.integers(15, 600),
)
def test_generated_occurrences_obey_the_pattern(
    zone, days, start_times, start, span, excluded, validity, minutes
):
    end = start + dt.timedelta(days=span)
    raw = {"type": "recurring", "days_of_week": sorted(days), "start_times": start_times,
           "excluded_dates": [d.isoformat() for d in excluded],
           "valid_from": validity[0] and validity[0].isoformat(),
           "valid_until": validity[1] and validity[1].isoformat()}  # fmt: skip
    occs = run(raw, start, end, tz=zone, duration=dt.timedelta(minutes=minutes))
    tz = ZoneInfo(zone)
    wanted = {parse_hhmm(t) for t in start_times}
    assert len({o.starts_at for o in occs}) == len(occs)
    for o in occs:
        assert (o.date.isoweekday() % 7) in days
        assert o.date not in excluded
        assert start <= o.date <= end
        assert validity[0] is None or o.date >= validity[0]
        assert validity[1] is None or o.date <= validity[1]
        assert o.starts_at.utcoffset() == dt.timedelta(0)
        assert o.ends_at - o.starts_at == dt.timedelta(minutes=minutes)
        local = o.starts_at.astimezone(tz)
        assert (local.date(), local.time()) == (o.date, o.start_time)
        if o.start_time not in wanted:
            # The documented gap case: the wall time did not exist and moved forward.
            original = [t for t in wanted if dt.datetime.combine(o.date, t) < dt.datetime.combine(
                o.date, o.start_time)]  # fmt: skip
            assert any(_in_gap(o.date, t, tz) for t in original)


def _in_gap(day, wall, tz):
    naive = dt.datetime.combine(day, wall)
    back = naive.replace(tzinfo=tz).astimezone(dt.UTC).astimezone(tz).replace(tzinfo=None)
    return back != naive


@given(zone=st.sampled_from(ZONES), start=starts, span=st.integers(0, 40))
def test_generation_is_ordered_by_start(zone, start, span):
    raw = {"start_times": ["23:45", "00:15", "12:00"]}
    occs = run(raw, start, start + dt.timedelta(days=span), tz=zone)
    assert [o.starts_at for o in occs] == sorted(o.starts_at for o in occs)
