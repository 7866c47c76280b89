"""Two nodes on one Redis: a room lives on one node; a connection landing on the other is relayed there."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import classroom_token, connect, seed_county, start_server, user_token
from web.keys import DB, ROOMS


async def test_connection_to_other_node_is_relayed_to_the_rooms_node(tmp_path: Path, redis_url: str) -> None:
    db_file = tmp_path / "shared.db"
    url = f"sqlite+aiosqlite:///{db_file}"
    a, runner_a = await start_server(tmp_path / "a", redis_url=redis_url, database_url=url)
    # The nodes of one deployment share the signing key.
    (tmp_path / "b" / "data").mkdir(parents=True)
    (tmp_path / "b" / "data" / "secret.key").write_text((tmp_path / "a" / "data" / "secret.key").read_text())
    b, runner_b = await start_server(tmp_path / "b", redis_url=redis_url, database_url=url)
    try:
        county = await seed_county(a.app[DB])
        teacher = await connect(a, await user_token(a, "wang", county.room_id))
        assert a.app[ROOMS].get(county.room_id) is not None

        classroom = await connect(b, await classroom_token(b, county.codes["c1"]))
        assert b.app[ROOMS].get(county.room_id) is None  # B hosts nothing: it relayed
        joined = await teacher.next("participant.joined")
        assert joined["participant"]["id"] == classroom.participant_id
        await classroom.send({"type": "hand.raise", "id": "h"})
        await classroom.next("ok", id="h")
        assert (await teacher.next("hand.raised"))["participant_id"] == classroom.participant_id
        await teacher.send({"type": "stage.invite", "participant_id": classroom.participant_id})
        assert (await classroom.next("stage.changed"))["stage"] == [classroom.participant_id]

        await classroom.ws.close()
        await classroom.http.close()
        assert (await teacher.next("participant.disconnected"))["participant"]["id"] == classroom.participant_id
        await teacher.close()
    finally:
        await runner_b.cleanup()
        await runner_a.cleanup()
