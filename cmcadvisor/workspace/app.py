"""The workspace web app: Starlette routes over a folder of program files, pages rendered from Jinja templates.

Pages: the programs list (the portfolio dashboard, sortable), a new program from the starter, a
program's assessment (the HTML report, downloads, what-if, explanations), the program form
(:mod:`.forms`), the raw YAML view and scenarios side by side (:mod:`cmcadvisor.scenarios`).
Every change is validated before it is written and written through :mod:`.store` (atomic,
previous version kept); a refused name is a 404, a bad request a 400, and an error inside a
request a 500 page that leaves every file as it was. The guards (host, token, same origin, body
size) wrap the app in :func:`create_app`. This module computes no assessment itself
(:mod:`.service` does, through ``api``) and is the workspace's only home of Starlette routes.
"""

from __future__ import annotations

import datetime
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from cmcadvisor import __version__, api
from cmcadvisor.errors import CmcAdvisorError, ErrorItem, UserInputError
from cmcadvisor.render.templating import html_environment
from cmcadvisor.workspace import forms, service, store
from cmcadvisor.workspace.safety import MAX_BODY, Guard, Refused, program_path

STATIC = Path(__file__).resolve().parent / "static"
SORTS = {"name": "Program", "stage": "Stage", "pathways": "Pathways", "high": "Open high", "late": "Late", "mob": "Make or buy"}
MAX_SCENARIOS = 8
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_-]+")  # as forms.FormField.dom_id makes element ids
_log = logging.getLogger("cmcadvisor.workspace")


def _page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    ws: service.Workspace = request.app.state.workspace
    page = html_environment(None).get_template(f"workspace/{template}")  # the packaged, autoescaping environment
    html = page.render(folder=ws.root.name, version=__version__, **context)
    return HTMLResponse(html, status_code=status)


def _name(request: Request) -> str:
    name = str(request.path_params["name"])
    try:
        program_path(request.app.state.workspace.root, name)
    except Refused:
        raise HTTPException(404, "No such program file in this folder.") from None
    return name


def _url(name: str, tail: str = "") -> str:
    return f"/p/{quote(name)}{tail}"


def _overrides(request: Request) -> tuple[str, ...]:
    """The what-if changes of the request: ``set=FIELD=VALUE`` pairs, or field and value pairs."""
    found = [s.strip() for s in request.query_params.getlist("set") if s.strip()]
    fields, values = request.query_params.getlist("field"), request.query_params.getlist("value")
    found += [f"{f.strip()}={v.strip()}" for f, v in zip(fields, values, strict=False) if f.strip()]
    if len(found) > service.MAX_OVERRIDES:
        raise HTTPException(400, f"At most {service.MAX_OVERRIDES} what-if changes at once.")
    return tuple(found)


# ---------------------------------------------------------------------------------------- pages


async def programs(request: Request) -> Response:
    """The programs list: each program's headline, sortable; the portfolio dashboard."""
    ws: service.Workspace = request.app.state.workspace
    sort = request.query_params.get("sort", "name")
    sort = sort if sort in SORTS else "name"
    descending = request.query_params.get("desc") == "1"
    rows = ws.headlines(sort, descending)
    return _page(request, "programs.html.j2", rows=rows, sort=sort, descending=descending, sorts=SORTS)


async def new_program(request: Request) -> Response:
    """A new program from the commented starter file (never over an existing file)."""
    ws: service.Workspace = request.app.state.workspace
    values = {"name": "", "program_id": "", "file": ""}
    errors: list[str] = []
    if request.method == "POST":
        form = await request.form()
        values = {key: str(form.get(key, "")).strip()[:200] for key in values}
        if not values["name"]:
            errors.append("Give the program a name.")
        if not errors:
            file_name = store.new_file_name(ws.root, values["file"] or values["program_id"] or values["name"])
            text = store.starter_text(values["program_id"] or file_name.removesuffix(".yaml").upper(), values["name"])
            try:
                store.save_text(ws.root, file_name, text, ws.context, create=True)
            except UserInputError as exc:
                errors.extend(item.format() for item in exc.items)
            else:
                return RedirectResponse(_url(file_name, "/edit?created=1"), status_code=303)
    return _page(request, "new.html.j2", values=values, errors=errors, status=400 if errors else 200)


async def assessment(request: Request) -> Response:
    """A program's assessment: headline, the HTML report, downloads, what-if and explanations."""
    ws: service.Workspace = request.app.state.workspace
    name = _name(request)
    try:
        assessed = ws.assess(name)
    except UserInputError as exc:
        return _page(request, "invalid.html.j2", status=422, name=name, problems=service.problems_text(exc.items))
    return _page(
        request,
        "assessment.html.j2",
        name=name,
        result=assessed.result,
        headline=ws.headline(name),
        downloads=service.DOWNLOADS,
        meetings=ws.meeting_choices(name),
        targets=ws.explain_targets(name),
        fields=_fact_fields(),
        saved=request.query_params.get("saved") == "1",
    )


async def report(request: Request) -> Response:
    """The HTML report of a program as the command line writes it (shown inside the assessment page)."""
    name = _name(request)
    data = request.app.state.workspace.download(name, "report.html", _overrides(request))
    return Response(data, media_type="text/html; charset=utf-8")


async def edit(request: Request) -> Response:
    """The program form: shown, given rows, validated and saved (the previous version kept)."""
    ws: service.Workspace = request.app.state.workspace
    name = _name(request)
    text = store.read_text(ws.root, name)
    if request.method == "GET":
        checked = store.check_text(text, name, ws.context)
        form = forms.build_form(checked.data, errors=checked.problems)
        created = request.query_params.get("created") == "1"
        return _page(request, "edit.html.j2", name=name, form=forms.render(form), created=created, problems=_at(checked.problems))
    pairs = (await request.form()).multi_items()
    submitted = [(k, v) for k, v in pairs if isinstance(v, str)]
    data = forms.parse_form(submitted)
    rows = forms.requested_rows(submitted)
    if rows:  # "add an item": show the form again with blank rows, nothing saved
        form = forms.build_form(data, blank_rows=rows)
        return _page(request, "edit.html.j2", name=name, form=forms.render(form), created=False, problems=[])
    try:
        merged = store.merged_text(text, data, name)
        store.save_text(ws.root, name, merged, ws.context)
    except UserInputError as exc:
        form = forms.build_form(data, errors=exc.items)
        return _page(
            request, "edit.html.j2", status=422, name=name, form=forms.render(form), created=False, problems=_at(exc.items)
        )
    return RedirectResponse(_url(name, "?saved=1"), status_code=303)


async def raw_yaml(request: Request) -> Response:
    """The program file as YAML text, validated and saved the same way as the form."""
    ws: service.Workspace = request.app.state.workspace
    name = _name(request)
    if request.method == "GET":
        text = store.read_text(ws.root, name)
        problems = service.problems_text(store.check_text(text, name, ws.context).problems)
        return _page(request, "yaml.html.j2", name=name, text=text, problems=problems)
    form = await request.form()
    text = str(form.get("text", "")).replace("\r\n", "\n")
    try:
        store.save_text(ws.root, name, text, ws.context)
    except UserInputError as exc:
        return _page(request, "yaml.html.j2", status=422, name=name, text=text, problems=service.problems_text(exc.items))
    return RedirectResponse(_url(name, "?saved=1"), status_code=303)


async def what_if(request: Request) -> Response:
    """The assessment under what-if changes, against the baseline; the file is not touched."""
    ws: service.Workspace = request.app.state.workspace
    name = _name(request)
    overrides = _overrides(request)
    base = ws.assess(name)
    context: dict[str, Any] = {"name": name, "overrides": overrides, "fields": _fact_fields(), "result": base.result}
    if not overrides:
        return _page(request, "whatif.html.j2", run=None, problems=[], **context)
    try:
        run = ws.what_if(name, overrides)
    except UserInputError as exc:
        return _page(request, "whatif.html.j2", status=422, run=None, problems=service.problems_text(exc.items), **context)
    query = "&".join(f"set={quote(o)}" for o in overrides)
    return _page(request, "whatif.html.j2", run=run, problems=[], query=query, **context)


def _scenario_lines(request: Request) -> tuple[str, ...]:
    text = request.query_params.get("scenarios", "")[:5000]
    lines = tuple(line.strip() for line in text.splitlines() if line.strip())
    if len(lines) > MAX_SCENARIOS:
        raise HTTPException(400, f"At most {MAX_SCENARIOS} scenarios at once.")
    return lines


async def scenarios(request: Request) -> Response:
    """The baseline and named scenarios side by side (one per line: NAME: field=value, field=value)."""
    ws: service.Workspace = request.app.state.workspace
    name = _name(request)
    lines = _scenario_lines(request)
    result = ws.assess(name).result
    context: dict[str, Any] = {"name": name, "result": result, "text": "\n".join(lines), "query": ""}
    if not lines:
        return _page(request, "scenarios.html.j2", ran=False, problems=[], **context)
    try:
        ws.scenarios(name, lines, "html")
    except UserInputError as exc:
        return _page(request, "scenarios.html.j2", status=422, ran=False, problems=service.problems_text(exc.items), **context)
    context["query"] = "scenarios=" + quote("\n".join(lines))
    return _page(request, "scenarios.html.j2", ran=True, problems=[], **context)


async def scenarios_output(request: Request) -> Response:
    """The scenario comparison as the command line writes it: the HTML page, or the workbook to download."""
    ws: service.Workspace = request.app.state.workspace
    name = _name(request)
    fmt = str(request.path_params["fmt"])
    lines = _scenario_lines(request)
    if fmt not in ("html", "xlsx") or not lines:
        raise HTTPException(404, "No such scenario output.")
    data = ws.scenarios(name, lines, fmt)
    if fmt == "html":
        return Response(data, media_type="text/html; charset=utf-8")
    payload = data if isinstance(data, bytes) else data.encode("utf-8")
    return _attachment(payload, service.DOWNLOADS["risk-register.xlsx"][1], f"{name.rsplit('.', 1)[0]}-scenarios.xlsx")


async def explain(request: Request) -> Response:
    """Why a conclusion is what it is: a rule, pathway, activity, milestone, meeting or make-or-buy."""
    ws: service.Workspace = request.app.state.workspace
    name = _name(request)
    target = request.query_params.get("target", "")[:200]
    labels = {t: text for _, items in ws.explain_targets(name) for t, text in items}
    if target not in labels:
        raise HTTPException(404, "Nothing of that name to explain for this program.")
    text = ws.explain(name, target)
    summary = ws.explain_summary(name, target)
    return _page(request, "explain.html.j2", name=name, target=labels[target], text=text, summary=summary)


async def download(request: Request) -> Response:
    """One download: the report, JSON, risk register, timeline or audit record."""
    ws: service.Workspace = request.app.state.workspace
    name = _name(request)
    what = str(request.path_params["what"])
    if what not in service.DOWNLOADS:
        raise HTTPException(404, "No such download.")
    data = ws.download(name, what, _overrides(request))
    stem = name.rsplit(".", 1)[0]
    return _attachment(data, service.DOWNLOADS[what][1], f"{stem}-{what}")


async def brief(request: Request) -> Response:
    """The Word brief for the chosen meeting."""
    ws: service.Workspace = request.app.state.workspace
    name = _name(request)
    meeting = request.query_params.get("meeting", "")
    if meeting not in {t for t, _ in ws.meeting_choices(name)}:
        raise HTTPException(400, "Choose one of the meetings listed.")
    data = ws.brief_docx(name, meeting)
    return _attachment(data, service.BRIEF_TYPE, f"{name.rsplit('.', 1)[0]}-{meeting}-brief.docx")


def _attachment(data: bytes, media_type: str, filename: str) -> Response:
    safe = "".join(c if c.isalnum() or c in "._-" else "-" for c in filename)
    return Response(data, media_type=media_type, headers={"content-disposition": f'attachment; filename="{safe}"'})


def _at(items: Sequence[ErrorItem]) -> list[tuple[str, str, str]]:
    """Each problem as (field label, message, the element id of its field) for the summary above the form."""
    from cmcadvisor import display

    found = []
    for item in items:
        anchor = "f-" + _UNSAFE_ID.sub("-", item.location).strip("-") if item.location else ""
        where = service.cap(display.fact_label(item.location)) if item.location else f"Line {item.line}"
        found.append((where, item.message + (f" ({item.hint})" if item.hint else ""), anchor))
    return found


def _fact_fields() -> list[tuple[str, str]]:
    """Every program field a what-if can change: (field, label), in form order."""
    form = forms.build_form(None, blank_rows={})
    seen: dict[str, str] = {}
    for entry in form.fields():
        if entry.kind not in ("group", "list", "mapping", "const") and entry.name and "[" not in entry.name:
            seen.setdefault(entry.name, entry.label)
    return list(seen.items())


# ---------------------------------------------------------------------------------------- errors


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    titles = {400: "Bad request", 404: "Not found", 405: "Not allowed", 413: "Too large", 422: "Not valid"}
    return _page(
        request, "error.html.j2", status=exc.status_code, title=titles.get(exc.status_code, "Refused"), message=exc.detail
    )


async def _refused(request: Request, exc: Exception) -> Response:
    return _page(request, "error.html.j2", status=404, title="Not found", message="No such program file in this folder.")


async def _user_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, UserInputError)
    return _page(request, "error.html.j2", status=400, title="Not valid", message="\n".join(i.format() for i in exc.items))


async def _crash(request: Request, exc: Exception) -> Response:
    _log.exception("internal error serving %s", request.url.path)
    message = "Something went wrong inside the workspace. No file was changed; the error is in the server's log."
    try:
        return _page(request, "error.html.j2", status=500, title="Internal error", message=message)
    except Exception:  # noqa: BLE001 - the error page itself failed: answer in plain text
        return Response(message, status_code=500, media_type="text/plain")


# ---------------------------------------------------------------------------------------- the app


def create_app(
    root: Path,
    *,
    options: api.Options | None = None,
    hosts: frozenset[str] | None = None,
    token: str | None = None,
    max_body: int = MAX_BODY,
) -> Guard:
    """The guarded workspace app over folder ``root`` (``hosts``: the host names served; ``token``: required when set)."""
    routes = [
        Route("/", programs),
        Route("/new", new_program, methods=["GET", "POST"]),
        Route("/p/{name}", assessment),
        Route("/p/{name}/report", report),
        Route("/p/{name}/edit", edit, methods=["GET", "POST"]),
        Route("/p/{name}/yaml", raw_yaml, methods=["GET", "POST"]),
        Route("/p/{name}/whatif", what_if),
        Route("/p/{name}/explain", explain),
        Route("/p/{name}/scenarios", scenarios),
        Route("/p/{name}/scenarios.{fmt}", scenarios_output),
        Route("/p/{name}/brief.docx", brief),
        Route("/p/{name}/download/{what}", download),
        Mount("/static", StaticFiles(directory=STATIC, follow_symlink=False), name="static"),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={
            HTTPException: _http_error,
            Refused: _refused,
            UserInputError: _user_error,
            CmcAdvisorError: _crash,
            Exception: _crash,
        },
    )
    app.state.workspace = service.Workspace(root, options or api.Options(today=datetime.date.today()))
    return Guard(app, hosts=hosts, token=token, max_body=max_body)
