from __future__ import annotations

from django.http import JsonResponse
from django.views.decorators.http import require_GET

from tenants.api import api_key_required


@require_GET
@api_key_required
def whoami(request):
    """Lets an integrator check a key: which workspace it belongs to."""
    return JsonResponse(
        {"tenant": request.tenant.slug, "name": request.tenant.name, "key": request.api_key.prefix}
    )
