"""Pages without video: login, home per role, joining by code, errors in plain words, the device check."""

from __future__ import annotations

from typing import Any

from tests.web.conftest import LiveServer, api, login


def test_login_and_home_per_role(new_page: Any, live_server: LiveServer) -> None:
    coordinator = new_page()
    login(coordinator, "coord")
    coordinator.wait_for_selector("#go-coordinator")
    room = api(coordinator, "POST", "/api/rooms", {
        "kind": "delivery", "title": "科学 1+2", "host_user_id": live_server.county.user_ids["wang"],
        "remote_classroom_ids": list(live_server.county.classroom_ids.values()),
    })["room"]["id"]

    page = new_page()
    page.goto("/")
    page.wait_for_url("**/login")
    page.fill("#username", "wang")
    page.fill("#password", "wrong-password")
    page.click("#login-submit")
    page.wait_for_selector("#login-error:has-text('用户名或密码不正确')")
    login(page, "wang")
    page.wait_for_selector(f"[data-room='{room}'] a:has-text('进入课堂')")
    observer = new_page()
    login(observer, "chen")
    observer.wait_for_selector(f"[data-room='{room}'] a:has-text('进入听课')")


def test_classroom_code_errors_in_plain_words(new_page: Any, live_server: LiveServer) -> None:
    page = new_page()
    page.goto("/classroom")
    page.fill("#code", "ZZZZ9999")
    page.click("#join")
    page.wait_for_selector("#join-error:has-text('教室码不正确')")


def test_teacher_page_without_room_says_so(new_page: Any, live_server: LiveServer) -> None:
    page = new_page()
    login(page, "wang")
    page.goto("/teacher")
    page.wait_for_selector("#message:has-text('缺少课堂编号')")


def test_device_check_measures_the_network(new_page: Any, live_server: LiveServer) -> None:
    page = new_page()
    page.goto("/devicecheck")
    page.click("#run-check")
    page.wait_for_selector("#net-result.ok", timeout=20_000)
    page.wait_for_selector("#camera-result.ok")
    assert "毫秒" in page.inner_text("#net-result")


def test_ended_lesson_and_denied_camera_in_plain_words(new_page: Any, live_server: LiveServer) -> None:
    page = new_page()
    login(page, "wang")
    county = live_server.county
    ended = api(page, "POST", "/api/rooms", {"kind": "delivery", "title": "已结束的课", "remote_classroom_ids": []})
    api(page, "POST", f"/api/rooms/{ended['room']['id']}/end")
    page.goto(f"/teacher?room={ended['room']['id']}")
    page.wait_for_selector("#message:has-text('本节课已结束')")

    room = api(page, "POST", "/api/rooms", {
        "kind": "delivery", "title": "无摄像头", "remote_classroom_ids": [county.classroom_ids["c1"]],
    })["room"]["id"]
    page.add_init_script(
        "navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('denied', 'NotAllowedError'));"
    )
    page.goto(f"/teacher?room={room}")
    page.wait_for_selector("#conn[data-state='joined']")
    page.wait_for_selector(".tile.self .placeholder:has-text('浏览器拒绝了权限')")


def test_english_is_available(new_page: Any, live_server: LiveServer) -> None:
    page = new_page()
    page.goto("/login")
    page.click(".topbar button:has-text('English')")
    page.wait_for_selector("#login-submit:has-text('Log in')")
    page.goto("/classroom")
    page.wait_for_selector("#join:has-text('Join lesson')")
