"""Serve every fake provider (channels/fakes) on one port for local development and CI.

    python manage.py fakeproviders --host 127.0.0.1 --port 8025

then point the base URLs at it (FAKE_PROVIDERS_URL=http://127.0.0.1:8025):
TWILIO_API_BASE=$FAKE_PROVIDERS_URL/twilio, SENDGRID_API_HOST=$FAKE_PROVIDERS_URL/sendgrid,
WHATSAPP_API_BASE=$FAKE_PROVIDERS_URL/meta, TELEGRAM_API_BASE=$FAKE_PROVIDERS_URL/telegram,
OPENAI_BASE_URL=$FAKE_PROVIDERS_URL/openai/v1 ... GET /_fake/messages shows what they received.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    requires_system_checks: list[str] = []  # a dev tool: must start without a database
    help = "Serve the fake provider APIs (Twilio, SendGrid, Meta, Telegram, push, social, OpenAI) on one port."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8025)

    def build_app(self):
        from channels.fakes.server import build_app

        return build_app()

    def handle(self, *args, host: str, port: int, **options):
        from aiohttp import web

        from channels.fakes.server import MOUNTED, new_event_loop

        app = self.build_app()
        self.stdout.write(f"Fake providers ({', '.join(app[MOUNTED])}) on http://{host}:{port}")
        web.run_app(app, host=host, port=port, print=None, access_log=None, loop=new_event_loop())
