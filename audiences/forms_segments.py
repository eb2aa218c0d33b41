"""The segment editor's form: name and description, plus the rule builder's flat inputs.

The builder posts one set of named inputs per node, keyed by the node's path in the tree:

    match                      the top group's "all" / "any"
    rules-<path>-kind          "rule" or "group"          (path: "0", "1", "1.0", "1.1", ...)
    rules-<path>-match         a group's "all" / "any"
    rules-<path>-field|op|channel|key   a rule's parts
    rules-<path>-value         one value, or several (checkboxes for role, tag, list)

`rules_from_data` turns them into the JSON rule tree of audiences.segments, `rule_nodes` turns a
tree back into what the template renders, and `builder_apply` performs the builder's buttons
(add rule, add group, remove, field changed) on the posted tree.
"""

from __future__ import annotations

import re

from django import forms
from django.utils.datastructures import MultiValueDict

from audiences.models import CONSENT_CHANNELS, ConsentState, Segment
from audiences.segments import FIELD_LABELS, FIELD_OPS, HAS_VALUES

NODE_KIND_RE = re.compile(r"^rules-((?:\d{1,3}\.){0,5}\d{1,3})-kind$")
MULTI_FIELDS = frozenset({"role", "tag", "list"})
TEXT_LIST_FIELDS = frozenset({"city", "pincode"})
DAY_OPS = frozenset({"within_days", "not_within_days"})

BUILDER_FIELD_LABELS = {**FIELD_LABELS, "attribute": "Attribute", "has": "Contact detail"}
OP_LABELS = {
    "in": "is any of", "prefix": "starts with any of", "any": "has any of", "all": "has all of",
    "none": "has none of", "not_in": "is not in", "within_days": "within the last",
    "not_within_days": "not within the last", "after": "on or after", "before": "before",
    "is": "is", "is_not": "is not", "equals": "equals", "contains": "contains", "gt": "is more than",
    "gte": "is at least", "lt": "is less than", "lte": "is at most", "exists": "is set",
    "yes": "has", "no": "has no",
}
# "list is any of" reads oddly; membership reads better.
FIELD_OP_LABELS = {("list", "in"): "is in any of"}
HAS_LABELS = {"email": "Email address", "phone": "Phone number", "push": "Push subscription",
              "telegram": "Telegram chat"}
CHANNEL_LABELS = {"email": "Email", "push": "Push", "sms": "SMS", "whatsapp": "WhatsApp",
                  "telegram": "Telegram", "voice": "Voice"}

NEW_RULE = {"field": "city", "op": "in", "value": []}


def _match(value: str | None) -> str:
    return "any" if value == "any" else "all"


def default_rule(field: str) -> dict:
    """A fresh rule for a field, with the values a marketer most often starts from."""
    op = FIELD_OPS[field][0] if field in FIELD_OPS else ""
    rule: dict = {"field": field, "op": op, "value": []}
    if field in ("last_active", "created"):
        rule["value"] = 30
    elif field == "consent":
        rule.update(channel="email", value=ConsentState.OPTED_IN.value)
    elif field == "attribute":
        rule.update(key="", value="")
    elif field == "has":
        rule["value"] = "email"
    return rule


def _rule_from_data(data: MultiValueDict, prefix: str) -> dict:
    field = (data.get(prefix + "field") or "").strip()
    op = (data.get(prefix + "op") or "").strip()
    if field in FIELD_OPS and op not in FIELD_OPS[field]:
        op = FIELD_OPS[field][0]
    rule: dict = {"field": field, "op": op}
    raw = (data.get(prefix + "value") or "").strip()
    if field in MULTI_FIELDS:
        rule["value"] = [v for v in data.getlist(prefix + "value") if v]
    elif field in TEXT_LIST_FIELDS:
        rule["value"] = [v.strip() for v in raw.split(",") if v.strip()]
    elif op in DAY_OPS or (field == "created" and op == "within_days"):
        # Kept as typed when not a number, so the compiler's message names the problem.
        rule["value"] = int(raw) if raw.isdigit() else raw
    elif field == "consent":
        rule.update(channel=(data.get(prefix + "channel") or "").strip(), value=raw)
    elif field == "attribute":
        rule["key"] = (data.get(prefix + "key") or "").strip()
        if op != "exists":
            rule["value"] = raw
    else:
        rule["value"] = raw
    return rule


def _parse(data: MultiValueDict) -> tuple[dict, dict[str, tuple[dict, list]]]:
    """The tree, and each node's id -> (node, the list holding it) for builder actions."""
    paths = {}
    for key in data:
        found = NODE_KIND_RE.match(key)
        if found:
            paths[tuple(int(part) for part in found.group(1).split("."))] = found.group(1)
    root = {"match": _match(data.get("match")), "rules": []}
    groups: dict[tuple, dict] = {(): root}
    index: dict[str, tuple[dict, list]] = {}
    for path in sorted(paths):
        parent = groups.get(path[:-1])
        if parent is None:  # its group is gone (removed in another tab, or a hand-made request)
            continue
        node_id = paths[path]
        prefix = f"rules-{node_id}-"
        if data.get(prefix + "kind") == "group":
            node = {"match": _match(data.get(prefix + "match")), "rules": []}
            groups[path] = node
        else:
            node = _rule_from_data(data, prefix)
        parent["rules"].append(node)
        index[node_id] = (node, parent["rules"])
    return root, index


def rules_from_data(data: MultiValueDict) -> dict:
    """The JSON rule tree the builder's inputs describe."""
    return _parse(data)[0]


def builder_apply(data: MultiValueDict, action: str) -> dict:
    """The posted tree after one builder button: add_rule:<group id or "">, add_group,
    remove:<id>, field:<id> (the rule's field changed: start its op and value afresh)."""
    root, index = _parse(data)
    verb, _, target = action.partition(":")
    if verb == "add_rule":
        group = index[target][0] if target in index else root
        if "rules" in group:
            group["rules"].append(dict(NEW_RULE))
    elif verb == "add_group":
        root["rules"].append({"match": "any", "rules": [dict(NEW_RULE)]})
    elif verb == "remove" and target in index:
        node, siblings = index[target]
        siblings.remove(node)
    elif verb == "field" and target in index:
        node, siblings = index[target]
        if "rules" not in node:
            siblings[siblings.index(node)] = default_rule(node.get("field", ""))
    return root


def rule_nodes(rules: dict | None, *, parent_id: str = "", depth: int = 0) -> list[dict]:
    """The tree as rows for the template, with fresh positional ids."""
    nodes = []
    for n, node in enumerate((rules or {}).get("rules") or []):
        if not isinstance(node, dict):
            continue
        node_id = f"{parent_id}.{n}" if parent_id else str(n)
        if "rules" in node:
            nodes.append({"id": node_id, "kind": "group", "match": _match(node.get("match")), "depth": depth,
                          "children": rule_nodes(node, parent_id=node_id, depth=depth + 1)})
            continue
        field, op, value = node.get("field") or "", node.get("op") or "", node.get("value")
        values = value if isinstance(value, list) else ([] if value in (None, "") else [value])
        nodes.append({
            "id": node_id, "kind": "rule", "depth": depth, "field": field, "op": op,
            "ops": [(o, FIELD_OP_LABELS.get((field, o), OP_LABELS[o])) for o in FIELD_OPS.get(field, ())],
            "values": {str(v) for v in values},
            "text": ", ".join(str(v) for v in values),
            "channel": node.get("channel") or "", "key": node.get("key") or "",
        })
    return nodes


FIELD_CHOICES = [(field, BUILDER_FIELD_LABELS[field]) for field in FIELD_OPS]
HAS_CHOICES = [(value, HAS_LABELS[value]) for value in HAS_VALUES]
CHANNEL_CHOICES = [(channel, CHANNEL_LABELS[channel]) for channel in CONSENT_CHANNELS]


class SegmentForm(forms.ModelForm):
    class Meta:
        model = Segment
        fields = ["name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}
        help_texts = {"description": "Optional: who this is and what it is for."}

    def __init__(self, *args, tenant, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        self.fields["name"].error_messages["required"] = "Give the segment a name."

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        taken = Segment.objects.filter(tenant=self.tenant, name__iexact=name)
        if self.instance.pk:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError("A segment with this name already exists.")
        return name
