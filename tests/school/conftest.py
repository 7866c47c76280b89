"""The school's browser journeys share the web package's live server, Chromium and page helpers."""

from tests.web.conftest import artifacts, browser, live_server, new_page, with_media

__all__ = ["artifacts", "browser", "live_server", "new_page", "with_media"]
