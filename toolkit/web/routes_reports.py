"""Pages of report folders: the list, a folder's page (manifest, summary, tables, charts, its
HTML pages embedded) and its files, served only from inside the reports folder."""

from __future__ import annotations

import mimetypes

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from toolkit.web.reports import ReportNotFound, inside, list_reports, report_page

router = APIRouter()


@router.get("/reports", response_class=HTMLResponse)
def reports(request: Request) -> Response:
    root = request.app.state.settings.reports
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request,
        "reports.html",
        {"title": "Reports", "runs": list_reports(root), "root": root},
    )


@router.get("/reports/view/{name:path}", response_class=HTMLResponse)
def report(request: Request, name: str) -> Response:
    page = report_page(request.app.state.settings.reports, name)
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request, "report.html", {"title": f"Report {page.run.name}", "r": page}
    )


@router.get("/reports/file/{name:path}")
def report_file(request: Request, name: str) -> Response:
    path = inside(request.app.state.settings.reports, name)
    if not path.is_file():
        raise ReportNotFound(f"{name!r} is not a file")
    media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if path.suffix in (".csv", ".txt", ".ipynb", ".json", ".toml"):
        media = "text/plain; charset=utf-8"
    return FileResponse(path, media_type=media)
