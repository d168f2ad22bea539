from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from tos.catalog import fields as f
from tos.catalog.fields import InModel, not_null
from tos.catalog.patterns import AvailabilityPattern

Category = Literal[
    "walking", "food", "cultural", "adventure", "nature", "photography", "private", "custom"
]
TourStatus = Literal["draft", "active", "archived"]
AvailabilityType = Literal["start_time", "opening_hours"]
VariantStatus = Literal["active", "inactive"]
UnitType = Annotated[
    Literal["ADULT", "CHILD", "YOUTH", "INFANT", "SENIOR", "STUDENT", "FAMILY", "OTHER"],
    f.upper_case,
]
InclusionType = Literal["inclusion", "exclusion"]


class Location(InModel):
    name: f.Name
    address: Annotated[str, Field(min_length=1, max_length=500)]
    latitude: float = Field(ge=-90, le=90, allow_inf_nan=False)
    longitude: float = Field(ge=-180, le=180, allow_inf_nan=False)
    instructions: Annotated[str, Field(max_length=1000)] | None = None


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- tours


class TourIn(InModel):
    name: f.Name
    slug: f.Slug | None = Field(default=None, description="default: made from the name, unique")
    short_description: f.ShortText = ""
    full_description: f.LongText = ""
    duration_minutes: f.Minutes
    capacity: f.Capacity | None = Field(default=None, description="null = freesale")
    min_participants: f.Capacity = 1
    meeting_point: Location | None = None
    end_point: Location | None = None
    category: Category = "custom"
    tags: f.Tags = []
    destinations: f.Countries = Field(default=[], description="ISO 3166-1 alpha-2 country codes")
    styles: f.Styles = Field(default=[], description="free lowercase strings")
    highlights: f.Highlights = []
    languages: f.Languages = Field(default=[], description="ISO 639-1 codes")
    cover_image: f.Url | None = None
    gallery: f.Gallery = []
    status: TourStatus = "draft"
    timezone: f.Timezone | None = Field(
        default=None, description="IANA; default: the organization's"
    )
    availability_type: AvailabilityType = "start_time"
    meta_title: f.MetaTitle | None = None
    meta_description: f.MetaDescription | None = None
    cancellation_policy_id: f.EntityId | None = Field(
        default=None, description="a policy of this organization; null = the default policy"
    )

    @field_validator("min_participants")
    @classmethod
    def _min_within_capacity(cls, value: int | None, info: ValidationInfo) -> int | None:
        return f.not_above_capacity(value, info)


class TourPatch(InModel):
    name: f.Name | None = None
    slug: f.Slug | None = None
    short_description: f.ShortText | None = None
    full_description: f.LongText | None = None
    duration_minutes: f.Minutes | None = None
    capacity: f.Capacity | None = None
    min_participants: f.Capacity | None = None
    meeting_point: Location | None = None
    end_point: Location | None = None
    category: Category | None = None
    tags: f.Tags | None = None
    destinations: f.Countries | None = None
    styles: f.Styles | None = None
    highlights: f.Highlights | None = None
    languages: f.Languages | None = None
    cover_image: f.Url | None = None
    gallery: f.Gallery | None = None
    status: TourStatus | None = None
    timezone: f.Timezone | None = None
    availability_type: AvailabilityType | None = None
    meta_title: f.MetaTitle | None = None
    meta_description: f.MetaDescription | None = None
    cancellation_policy_id: f.EntityId | None = None

    _not_null = field_validator(
        "name", "slug", "short_description", "full_description", "duration_minutes",
        "min_participants", "category", "tags", "destinations", "styles", "highlights",
        "languages", "gallery", "status", "timezone", "availability_type",
    )(not_null)  # fmt: skip


class TourOut(_Out):
    id: str
    name: str
    slug: str
    short_description: str
    full_description: str
    duration_minutes: int
    capacity: int | None
    min_participants: int
    meeting_point: dict[str, Any] | None
    end_point: dict[str, Any] | None
    category: str
    tags: list[str]
    destinations: list[str]
    styles: list[str]
    highlights: list[str]
    languages: list[str]
    cover_image: str | None
    gallery: list[str]
    status: str
    timezone: str
    availability_type: str
    meta_title: str | None
    meta_description: str | None
    cancellation_policy_id: str | None
    created_at: datetime
    updated_at: datetime


# --- variants


class VariantIn(InModel):
    name: f.Name
    duration_minutes: f.Minutes | None = Field(default=None, description="null = the tour's")
    capacity: f.Capacity | None = Field(default=None, description="null = the tour's")
    min_participants: f.Capacity | None = Field(default=None, description="null = the tour's")
    availability_pattern: AvailabilityPattern = Field(default_factory=lambda: AvailabilityPattern())
    status: VariantStatus = "active"
    sort_order: f.SortOrder = 0

    @field_validator("min_participants")
    @classmethod
    def _min_within_capacity(cls, value: int | None, info: ValidationInfo) -> int | None:
        return f.not_above_capacity(value, info)


class VariantPatch(InModel):
    name: f.Name | None = None
    duration_minutes: f.Minutes | None = None
    capacity: f.Capacity | None = None
    min_participants: f.Capacity | None = None
    availability_pattern: AvailabilityPattern | None = Field(
        default=None, description="replaces the whole pattern"
    )
    status: VariantStatus | None = None
    sort_order: f.SortOrder | None = None

    _not_null = field_validator("name", "availability_pattern", "status", "sort_order")(not_null)


class VariantOut(_Out):
    id: str
    tour_id: str
    name: str
    duration_minutes: int | None
    capacity: int | None
    min_participants: int | None
    availability_pattern: dict[str, Any]
    status: str
    sort_order: int
    created_at: datetime
    updated_at: datetime


# --- pricing tiers


class PricingTierIn(InModel):
    name: f.TierName
    amount: f.Amount = Field(description="minor units")
    currency: f.Currency | None = Field(
        default=None, description="ISO 4217; default: the organization's"
    )
    unit_type: UnitType = "ADULT"
    age_min: f.Age | None = None
    age_max: f.Age | None = None
    valid_from: date | None = None
    valid_until: date | None = None
    is_default: bool = False
    sort_order: f.SortOrder = 0
    variant_id: f.EntityId | None = Field(
        default=None, description="a variant of this tour; null = all"
    )

    @field_validator("age_max")
    @classmethod
    def _age_range(cls, value: int | None, info: ValidationInfo) -> int | None:
        low = info.data.get("age_min")
        if value is not None and low is not None and value < low:
            raise ValueError(f"must not be below age_min ({low})")
        return value

    @field_validator("valid_until")
    @classmethod
    def _date_range(cls, value: date | None, info: ValidationInfo) -> date | None:
        return f.not_before_valid_from(value, info)


class PricingTierPatch(InModel):
    name: f.TierName | None = None
    amount: f.Amount | None = None
    currency: f.Currency | None = None
    unit_type: UnitType | None = None
    age_min: f.Age | None = None
    age_max: f.Age | None = None
    valid_from: date | None = None
    valid_until: date | None = None
    is_default: bool | None = None
    sort_order: f.SortOrder | None = None
    variant_id: f.EntityId | None = None

    _not_null = field_validator(
        "name", "amount", "currency", "unit_type", "is_default", "sort_order"
    )(not_null)


class PricingTierOut(_Out):
    id: str
    tour_id: str
    variant_id: str | None
    name: str
    amount: int
    currency: str
    unit_type: str
    age_min: int | None
    age_max: int | None
    valid_from: date | None
    valid_until: date | None
    is_default: bool
    sort_order: int
    created_at: datetime
    updated_at: datetime


# --- FAQs and inclusions


class FaqIn(InModel):
    question: f.Question
    answer: f.Answer
    sort_order: f.SortOrder = 0
    is_published: bool = True


class FaqPatch(InModel):
    question: f.Question | None = None
    answer: f.Answer | None = None
    sort_order: f.SortOrder | None = None
    is_published: bool | None = None

    _not_null = field_validator("question", "answer", "sort_order", "is_published")(not_null)


class FaqOut(_Out):
    id: str
    tour_id: str
    question: str
    answer: str
    sort_order: int
    is_published: bool
    created_at: datetime
    updated_at: datetime


class InclusionIn(InModel):
    type: InclusionType
    text: f.InclusionText
    icon: f.Icon | None = None
    sort_order: f.SortOrder = 0


class InclusionPatch(InModel):
    type: InclusionType | None = None
    text: f.InclusionText | None = None
    icon: f.Icon | None = None
    sort_order: f.SortOrder | None = None

    _not_null = field_validator("type", "text", "sort_order")(not_null)


class InclusionOut(_Out):
    id: str
    tour_id: str
    type: str
    text: str
    icon: str | None
    sort_order: int
    created_at: datetime
    updated_at: datetime


class TourDetailOut(TourOut):
    variants: list[VariantOut]
    pricing_tiers: list[PricingTierOut]
    faqs: list[FaqOut]
    inclusions: list[InclusionOut]


# --- the public feed (seed 004 §6.2)


class Price(BaseModel):
    amount: int
    currency: str


class PublicTourCard(_Out):
    id: str
    slug: str
    name: str
    short_description: str
    duration_minutes: int
    destinations: list[str]
    styles: list[str]
    category: str
    cover_image: str | None
    from_price: Price | None
    languages: list[str]
    highlights: list[str]


class PublicTourPage(BaseModel):
    items: list[PublicTourCard]
    total: int
    limit: int
    offset: int


class PublicVariant(_Out):
    id: str
    name: str
    duration_minutes: int | None


class PublicTier(_Out):
    id: str
    variant_id: str | None
    name: str
    amount: int
    currency: str
    unit_type: str
    age_min: int | None
    age_max: int | None
    is_default: bool


class PublicFaq(_Out):
    question: str
    answer: str


class PublicInclusion(_Out):
    type: str
    text: str
    icon: str | None


class PublicTourDetail(PublicTourCard):
    full_description: str
    tags: list[str]
    gallery: list[str]
    meeting_point: dict[str, Any] | None
    end_point: dict[str, Any] | None
    min_participants: int
    timezone: str
    availability_type: str
    meta_title: str | None
    meta_description: str | None
    variants: list[PublicVariant]
    pricing_tiers: list[PublicTier]
    faqs: list[PublicFaq]
    inclusions: list[PublicInclusion]
