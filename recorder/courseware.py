"""Courseware (课件): a file a teacher uploads — PDF, PPTX, DOCX or an image — filed under a textbook section
with knowledge points, reviewed and shared like a recorded lesson, and pushed to the remote classrooms
before the section's lesson.

Why the care: the file is untrusted. The type comes from its bytes, not its name; the cheap checks (size,
the zip directory of PPTX/DOCX: part count and declared unpacked size) run first, in the caller; reading
pages and text runs in `core.uploads`' worker process with its memory cap and time limit, so a hostile PDF or
a zip bomb costs a refused upload, never a stalled event loop.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from xml.etree import ElementTree

from sqlalchemy.ext.asyncio import AsyncSession

from core.db import utcnow
from core.uploads import LIMITS, MiB, UploadLimits, UploadRefused, check_size
from recorder.catalogue import GRADE_NAMES, axes, lineage
from recorder.models import Resource
from recorder.resources import CHINA, ResourceError, set_catalogue

MEDIA_TYPES = {
    "pdf": "application/pdf",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "png": "image/png", "jpg": "image/jpeg", "gif": "image/gif", "webp": "image/webp",
}  # fmt: skip
IMAGES = ("png", "jpg", "gif", "webp")
MAX_BYTES = 32 * MiB  # a lesson's slides with pictures; the parse itself stays within core.uploads' limits
MAX_TEXT = 20_000  # characters kept for search
MAX_PAGES_READ = 60  # pages or slides whose text is read
COURSEWARE_LIMITS = UploadLimits(max_bytes=MAX_BYTES, total_bytes=MAX_BYTES)


@dataclass(frozen=True, slots=True)
class CoursewareInfo:
    file_type: str
    pages: int
    text: str


def _refuse(file: str, zh: str, en: str, code: str = "unsupported_type") -> UploadRefused:
    return UploadRefused(422, code, file, "type=pdf,pptx,docx,png,jpg,gif,webp", zh, en)


def sniff(blob: bytes, file: str) -> str:
    """The file's type from its first bytes (and, for Office files, the zip's parts)."""
    head = blob[:16]
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"PK\x03\x04"):
        names = _zip_names(blob, file)
        if any(n.startswith("ppt/slides/") for n in names):
            return "pptx"
        if "word/document.xml" in names:
            return "docx"
    raise _refuse(file, f"{file} 不是支持的课件格式（PDF、PPTX、DOCX 或图片）",
                  f"{file} is not a supported courseware file (PDF, PPTX, DOCX or an image)")


def _zip_names(blob: bytes, file: str) -> list[str]:
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as z:
            return z.namelist()
    except (zipfile.BadZipFile, ValueError, OSError) as e:
        raise _refuse(file, f"{file} 不是有效的 Office 文件", f"{file} is not a valid Office file ({e})",
                      "unreadable") from e


def check_courseware(blob: bytes, file: str, limits: UploadLimits = COURSEWARE_LIMITS) -> str:
    """The cheap checks, before any worker starts: size, type, and for PPTX/DOCX the zip directory."""
    check_size(blob, file, limits)
    kind = sniff(blob, file)
    if kind in ("pptx", "docx"):
        with zipfile.ZipFile(io.BytesIO(blob)) as z:
            parts = z.infolist()
        if len(parts) > LIMITS.xlsx_parts:
            raise UploadRefused(413, "too_many_parts", file, f"parts={LIMITS.xlsx_parts}",
                                f"{file} 的部件超过 {LIMITS.xlsx_parts} 个", f"{file} has more than {LIMITS.xlsx_parts} parts")
        unpacked = sum(p.file_size for p in parts)
        if unpacked > 4 * limits.max_bytes:
            mib = 4 * limits.max_bytes // MiB
            raise UploadRefused(413, "unpacks_too_large", file, f"unpacked={4 * limits.max_bytes}",
                                f"{file} 解压后超过 {mib} MiB 的上限", f"{file} unpacks to more than {mib} MiB")
    return kind


def _xml_text(data: bytes, tag: str) -> list[str]:
    """Text of every element named `tag` (any namespace): a:t in slides, w:t in documents."""
    root = ElementTree.fromstring(data)  # expat refuses entity expansion bombs; the worker caps memory
    return [el.text for el in root.iter() if el.tag.endswith("}" + tag) and el.text]


def _slide_number(name: str) -> int:
    m = re.search(r"(\d+)\.xml$", name)
    return int(m.group(1)) if m else 0


def inspect(blob: bytes, file: str) -> CoursewareInfo:
    """Pages (or slides) and text of a courseware file; runs in the upload worker (core.uploads)."""
    kind = sniff(blob, file)
    try:
        if kind in IMAGES:
            return CoursewareInfo(kind, 1, "")
        if kind == "pdf":
            from pypdf import PdfReader

            reader = PdfReader(io.BytesIO(blob))
            if reader.is_encrypted:
                reader.decrypt("")
            texts = [p.extract_text() or "" for p in reader.pages[:MAX_PAGES_READ]]
            return CoursewareInfo(kind, len(reader.pages), _clip(texts))
        with zipfile.ZipFile(io.BytesIO(blob)) as z:
            if kind == "pptx":
                slides = sorted((n for n in z.namelist() if re.fullmatch(r"ppt/slides/slide\d+\.xml", n)),
                                key=_slide_number)
                texts = [" ".join(_xml_text(z.read(n), "t")) for n in slides[:MAX_PAGES_READ]]
                return CoursewareInfo(kind, len(slides), _clip(texts))
            words = _xml_text(z.read("word/document.xml"), "t")
            pages = 0
            if "docProps/app.xml" in z.namelist():
                found = [t for t in _xml_text(z.read("docProps/app.xml"), "Pages") if t.strip().isdigit()]
                pages = int(found[0]) if found else 0
            return CoursewareInfo(kind, pages, _clip(words))
    except UploadRefused:
        raise
    except Exception as e:  # noqa: BLE001 - any parser failure on an untrusted file is "unreadable"
        raise _refuse(file, f"{file} 无法读取（文件可能已损坏）", f"{file} cannot be read ({type(e).__name__})",
                      "unreadable") from None


def _clip(texts: list[str]) -> str:
    text = re.sub(r"\s+", " ", " ".join(texts)).strip()
    return text[:MAX_TEXT]


def storage_key(resource_id: int, file_type: str) -> str:
    """Keys never carry the uploaded name (it is kept in the row for the download's filename)."""
    return f"courseware/{resource_id}/file.{file_type}"


def safe_name(name: str) -> str:
    """The uploaded name without path or characters that would break a Content-Disposition header."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = re.sub(r'[\x00-\x1f"<>|*?:;]', "_", base).strip() or "courseware"
    return base[:200]


@dataclass(frozen=True, slots=True)
class Upload:
    """Who uploaded what, and where it is filed."""

    title: str
    file_name: str
    textbook_node_id: int
    knowledge_point_ids: list[int]
    teacher_user_id: int
    teacher_name: str
    school_id: int | None
    school_name: str
    description: str = ""


async def create_courseware(session: AsyncSession, up: Upload, info: CoursewareInfo, size: int) -> Resource:
    """A draft courseware resource under a section (or chapter), with its axes taken from the catalogue;
    the caller stores the file under `storage_key(resource.id, …)` and sets `file_key` before committing."""
    nodes = await lineage(session, up.textbook_node_id)
    if not nodes or nodes[-1].level not in ("chapter", "section"):
        raise ResourceError("invalid_field", "file courseware under a chapter or a section", "textbook_node_id")
    names = axes(nodes)
    grade = next((g for g, n in GRADE_NAMES.items() if n == names.get("grade")), 0)
    r = Resource(
        kind="courseware", recording_id=None, room_id="", room_kind="", timetable_ref="", title=up.title,
        description=up.description, school_id=up.school_id, school_name=up.school_name,
        teacher_user_id=up.teacher_user_id, teacher_name=up.teacher_name, stage=names.get("stage", ""),
        grade=grade, subject=names.get("subject", ""), lesson_date=utcnow().astimezone(CHINA).date(),
        started_at=None, duration=0.0, classrooms="[]", status="draft", scope="school",
        file_name=safe_name(up.file_name), file_type=info.file_type, file_size=size, pages=info.pages,
        content_text=info.text,
    )  # fmt: skip
    session.add(r)
    await session.flush()
    await set_catalogue(session, r, textbook_node_id=up.textbook_node_id, knowledge_point_ids=up.knowledge_point_ids)
    return r
