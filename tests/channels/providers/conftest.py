"""Provider adapter tests use `fake_providers` and `fakes` from tests/fake_providers.py (registered
for the whole suite in tests/conftest.py) and, for Meta / Telegram / push / social, fake_hub.py."""
