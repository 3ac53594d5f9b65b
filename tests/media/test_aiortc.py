"""The internals self-test: aiortc's private surface we rely on is checked at start-up."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from media import MediaConfig, RoomRegistry, UnsupportedAiortcError
from media._aiortc import (
    RECEIVER_INTERNALS,
    SENDER_INTERNALS,
    InternalsSample,
    _sample,
    ensure_supported_aiortc,
)


async def test_the_installed_aiortc_has_every_internal_the_sfu_uses() -> None:
    ensure_supported_aiortc()
    RoomRegistry(MediaConfig())  # calls it too


async def test_a_missing_private_attribute_fails_loudly_and_names_it() -> None:
    real = _sample()
    fake_sender = SimpleNamespace(**{name: None for name in SENDER_INTERNALS[1:]})
    sample = InternalsSample(
        receiver=real.receiver,
        sender=fake_sender,
        transceiver=real.transceiver,
        dtls_transport=real.dtls_transport,
        ice_connection=real.ice_connection,
    )
    with pytest.raises(UnsupportedAiortcError, match=SENDER_INTERNALS[0]):
        ensure_supported_aiortc(sample)


async def test_an_unsupported_aiortc_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import aiortc

    monkeypatch.setattr(aiortc, "__version__", "1.17.0")
    with pytest.raises(UnsupportedAiortcError, match=r"1\.17\.0"):
        ensure_supported_aiortc()


def test_the_receiver_internals_list_names_the_hooked_handler() -> None:
    assert "_handle_rtp_packet" in RECEIVER_INTERNALS
