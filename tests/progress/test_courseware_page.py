"""Uploading courseware from the browser: from a section of the progress editor the teacher opens 上传课件,
picks a PDF, sees it filed as a draft under that section with the section's knowledge points, and submits it
for review, and its library page offers the file; a file of the wrong type is refused under the file field."""

from __future__ import annotations

from tests.conftest import CHROMIUM_ARGS, PASSWORD, login, require_chromium
from tests.progress.files import pdf
from tests.web.conftest import ARTIFACTS


async def test_teacher_uploads_courseware_from_the_plan(progress_county):
    from playwright.async_api import async_playwright

    pc = progress_county
    url = pc.server.url
    api = await login(pc.server, "t-eng")
    try:
        async with api.get(f"{url}/api/progress/plans") as r:
            plan_id = (await r.json())["plans"][0]["id"]
        async with api.get(f"{url}/api/progress/plans/{plan_id}") as r:
            second = (await r.json())["plan"]["items"][1]
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=require_chromium(), args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page(locale="zh-CN", viewport={"width": 1280, "height": 900})
                errors: list[str] = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                resp = await page.request.post(f"{url}/api/login", data={"username": "t-eng", "password": PASSWORD})
                assert resp.ok
                await page.goto(f"{url}/progress?plan={plan_id}")
                await page.click(f"#items tr[data-node='{second['node_id']}'] [data-action='courseware']")
                await page.wait_for_selector(f"#cw-section[data-node='{second['node_id']}']")
                assert second["section"] in await page.inner_text("#cw-section")

                await page.set_input_files("#f-file", files=[{"name": "setup.pdf", "mimeType": "application/pdf",
                                                              "buffer": b"MZ\x90\x00" * 100}])
                await page.click("#cw-submit")
                await page.wait_for_selector("#f-file-error:not(:empty)")
                assert "课件格式" in await page.inner_text("#f-file-error")  # said under the file, in Chinese

                await page.set_input_files("#f-file", files=[{"name": "课件.pdf", "mimeType": "application/pdf",
                                                              "buffer": pdf(["Unit words", "page two", "three"])}])
                await page.fill("#f-title", "My school 课件")
                await page.click("#cw-submit")
                await page.wait_for_selector("#cw-result")
                assert "My school 课件" in await page.inner_text("#cw-result")
                assert "3 页" in await page.inner_text("#cw-result")
                assert second["knowledge"][0] in await page.inner_text("#cw-points")
                await page.screenshot(path=str(ARTIFACTS / "progress-courseware-upload.png"), full_page=True)
                rid = await page.get_attribute("#cw-done", "data-resource")
                reviews: list[str] = []
                page.on("request", lambda r: reviews.append(r.url) if r.url.endswith("/review") else None)
                await page.dblclick("#cw-review")  # an impatient teacher
                # the page's confirmation (the button is busy only while the request is in flight: waiting
                # for that raced the answer, and lost under load)
                await page.wait_for_selector(".toast.ok:has-text('已提交审核')")
                # submitted once: the button stays disabled (the shared button() re-enabled it after its
                # handler, so a later click submitted again and got an error)
                assert await page.is_disabled("#cw-review")
                await page.wait_for_timeout(500)
                assert len(reviews) == 1, reviews
                assert not await page.locator(".toast.error").count()
                await page.goto(f"{url}/playback?id={rid}")  # the library's page of it: the file, not a player
                link = page.locator("#courseware-file a")
                await link.wait_for()
                assert "PDF" in await link.inner_text() and "3 页" in await link.inner_text()
                assert await link.get_attribute("href") == f"/api/library/resources/{rid}/file"
                assert errors == []
            finally:
                await browser.close()
        async with api.get(f"{url}/api/library/resources/{rid}") as r:
            made = (await r.json())["resource"]
        assert made["status"] == "submitted" and made["kind"] == "courseware"
        assert made["textbook"][-1]["id"] == second["node_id"]
    finally:
        await api.close()
