"""The knowledge-point format: the samples import; a broken file is refused with the field named."""

from __future__ import annotations

import copy
import json

import pytest
from sqlalchemy import func, select

from recorder.knowledge import KnowledgeFormatError, parse_framework, sample_files, tree
from recorder.models import KnowledgeAssociation, KnowledgeFramework, KnowledgePoint, TextbookNode


@pytest.fixture(scope="module")
def math_file() -> dict:
    (path,) = [p for p in sample_files() if "math" in p.name]
    return json.loads(path.read_text(encoding="utf-8"))


def test_sample_frameworks_are_valid_and_use_all_three_association_types():
    for path in sample_files():
        fw = parse_framework(path.read_text(encoding="utf-8"))
        types = {a.associationType for a in fw.CFAssociations}
        assert types == {"isChildOf", "precedes", "isRelatedTo"}
        assert len(fw.CFItems) >= 30


@pytest.mark.parametrize(
    ("breakage", "field", "message"),
    [
        (lambda d: d["CFItems"].append(dict(d["CFItems"][3])), "CFItems[55].identifier", "used twice"),
        (
            lambda d: d["CFAssociations"][0]["destinationNodeURI"].update(identifier="nope"),
            "CFAssociations[0].destinationNodeURI",
            "no item 'nope'",
        ),
        (
            lambda d: d["CFAssociations"].append(
                {"associationType": "isChildOf", "originNodeURI": "m.num", "destinationNodeURI": "m.rat"}
            ),
            "CFAssociations",
            "cycle",
        ),
        (
            lambda d: d["CFAssociations"].append(
                {"associationType": "isChildOf", "originNodeURI": "m.rat.add", "destinationNodeURI": "m.eq"}
            ),
            "CFAssociations[",
            "two parents",
        ),
        (
            lambda d: d["CFAssociations"].append(
                {
                    "associationType": "precedes",
                    "originNodeURI": "m.rat.sub",
                    "destinationNodeURI": "m.rat.abs",
                }
            ),
            "CFAssociations",
            "cycle",
        ),
        (
            lambda d: d["CFAssociations"][0].update(associationType="exactMatchOf"),
            "CFAssociations[0].associationType",
            "isChildOf",
        ),
        (lambda d: d["CFDocument"].update(educationLevel="大学"), "CFDocument.educationLevel", "初中"),
    ],
)
def test_a_broken_framework_is_refused_naming_the_field(math_file, breakage, field, message):
    data = copy.deepcopy(math_file)
    breakage(data)
    with pytest.raises(KnowledgeFormatError) as err:
        parse_framework(data)
    assert err.value.field.startswith(field)
    assert message in err.value.message


async def test_import_builds_trees_and_is_idempotent(library_db):
    from recorder.knowledge import import_samples

    async with library_db.session() as s:
        counts = [
            (await s.execute(select(func.count()).select_from(m))).scalar_one()
            for m in (KnowledgeFramework, KnowledgePoint, KnowledgeAssociation, TextbookNode)
        ]
        await import_samples(s)
        await s.commit()
        again = [
            (await s.execute(select(func.count()).select_from(m))).scalar_one()
            for m in (KnowledgeFramework, KnowledgePoint, KnowledgeAssociation, TextbookNode)
        ]
        assert counts == again and counts[0] == 2 and counts[1] >= 90
        fw = (
            await s.execute(select(KnowledgeFramework).where(KnowledgeFramework.subject == "数学"))
        ).scalar_one()
        roots = await tree(s, fw.id)
        assert [r["name"] for r in roots] == ["数与代数", "图形与几何", "统计与概率"]
        rational = roots[0]["children"][0]
        assert rational["name"] == "有理数" and "有理数的加法" in [c["name"] for c in rational["children"]]
        chapters = (
            (await s.execute(select(TextbookNode).where(TextbookNode.level == "chapter"))).scalars().all()
        )
        assert len(chapters) == 36 + 10
