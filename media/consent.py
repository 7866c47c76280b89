"""Consent freshness (RFC 7675) for the SFU's own ICE connections, lenient enough for a loaded machine.

aioice checks consent every ~5 s with one request, no retransmission and a 0.5 s wait, and closes the
connection after six misses in a row. A peer that answers late six times running (a bot or a browser tab on a
busy machine, or our own loop stalled past the 0.5 s) loses its media while its tracks stay listed. RFC 7675
asks for retransmitted checks and an expiry 30 s after the last answer: that is what runs here, on the SFU's
peer connections only (a bot's own connection keeps aioice's check).

Reaches into aioice's private `Connection` (its nominated pairs, `build_request`, the consent task it starts
after ICE completes); checked against the releases in `media.aiortc_seams.CHECKED`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from typing import Any

from aioice import stun
from aiortc import RTCPeerConnection

logger = logging.getLogger(__name__)

CONSENT_INTERVAL_S = 5.0  # one check every 4–6 s, as RFC 7675 and aioice
CONSENT_RETRANSMISSIONS = 4  # STUN's doubling RTO from 0.5 s: one check waits up to 15.5 s for an answer
CONSENT_EXPIRY_S = 30.0  # no answer for this long: the peer is gone (RFC 7675 section 5.1)


def ice_connections(pc: RTCPeerConnection) -> list[Any]:
    """The aioice connections under `pc`'s ICE transports (they appear as the SDP adds transports)."""
    transports: set[Any] = getattr(pc, "_RTCPeerConnection__iceTransports", set())
    return [t.iceGatherer._connection for t in transports]


def install(pc: RTCPeerConnection, expiry_s: float | None = None) -> int:
    """Give each ICE connection of `pc` that does not have it yet the lenient check; how many got it.

    Called after every local description: aioice starts the consent task only once ICE completes, which
    is after the descriptions are set, so the replacement is always in place in time."""
    added = 0
    for connection in ice_connections(pc):
        if getattr(connection, "_sanke_consent", False):
            continue
        connection._sanke_consent = True
        connection.query_consent = functools.partial(query_consent, connection, expiry_s or CONSENT_EXPIRY_S)
        added += 1
    return added


async def query_consent(connection: Any, expiry_s: float) -> None:
    """Check consent on each nominated pair until no answer came for `expiry_s`, then close the connection
    (aiortc then closes the transport above it, and the router unpublishes or re-offers)."""
    assert connection.remote_password is not None  # aioice starts the check only once it has it
    loop = asyncio.get_running_loop()
    key = connection.remote_password.encode("utf8")
    answered = loop.time()
    while True:
        await asyncio.sleep(CONSENT_INTERVAL_S * (0.8 + 0.4 * random.random()))
        for pair in list(connection._nominated.values()):
            request = connection.build_request(pair, nominate=False)
            try:
                await pair.protocol.request(
                    request, pair.remote_addr, integrity_key=key, retransmissions=CONSENT_RETRANSMISSIONS
                )
                answered = loop.time()
            except stun.TransactionError:
                pass
        silent = loop.time() - answered
        if silent >= expiry_s:
            logger.warning("ICE consent expired (no answer for %.1f s): closing the connection", silent)
            connection._query_consent_task = None
            await connection.close()
            return
