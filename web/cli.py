"""The `sanke` command: serve, demo, token, bench."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import sys
from pathlib import Path

from core.settings import Settings

BENCHES = {
    "media": "loadtest.bench_media",
    "schedule": "scheduler.bench",
    "recorder": "loadtest.bench_recorder",
    "search": "recorder.search_bench",
    "signaling": "loadtest.bench_signaling",
    "broadcast": "loadtest.bench_broadcast",
    "quality": "loadtest.bench_quality",
}


def _settings(args: argparse.Namespace) -> Settings:
    return Settings(
        host=getattr(args, "host", "127.0.0.1"), port=getattr(args, "port", 8080), data_dir=Path(args.data_dir),
        database_url=args.database_url, redis_url=getattr(args, "redis_url", None),
        demo=getattr(args, "demo", False), storage_url=getattr(args, "storage_url", None),
        turn_urls=list(getattr(args, "turn_url", None) or []), public_url=getattr(args, "public_url", None),
        **({"media_workers": args.media_workers} if getattr(args, "media_workers", None) is not None else {}),
    )


async def _demo(settings: Settings) -> str:
    from core.db import Database
    from web.demo.seed import report, seed_demo

    settings.prepare()
    db = Database(settings.db_url)
    try:
        await db.migrate()
        await seed_demo(db, settings.data_dir)
        host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
        return await report(db, settings.data_dir, f"http://{host}:{settings.port}")
    finally:
        await db.close()


def _redacted(url: str) -> str:
    """The URL without its password, for an error message."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


async def _check_redis(url: str) -> str | None:
    """None when Redis answers a PING, else why not (one line)."""
    from core.bus import BusUnavailable, RedisBus

    bus = RedisBus(url)
    try:
        await bus.ping()
        return None
    except BusUnavailable as exc:
        return exc.detail or "no answer"
    except Exception as exc:  # a malformed URL, an AUTH refusal: still one line, not a traceback
        return f"{type(exc).__name__}: {exc}"
    finally:
        await bus.close()


def serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from web.app import create_app

    settings = _settings(args)
    from core.storage import StorageError
    from core.storage_url import open_storage
    from core.turn import TurnError, check_turn_url

    try:
        storage = open_storage(settings.storage_url, settings.media_dir)
        for url in settings.turn_urls:
            check_turn_url(url)
    except (StorageError, TurnError) as exc:
        print(f"sanke serve: --{(exc.field or '').replace('_', '-')}: {exc.message}", file=sys.stderr)
        return 2
    if settings.redis_url and (why := asyncio.run(_check_redis(settings.redis_url))) is not None:
        print(f"sanke serve: --redis-url: cannot reach Redis at {_redacted(settings.redis_url)}: {why}",
              file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if settings.demo:
        print(asyncio.run(_demo(settings)), flush=True)
    print(f"Sanke on http://{settings.host}:{settings.port}  (data in {settings.data_dir.resolve()}, "
          f"media in {storage.describe()})", flush=True)
    app = create_app(settings)
    if settings.demo:
        from web.demo import live

        live.setup(app, 0 if args.no_demo_bots else args.demo_bots)
    # A class's worth of classroom PCs connects within the same second: the default backlog (128) drops SYNs.
    from core.bus import BusUnavailable

    try:
        web.run_app(app, host=settings.host, port=settings.port, print=None, backlog=2048)
    except BusUnavailable as exc:  # Redis went away between the check and the start
        print(f"sanke serve: --redis-url: {exc.message}", file=sys.stderr)
        return 2
    # Stopped (SIGTERM/SIGINT) and every cleanup has run: recordings filed, database closed. Skip the
    # interpreter's teardown, which garbage-collects the whole heap and took 5-8 s on a loaded machine,
    # longer than a supervisor's stop timeout allows.
    from core import uploads

    uploads.shutdown()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def token(args: argparse.Namespace) -> int:
    from core.tokens import TokenSigner
    from rooms.roles import Role, RoomKind, grants_for

    settings = _settings(args)
    grants = grants_for(Role(args.role), RoomKind(args.kind), args.room)
    signer = TokenSigner(settings.secret_keys())
    print(signer.issue_join(args.identity, args.name or args.identity, args.role, grants, ttl=args.ttl))
    return 0


def turn_config(args: argparse.Namespace) -> int:
    """coturn's turnserver.conf lines for the REST credentials `serve --turn-url` hands out."""
    from core.turn import load_secret

    settings = _settings(args)
    print("# /etc/turnserver.conf (coturn); the secret is this node's <data-dir>/turn.secret")
    print(f"use-auth-secret\nstatic-auth-secret={load_secret(settings.data_dir)}\nrealm={args.realm}")
    print("fingerprint\nno-cli\nno-multicast-peers\nlistening-port=3478\ntls-listening-port=5349")
    print("# cert=/etc/ssl/turn.pem\n# pkey=/etc/ssl/turn.key")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:
        if len(argv) < 2 or argv[1] not in BENCHES:
            print(f"usage: sanke bench {{{','.join(BENCHES)}}} [options]", file=sys.stderr)
            return 2
        module = importlib.import_module(BENCHES[argv[1]])
        return int(module.main(argv[2:]) or 0)

    parser = argparse.ArgumentParser(prog="sanke", description="三课 Sanke live teaching platform")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir", default="var", help="data directory (database, media, secret key)")
        p.add_argument("--database-url", default=None, help="default: SQLite in the data dir")

    p_serve = sub.add_parser("serve", help="run the platform")
    common(p_serve)
    p_serve.add_argument("--host", default="127.0.0.1")
    p_serve.add_argument("--port", type=int, default=8080)
    p_serve.add_argument("--redis-url", default=None, help="default: in-process bus")
    p_serve.add_argument("--public-url", default=None,
                         help="the address users reach (https://… marks cookies Secure); default http://host:port")
    p_serve.add_argument("--demo", action="store_true", help="seed the demo county and print its accounts")
    p_serve.add_argument("--demo-bots", type=int, default=2, metavar="N",
                         help="with --demo: lessons held live by media bots (default 2)")
    p_serve.add_argument("--no-demo-bots", action="store_true", help="with --demo: no live lessons, no bots")
    p_serve.add_argument("--storage-url", default=None,
                         help="recordings: default <data-dir>/media; s3://bucket?endpoint=URL&region=R&prefix=P "
                              "(credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)")
    p_serve.add_argument("--turn-url", action="append", default=[], metavar="URL",
                         help="TURN server for clients behind UDP-blocking firewalls, repeatable: "
                              "turns:host:443?transport=tcp, turn:host:3478?transport=udp|tcp")
    p_serve.add_argument("--media-workers", type=int, default=None, metavar="N",
                         help=f"run the SFU in N worker processes; default: one per core ({os.cpu_count()}); "
                              "0: in this process")
    p_serve.set_defaults(func=serve)

    p_turn = sub.add_parser("turn-config", help="print the coturn settings that match this node's TURN secret")
    common(p_turn)
    p_turn.add_argument("--realm", default="sanke")
    p_turn.set_defaults(func=turn_config)

    p_demo = sub.add_parser("demo", help="seed the demo county and print accounts and join codes")
    common(p_demo)
    p_demo.set_defaults(func=lambda a: print(asyncio.run(_demo(_settings(a)))) or 0)

    p_token = sub.add_parser("token", help="print a join token for scripts and load tests")
    common(p_token)
    p_token.add_argument("--room", required=True)
    p_token.add_argument("--identity", required=True)
    p_token.add_argument("--role", required=True,
                         choices=["coordinator", "hub_teacher", "classroom", "coteacher", "observer", "viewer", "recorder"])
    p_token.add_argument("--kind", default="delivery", choices=["delivery", "coteach", "broadcast"])
    p_token.add_argument("--name", default="")
    p_token.add_argument("--ttl", type=int, default=600)
    p_token.set_defaults(func=token)

    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
