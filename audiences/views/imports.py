"""CSV import pages under /t/<slug>/audiences/imports/: list, upload, mapping, progress, errors report.

Marketers and admins import; analysts see the list and results only (the middleware also refuses
their POSTs). The job page polls its progress partial every second until the job is final.
"""

from __future__ import annotations

import re

from django import forms
from django.contrib import messages
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseStopPolling

from audiences import services_import
from audiences.importer import (
    CONTACT_FIELDS,
    import_max_bytes,
    import_max_rows,
    mapping_choices,
    preview_rows,
)
from audiences.models import ContactList, ImportJob
from tenants.decorators import role_required
from tenants.models import Role
from tenants.urls_helpers import tenant_reverse

# Targets a file may fill from one column only (custom attributes and consent are per column anyway).
SINGLE_TARGETS = frozenset(CONTACT_FIELDS)


class UploadForm(forms.Form):
    file = forms.FileField(label="CSV file", help_text="Comma, semicolon or tab separated; UTF-8 or Latin-1; "
                                                      "the first row names the columns.")


class MappingForm(forms.Form):
    match_on = forms.ChoiceField(
        label="Match existing contacts on", choices=[("email", "Email"), ("phone", "Phone")],
        widget=forms.RadioSelect,
        help_text="A row whose address is already in your audience updates that contact instead of adding one. "
                  "A row without it is matched on the other address.")
    add_tags = forms.CharField(label="Add tags to every imported contact", required=False, max_length=500,
                               help_text="Comma-separated, e.g. webinar-2026, vip")
    contact_list = forms.ChoiceField(label="Add to list", required=False)
    new_list_name = forms.CharField(label="…or a new list named", required=False, max_length=120)

    def __init__(self, *args, job: ImportJob, lists, **kwargs):
        super().__init__(*args, **kwargs)
        self.job = job
        self.lists = {str(lst.pk): lst for lst in lists}
        self.fields["contact_list"].choices = [("", "— No list —"), *((k, v.name) for k, v in self.lists.items())]
        self.columns = []
        for index, header in enumerate(job.headers):
            name = f"col_{index}"
            self.fields[name] = forms.ChoiceField(label=header, choices=mapping_choices(header), required=False,
                                                  initial=job.mapping.get(header, ""))
            self.columns.append((header, name))

    def column_fields(self):
        return [self[name] for _, name in self.columns]

    def clean(self):
        data = super().clean()
        mapping = {header: data.get(name, "") for header, name in self.columns}
        used: dict[str, str] = {}
        for header, name in self.columns:
            target = mapping[header]
            if target in SINGLE_TARGETS or target.startswith("consent:"):
                if target in used:
                    self.add_error(name, f"“{used[target]}” is already mapped to this field.")
                used.setdefault(target, header)
        if "email" not in used and "phone" not in used:
            raise forms.ValidationError("Map a column to Email or Phone: contacts are matched on one of them.")
        match_on = data.get("match_on")
        if match_on and match_on not in used:
            self.add_error("match_on", f"No column is mapped to {match_on.title()}.")
        tags = [t.strip() for t in (data.get("add_tags") or "").split(",") if t.strip()]
        if any(len(t) > 60 for t in tags):
            self.add_error("add_tags", "A tag can be at most 60 characters long.")
        new_list = (data.get("new_list_name") or "").strip()
        if new_list and data.get("contact_list"):
            self.add_error("new_list_name", "Choose an existing list or name a new one, not both.")
        data["mapping"] = mapping
        data["tag_names"] = tags
        data["list_obj"] = self.lists.get(data.get("contact_list") or "")
        data["new_list_name"] = new_list
        return data


@require_GET
def index(request):
    jobs = ImportJob.objects.filter(tenant=request.tenant).select_related("created_by")[:100]
    return render(request, "audiences/import_list.html", {"jobs": jobs, "can_edit": request.membership.can_edit})


@require_http_methods(["GET", "POST"])
@role_required(Role.MARKETER)
def new(request):
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = services_import.import_upload(tenant=request.tenant, upload=form.cleaned_data["file"],
                                                user=request.user)
        except services_import.ImportFileError as exc:
            form.add_error("file", str(exc))
        else:
            return redirect(tenant_reverse(request.tenant, "audiences:import_map", job.pk))
    return render(request, "audiences/import_new.html", {
        "form": form, "max_mb": import_max_bytes() // (1024 * 1024), "max_rows": import_max_rows(),
        "fields": CONTACT_FIELDS,
    }, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@role_required(Role.MARKETER)
def mapping(request, pk):
    job = get_object_or_404(ImportJob, tenant=request.tenant, pk=pk)
    if job.status != ImportJob.Status.UPLOADED:
        return redirect(tenant_reverse(request.tenant, "audiences:import_detail", job.pk))
    form = MappingForm(request.POST or None, job=job, lists=ContactList.objects.filter(tenant=request.tenant),
                       initial={"match_on": job.match_on})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        services_import.import_configure(job=job, mapping=data["mapping"], match_on=data["match_on"],
                                         tag_names=data["tag_names"], contact_list=data["list_obj"],
                                         new_list_name=data["new_list_name"])
        messages.success(request, f"Importing “{job.original_name}”. You can leave this page; the import goes on.")
        return redirect(tenant_reverse(request.tenant, "audiences:import_detail", job.pk))
    return render(request, "audiences/import_map.html", {
        "job": job, "form": form, "preview": preview_rows(job=job),
        "delimiter_label": {",": "comma", ";": "semicolon", "\t": "tab"}.get(job.delimiter, job.delimiter),
    }, status=400 if form.errors else 200)


@require_GET
def detail(request, pk):
    job = get_object_or_404(ImportJob.objects.select_related("add_to_list", "created_by"), tenant=request.tenant,
                            pk=pk)
    if job.status == ImportJob.Status.UPLOADED and request.membership.can_edit:
        return redirect(tenant_reverse(request.tenant, "audiences:import_map", job.pk))
    context = {"job": job, "rejections": job.rejections.all()[:20] if job.status in ImportJob.FINAL else [],
               "final": job.status in ImportJob.FINAL, "took": _took(job)}
    if request.htmx:
        response = render(request, "audiences/import_detail.html#progress", context)
        if context["final"]:
            # 286 tells htmx to stop polling; it still swaps in the final figures.
            return HttpResponseStopPolling(response.content)
        return response
    return render(request, "audiences/import_detail.html", {**context, "tags": job.add_tags.all()})


def _took(job: ImportJob) -> str:
    if not (job.started_at and job.finished_at):
        return ""
    seconds = (job.finished_at - job.started_at).total_seconds()
    return f"{seconds:.1f} s" if seconds < 60 else f"{int(seconds // 60)} min {int(seconds % 60)} s"


@require_GET
def errors_csv(request, pk):
    job = get_object_or_404(ImportJob, tenant=request.tenant, pk=pk)
    response = StreamingHttpResponse(services_import.import_rejections_csv(job=job),
                                     content_type="text/csv; charset=utf-8")
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", job.original_name.rsplit(".", 1)[0])[:80] or "import"
    response["Content-Disposition"] = f'attachment; filename="{stem}-errors.csv"'
    return response
