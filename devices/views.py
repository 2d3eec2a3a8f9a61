from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from devices.partner_key import PartnerKeyMissing, partner_public_key_pem
from devices.providers.tesla.partner_key import PUBLIC_KEY_CONTENT_TYPE


@require_GET
def tesla_partner_public_key(request: HttpRequest) -> HttpResponse:
    """The public key Tesla reads when this domain is registered as a Fleet API partner."""
    try:
        pem = partner_public_key_pem()
    except PartnerKeyMissing as exc:
        raise Http404("partner key not configured") from exc
    return HttpResponse(pem, content_type=PUBLIC_KEY_CONTENT_TYPE)
