"""Amber Electric provider: REST client, live-price WebSocket listener, typed models, errors.

Framework-free (no Django imports): the pricing services wrap these and own persistence.
"""

from .client import DEFAULT_BASE_URL, MAX_DAYS_PER_CALL, AmberClient, split_date_range
from .errors import (
    AmberError,
    AuthFailed,
    BadRequest,
    InvalidResponse,
    LiveNotEnabled,
    NotFound,
    RateLimited,
    Unavailable,
)
from .live import (
    DEFAULT_LIVE_URL,
    TERMINAL_STATES,
    AmberLiveHub,
    AmberLiveListener,
    LiveConfig,
    LiveState,
    LiveStateChange,
)
from .models import (
    AdvancedPrice,
    Channel,
    ChannelType,
    IntervalType,
    PriceInterval,
    PriceRange,
    RateLimitStatus,
    Site,
    SpikeStatus,
    TariffInformation,
    UsageInterval,
    parse_price_interval,
    parse_price_intervals,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_LIVE_URL",
    "MAX_DAYS_PER_CALL",
    "TERMINAL_STATES",
    "AdvancedPrice",
    "AmberClient",
    "AmberError",
    "AmberLiveHub",
    "AmberLiveListener",
    "AuthFailed",
    "BadRequest",
    "Channel",
    "ChannelType",
    "IntervalType",
    "InvalidResponse",
    "LiveConfig",
    "LiveNotEnabled",
    "LiveState",
    "LiveStateChange",
    "NotFound",
    "PriceInterval",
    "PriceRange",
    "RateLimitStatus",
    "RateLimited",
    "Site",
    "SpikeStatus",
    "TariffInformation",
    "Unavailable",
    "UsageInterval",
    "parse_price_interval",
    "parse_price_intervals",
    "split_date_range",
]
