"""docs/python.md says what the code does: its examples run.

The ```python blocks of the sections listed in SECTIONS run in order, in
one namespace, in a scratch folder holding the sessions the page names
(rec.mefd, enc.mefd, made by `mef3pool gen`), with a `mef3pool serve` on
a free loopback port rooted there standing in for the page's
localhost:50051.  Other sections (written by others, e.g. Dask and
xarray) are not run here.  The install line the page gives is the one
the python_pip_install test runs.
"""
import os
import re
from pathlib import Path

import pytest

from conftest import gen, served

HERE = Path(__file__).resolve().parent
DOC = HERE.parents[1] / "docs" / "python.md"
SECTIONS = ["Reader and MefReader", "Writer", "ReaderProcessPool",
            "FileManager", "Client", "Errors and warnings"]


def blocks(text):
    """[(section, code)] of the page's python blocks, in order."""
    out, section, code = [], None, None
    for line in text.splitlines():
        if code is not None:
            if line.startswith("```"):
                out.append((section, "\n".join(code)))
                code = None
            else:
                code.append(line)
        elif line.startswith("## "):
            section = line[3:].strip()
        elif line.strip() == "```python":
            code = []
    return out


@pytest.fixture(scope="module")
def place(cli, tmp_path_factory):
    d = tmp_path_factory.mktemp("docs examples")
    gen(cli, d / "rec.mefd", channels=4, fs=256, duration="10m")
    gen(cli, d / "enc.mefd", channels=4, fs=256, duration="10m",
        password="l1pass,l2pass")
    return d


@pytest.fixture(scope="module")
def server(cli, place, tmp_path_factory):
    with served(cli, place, tmp_path_factory.mktemp("docs server"),
                "--reader-processes=2", "--prefetch-processes=1") as addr:
        yield addr


def test_examples_run(place, server, monkeypatch):
    found = blocks(DOC.read_text())
    run = [(s, c) for s, c in found if s in SECTIONS]
    assert {s for s, _ in run} == set(SECTIONS), \
        f"sections without an example: {set(SECTIONS) - {s for s, _ in run}}"
    monkeypatch.chdir(place)
    ns = {}
    for section, code in run:
        code = code.replace("localhost:50051", server)
        try:
            exec(compile(code, f"docs/python.md ({section})", "exec"), ns)
        except Exception as e:
            raise AssertionError(f"the example of '{section}' fails: {e!r}\n"
                                 f"{code}") from e
    assert (place / "new.mefd").is_dir()


def test_install_line_is_the_tested_one():
    doc = DOC.read_text()
    script = (HERE / "pip_install.sh").read_text()
    line = re.search(r"^~/mef3pool-env/bin/pip (install .*?)\s*$", doc,
                     re.M).group(1)
    assert line in script, f"docs/python.md says '{line}', the test runs other"
    assert "python3 -m venv --system-site-packages" in doc
    assert "-m venv --system-site-packages" in script
