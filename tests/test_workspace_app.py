"""The workspace app in-process (Starlette's TestClient): pages, saving, what-if, downloads and the guards."""

from __future__ import annotations

import datetime
import io
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

pytest.importorskip("starlette")

from starlette.testclient import TestClient  # noqa: E402

from cmcadvisor import api  # noqa: E402
from cmcadvisor.cli_serve import is_loopback, served_hosts  # noqa: E402
from cmcadvisor.workspace import forms, service, store  # noqa: E402
from cmcadvisor.workspace.app import create_app  # noqa: E402
from cmcadvisor.workspace.safety import Guard  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
ORIGIN = {"origin": "http://testserver"}
CAR_T = "car-t-autologous.yaml"
TODAY = datetime.date(2026, 12, 4)


@pytest.fixture(scope="module")
def context() -> api.Context:
    return api.load_context(api.Options(today=TODAY))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    work = tmp_path / "programs"
    work.mkdir()
    for path in EXAMPLES.glob("*.yaml"):
        shutil.copy(path, work / path.name)
    return work


def _client(folder: Path, context: api.Context, **kwargs: object) -> TestClient:
    app = create_app(folder, options=api.Options(today=TODAY), **kwargs)  # type: ignore[arg-type]
    inner = app.app
    inner.state.workspace._context = context  # type: ignore[attr-defined]
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client(folder: Path, context: api.Context) -> Iterator[TestClient]:
    with _client(folder, context) as c:
        yield c


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under the folder (history included) and its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


def _post_pairs(client: TestClient, url: str, pairs: list[tuple[str, str]], **kwargs: object) -> Any:
    """Submit form pairs (repeated names kept, in order) as a browser does, from the workspace's own origin."""
    headers = {**ORIGIN, "content-type": "application/x-www-form-urlencoded"}
    return client.post(url, content=urlencode(pairs), headers=headers, **kwargs)  # type: ignore[arg-type]


def _form_pairs(client: TestClient, name: str) -> list[tuple[str, str]]:
    """What a browser would submit for the program form as shown."""
    text = (client.app.app.state.workspace.root / name).read_text()  # type: ignore[attr-defined]
    checked = store.check_text(text, name, client.app.app.state.workspace.context)  # type: ignore[attr-defined]
    return forms.form_pairs(forms.build_form(checked.data))


# ------------------------------------------------------------------------------------ pages


def test_programs_list_shows_each_program_headline(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    for title in ("ACME-19 anti-CD19 CAR-T", "EXG-209 AAV9 gene therapy for LGMD R4", "NKX-33 off-the-shelf anti-CD33 CAR-NK"):
        assert title in page.text
    assert "Hybrid (in-house and CDMO)" in page.text  # make-or-buy in words, not the enum
    assert "Phase 2" in page.text
    assert "hybrid" not in re.sub(r"<[^>]+>", "", page.text).split("Hybrid")[0]  # no raw enum before the label
    assert page.headers["content-security-policy"].startswith("default-src 'self'")


def test_programs_list_sorts_by_open_high_findings(client: TestClient) -> None:
    ascending = client.get("/?sort=high").text
    descending = client.get("/?sort=high&desc=1").text
    order = re.findall(r'class="program" href="/p/([^"]+)"', ascending)
    assert order == list(reversed(re.findall(r'class="program" href="/p/([^"]+)"', descending)))
    assert order[-1] == CAR_T  # 13 open high or critical findings, the most


def test_create_program_from_the_starter(client: TestClient, folder: Path) -> None:
    made = client.post(
        "/new", data={"name": "Zeta <b>CAR</b>", "program_id": "ZETA-1", "file": ""}, headers=ORIGIN, follow_redirects=False
    )
    assert made.status_code == 303
    assert made.headers["location"] == "/p/zeta-1.yaml/edit?created=1"
    text = (folder / "zeta-1.yaml").read_text()
    assert "id: ZETA-1" in text and "Zeta <b>CAR</b>" in text
    assert "# cmcadvisor program file" in text  # the starter's comments kept
    again = client.post("/new", data={"name": "Zeta", "program_id": "ZETA-1"}, headers=ORIGIN, follow_redirects=False)
    assert again.headers["location"].startswith("/p/zeta-1-2.yaml/")  # never over the existing file
    assert (folder / "zeta-1.yaml").read_text() == text
    edit = client.get("/p/zeta-1.yaml/edit?created=1")
    assert edit.status_code == 200 and "Zeta &lt;b&gt;CAR&lt;/b&gt;" in edit.text
    assert client.get("/p/zeta-1.yaml").status_code == 200  # the starter assesses as it is


def test_create_needs_a_name(client: TestClient, folder: Path) -> None:
    before = _snapshot(folder)
    page = client.post("/new", data={"name": " "}, headers=ORIGIN)
    assert page.status_code == 400 and "Give the program a name" in page.text
    assert _snapshot(folder) == before


def test_form_save_with_an_error_then_fixed_keeps_comments_and_the_previous_version(client: TestClient, folder: Path) -> None:
    path = folder / CAR_T
    original = path.read_text()
    comments = [line.strip() for line in original.splitlines() if line.strip().startswith("#")]
    assert comments
    pairs = _form_pairs(client, CAR_T)
    bad = [(k, "not-a-date" if k == "program.as_of" else v) for k, v in pairs]
    refused = _post_pairs(client, f"/p/{CAR_T}/edit", bad)
    assert refused.status_code == 422
    field = re.search(r'<div class="field field-error-box">.*?</div>', refused.text, re.S)
    assert field is not None and 'name="program.as_of"' in field.group(0) and "field-error" in field.group(0)
    assert '<a href="#f-program-as_of">' in refused.text  # the summary above the form links to the field
    assert path.read_text() == original
    assert not (folder / ".cmcadvisor-history").exists()

    fixed = [(k, "2026-12-01" if k == "program.as_of" else v) for k, v in pairs]
    saved = _post_pairs(client, f"/p/{CAR_T}/edit", fixed, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == f"/p/{CAR_T}?saved=1"
    text = path.read_text()
    assert "as_of: 2026-12-01" in text
    assert [line.strip() for line in text.splitlines() if line.strip().startswith("#")] == comments
    history = sorted((folder / ".cmcadvisor-history").iterdir())
    assert [p.name for p in history] == [f"{CAR_T}.1.yaml"] and history[0].read_text() == original
    page = client.get(f"/p/{CAR_T}?saved=1")
    assert "Saved." in page.text and "1 December 2026" in page.text  # the assessment is updated after the save
    assert CAR_T not in [n for n in store.program_names(folder) if n.startswith(".")]  # history is not a program


def test_add_an_item_writes_nothing(client: TestClient, folder: Path) -> None:
    before = _snapshot(folder)
    pairs = [*_form_pairs(client, CAR_T), (forms.ADD, "waivers")]
    page = _post_pairs(client, f"/p/{CAR_T}/edit", pairs)
    assert page.status_code == 200 and "blank-row" in page.text
    assert _snapshot(folder) == before


def test_yaml_view_validates_with_located_messages_and_saves(client: TestClient, folder: Path) -> None:
    path = folder / CAR_T
    original = path.read_text()
    view = client.get(f"/p/{CAR_T}/yaml")
    assert view.status_code == 200 and "The file is valid." in view.text
    broken = original.replace("strategy: cdmo", "strategy: sometimes", 1)
    refused = client.post(f"/p/{CAR_T}/yaml", data={"text": broken}, headers=ORIGIN)
    assert refused.status_code == 422
    assert re.search(rf"{re.escape(CAR_T)}:\d+: manufacturing\.strategy:", refused.text)
    assert path.read_text() == original
    changed = original.replace("strategy: cdmo", "strategy: in_house", 1) + "# added in the YAML view\n"
    saved = client.post(f"/p/{CAR_T}/yaml", data={"text": changed}, headers=ORIGIN, follow_redirects=False)
    assert saved.status_code == 303
    assert path.read_text() == changed
    assert (folder / ".cmcadvisor-history" / f"{CAR_T}.1.yaml").read_text() == original


def test_invalid_file_is_listed_with_its_problem_and_has_a_fix_page(client: TestClient, folder: Path) -> None:
    (folder / "broken.yaml").write_text("schema_version: 1\nprogram:\n  id: B\n  name: Broken\nclinical:\n  stage: someday\n")
    listing = client.get("/")
    assert "broken.yaml:6: clinical.stage:" in listing.text
    page = client.get("/p/broken.yaml")
    assert page.status_code == 422 and "Fix in the form" in page.text


def test_what_if_compares_with_the_baseline_and_never_touches_the_file(client: TestClient, folder: Path) -> None:
    before = _snapshot(folder)
    stat = (folder / CAR_T).stat()
    page = client.get(f"/p/{CAR_T}/whatif", params=[("field", "manufacturing.strategy"), ("value", "in_house")])
    assert page.status_code == 200
    assert "Manufacturing strategy" in page.text and "In-house" in page.text and "CDMO" in page.text
    assert "Milestone forecasts" in page.text and "BLA submission" in page.text
    assert "The cash runway does not cover the facility build" in page.text  # a finding the change raises
    assert _snapshot(folder) == before and (folder / CAR_T).stat().st_mtime_ns == stat.st_mtime_ns
    same = client.get(f"/p/{CAR_T}/whatif", params={"set": "manufacturing.strategy=cdmo"})
    assert "make no difference" in same.text
    bad = client.get(f"/p/{CAR_T}/whatif", params={"set": "manufacturing.strategy=sometimes"})
    assert bad.status_code == 422 and "manufacturing.strategy" in bad.text
    unknown = client.get(f"/p/{CAR_T}/whatif", params={"set": "manufacturing.nonsense=1"})
    assert unknown.status_code == 422
    download = client.get(f"/p/{CAR_T}/download/assessment.json", params={"set": "manufacturing.strategy=in_house"})
    forecasts = {m["id"]: m["forecast"] for m in json.loads(download.content)["timeline"]["milestones"]}
    assert forecasts["bla_submission"] == "2031-01-23"  # the download carries the what-if (baseline 2028-10-05)
    assert _snapshot(folder) == before


def test_explain_any_conclusion_by_clicking_it(client: TestClient) -> None:
    page = client.get(f"/p/{CAR_T}")
    links = re.findall(r'href="/p/[^"]+/explain\?target=([^"]+)"', page.text)
    assert "make-or-buy" in links and "us.rmat" in links and "bla_submission" in links
    for target in ("make-or-buy", "us.rmat", "bla_submission", links[-1]):
        answer = client.get(f"/p/{CAR_T}/explain", params={"target": target})
        assert answer.status_code == 200, target
        assert "Why:" in answer.text and "The trace" in answer.text
    mob = client.get(f"/p/{CAR_T}/explain", params={"target": "make-or-buy"}).text
    assert "Hybrid (in-house and CDMO), low confidence." in mob
    assert client.get(f"/p/{CAR_T}/explain", params={"target": "../../etc"}).status_code == 404


def test_every_download(client: TestClient) -> None:
    from docx import Document
    from openpyxl import load_workbook

    base = f"/p/{CAR_T}"
    report = client.get(f"{base}/download/report.html")
    assert report.status_code == 200 and "CMC assessment: ACME-19" in report.text
    assert report.headers["content-disposition"] == 'attachment; filename="car-t-autologous-report.html"'
    assert json.loads(client.get(f"{base}/download/assessment.json").content)["program"]["id"] == "ACME-CD19"
    workbook = load_workbook(io.BytesIO(client.get(f"{base}/download/risk-register.xlsx").content))
    assert workbook.sheetnames and workbook[workbook.sheetnames[0]].max_row > 1
    assert client.get(f"{base}/download/timeline.png").content.startswith(b"\x89PNG")
    assert b"<svg" in client.get(f"{base}/download/timeline.svg").content
    record = json.loads(client.get(f"{base}/download/audit.json").content)
    assert record["program"]["id"] == "ACME-CD19" and record["record_sha256"]
    docx = client.get(f"{base}/brief.docx", params={"meeting": "pre_bla"})
    assert docx.status_code == 200
    text = "\n".join(p.text for p in Document(io.BytesIO(docx.content)).paragraphs)
    assert "ACME-19" in text
    assert client.get(f"{base}/brief.docx", params={"meeting": "tea"}).status_code == 400
    assert client.get(f"{base}/download/secrets.txt").status_code == 404


def test_scenarios_side_by_side(client: TestClient, folder: Path) -> None:
    from openpyxl import load_workbook

    before = _snapshot(folder)
    lines = "CDMO: manufacturing.strategy=cdmo\nBuild: manufacturing.strategy=in_house"
    page = client.get(f"/p/{CAR_T}/scenarios", params={"scenarios": lines})
    assert page.status_code == 200 and "scenarios.xlsx?scenarios=" in page.text
    html = client.get(f"/p/{CAR_T}/scenarios.html", params={"scenarios": lines})
    assert html.status_code == 200 and "Build" in html.text and "CDMO" in html.text
    workbook = load_workbook(io.BytesIO(client.get(f"/p/{CAR_T}/scenarios.xlsx", params={"scenarios": lines}).content))
    assert len(workbook.sheetnames) >= 3  # one sheet per scenario (baseline included) and the comparison
    bad = client.get(f"/p/{CAR_T}/scenarios", params={"scenarios": "Odd: manufacturing.strategy=sometimes"})
    assert bad.status_code == 422 and "Odd" in bad.text and "manufacturing.strategy=sometimes" in bad.text
    assert _snapshot(folder) == before


# ------------------------------------------------------------------------------------ safety


def test_foreign_origin_is_refused_and_nothing_written(client: TestClient, folder: Path) -> None:
    before = _snapshot(folder)
    text = (folder / CAR_T).read_text() + "# changed\n"
    for headers in ({"origin": "http://evil.example"}, {"referer": "http://evil.example/p"}, {}):
        answer = client.post(f"/p/{CAR_T}/yaml", data={"text": text}, headers=headers)
        assert answer.status_code == 403, headers
        assert client.post("/new", data={"name": "x"}, headers=headers).status_code == 403
    assert _snapshot(folder) == before
    same = client.post(
        f"/p/{CAR_T}/yaml", data={"text": text}, headers={"referer": "http://testserver/p/x"}, follow_redirects=False
    )
    assert same.status_code == 303  # a same-origin Referer is enough when no Origin is sent


@pytest.mark.parametrize(
    "url",
    [
        "/p/..%2F..%2Fetc%2Fpasswd.yaml",
        "/p/..%2Fprograms%2Fcar-t-autologous.yaml",
        "/p/%2Fetc%2Fhosts.yaml",
        "/p/.cmcadvisor-history%2Fx.yaml",
        "/p/outside.yaml",
        "/p/inside-link.yaml",
        "/p/car-t-autologous.txt",
    ],
)
def test_paths_out_of_the_folder_are_refused(client: TestClient, folder: Path, url: str) -> None:
    outside = folder.parent / "outside-target.yaml"
    outside.write_text((folder / CAR_T).read_text())
    os.symlink(outside, folder / "outside.yaml")
    os.symlink(folder / CAR_T, folder / "inside-link.yaml")
    before = _snapshot(folder)
    target_before = outside.read_bytes()
    for tail in ("", "/yaml", "/edit", "/download/report.html", "/whatif"):
        assert client.get(url + tail).status_code in (400, 404), url + tail
    answer = client.post(url + "/yaml", data={"text": "schema_version: 1\n"}, headers=ORIGIN)
    assert answer.status_code in (400, 404)
    assert _snapshot(folder) == before and outside.read_bytes() == target_before
    listed = client.get("/").text
    assert "outside.yaml" not in listed and "inside-link.yaml" not in listed


def test_oversized_bodies_are_refused(folder: Path, context: api.Context) -> None:
    with _client(folder, context, max_body=2000) as small:
        before = _snapshot(folder)
        big = {"text": "# " + "x" * 5000 + "\n"}
        assert small.post(f"/p/{CAR_T}/yaml", data=big, headers=ORIGIN).status_code == 413

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            for _ in range(10):
                yield b"text=" + b"y" * 500

        streamed = small.post(
            f"/p/{CAR_T}/yaml", content=chunks(), headers={**ORIGIN, "content-type": "application/x-www-form-urlencoded"}
        )
        assert streamed.status_code == 413
        assert _snapshot(folder) == before


def test_hostile_program_text_is_escaped_everywhere(client: TestClient, folder: Path) -> None:
    hostile = '<script>alert("x")</script>'
    text = (folder / CAR_T).read_text().replace("name: ACME-19 anti-CD19 CAR-T", f"name: '{hostile}'", 1)
    assert hostile in text
    (folder / "hostile.yaml").write_text(text)
    for url in (
        "/",
        "/p/hostile.yaml",
        "/p/hostile.yaml/edit",
        "/p/hostile.yaml/yaml",
        "/p/hostile.yaml/report",
        "/p/hostile.yaml/whatif?set=manufacturing.strategy=in_house",
        "/p/hostile.yaml/scenarios?scenarios=Build:manufacturing.strategy=in_house",
        "/p/hostile.yaml/scenarios.html?scenarios=Build:manufacturing.strategy=in_house",
        "/p/hostile.yaml/explain?target=make-or-buy",
        "/p/hostile.yaml/whatif?set=program.sponsor=%3Cscript%3Ealert(%22x%22)%3C/script%3E",
    ):
        page = client.get(url)
        assert page.status_code == 200, url
        assert hostile not in page.text, url
        assert "&lt;script&gt;" in page.text or "explain" in url, url
    refused = client.get("/p/hostile.yaml/whatif", params={"set": f"manufacturing.strategy={hostile}"})
    assert refused.status_code == 422 and hostile not in refused.text and "&lt;script&gt;" in refused.text


def test_a_crash_in_a_request_is_a_500_page_and_loses_no_file(
    client: TestClient, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _snapshot(folder)

    def boom(*_: object, **__: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("cmcadvisor.workspace.yamledit.write_atomic", boom)
    pairs = _form_pairs(client, CAR_T)
    answer = _post_pairs(client, f"/p/{CAR_T}/edit", pairs)
    assert answer.status_code == 500
    assert "No file was changed" in answer.text and "disk on fire" not in answer.text
    assert (folder / CAR_T).read_bytes() == before[CAR_T]
    monkeypatch.setattr(service.Workspace, "headlines", boom)
    assert client.get("/").status_code == 500
    assert client.get(f"/p/{CAR_T}/yaml").status_code == 200  # the next request is served


def test_token_is_required_beyond_loopback(folder: Path, context: api.Context) -> None:
    with _client(folder, context, token="s3cret-token") as guarded:
        assert guarded.get("/").status_code == 403
        assert guarded.get("/?token=wrong").status_code == 403
        first = guarded.get("/?token=s3cret-token")
        assert first.status_code == 200
        assert "cmcadvisor_token=s3cret-token" in first.headers["set-cookie"] and "HttpOnly" in first.headers["set-cookie"]
        assert guarded.get(f"/p/{CAR_T}").status_code == 200  # the cookie carries on


def test_unknown_host_is_refused(folder: Path, context: api.Context) -> None:
    with _client(folder, context, hosts=frozenset({"127.0.0.1", "localhost"})) as strict:
        assert strict.get("/").status_code == 400
        assert strict.get("/", headers={"host": "127.0.0.1:8765"}).status_code == 200


def test_serve_command_binds_loopback_by_default() -> None:
    from click.testing import CliRunner

    from cmcadvisor.cli import cli

    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0 and "--port" in result.output and "--open" in result.output and "127.0.0.1" in result.output
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    assert served_hosts("0.0.0.0") is None
    assert served_hosts("192.168.1.5") == frozenset({"localhost", "127.0.0.1", "[::1]", "192.168.1.5"})
    assert isinstance(create_app(EXAMPLES), Guard)
