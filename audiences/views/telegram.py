"""Audiences -> Telegram: the bot's groups and channels, its subscribers, and the campaign reach partial.

Marketers act, analysts read (TenantMiddleware refuses their POSTs); taking the bot out of a
group is for admins, since only someone with rights in that group can add it back.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audiences import exports, selectors, selectors_telegram, services
from audiences import telegram as tg
from audiences.forms_telegram import DirectMessageForm, SubscriberActionForm
from audiences.models import (
    Contact,
    TelegramChat,
    TelegramDirectMessage,
    TelegramGroupRemoval,
    TelegramSubscriber,
)
from tenants.decorators import role_required
from tenants.models import Role
from tenants.urls_helpers import tenant_reverse


@require_GET
def groups(request):
    show_left = request.GET.get("show") == "all"
    chats = selectors_telegram.telegram_chats(tenant_id=request.tenant.pk, include_left=show_left)
    return render(request, "audiences/telegram_groups.html", {
        "chats": list(chats.order_by("title", "chat_id")[:500]), "show_left": show_left,
        "can_edit": request.membership.can_edit, "can_admin": request.membership.is_admin,
    })


@require_POST
def groups_refresh(request):
    """Re-count members now: a tenant has a handful of groups, and the marketer is waiting for the figure."""
    refreshed, problems = tg.telegram_chats_refresh(chats=TelegramChat.objects.filter(tenant=request.tenant))
    if refreshed:
        messages.success(request, f"Member counts refreshed for {refreshed} group{'s' if refreshed != 1 else ''}.")
    for problem in problems[:5]:
        messages.error(request, problem)
    if not refreshed and not problems:
        messages.info(request, "The bot is in no group or channel yet.")
    return redirect(tenant_reverse(request.tenant, "audiences:telegram_groups"))


@require_POST
@role_required(Role.ADMIN)
def group_leave(request, pk):
    chat = get_object_or_404(TelegramChat.objects.select_related("channel_config"), tenant=request.tenant, pk=pk)
    try:
        tg.telegram_chat_leave(chat=chat)
    except tg.TelegramUnavailable as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"The bot left “{chat}”. Add it again from Telegram to post there.")
    return redirect(tenant_reverse(request.tenant, "audiences:telegram_groups"))


def _subscribers_context(request, action_form: SubscriberActionForm) -> dict:
    search = request.GET.get("q", "").strip()
    subscribers = selectors_telegram.telegram_subscribers(tenant_id=request.tenant.pk, search=search)
    page = selectors.keyset_page(subscribers, after=request.GET.get("after", ""), before=request.GET.get("before", ""))
    total, exact = selectors.count_capped(subscribers)
    return {
        "page": page, "total": total, "total_exact": exact, "search": search,
        "search_query": urlencode({"q": search}) if search else "", "action_form": action_form,
        "can_edit": request.membership.can_edit,
        "removable_chats": list(tg.telegram_removable_chats(tenant_id=request.tenant.pk)[:200]),
        "removals": selectors_telegram.telegram_group_removals_recent(tenant_id=request.tenant.pk),
    }


@require_GET
def subscribers(request):
    form = SubscriberActionForm(tenant=request.tenant)
    return render(request, "audiences/telegram_subscribers.html", _subscribers_context(request, form))


@require_POST
def subscribers_action(request):
    form = SubscriberActionForm(request.POST, tenant=request.tenant)
    if not form.is_valid():
        return render(request, "audiences/telegram_subscribers.html", _subscribers_context(request, form), status=400)
    chosen = TelegramSubscriber.objects.filter(tenant=request.tenant, pk__in=form.cleaned_data["ids"]).select_related(
        "contact")
    action, n = form.cleaned_data["action"], 0
    if action == "group_remove":
        _group_remove(request, form.cleaned_data["chat"], chosen)
    elif action == "unsubscribe":
        n = sum(tg.telegram_subscriber_unsubscribe(subscriber=s, actor=request.user) for s in chosen)
        messages.success(request, f"{n} subscriber{'s' if n != 1 else ''} unsubscribed: the bot sends them no more "
                                  "messages until they /start it again.")
    elif action == "block":
        for subscriber in chosen.filter(blocked_at__isnull=True):
            tg.telegram_subscriber_block(subscriber=subscriber, actor=request.user)
            n += 1
        messages.success(request, f"{n} subscriber{'s' if n != 1 else ''} blocked: no message goes to them and "
                                  "/start will not subscribe them again.")
    elif action == "unblock":
        n = sum(tg.telegram_subscriber_unblock(subscriber=s, actor=request.user)
                for s in chosen.filter(blocked_at__isnull=False))
        messages.success(request, f"{n} subscriber{'s' if n != 1 else ''} unblocked: their Telegram consent is back "
                                  "to what it was before the block, and /start works again.")
    else:
        contacts = Contact.objects.filter(tenant=request.tenant, telegram_subscriber__in=chosen)
        if action == "list_add":
            contact_list = form.cleaned_data["contact_list"]
            n = services.contacts_list_add(contacts=contacts, contact_list=contact_list)
            messages.success(request, f"{n} subscriber{'s' if n != 1 else ''} added to the list “{contact_list}”.")
        else:
            tag = form.cleaned_data["tag"]
            n = services.contacts_tag_add(contacts=contacts, tag=tag)
            messages.success(request, f"{n} subscriber{'s' if n != 1 else ''} tagged “{tag}”: a segment with the "
                                      f"rule “Tag is {tag}” now includes them.")
    return redirect(tenant_reverse(request.tenant, "audiences:telegram_subscribers"))


def _group_remove(request, chat: TelegramChat, chosen) -> None:
    """Remove the ticked people from one group and say, per outcome, what happened."""
    try:
        records = tg.telegram_group_remove(chat=chat, subscribers=chosen.order_by("contact__first_name", "pk"),
                                           actor=request.user)
    except tg.TelegramUnavailable as exc:
        messages.error(request, str(exc))
        return
    Status = TelegramGroupRemoval.Status
    removed = [r for r in records if r.status == Status.REMOVED]
    absent = [r for r in records if r.status == Status.NOT_MEMBER]
    if removed:
        messages.success(request, f"{_people(removed)} removed from “{chat}”. They can rejoin with an invite link.")
    if absent:
        messages.info(request, f"{_people(absent)} {'was' if len(absent) == 1 else 'were'} not in “{chat}”.")
    # One line per distinct reason, naming who it concerns (the bot lacking rights is one line, not fifty).
    reasons: dict[str, list] = {}
    for record in records:
        if record.status == Status.FAILED or (record.status == Status.REMOVED and record.message):
            reasons.setdefault(record.message, []).append(record)
    for reason, rows in reasons.items():
        messages.error(request, f"{_people(rows)}: {reason}")


def _people(records) -> str:
    names = [str(r.subscriber.contact) if r.subscriber else r.user_id for r in records]
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


@require_GET
def subscribers_export(request):
    search = request.GET.get("q", "").strip()
    chosen = selectors_telegram.telegram_subscribers(tenant_id=request.tenant.pk, search=search)
    rows = selectors_telegram.telegram_subscriber_rows(chosen, tenant_id=request.tenant.pk)
    return exports.csv_response("telegram-subscribers.csv", selectors_telegram.SUBSCRIBER_COLUMNS, rows)


@require_http_methods(["GET", "POST"])
def subscriber_message(request, pk):
    subscriber = get_object_or_404(TelegramSubscriber.objects.select_related("contact"), tenant=request.tenant, pk=pk)
    form = DirectMessageForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            sent = tg.telegram_direct_message_send(tenant=request.tenant, subscriber=subscriber,
                                                   text=form.cleaned_data["text"], actor=request.user)
        except tg.TelegramUnavailable as exc:
            form.add_error(None, str(exc))
        except ValueError as exc:
            form.add_error("text", str(exc))
        else:
            if sent.status == TelegramDirectMessage.Status.SENT:
                messages.success(request, f"Message sent to {subscriber.contact}.")
                return redirect(tenant_reverse(request.tenant, "audiences:telegram_message", subscriber.pk))
            form.add_error(None, f"Telegram refused the message: {sent.error_message}")
    history = TelegramDirectMessage.objects.filter(tenant=request.tenant, contact=subscriber.contact).select_related(
        "sent_by")[:50]
    return render(request, "audiences/telegram_message.html", {
        "subscriber": subscriber, "form": form, "history": history, "can_edit": request.membership.can_edit,
    }, status=400 if form.errors else 200)


@require_GET
def reach(request):
    """The campaign wizard's reach figure for ticked Telegram targets (htmx partial; see the template)."""
    targets = {"subscribers": request.GET.get("tg_subscribers", ""), "chat_ids": request.GET.getlist("tg_chat_ids")}
    context = selectors_telegram.telegram_targets_context(tenant_id=request.tenant.pk, targets=targets)
    template = "audiences/telegram_targets.html#reach" if request.htmx else "audiences/telegram_targets.html"
    return render(request, template, context)

