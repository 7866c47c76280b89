"""The progress pages in real Chromium: the teacher console shows 本节 with its knowledge points and corrects
it in one click; the coordinator's overview shows the verdict and the editor saves a reordered plan, then
picks the other 册 of the edition and the plan is laid afresh from its sections."""

from __future__ import annotations

import json
import re

from tests.conftest import CHROMIUM_ARGS, PASSWORD, login, require_chromium
from tests.web.conftest import ARTIFACTS


async def _browser_login(page, url: str, username: str) -> None:
    resp = await page.request.post(f"{url}/api/login", data={"username": username, "password": PASSWORD})
    assert resp.ok


async def test_console_section_and_plan_editor(progress_county):
    from playwright.async_api import async_playwright

    pc = progress_county
    url = pc.server.url
    room = list(pc.rooms.values())[-1]
    api = await login(pc.server, "t-eng")
    try:
        async with api.get(f"{url}/api/progress/rooms/{room}") as r:
            now = await r.json()
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=require_chromium(), args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page(locale="zh-CN")
                errors: list[str] = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                await _browser_login(page, url, "t-eng")
                await page.goto(f"{url}/teacher?room={room}")
                await page.wait_for_selector("#section-label:not(:empty)")  # the page's CSP allows no eval
                assert await page.inner_text("#section-label") == now["section"]["label"]
                assert now["section"]["knowledge"][0] in await page.inner_text("#section-kps")
                await page.click("#section-next")  # one click: the next section instead
                index = [c["node_id"] for c in now["choices"]].index(now["section"]["node_id"])
                following = now["choices"][index + 1]
                await page.wait_for_selector(f"#section-label:text-is({json.dumps(following['label'])})")
                async with api.get(f"{url}/api/progress/rooms/{room}") as r:
                    assert (await r.json())["section"]["node_id"] == following["node_id"]

                coord = await browser.new_page(locale="zh-CN")
                coord.on("pageerror", lambda e: errors.append(str(e)))
                await _browser_login(coord, url, "coord")
                await coord.goto(f"{url}/progress")
                await coord.wait_for_selector("#plans .card .verdict")
                await coord.click("#plans .card a")
                await coord.wait_for_selector("#items tr")
                first = await coord.locator("#items tr").nth(0).get_attribute("data-node")
                second = await coord.locator("#items tr").nth(1).get_attribute("data-node")
                await coord.locator("#items tr").nth(0).locator("button", has_text="下移").click()
                await coord.click("#save")
                await coord.wait_for_selector("text=已保存")
                async with api.get(f"{url}/api/progress/plans") as r:
                    plan_id = (await r.json())["plans"][0]["id"]
                async with api.get(f"{url}/api/progress/plans/{plan_id}") as r:
                    items = (await r.json())["plan"]["items"]
                assert [str(i["node_id"]) for i in items[:2]] == [second, first]

                picker = coord.locator("#f-volume")  # 教材版本与册次: the autumn term's 上册 → 下册
                assert "上册" in await picker.locator("option:checked").inner_text()
                lower = await picker.locator("option", has_text="下册").get_attribute("value")
                await picker.select_option(lower)
                await coord.click("#confirm-yes")
                await coord.wait_for_selector("#items tr[data-node] >> text=Unit 1 My school")
                assert "下册" in await coord.locator("#f-volume option:checked").inner_text()
                await coord.screenshot(path=str(ARTIFACTS / "progress-volume-picker.png"), full_page=True)
                async with api.get(f"{url}/api/progress/plans/{plan_id}") as r:
                    chosen = (await r.json())["plan"]
                assert str(chosen["volume_node_id"]) == lower and "下册" in chosen["volume"]
                assert chosen["items"][0]["chapter"] == "Unit 1 My school"
                assert {c["node_id"] for c in chosen["catalogue"]} == {i["node_id"] for i in chosen["items"]}

                english = await browser.new_page(locale="en-US")  # the same pages in English: no 年级/册 left
                english.on("pageerror", lambda e: errors.append(str(e)))
                await _browser_login(english, url, "coord")
                await english.goto(f"{url}/progress?lang=en")
                card = english.locator(f"#plans .card[data-plan='{plan_id}']")
                await card.locator(".verdict").wait_for()
                title, meta = await card.locator(".card-title").inner_text(), await card.locator(".meta").nth(0).inner_text()
                assert re.search(r" · Grade \d+ English$", title), title
                assert "Volume 2" in meta and not re.search("[年级册]", title + meta), meta
                await english.goto(f"{url}/progress?plan={plan_id}")
                await english.wait_for_selector("#items tr")
                head = await english.locator(".pagehead").first.inner_text()
                assert "Grade" in head and "Volume 2" in head and not re.search("[年级册]", head), head
                assert "Volume 2" in await english.locator("#f-volume option:checked").inner_text()
                assert await english.evaluate("window.sankeI18n.MISSING.size") == 0
                assert errors == []
            finally:
                await browser.close()
    finally:
        await api.close()
