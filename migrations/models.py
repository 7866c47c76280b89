"""Every module that defines tables; Alembic's env imports them so autogenerate sees the whole schema."""

MODEL_MODULES = [
    "core.directory",
    "core.audit",
    "core.sessions",
    "rooms.records",
    "rooms.lesson_records",
    "rooms.evaluation_records",
    "rooms.planning",
    "rooms.devices",
    "rooms.device_checks",
    "web.password_resets",
    "scheduler.models",
    "recorder.models",
    "scheduler.progress_models",
]
