from django.shortcuts import render
from django.views.decorators.http import require_GET


@require_GET
def index(request):
    return render(request, "section_pending.html", {"section": "Audiences", "description": "Contacts, consent, tags, lists and segments"})
