"""Audiences pages, one module per area: contacts.py (grid, detail, tags, lists, suppressions),
segments.py (segment editor and live preview), imports.py (CSV import). Public (no login) pages
live in audiences/public_views.py."""
