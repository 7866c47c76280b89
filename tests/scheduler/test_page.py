"""The coordinator page in a real browser: import with errors by row, solve, grid, drag a lesson."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.directory import User
from tests.conftest import CHROMIUM_ARGS, PASSWORD, Server, require_chromium, start_server
from web.keys import DB
from web.passwords import hash_password


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    srv, runner = await start_server(tmp_path)
    async with srv.app[DB].session() as s:
        s.add(User(username="coord", display_name="李主任", password_hash=hash_password(PASSWORD), role="coordinator"))
        await s.commit()
    try:
        yield srv
    finally:
        await runner.cleanup()


async def test_coordinator_imports_solves_and_moves_a_lesson(server: Server, small_dict: dict, tmp_path: Path) -> None:
    from playwright.async_api import async_playwright, expect

    bad = json.loads(json.dumps(small_dict))
    bad["classrooms"][2]["grade"] = 13
    (tmp_path / "bad.json").write_text(json.dumps(bad), encoding="utf-8")
    (tmp_path / "county.json").write_text(json.dumps(small_dict, ensure_ascii=False), encoding="utf-8")
    chromium = require_chromium()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await page.goto(f"{server.url}/timetable")
            await page.fill("input[name=username]", "coord")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("#login-form button")
            await expect(page.locator("#app")).to_be_visible()
            await page.set_input_files("#import-files", str(tmp_path / "bad.json"))
            await page.click("#import-form button")
            row = page.locator("#import-problems tbody tr")
            await expect(row).to_have_count(1)
            await expect(row.locator("td").nth(1)).to_have_text("3")
            await expect(row.locator("td").nth(2)).to_have_text("classrooms.2.grade")
            await page.set_input_files("#import-files", str(tmp_path / "county.json"))
            await page.click("#import-form button")
            await expect(page.locator("#import-status")).to_have_text("已导入")
            await page.click("#solve")
            await expect(page.locator("#solve-status")).to_contain_text("完成", timeout=60_000)
            await expect(page.locator("#tt-summary")).to_contain_text("已排 20/20")
            await page.select_option("#view", "teacher")
            await page.select_option("#entity", "t-eng")
            card = page.locator(".lesson", has_text="英语 3年级 李英").first
            await expect(card).to_be_visible()
            await card.drag_to(page.locator("#grid td[data-weekday='3'][data-period='3']"))
            await expect(page.locator("#move-check")).to_contain_text("不能调到周三第3节")
            await expect(page.locator("#move-check")).to_contain_text("李英 该节不能排课")
            await page.click("#publish")
            await expect(page.locator("#publish-status")).to_contain_text("已发布")
            await page.click("#load-supervision")
            week = page.locator("#supervision tbody tr", has_text="2026 第36周")
            await expect(week.locator("td").nth(3)).to_have_text("0")   # nothing was held: no room went live
            await expect(week.locator("td").nth(4)).to_have_text("0.0%")
            await expect(page.locator("#chart rect.planned")).to_have_count(9)  # 2026-09-01 to 10-31: 9 weeks
            href = await page.get_attribute("#supervision-csv", "href")
            assert href is not None and href.endswith("format=csv")
        finally:
            await browser.close()


async def test_busy_periods_are_grey_and_a_drag_onto_one_is_refused_live(
    server: Server, small_dict: dict, tmp_path: Path,
) -> None:
    from playwright.async_api import async_playwright, expect

    # 石桥小学 三年级 has its own lessons all Tuesday and in Thursday's second period
    small_dict["classrooms"][1]["busy"] = [{"weekday": "tue"}, {"weekday": "thu", "periods": [2]}]
    (tmp_path / "county.json").write_text(json.dumps(small_dict, ensure_ascii=False), encoding="utf-8")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=require_chromium(), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            moves: list[str] = []
            page.on("request", lambda r: moves.append(r.url) if r.url.endswith("/timetable/move") else None)
            await page.goto(f"{server.url}/timetable")
            await page.fill("input[name=username]", "coord")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("#login-form button")
            await page.set_input_files("#import-files", str(tmp_path / "county.json"))
            await page.click("#import-form button")
            await expect(page.locator("#import-status")).to_have_text("已导入")
            await page.click("#solve")
            await expect(page.locator("#solve-status")).to_contain_text("完成", timeout=60_000)
            await expect(page.locator("#solve-status")).to_contain_text(re.compile(r"已证明最优|与下界相差 \d+\.\d%"))
            await page.select_option("#view", "classroom")
            await page.select_option("#entity", "r1-3")
            await expect(page.locator("#grid td.busy")).to_have_count(7)
            await expect(page.locator("#grid td[data-weekday='4'][data-period='2']")).to_have_class("busy")
            assert not await page.locator("#grid td.busy .lesson").count()    # no lesson in a busy period
            card = page.locator(".lesson", has_text="英语 3年级 李英").first
            await card.drag_to(page.locator("#grid td[data-weekday='2'][data-period='1']"))
            await expect(page.locator("#move-check")).to_contain_text("不能调到周二第1节")
            await expect(page.locator("#move-check .refusal")).to_have_text("石桥小学 三年级 周二第1节有本校的课")
            assert moves == []                                                  # refused before asking the server
        finally:
            await browser.close()
