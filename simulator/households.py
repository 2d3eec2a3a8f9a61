"""Simulated households: deterministic from (seed, index), generated on demand.

Nothing is prebuilt: a household is derived from its 1-based index whenever it is needed, and every
credential encodes its index so the reverse lookup (token -> household) is arithmetic plus one
keyed-hash check. Ten thousand households cost nothing until they are used.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache

REGIONS = ("NSW1", "QLD1", "VIC1", "SA1", "TAS1")
# Roughly the share of NEM customers per region, in percent (cumulative thresholds below).
_REGION_SHARE = (("NSW1", 38), ("QLD1", 26), ("VIC1", 26), ("SA1", 7), ("TAS1", 3))
REGION_TIME_ZONE = {
    "NSW1": "Australia/Sydney",
    "QLD1": "Australia/Brisbane",
    "VIC1": "Australia/Melbourne",
    "SA1": "Australia/Adelaide",
    "TAS1": "Australia/Hobart",
}
_REGION_NETWORKS = {
    "NSW1": (("Ausgrid", "EA116"), ("Endeavour Energy", "N71"), ("Essential Energy", "BLNT3AU")),
    "QLD1": (("Energex", "6900"),),
    "VIC1": (("Jemena", "PRTOU"), ("CitiPower", "CTOU"), ("Powercor", "PTOU"), ("United", "TOU")),
    "SA1": (("SA Power Networks", "RTOU"),),
    "TAS1": (("TasNetworks", "TAS93"),),
}
_NMI_PREFIX = {"NSW1": "41", "QLD1": "31", "VIC1": "61", "SA1": "20", "TAS1": "80"}

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CROCKFORD_INDEX = {c: i for i, c in enumerate(_CROCKFORD)}
_MOD80 = 1 << 80
ENERGY_SITE_BASE = 2_252_000_000_000_000
_ENERGY_SITE_STEP = 7919

AMBER_TOKEN_PREFIX = "psk_sim_"
TESLEMETRY_KEY_PREFIX = "tlm_sim_"
TESLA_CLIENT_PREFIX = "sim-client-"
APP_CLIENT_ID = "sim-app"


def _b32(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def _unb32(text: str) -> int | None:
    value = 0
    for ch in text:
        digit = _CROCKFORD_INDEX.get(ch)
        if digit is None:
            return None
        value = (value << 5) | digit
    return value


@dataclass(frozen=True, slots=True)
class Household:
    index: int
    amber_token: str
    amber_site_id: str
    nmi: str
    region: str
    network: str
    network_tariff: str
    interval_length: int
    time_zone: str
    teslemetry_key: str
    tesla_client_id: str
    tesla_client_secret: str
    tesla_email: str
    energy_site_id: int
    gateway_id: str
    site_name: str
    battery_count: int
    solar_kw: float
    base_load_kw: float

    def public_dict(self, *, ws_enabled: bool) -> dict[str, object]:
        return {
            "index": self.index,
            "amber_token": self.amber_token,
            "amber_site_id": self.amber_site_id,
            "nmi": self.nmi,
            "region": self.region,
            "network": self.network,
            "interval_length": self.interval_length,
            "time_zone": self.time_zone,
            "teslemetry_key": self.teslemetry_key,
            "tesla_client_id": self.tesla_client_id,
            "tesla_client_secret": self.tesla_client_secret,
            "tesla_email": self.tesla_email,
            "energy_site_id": self.energy_site_id,
            "site_name": self.site_name,
            "battery_count": self.battery_count,
            "solar_kw": self.solar_kw,
            "amber_ws_enabled": ws_enabled,
        }


class HouseholdDirectory:
    """Maps indexes and credentials to households for one (count, seed)."""

    def __init__(self, count: int, seed: int) -> None:
        if count < 1:
            raise ValueError("at least one household")
        self.count = count
        self.seed = seed
        self._key = hashlib.sha256(f"powersync-simulator:{seed}".encode()).digest()
        k = int.from_bytes(self._mac("site-k")[:10], "big") | 1
        self._site_mul = k % _MOD80
        self._site_mul_inv = pow(self._site_mul, -1, _MOD80)
        self._site_add = int.from_bytes(self._mac("site-c")[:10], "big") % _MOD80
        self._site_prefix = "01" + _b32(int.from_bytes(self._mac("site-p")[:5], "big"), 8)
        self._energy_offset = int.from_bytes(self._mac("energy")[:4], "big") % _ENERGY_SITE_STEP
        self.app_client_secret = "sim-app-secret-" + self._mac("app").hex()[:16]
        self.ws_disabled: set[int] = set()
        self.get = lru_cache(maxsize=65536)(self._build)

    # -- keyed hashing -------------------------------------------------------------------------
    def _mac(self, label: str) -> bytes:
        return hmac.new(self._key, label.encode(), hashlib.sha256).digest()

    def _check(self, kind: str, index: int, length: int = 8) -> str:
        return self._mac(f"{kind}:{index}").hex()[:length]

    # -- building ------------------------------------------------------------------------------
    def _build(self, index: int) -> Household:
        if not 1 <= index <= self.count:
            raise KeyError(index)
        h = self._mac(f"household:{index}")
        pick = h[0] % 100
        region = "NSW1"
        for name, share in _REGION_SHARE:
            if pick < share:
                region = name
                break
            pick -= share
        network, tariff = _REGION_NETWORKS[region][h[1] % len(_REGION_NETWORKS[region])]
        nmi_digits = int.from_bytes(h[2:7], "big") % 10**8
        site_value = (index * self._site_mul + self._site_add) % _MOD80
        return Household(
            index=index,
            amber_token=f"{AMBER_TOKEN_PREFIX}{index}_{self._check('amber', index)}",
            amber_site_id=self._site_prefix + _b32(site_value, 16),
            nmi=f"{_NMI_PREFIX[region]}{nmi_digits:08d}",
            region=region,
            network=network,
            network_tariff=tariff,
            interval_length=30 if h[7] % 5 == 0 else 5,
            time_zone=REGION_TIME_ZONE[region],
            teslemetry_key=f"{TESLEMETRY_KEY_PREFIX}{index}_{self._check('teslemetry', index)}",
            tesla_client_id=f"{TESLA_CLIENT_PREFIX}{index}",
            tesla_client_secret=f"sim-secret-{index}-{self._check('tesla-secret', index, 16)}",
            tesla_email=f"household{index}@sim.powersync.test",
            energy_site_id=self.energy_site_id_for(index),
            gateway_id=f"GW{self._check('gateway', index, 10).upper()}",
            site_name=f"Sim Home {index}",
            battery_count=1 + h[8] % 3,
            solar_kw=round(5.0 + (h[9] % 60) / 10, 1),
            base_load_kw=round(0.35 + (h[10] % 50) / 100, 2),
        )

    def energy_site_id_for(self, index: int) -> int:
        return ENERGY_SITE_BASE + index * _ENERGY_SITE_STEP + self._energy_offset

    # -- reverse lookups (cheap, no tables) ----------------------------------------------------
    def _index_from_prefixed(self, value: str, prefix: str, kind: str) -> Household | None:
        if not value.startswith(prefix):
            return None
        body = value[len(prefix) :]
        num, _, check = body.partition("_")
        if not num.isdigit() or len(num) > 9:
            return None
        index = int(num)
        if not 1 <= index <= self.count:
            return None
        if not hmac.compare_digest(check, self._check(kind, index)):
            return None
        return self.get(index)

    def by_amber_token(self, token: str) -> Household | None:
        return self._index_from_prefixed(token, AMBER_TOKEN_PREFIX, "amber")

    def by_teslemetry_key(self, key: str) -> Household | None:
        return self._index_from_prefixed(key, TESLEMETRY_KEY_PREFIX, "teslemetry")

    def by_amber_site_id(self, site_id: str) -> Household | None:
        if len(site_id) != 26 or not site_id.startswith(self._site_prefix):
            return None
        value = _unb32(site_id[10:])
        if value is None:
            return None
        index = ((value - self._site_add) * self._site_mul_inv) % _MOD80
        if not 1 <= index <= self.count:
            return None
        return self.get(index)

    def by_energy_site_id(self, energy_site_id: int) -> Household | None:
        rest = energy_site_id - ENERGY_SITE_BASE - self._energy_offset
        index, remainder = divmod(rest, _ENERGY_SITE_STEP)
        if remainder or not 1 <= index <= self.count:
            return None
        return self.get(index)

    def by_client_id(self, client_id: str) -> Household | None:
        if not client_id.startswith(TESLA_CLIENT_PREFIX):
            return None
        num = client_id[len(TESLA_CLIENT_PREFIX) :]
        if not num.isdigit() or len(num) > 9 or not 1 <= int(num) <= self.count:
            return None
        return self.get(int(num))

    def by_login_hint(self, hint: str) -> Household | None:
        """``login_hint`` on the authorize URL: a household index or its e-mail address."""
        if hint.isdigit() and len(hint) <= 9 and 1 <= int(hint) <= self.count:
            return self.get(int(hint))
        if hint.startswith("household") and hint.endswith("@sim.powersync.test"):
            num = hint[len("household") : -len("@sim.powersync.test")]
            if num.isdigit() and len(num) <= 9 and 1 <= int(num) <= self.count:
                return self.get(int(num))
        return None

    def client_secret_ok(self, client_id: str, secret: str) -> bool:
        if client_id == APP_CLIENT_ID:
            return hmac.compare_digest(secret, self.app_client_secret)
        household = self.by_client_id(client_id)
        return household is not None and hmac.compare_digest(secret, household.tesla_client_secret)

    def ws_enabled(self, index: int) -> bool:
        return index not in self.ws_disabled

    def page(self, offset: int, limit: int) -> list[dict[str, object]]:
        stop = min(self.count, offset + limit)
        return [
            self.get(i).public_dict(ws_enabled=self.ws_enabled(i))
            for i in range(offset + 1, stop + 1)
        ]
