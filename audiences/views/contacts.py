"""Contacts area under /t/<slug>/audiences/: grid, bulk actions, export, contact pages, tags, lists,
suppressions.

Marketers and admins change things; analysts read (TenantMiddleware refuses their POSTs). Every
object is looked up inside the request's tenant, so a foreign id answers 404.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.db.models import prefetch_related_objects
from django.http import Http404, HttpResponseBadRequest, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseStopPolling

from audiences import exports, selectors, services
from audiences.forms import (
    ConsentChangeForm,
    ContactForm,
    ContactListForm,
    GridFilterForm,
    SuppressionForm,
    TagForm,
)
from audiences.models import (
    CONSENT_CHANNELS,
    ConsentSource,
    ConsentState,
    Contact,
    ContactDeleteJob,
    ContactList,
    Segment,
    Suppression,
    Tag,
)
from tenants.decorators import role_required
from tenants.models import CHANNEL_LABELS, Role
from tenants.urls_helpers import tenant_reverse

# Column-sized channel names for the grid's consent chips.
SHORT_LABELS = {"email": "E", "push": "P", "sms": "S", "whatsapp": "W", "telegram": "T", "voice": "V"}
BULK_ACTIONS = {
    "tag_add": "Add tag", "tag_remove": "Remove tag", "list_add": "Add to list", "list_remove": "Remove from list",
    "delete": "Delete",
}


def _filter_form(request, data: QueryDict) -> GridFilterForm:
    form = GridFilterForm(data, tenant=request.tenant)
    # A tag or list of another tenant (or a deleted one) is "not found", like any foreign id.
    if not form.is_valid() and ({"tag", "list"} & set(form.errors)):
        raise Http404("No such tag or list")
    return form


def _filtered(request, form: GridFilterForm):
    return selectors.contacts_filtered(tenant_id=request.tenant.pk, region=request.tenant.default_phone_region,
                                       **form.selector_kwargs())


def _filter_query(data: QueryDict) -> str:
    kept = QueryDict(mutable=True)
    for name in GridFilterForm.FILTER_NAMES:
        if data.get(name):
            kept[name] = data[name]
    return kept.urlencode()


@require_GET
def index(request):
    """The contacts grid: search, filters, keyset pages and bulk actions."""
    form = _filter_form(request, request.GET)
    contacts = _filtered(request, form)
    total, exact = selectors.count_capped(contacts)
    page = selectors.keyset_page(contacts, after=request.GET.get("after", ""), before=request.GET.get("before", ""),
                                 few=exact and form.active)
    prefetch_related_objects(page.rows, "tags")
    filter_query = _filter_query(request.GET)
    return render(request, "audiences/contact_list.html", {
        "form": form, "page": page, "total": total, "total_exact": exact, "filter_query": filter_query,
        "tags": Tag.objects.filter(tenant=request.tenant).order_by("name"),
        "lists": ContactList.objects.filter(tenant=request.tenant).order_by("name"),
        "bulk_actions": BULK_ACTIONS, "channels": [(c, CHANNEL_LABELS[c], SHORT_LABELS[c]) for c in CONSENT_CHANNELS],
        "can_edit": request.membership.can_edit, "tab": "contacts",
    })


def _bulk_selection(request):
    """The contacts a bulk action applies to: the ticked rows, or everything the filter matches."""
    form = _filter_form(request, QueryDict(request.POST.get("filter", "")))
    if request.POST.get("scope") == "all":
        return _filtered(request, form), form
    ids = []
    for value in request.POST.getlist("ids"):
        try:
            ids.append(uuid.UUID(value))
        except ValueError:
            continue
    return Contact.objects.filter(tenant=request.tenant, pk__in=ids), form


@require_POST
def bulk(request):
    action = request.POST.get("action", "")
    if action not in BULK_ACTIONS:
        return HttpResponseBadRequest("Unknown bulk action")
    back = tenant_reverse(request.tenant, "audiences:index")
    filter_query = request.POST.get("filter", "")
    back_with_filter = f"{back}?{filter_query}" if filter_query else back
    contacts, _ = _bulk_selection(request)
    if request.POST.get("scope") != "all" and not request.POST.getlist("ids"):
        messages.error(request, "Tick at least one contact, or choose “all matching the filter”.")
        return redirect(back_with_filter)
    if action == "delete":
        if request.POST.get("confirmed") != "yes":
            total, exact = selectors.count_capped(contacts)
            return render(request, "audiences/contact_bulk_delete.html", {
                "total": total, "total_exact": exact, "post": request.POST, "back": back_with_filter,
                "ids": request.POST.getlist("ids"), "tab": "contacts",
            })
        if request.POST.get("scope") == "all":
            _, small = selectors.count_capped(contacts, cap=settings.BULK_DELETE_INLINE_MAX)
            if not small:
                # Thousands of contacts with their history: a task with a progress bar, not a
                # request that would run into the proxy's timeout.
                job = services.contacts_delete_job_start(tenant=request.tenant, filter_query=filter_query,
                                                         user=request.user)
                return redirect(tenant_reverse(request.tenant, "audiences:contact_delete_job", job.pk))
        deleted = services.contacts_delete(contacts=contacts)
        messages.success(request, f"Deleted {deleted} contact{'s' if deleted != 1 else ''}.")
        return redirect(back_with_filter)
    if action.startswith("tag_"):
        if not request.POST.get("tag"):
            messages.error(request, "Choose a tag.")
            return redirect(back_with_filter)
        tag = get_object_or_404(Tag, tenant=request.tenant, pk=_uuid_or_404(request.POST["tag"]))
        if action == "tag_add":
            n = services.contacts_tag_add(contacts=contacts, tag=tag)
            messages.success(request, f"Tagged {n} more contact{'s' if n != 1 else ''} with “{tag.name}”.")
        else:
            n = services.contacts_tag_remove(contacts=contacts, tag=tag)
            messages.success(request, f"Removed “{tag.name}” from {n} contact{'s' if n != 1 else ''}.")
    else:
        if not request.POST.get("list"):
            messages.error(request, "Choose a list.")
            return redirect(back_with_filter)
        contact_list = get_object_or_404(ContactList, tenant=request.tenant, pk=_uuid_or_404(request.POST["list"]))
        if action == "list_add":
            n = services.contacts_list_add(contacts=contacts, contact_list=contact_list)
            messages.success(request, f"Added {n} contact{'s' if n != 1 else ''} to “{contact_list.name}”.")
        else:
            n = services.contacts_list_remove(contacts=contacts, contact_list=contact_list)
            messages.success(request, f"Removed {n} contact{'s' if n != 1 else ''} from “{contact_list.name}”.")
    return redirect(back_with_filter)


def _uuid_or_404(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise Http404("No such object") from None


@require_GET
def delete_job(request, pk):
    """Progress of a bulk delete run by a task; the card polls itself until the job is final."""
    job = get_object_or_404(ContactDeleteJob, tenant=request.tenant, pk=pk)
    context = {"job": job, "final": job.status in ContactDeleteJob.FINAL, "tab": "contacts"}
    if request.htmx:
        response = render(request, "audiences/contact_delete_job.html#progress", context)
        return HttpResponseStopPolling(response.content) if context["final"] else response
    return render(request, "audiences/contact_delete_job.html", context)


@require_GET
def export(request):
    """The grid's current filter as CSV, streamed."""
    form = _filter_form(request, request.GET)
    return exports.contacts_csv_response(_filtered(request, form), tenant_id=request.tenant.pk,
                                         filename=f"contacts-{request.tenant.slug}.csv")


@require_GET
def export_segment(request, pk):
    segment = get_object_or_404(Segment, tenant=request.tenant, pk=pk)
    return exports.contacts_csv_response(selectors.segment_contacts(segment), tenant_id=request.tenant.pk,
                                         filename=f"segment-{segment.pk}.csv")


# --- one contact --------------------------------------------------------------------------------

@require_http_methods(["GET", "POST"])
def contact_create(request):
    form = ContactForm(request.POST or None, tenant=request.tenant)
    if request.method == "POST" and form.is_valid():
        return _save_contact(request, form, contact=None)
    return render(request, "audiences/contact_form.html", {"form": form, "contact": None, "tab": "contacts"})


@require_http_methods(["GET", "POST"])
def contact_edit(request, pk):
    contact = get_object_or_404(Contact, tenant=request.tenant, pk=pk)
    form = ContactForm(request.POST or None, tenant=request.tenant, contact=contact)
    if request.method == "POST" and form.is_valid():
        return _save_contact(request, form, contact=contact)
    return render(request, "audiences/contact_form.html", {"form": form, "contact": contact, "tab": "contacts"})


def _save_contact(request, form: ContactForm, *, contact: Contact | None):
    try:
        contact = services.contact_save(tenant_id=request.tenant.pk, contact=contact, fields=form.contact_fields(),
                                        tags=form.cleaned_data["tags"], lists=form.cleaned_data["lists"])
    except services.DuplicateContact as exc:
        form.add_error(exc.field, str(exc))
        return render(request, "audiences/contact_form.html", {"form": form, "contact": contact, "tab": "contacts"})
    messages.success(request, f"“{contact}” saved.")
    return redirect(tenant_reverse(request.tenant, "audiences:contact_detail", contact.pk))


def _evidence_summary(evidence: dict) -> str:
    text = ", ".join(f"{key}: {value}" for key, value in evidence.items() if value not in ("", None))
    return text if len(text) <= 160 else text[:159] + "…"


@require_GET
def contact_detail(request, pk):
    contact = get_object_or_404(Contact.objects.select_related("tenant"), tenant=request.tenant, pk=pk)
    return _render_detail(request, contact, ConsentChangeForm())


def _render_detail(request, contact: Contact, consent_form: ConsentChangeForm, status: int = 200):
    history = list(contact.consent_events.select_related("actor").order_by("-created_at", "-id")[:200])
    for event in history:
        event.summary = _evidence_summary(event.evidence)
        event.channel_label = CHANNEL_LABELS.get(event.channel, event.channel)
    return render(request, "audiences/contact_detail.html", {
        "contact": contact, "consent_rows": selectors.contact_consent_rows(contact), "history": history,
        "consent_form": consent_form, "tags": contact.tags.order_by("name"), "lists": contact.lists.order_by("name"),
        "push_subscriptions": contact.push_subscriptions.order_by("-created_at"),
        "unsubscribe_url": settings.SITE_URL + services.unsubscribe_path(contact=contact),
        "one_click_url": settings.SITE_URL + services.unsubscribe_one_click_path(contact=contact),
        "timezone_name": contact.tz_name(request.tenant),
        "can_edit": request.membership.can_edit, "tab": "contacts",
    }, status=status)


@require_POST
def contact_consent(request, pk):
    """A marketer records a consent change (source admin, with who did it and why)."""
    contact = get_object_or_404(Contact.objects.select_related("tenant"), tenant=request.tenant, pk=pk)
    form = ConsentChangeForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, contact, form, status=400)
    channel, state = form.cleaned_data["channel"], form.cleaned_data["state"]
    changed = services.consent_set(
        contact=contact, channel=channel, state=state, source=ConsentSource.ADMIN, actor=request.user,
        evidence={"note": form.cleaned_data["note"], "via": "contact page", "user": request.user.get_username()},
    )
    label, state_label = CHANNEL_LABELS[channel], ConsentState(state).label
    if changed:
        messages.success(request, f"{label} consent is now “{state_label}”.")
    else:
        messages.info(request, f"{label} consent was already “{state_label}”.")
    return redirect(tenant_reverse(request.tenant, "audiences:contact_detail", contact.pk))


@require_POST
def contact_delete(request, pk):
    contact = get_object_or_404(Contact, tenant=request.tenant, pk=pk)
    name = str(contact)
    services.contacts_delete(contacts=Contact.objects.filter(tenant=request.tenant, pk=contact.pk))
    messages.success(request, f"“{name}” deleted with its consent history.")
    return redirect(tenant_reverse(request.tenant, "audiences:index"))


# --- tags ---------------------------------------------------------------------------------------

@require_http_methods(["GET", "POST"])
def tag_list(request):
    form = TagForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            tag = services.tag_save(tenant_id=request.tenant.pk, name=form.cleaned_data["name"])
        except services.NameTaken as exc:
            form.add_error("name", str(exc))
        else:
            messages.success(request, f"Tag “{tag.name}” created.")
            return redirect(tenant_reverse(request.tenant, "audiences:tag_list"))
    return render(request, "audiences/tag_list.html", {
        "form": form, "tags": selectors.tags_with_counts(tenant_id=request.tenant.pk),
        "can_edit": request.membership.can_edit, "tab": "tags",
    }, status=400 if form.errors else 200)


@require_POST
def tag_rename(request, pk):
    tag = get_object_or_404(Tag, tenant=request.tenant, pk=pk)
    form = TagForm(request.POST)
    old = tag.name
    if form.is_valid():
        try:
            services.tag_save(tenant_id=request.tenant.pk, name=form.cleaned_data["name"], tag=tag)
        except services.NameTaken as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Tag “{old}” renamed to “{tag.name}”.")
    else:
        messages.error(request, "A tag needs a name (up to 60 characters).")
    return redirect(tenant_reverse(request.tenant, "audiences:tag_list"))


@require_POST
def tag_delete(request, pk):
    tag = get_object_or_404(Tag, tenant=request.tenant, pk=pk)
    services.tag_delete(tag=tag)
    messages.success(request, f"Tag “{tag.name}” deleted; its contacts are kept.")
    return redirect(tenant_reverse(request.tenant, "audiences:tag_list"))


# --- lists --------------------------------------------------------------------------------------

@require_http_methods(["GET", "POST"])
def list_index(request):
    form = ContactListForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            contact_list = services.contact_list_save(tenant_id=request.tenant.pk, **form.cleaned_data)
        except services.NameTaken as exc:
            form.add_error("name", str(exc))
        else:
            messages.success(request, f"List “{contact_list.name}” created. Add contacts from the contacts grid.")
            return redirect(tenant_reverse(request.tenant, "audiences:list_detail", contact_list.pk))
    return render(request, "audiences/list_index.html", {
        "form": form, "lists": selectors.lists_with_counts(tenant_id=request.tenant.pk),
        "can_edit": request.membership.can_edit, "tab": "lists",
    }, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def list_detail(request, pk):
    contact_list = get_object_or_404(ContactList, tenant=request.tenant, pk=pk)
    form = ContactListForm(request.POST or None, initial={"name": contact_list.name,
                                                           "description": contact_list.description})
    if request.method == "POST" and form.is_valid():
        try:
            services.contact_list_save(tenant_id=request.tenant.pk, contact_list=contact_list, **form.cleaned_data)
        except services.NameTaken as exc:
            form.add_error("name", str(exc))
        else:
            messages.success(request, f"List “{contact_list.name}” saved.")
            return redirect(tenant_reverse(request.tenant, "audiences:list_detail", contact_list.pk))
    members = Contact.objects.filter(tenant=request.tenant, lists=contact_list)
    page = selectors.keyset_page(members, after=request.GET.get("after", ""), before=request.GET.get("before", ""))
    total, exact = selectors.count_capped(members)
    return render(request, "audiences/list_detail.html", {
        "contact_list": contact_list, "form": form, "page": page, "total": total, "total_exact": exact,
        "can_edit": request.membership.can_edit, "tab": "lists",
    }, status=400 if form.errors else 200)


@require_POST
def list_remove(request, pk):
    """Take the ticked members out of the list (they stay contacts)."""
    contact_list = get_object_or_404(ContactList, tenant=request.tenant, pk=pk)
    ids = []
    for value in request.POST.getlist("ids"):
        try:
            ids.append(uuid.UUID(value))
        except ValueError:
            continue
    n = services.contacts_list_remove(contacts=Contact.objects.filter(tenant=request.tenant, pk__in=ids),
                                      contact_list=contact_list)
    messages.success(request, f"Removed {n} contact{'s' if n != 1 else ''} from “{contact_list.name}”.")
    return redirect(tenant_reverse(request.tenant, "audiences:list_detail", contact_list.pk))


@require_POST
def list_delete(request, pk):
    contact_list = get_object_or_404(ContactList, tenant=request.tenant, pk=pk)
    services.contact_list_delete(contact_list=contact_list)
    messages.success(request, f"List “{contact_list.name}” deleted; its contacts are kept.")
    return redirect(tenant_reverse(request.tenant, "audiences:list_index"))


# --- suppressions -------------------------------------------------------------------------------

@require_http_methods(["GET", "POST"])
def suppression_list(request):
    form = SuppressionForm(request.POST or None, tenant=request.tenant)
    if request.method == "POST" and form.is_valid():
        suppression, created = services.suppression_add(
            tenant_id=request.tenant.pk, kind=form.cleaned_data["kind"], value=form.cleaned_data["value"],
            reason=form.cleaned_data["reason"], source=ConsentSource.ADMIN)
        if created:
            messages.success(request, f"{suppression.value} is suppressed: no channel will message it.")
        else:
            messages.info(request, f"{suppression.value} was already suppressed.")
        return redirect(tenant_reverse(request.tenant, "audiences:suppression_list"))
    search = request.GET.get("q", "").strip()
    suppressions = Suppression.objects.filter(tenant=request.tenant)
    if search:
        suppressions = suppressions.filter(value__icontains=search.lower())
    page = selectors.keyset_page(suppressions, after=request.GET.get("after", ""),
                                 before=request.GET.get("before", ""))
    total, exact = selectors.count_capped(suppressions)
    return render(request, "audiences/suppression_list.html", {
        "form": form, "page": page, "total": total, "total_exact": exact, "search": search,
        "search_query": urlencode({"q": search}) if search else "",
        "can_admin": request.membership.is_admin, "can_edit": request.membership.can_edit, "tab": "suppressions",
    }, status=400 if form.errors else 200)


@require_POST
@role_required(Role.ADMIN)
def suppression_delete(request, pk):
    """Lifting a suppression lets channels message the address again: admins only."""
    suppression = get_object_or_404(Suppression, tenant=request.tenant, pk=pk)
    services.suppression_remove(suppression=suppression)
    messages.success(request, f"{suppression.value} is no longer suppressed.")
    return redirect(tenant_reverse(request.tenant, "audiences:suppression_list"))
