"""A bot's close, cancelled while its connection is already closing itself, leaves that close to finish.

aiortc closes a connection on its own when every DTLS transport ended (the SFU went) and hands any later
`close()` caller the same future; cancelling that caller (a test's teardown, WsSignal cancelling its tasks)
cancelled the future and aiortc's own close failed half-way: "Task exception was never retrieved"
(InvalidStateError) in the bots' logs.
"""

from __future__ import annotations

import asyncio

from aiortc import RTCPeerConnection

from loadtest.bots import Bot


class Unused:
    """A signal the test never reaches: the bot only closes."""

    async def publish(self, bot: object, sdp: str, tracks: list[dict]) -> str:
        raise AssertionError("not signalled")

    async def subscriber_answer(self, bot: object, sdp: str, offer_id: int | None = None) -> None:
        raise AssertionError("not signalled")


async def test_a_cancelled_bot_close_does_not_break_the_close_in_progress() -> None:
    bot = Bot("sub", Unused())
    pc = bot.sub = RTCPeerConnection()
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    own = asyncio.ensure_future(pc.close())  # aiortc's own close, as when the far side went
    await asyncio.sleep(0)
    closing = asyncio.ensure_future(bot.close())
    await asyncio.sleep(0)
    closing.cancel()
    await asyncio.wait_for(own, 5)  # raised InvalidStateError when the bot's close was not shielded
    assert pc.connectionState == "closed"
