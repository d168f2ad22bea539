"""OCTO availability and calendar from TOS schedules.

An availability is one schedule (its id is the availability id); a START_TIME product shows
the departure's local start and end, an OPENING_HOURS product the whole local day with the
schedule's opening hours. Status: FREESALE for a schedule without capacity; SOLD_OUT when no
seat is left; LIMITED when a quarter of the capacity or less is left; AVAILABLE otherwise;
CLOSED when the schedule is not open or has started (TOS books a departure until it starts,
so that is also its cutoff). Answers are cached like /api/v1/availability: per inventory
version of the tour, so a seat taken anywhere is visible to the very next request.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import and_, bindparam, select
from sqlalchemy.orm import Session

from tos.catalog.models import Tour, Variant
from tos.inventory import queries
from tos.inventory.availability import MAX_RANGE_DAYS
from tos.inventory.cache import AvailabilityCache, Entry
from tos.inventory.models import Schedule
from tos.octo.errors import (
    BadRequest,
    InvalidAvailabilityId,
    InvalidOptionId,
    InvalidProductId,
    InvalidUnitId,
)
from tos.octo.pricing import NetTerms, price, unit_net
from tos.octo.products import ID
from tos.pricing.engine import Tax, adjusted_unit, winning_season
from tos.pricing.tiers import tiers_for

MAX_IDS = 100
cache = AvailabilityCache()


class Option(NamedTuple):
    tour_id: str
    timezone: str
    availability_type: str
    version: int
    variant_id: str


_OPTION = (
    select(
        Tour.id,
        Tour.timezone,
        Tour.availability_type,
        Tour.inventory_version,
        Tour.status,
        Variant.id,
        Variant.status,
    )  # fmt: skip
    .outerjoin(Variant, and_(Variant.tour_id == Tour.id, Variant.id == bindparam("option_id")))
    .where(Tour.id == bindparam("product_id"))
)


def resolve_option(session: Session, product_id: str, option_id: str) -> Option:
    """The active tour and active variant behind a product and option id, and the tour's
    inventory version, in one statement."""
    if not ID.fullmatch(product_id):
        raise InvalidProductId(value=product_id)
    if not ID.fullmatch(option_id):
        raise InvalidOptionId(value=option_id)
    row = session.execute(_OPTION, {"product_id": product_id, "option_id": option_id}).first()
    if row is None or row[4] != "active":
        raise InvalidProductId(value=product_id)
    if row[5] is None or row[6] != "active":
        raise InvalidOptionId(value=option_id)
    return Option(row[0], row[1], row[2], row[3], row[5])


def parse_date(value: str | None, name: str) -> dt.date:
    if value is None:
        raise BadRequest(f"{name} is required (or give availabilityIds)")
    try:
        return dt.date.fromisoformat(value) if len(value) == 10 else _bad_date(name)
    except ValueError:
        return _bad_date(name)


def _bad_date(name: str) -> dt.date:
    raise BadRequest(f"{name} must be a date as YYYY-MM-DD")


def date_range(start: str | None, end: str | None) -> tuple[dt.date, dt.date]:
    date_from, date_to = parse_date(start, "localDateStart"), parse_date(end, "localDateEnd")
    if date_to < date_from:
        raise BadRequest("localDateEnd must not be before localDateStart")
    if (date_to - date_from).days + 1 > MAX_RANGE_DAYS:
        raise BadRequest(f"ask for at most {MAX_RANGE_DAYS} days at a time")
    return date_from, date_to


def status_of(
    status: str, capacity: int | None, taken: int, starts_at: dt.datetime, now: dt.datetime
) -> tuple[str, int | None]:
    """(OCTO status, vacancies) of one schedule. Pure."""
    if status != "open" or starts_at <= now:
        return "CLOSED", None if capacity is None else 0
    if capacity is None:
        return "FREESALE", None
    left = max(capacity - taken, 0)
    if left == 0:
        return "SOLD_OUT", 0
    return ("LIMITED" if left * 4 <= capacity else "AVAILABLE"), left


_SCHEDULES_BY_ID = (
    queries.schedule_rows()
    .where(
        Schedule.id.in_(bindparam("ids", expanding=True)),
        Schedule.variant_id == bindparam("variant_id"),
    )  # fmt: skip
    .order_by(Schedule.starts_at, Schedule.id)
)


class Request(NamedTuple):
    option: Option
    date_from: dt.date | None
    date_to: dt.date | None
    ids: tuple[str, ...]
    units: tuple[tuple[str, int], ...]  # (unit id, quantity)


def _iso_local(day: dt.date, time: dt.time, zone: ZoneInfo) -> str:
    return dt.datetime.combine(day, time, zone).isoformat()


def _utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def availability_json(
    row: Sequence[Any], option: Option, zone: ZoneInfo, now: dt.datetime
) -> dict[str, Any]:
    """One schedule row (id, variant_id, variant_name, date, start_time, end_time, starts_at,
    capacity, seats_taken, status) as an OCTO availability, Core fields only."""
    sid, _, _, day, start, end, starts_at, capacity, taken, status = row
    octo, vacancies = status_of(status, capacity, taken, starts_at, now)
    if option.availability_type == "opening_hours":
        local_start = _iso_local(day, dt.time(0), zone)
        local_end = _iso_local(day + dt.timedelta(days=1), dt.time(0), zone)
        hours = [{"from": start.isoformat("minutes"), "to": end.isoformat("minutes")}]
        all_day = True
    else:
        local_start = _iso_local(day, start, zone)
        # A departure that ends past midnight ends on the next day.
        end_day = day + dt.timedelta(days=1) if end <= start else day
        local_end = _iso_local(end_day, end, zone)
        hours, all_day = [], False
    return {
        "id": sid,
        "localDateTimeStart": local_start,
        "localDateTimeEnd": local_end,
        "utcCutoffAt": _utc(starts_at),
        "allDay": all_day,
        "available": octo in ("AVAILABLE", "LIMITED", "FREESALE"),
        "status": octo,
        "vacancies": vacancies,
        "capacity": capacity,
        "maxUnits": vacancies,
        "openingHours": hours,
    }


def _unit_prices(
    tour: queries.AvailabilityTour, variant_id: str, day: dt.date, terms: NetTerms,
    taxes: Sequence[Tax],
) -> dict[str, dict[str, Any]]:  # fmt: skip
    """unit id -> OCTO price on that day (the season's adjustment applied)."""
    season = winning_season(tour.seasons, day)
    out = {}
    for tier in tiers_for(tour.tiers, variant_id=variant_id, on=day):
        amount = adjusted_unit(tier.amount, season)
        out[tier.id] = {"unitId": tier.id} | price(
            amount, unit_net(amount, tier.id, terms), tier.currency, taxes, original=tier.amount
        )
    return out


def _check_units(tour: queries.AvailabilityTour, req: Request) -> None:
    known = {t.id for t in tour.tiers if t.variant_id in (None, req.option.variant_id)}
    for unit_id, _ in req.units:
        if unit_id not in known:
            raise InvalidUnitId(value=unit_id)


def _rows(session: Session, req: Request, now: dt.datetime) -> list[Any]:
    if req.ids:
        rows = list(
            session.execute(
                _SCHEDULES_BY_ID, {"ids": list(req.ids), "variant_id": req.option.variant_id}
            )
        )
        found = {r[0] for r in rows}
        for sid in req.ids:
            if sid not in found:
                raise InvalidAvailabilityId(value=sid)
        return rows
    assert req.date_from is not None and req.date_to is not None
    return list(queries.availability_schedules(
        session, req.option.tour_id, date_from=req.date_from, date_to=req.date_to,
        variant_id=req.option.variant_id, include_unavailable=True, now=now,
    ))  # fmt: skip


def _window(req: Request, rows: Sequence[Any]) -> tuple[dt.date, dt.date]:
    if req.date_from is not None and req.date_to is not None:
        return req.date_from, req.date_to
    days = [r[3] for r in rows]
    return min(days), max(days)


def _seats(req: Request) -> int:
    return sum(q for _, q in req.units)


def build_availabilities(
    session: Session, req: Request, *, now: dt.datetime, pricing: bool, terms: NetTerms,
    taxes: Sequence[Tax],
) -> tuple[list[dict[str, Any]], list[Any]]:  # fmt: skip
    rows = _rows(session, req, now)
    date_from, date_to = _window(req, rows) if rows else (now.date(), now.date())
    tour = queries.availability_tour(session, req.option.tour_id, date_from=date_from,
                                     date_to=date_to, variant_id=req.option.variant_id)  # fmt: skip
    _check_units(tour, req)
    zone = ZoneInfo(req.option.timezone)
    seats = _seats(req)
    out = []
    for row in rows:
        item = availability_json(row, req.option, zone, now)
        prices = _unit_prices(tour, req.option.variant_id, row[3], terms, taxes)
        if req.units:
            missing = any(u not in prices for u, _ in req.units)
            enough = item["vacancies"] is None or item["vacancies"] >= seats
            item["available"] = item["available"] and enough and not missing
        if pricing:
            item["unitPricing"] = list(prices.values())
            if req.units and item["available"]:
                item["pricing"] = _total(prices, req.units, taxes)
        out.append(item)
    return out, rows


def _total(
    prices: dict[str, dict[str, Any]], units: Sequence[tuple[str, int]], taxes: Sequence[Tax]
) -> dict[str, Any]:
    """The price of the units asked for, as one object (their currency is the tiers')."""
    first = prices[units[0][0]]
    keys = ("original", "retail", "net")
    sums: dict[str, Any] = {k: 0 for k in keys}
    for unit_id, quantity in units:
        for k in keys:
            value = prices[unit_id][k]
            sums[k] = None if value is None or sums[k] is None else sums[k] + value * quantity
    taxes_out: dict[str, dict[str, Any]] = {}
    for unit_id, quantity in units:
        for tax in prices[unit_id]["includedTaxes"]:
            acc = taxes_out.setdefault(tax["name"], {"name": tax["name"], "retail": 0,
                                                     "original": 0, "net": 0})  # fmt: skip
            acc["retail"] += tax["retail"] * quantity
            acc["original"] += tax["original"] * quantity
            acc["net"] = None if tax["net"] is None or acc["net"] is None else (
                acc["net"] + tax["net"] * quantity)  # fmt: skip
    return {**sums, "currency": first["currency"], "currencyPrecision": first["currencyPrecision"],
            "includedTaxes": list(taxes_out.values())}  # fmt: skip


def build_calendar(
    session: Session, req: Request, *, now: dt.datetime, pricing: bool, terms: NetTerms,
    taxes: Sequence[Tax],
) -> tuple[list[dict[str, Any]], list[Any]]:  # fmt: skip
    """Every day of the range, the day's schedules summed: available if any is, vacancies and
    capacity added up (null when one is freesale)."""
    items, rows = build_availabilities(session, req, now=now, pricing=pricing, terms=terms,
                                       taxes=taxes)  # fmt: skip
    by_day: dict[dt.date, list[dict[str, Any]]] = defaultdict(list)
    for row, item in zip(rows, items, strict=True):
        by_day[row[3]].append(item)
    assert req.date_from is not None and req.date_to is not None
    days = []
    day = req.date_from
    while day <= req.date_to:
        days.append(_day(day, by_day.get(day, []), pricing))
        day += dt.timedelta(days=1)
    return days, rows


def _day(day: dt.date, items: list[dict[str, Any]], pricing: bool) -> dict[str, Any]:
    open_items = [i for i in items if i["available"]]
    statuses = {i["status"] for i in open_items}
    if not items or (not open_items and "SOLD_OUT" not in {i["status"] for i in items}):
        status = "CLOSED"
    elif not open_items:
        status = "SOLD_OUT"
    elif "FREESALE" in statuses:
        status = "FREESALE"
    elif statuses == {"LIMITED"}:
        status = "LIMITED"
    else:
        status = "AVAILABLE"
    counted = [i for i in items if i["status"] != "CLOSED"]
    freesale = any(i["capacity"] is None for i in counted)
    body: dict[str, Any] = {
        "localDate": day.isoformat(),
        "available": bool(open_items),
        "status": status,
        "vacancies": None if freesale else sum(i["vacancies"] or 0 for i in counted),
        "capacity": None if freesale else sum(i["capacity"] or 0 for i in counted),
        "openingHours": [h for i in items for h in i["openingHours"]],
    }
    if pricing:
        lowest: dict[str, dict[str, Any]] = {}
        for item in open_items:
            for p in item.get("unitPricing", []):
                if p["unitId"] not in lowest or p["retail"] < lowest[p["unitId"]]["retail"]:
                    lowest[p["unitId"]] = p
        body["unitPricingFrom"] = list(lowest.values())
    return body


def answer(
    session: Session, req: Request, *, org_id: str, calendar: bool, now: dt.datetime,
    pricing: bool, terms: NetTerms, taxes: Sequence[Tax],
) -> bytes:  # fmt: skip
    """The serialised answer, from the cache when the tour's inventory version still holds."""
    key = (org_id, calendar, req, pricing, terms.key() if pricing else None, tuple(taxes))
    cached = cache.get(key, version=req.option.version, now=now)
    if cached is not None:
        return cached
    build = build_calendar if calendar else build_availabilities
    body, rows = build(session, req, now=now, pricing=pricing, terms=terms, taxes=taxes)
    data = orjson.dumps(body)
    upcoming = [r[6] for r in rows if r[6] > now]
    cache.put(key, Entry(req.option.version, min(upcoming, default=None), data))
    return data
