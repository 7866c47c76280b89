"""Uploads within limits: CSV encodings are declared, never guessed; knowledge chains are checked
iteratively; every refusal names the file and the limit in Chinese and English."""

from __future__ import annotations

import time

import aiohttp
import pytest

from core.uploads import UploadRefused, check_json, decode_csv
from recorder.knowledge import MAX_DEPTH, KnowledgeFormatError, parse_framework
from tests.conftest import County, Server, login

inproc = pytest.mark.parametrize("server", ["inprocess"], indirect=True)


def test_csv_must_be_utf8_or_declared_gb18030() -> None:
    text = "id,name,kind\nh1,城关一小,hub\nr1,白石村小学,remote\n"
    assert decode_csv(text.encode("utf-8"), "schools.csv") == text
    assert decode_csv(b"\xef\xbb\xbf" + text.encode("utf-8"), "schools.csv") == text  # Excel's "CSV UTF-8"
    assert decode_csv(text.encode("gb18030"), "schools.csv", encoding="GB18030") == text
    with pytest.raises(UploadRefused) as e:
        decode_csv(text.encode("gb18030"), "schools.csv")  # GB18030 bytes, not declared: refused, not guessed
    assert e.value.status == 422 and e.value.line == 2 and e.value.file == "schools.csv"
    assert "第 2 行" in e.value.zh and "line 2" in e.value.en
    with pytest.raises(UploadRefused) as e:
        decode_csv(b"id,name\n1,\xff\xfe\xfd\n", "x.csv", encoding="gb18030")  # not GB18030 either
    assert e.value.line == 2


def test_json_depth_and_items_are_counted_before_parsing() -> None:
    check_json(b'{"a": [1, 2, {"b": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}]}', "ok.json")  # brackets in strings
    with pytest.raises(UploadRefused) as e:
        check_json(b"[" * 33 + b"]" * 33, "deep.json")
    assert e.value.status == 413 and e.value.limit == "json_depth=32" and "deep.json" in e.value.zh


def _framework(n: int, kind: str) -> dict:
    items = [{"identifier": f"kp{i}", "fullStatement": f"知识点 {i}"} for i in range(n)]
    links = [{"associationType": kind, "originNodeURI": f"kp{i + 1}", "destinationNodeURI": f"kp{i}"}
             for i in range(n - 1)]
    return {"format": "sanke-knowledge/1", "CFItems": items, "CFAssociations": links,
            "CFDocument": {"identifier": f"chain-{kind}-{n}", "title": "链", "educationLevel": "小学", "subject": "数学"}}


def test_knowledge_chains_are_checked_iteratively() -> None:
    """The recursive check hit RecursionError at ~1,000 links; the loop handles any length."""
    with pytest.raises(KnowledgeFormatError, match=f"deeper than {MAX_DEPTH}"):
        parse_framework(_framework(5000, "isChildOf"))  # 5,000 deep: refused (the tree keeps ≤ 32 levels)
    fw = parse_framework(_framework(3000, "precedes"))  # 3,000 long: fine, no recursion
    assert len(fw.CFAssociations) == 2999
    cyclic = _framework(3000, "precedes")
    cyclic["CFAssociations"].append({"associationType": "precedes", "originNodeURI": "kp0", "destinationNodeURI": "kp2999"})
    with pytest.raises(KnowledgeFormatError, match="cycle"):
        parse_framework(cyclic)


@inproc
async def test_knowledge_chains_over_http(server: Server, county: County) -> None:
    coord = await login(server, "coord")
    try:
        t = time.perf_counter()
        async with coord.post(f"{server.url}/api/library/knowledge", json=_framework(5000, "isChildOf")) as r:
            err = (await r.json())["error"]
            assert r.status == 400 and "deeper than" in err["message"] and err["field"] == "CFAssociations"
        deep_seconds = time.perf_counter() - t
        t = time.perf_counter()
        async with coord.post(f"{server.url}/api/library/knowledge", json=_framework(3000, "precedes")) as r:
            assert r.status == 200, await r.text()
            assert (await r.json())["framework"]["items"] == 3000
        print(f"\n5,000-deep isChildOf refused in {deep_seconds:.2f} s; 3,000-long precedes imported in "
              f"{time.perf_counter() - t:.2f} s")
    finally:
        await coord.close()


@inproc
async def test_csv_upload_refusal_names_file_line_and_encoding(server: Server, county: County) -> None:
    coord = await login(server, "coord")
    try:
        form = aiohttp.FormData()
        form.add_field("files", "id,name,kind\nh1,城关一小,hub\n".encode("gb18030"), filename="schools.csv",
                       content_type="text/csv")
        async with coord.post(f"{server.url}/api/scheduler/county", data=form) as r:
            err = (await r.json())["error"]
        assert r.status == 422 and err["code"] == "bad_encoding" and err["file"] == "schools.csv"
        assert err["line"] == 2 and err["limit"] == "encoding=UTF-8"
        assert "GB18030" in err["message_zh"] and "GB18030" in err["message_en"]
    finally:
        await coord.close()
