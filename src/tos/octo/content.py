"""`octo/content`: what the catalog says about a tour, in OCTO's content fields (descriptions,
features from inclusions and highlights, FAQs, images, the meeting point as a location)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tos.catalog.models import PricingTier, Tour, TourFaq, TourInclusion, Variant

# TOS categories, styles and tags that name one of OCTO's category labels.
_LABELS = {
    "walking": "walking-tours", "walking-tour": "walking-tours", "bike": "bike-tours",
    "boat": "boat-tours", "food": "food", "history": "history", "museum": "museums",
    "museums": "museums", "nightlife": "nightlife", "outdoors": "outdoors",
    "small-group": "small-group-tours", "private": "private-tours",
    "self-guided": "self-guided", "family": "family-friendly",
    "family-friendly": "family-friendly", "day-trip": "day-trips", "multi-day": "multi-day",
    "classes": "classes", "live-music": "live-music", "music": "live-music",
    "wheelchair-accessible": "wheelchair-accessible", "guided": "guided-tours",
}  # fmt: skip

_NO_IDENTIFIERS = dict.fromkeys(
    ("googlePlaceId", "applePlaceId", "tripadvisorLocationId", "yelpPlaceId", "facebookPlaceId",
     "foursquarePlaceId", "baiduPlaceId", "amapPlaceId"),
)  # fmt: skip


def _media_type(src: str) -> str:
    return "image/png" if src.lower().split("?")[0].endswith(".png") else "image/jpeg"


def _media(tour: Tour) -> list[dict[str, Any]]:
    images = [(tour.cover_image, "COVER")] if tour.cover_image else []
    images += [(src, "GALLERY") for src in tour.gallery or []]
    return [
        {"src": src, "type": _media_type(src), "rel": rel, "title": None, "caption": None,
         "copyright": None}
        for src, rel in images
    ]  # fmt: skip


def _location(point: dict[str, Any] | None, kind: str) -> list[dict[str, Any]]:
    """A meeting or end point as an OCTO location; without coordinates there is no place."""
    if not point or point.get("latitude") is None or point.get("longitude") is None:
        return []
    return [{
        "title": point.get("name"),
        "shortDescription": point.get("instructions") or point.get("address"),
        "types": [kind],
        "minutesTo": None,
        "minutesAt": None,
        "place": {
            "latitude": float(point["latitude"]),
            "longitude": float(point["longitude"]),
            "postalAddress": {
                "streetAddress": point.get("address"), "addressLocality": None,
                "addressRegion": None, "postalCode": None, "addressCountry": None,
                "postOfficeBoxNumber": None,
            },
            "identifiers": dict(_NO_IDENTIFIERS),
            "sameAs": [],
        },
    }]  # fmt: skip


def _labels(tour: Tour) -> list[str]:
    words = [tour.category, *(tour.styles or []), *(tour.tags or [])]
    return sorted({_LABELS[w.lower()] for w in words if w and w.lower() in _LABELS})


def product_content(
    tour: Tour, faqs: Sequence[TourFaq], inclusions: Sequence[TourInclusion]
) -> dict[str, Any]:
    features = [
        {"shortDescription": i.text, "type": "INCLUSION" if i.type == "inclusion" else "EXCLUSION"}
        for i in inclusions
    ]
    features += [{"shortDescription": h, "type": "HIGHLIGHT"} for h in tour.highlights or []]
    meeting = tour.meeting_point or {}
    if meeting.get("instructions"):
        features.append(
            {"shortDescription": meeting["instructions"], "type": "PREARRIVAL_INFORMATION"}
        )
    guided = tour.availability_type == "start_time"
    return {
        "title": tour.name,
        "shortDescription": tour.short_description or None,
        "description": tour.full_description or None,
        "features": features,
        "faqs": [{"question": f.question, "answer": f.answer} for f in faqs],
        "media": _media(tour),
        "locations": _location(tour.meeting_point, "START") + _location(tour.end_point, "END"),
        "categoryLabels": _labels(tour),
        "durationMinutesFrom": tour.duration_minutes,
        "durationMinutesTo": None,
        "commentary": [
            {"format": "IN_PERSON" if guided else "OTHER", "language": lang}
            for lang in tour.languages or []
        ],
    }


def option_content(tour: Tour, variant: Variant) -> dict[str, Any]:
    return {
        "title": variant.name,
        "shortDescription": None,
        "description": None,
        "features": [],
        "faqs": [],
        "media": [],
        "locations": [],
        "categoryLabels": [],
        "durationMinutesFrom": variant.duration_minutes or tour.duration_minutes,
        "durationMinutesTo": None,
        "commentary": [],
    }


def unit_content(tier: PricingTier) -> dict[str, Any]:
    ages = ""
    if tier.age_min is not None or tier.age_max is not None:
        low = tier.age_min if tier.age_min is not None else 0
        ages = f"ages {low}+" if tier.age_max is None else f"ages {low}-{tier.age_max}"
    return {"title": tier.name, "shortDescription": ages, "features": []}
