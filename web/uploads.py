"""Reading uploaded files off the wire within the size limit, before they reach a parser (core.uploads)."""

from __future__ import annotations

from aiohttp import BodyPartReader, web

from core.uploads import LIMITS, UploadLimits, UploadRefused

MAX_FILES = 16


def _too_large(file: str, limits: UploadLimits) -> UploadRefused:
    mib = limits.max_bytes // (1024 * 1024)
    return UploadRefused(413, "too_large", file, f"max_bytes={limits.max_bytes}",
                         f"文件 {file} 超过 {mib} MiB 的上限", f"file {file} is over the {mib} MiB limit")


async def read_upload_body(request: web.Request, file: str, limits: UploadLimits = LIMITS) -> bytes:
    if request.content_length is not None and request.content_length > limits.max_bytes:
        raise _too_large(file, limits)
    chunks, size = [], 0
    while chunk := await request.content.read(256 * 1024):  # read() returns what has arrived: loop to EOF
        size += len(chunk)
        if size > limits.max_bytes:
            raise _too_large(file, limits)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_upload_parts(request: web.Request, limits: UploadLimits = LIMITS) -> tuple[dict[str, bytes], str]:
    """Files of a multipart upload (name → bytes) and the declared text encoding (form field `encoding`,
    or `?encoding=`; default UTF-8), each file read in chunks and refused as soon as it passes the limit."""
    files: dict[str, bytes] = {}
    total = 0
    encoding = request.query.get("encoding", "utf-8")
    reader = await request.multipart()
    async for part in reader:
        if not isinstance(part, BodyPartReader):
            continue
        if not part.filename:
            if part.name == "encoding":
                encoding = (await part.read(decode=True))[:32].decode("ascii", "replace").strip() or encoding
            continue
        name = part.filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1][:120]
        if len(files) >= MAX_FILES:
            raise UploadRefused(413, "too_many_files", name, f"files={MAX_FILES}",
                                f"一次最多上传 {MAX_FILES} 个文件", f"at most {MAX_FILES} files at once")
        chunks, size = [], 0
        while chunk := await part.read_chunk(256 * 1024):
            size += len(chunk)
            total += len(chunk)
            if size > limits.max_bytes:
                raise _too_large(name, limits)
            if total > limits.total_bytes:
                mib = limits.total_bytes // (1024 * 1024)
                raise UploadRefused(413, "too_large", name, f"total_bytes={limits.total_bytes}",
                                    f"上传的文件合计超过 {mib} MiB 上限", f"the uploaded files exceed the {mib} MiB limit")
            chunks.append(chunk)
        files[name] = b"".join(chunks)
    return files, encoding
