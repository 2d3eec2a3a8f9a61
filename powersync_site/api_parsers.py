"""The API's JSON parser: DRF's, with nesting too deep for Python's parser a 400 like any other
malformed body (not a RecursionError, which would be a 500)."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from powersync_site.bounds import JSON_TOO_DEEP


class BoundedJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - the body {JSON_TOO_DEEP}.") from None
