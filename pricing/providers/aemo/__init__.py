"""AEMO NEM regional prices (dispatch actuals and predispatch forecasts). No Django imports."""

from .client import DEFAULT_BASE_URL, AemoClient
from .errors import (
    AemoError,
    BadRequest,
    InvalidResponse,
    RateLimited,
    Unavailable,
    UnknownRegion,
)
from .models import (
    ALL_REGIONS,
    NEM_TIMEZONE,
    CurrentPrices,
    PeriodType,
    PricePoint,
    PriceSeries,
    Region,
    RegionPrice,
    normalise_regions,
    parse_nem_time,
)

__all__ = [
    "ALL_REGIONS",
    "DEFAULT_BASE_URL",
    "NEM_TIMEZONE",
    "AemoClient",
    "AemoError",
    "BadRequest",
    "CurrentPrices",
    "InvalidResponse",
    "PeriodType",
    "PricePoint",
    "PriceSeries",
    "RateLimited",
    "Region",
    "RegionPrice",
    "Unavailable",
    "UnknownRegion",
    "normalise_regions",
    "parse_nem_time",
]
