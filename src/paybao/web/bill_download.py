"""`GET /bills/download?token=…`: the zip a signed bill URL points at (valid 30 s)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from paybao.web.deps import platform_of

router = APIRouter(include_in_schema=False)


@router.get("/bills/download")
def download(request: Request, token: str = Query(max_length=512)) -> Response:
    bills = platform_of(request).services["bills"]
    file_name, content = bills.open_download(token)
    disposition = f"attachment; filename*=UTF-8''{quote(file_name)}"
    return Response(
        content,
        media_type="application/zip",
        headers={"Content-Disposition": disposition, "Cache-Control": "no-store"},
    )
