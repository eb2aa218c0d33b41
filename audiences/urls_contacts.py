"""Contacts, tags, lists, suppressions and exports (views in audiences/views/contacts.py)."""

from django.urls import path

from audiences.views import contacts

urlpatterns = [
    path("", contacts.index, name="index"),
    path("contacts/bulk/", contacts.bulk, name="contact_bulk"),
    path("contacts/delete-jobs/<uuid:pk>/", contacts.delete_job, name="contact_delete_job"),
    path("contacts/export.csv", contacts.export, name="contact_export"),
    path("contacts/export/segment/<uuid:pk>.csv", contacts.export_segment, name="export_segment"),
    path("contacts/new/", contacts.contact_create, name="contact_create"),
    path("contacts/<uuid:pk>/", contacts.contact_detail, name="contact_detail"),
    path("contacts/<uuid:pk>/edit/", contacts.contact_edit, name="contact_edit"),
    path("contacts/<uuid:pk>/consent/", contacts.contact_consent, name="contact_consent"),
    path("contacts/<uuid:pk>/delete/", contacts.contact_delete, name="contact_delete"),
    path("tags/", contacts.tag_list, name="tag_list"),
    path("tags/<uuid:pk>/rename/", contacts.tag_rename, name="tag_rename"),
    path("tags/<uuid:pk>/delete/", contacts.tag_delete, name="tag_delete"),
    path("lists/", contacts.list_index, name="list_index"),
    path("lists/<uuid:pk>/", contacts.list_detail, name="list_detail"),
    path("lists/<uuid:pk>/remove/", contacts.list_remove, name="list_remove"),
    path("lists/<uuid:pk>/delete/", contacts.list_delete, name="list_delete"),
    path("suppressions/", contacts.suppression_list, name="suppression_list"),
    path("suppressions/<uuid:pk>/delete/", contacts.suppression_delete, name="suppression_delete"),
]
