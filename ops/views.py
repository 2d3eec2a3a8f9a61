from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from ops import selectors


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """JSON health of every component; 503 when any is down (for load balancers and compose).

    ``?only=database,broker`` restricts the check to the named components.
    """
    only = request.GET.get("only")
    if only is None:
        health = selectors.system_health()
    else:
        wanted = frozenset(part.strip() for part in only.split(",") if part.strip())
        unknown = wanted - set(selectors.COMPONENTS)
        if unknown or not wanted:
            return JsonResponse(
                {
                    "error": f"unknown component(s): {sorted(unknown)}; "
                    f"known: {', '.join(selectors.COMPONENTS)}"
                },
                status=400,
            )
        health = selectors.system_health(only=wanted)
    return JsonResponse(health.as_dict(), status=200 if health.ok else 503)
