"""Templates are trusted input, but bounded: size, nesting, expansion, file kind, workers.

Each limit is a one-line ``TemplateError`` naming the file (issue 14, defect 5).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, ClassVar

import pytest
from oban import Job

from baton import Workflow
from baton.errors import TemplateError
from baton.workflow._template_files import MAX_BYTES, MAX_DEPTH
from baton.workflow._template_params import MAX_SUBSTITUTED

ECHO = "tests.support.steps.Echo"


class Trap:
    """Has a ``new`` like a worker, but is not one: a template must never call it."""

    calls: ClassVar[list[Any]] = []

    @classmethod
    def new(cls, args: Any = None, **_options: Any) -> Job:
        cls.calls.append(args)
        return Job(worker="tests.support.steps.Echo", args={})


def one_line(path: Path, raised: pytest.ExceptionInfo[TemplateError]) -> str:
    message = str(raised.value)
    assert message.startswith(f"{path}: ")
    assert "\n" not in message
    return message


def step(worker: str = ECHO, **extra: Any) -> dict[str, Any]:
    return {"name": "a", "worker": worker, **extra}


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize("worker", ["tests.unit.test_template_limits.Trap", "subprocess.Popen"])
def test_a_class_that_is_not_a_worker_is_never_called(tmp_path: Path, worker: str) -> None:
    path = write(tmp_path / "t.json", {"steps": [step(worker)]})
    with pytest.raises(TemplateError) as raised:
        Workflow.from_file(path)
    assert f"'{worker}' is not a worker: decorate the class with @baton.worker" in one_line(
        path, raised
    )
    assert Trap.calls == []


def test_a_file_over_the_size_limit(tmp_path: Path) -> None:
    path = write(tmp_path / "big.json", {"steps": [step(args={"x": "a" * MAX_BYTES})]})
    with pytest.raises(TemplateError) as raised:
        Workflow.from_file(path)
    assert f"over {MAX_BYTES:,} bytes, the limit of a template file" in one_line(path, raised)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("deep.json", "[" * 100_000 + "]" * 100_000),
        ("deep.toml", "a = " + "[" * 100_000 + "]" * 100_000),
    ],
)
def test_a_100000_deep_file_is_not_a_recursion_error(
    tmp_path: Path, name: str, content: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(TemplateError) as raised:
        Workflow.from_file(path)
    assert "nested too deeply to parse" in one_line(path, raised)


def test_nesting_deeper_than_the_limit(tmp_path: Path) -> None:
    deep: Any = 1
    for _ in range(MAX_DEPTH):
        deep = [deep]
    path = write(tmp_path / "t.json", {"steps": [step(args={"x": deep})]})
    with pytest.raises(TemplateError) as raised:
        Workflow.from_file(path)
    assert f"nested more than {MAX_DEPTH} tables and lists deep" in one_line(path, raised)
    with pytest.raises(TemplateError, match=f"^template: nested more than {MAX_DEPTH}"):
        Workflow.from_dict({"steps": [step(args={"x": deep})]})


def test_args_that_expand_over_the_limit(tmp_path: Path) -> None:
    big = "x" * 240_000  # a 244 kB template: its one param used 3,500 times
    data = {
        "params": {"big": {"default": big}},
        "steps": [step(each=[{"v": "${big}"}] * 3_500)],
    }
    path = write(tmp_path / "t.json", data)
    assert path.stat().st_size < 300_000
    with pytest.raises(TemplateError) as raised:
        Workflow.from_file(path)
    message = one_line(path, raised)
    assert f"steps[0] ('a').each[{MAX_SUBSTITUTED // 240_002}].v: substituting params" in message
    assert f"over {MAX_SUBSTITUTED:,} characters of JSON" in message


def test_a_param_repeated_inside_one_string_is_charged_each_time() -> None:
    data = {
        "params": {"big": {"default": "x" * 100_000}},
        "steps": [step(args={"v": "${big}" * 200})],
    }
    with pytest.raises(TemplateError, match="substituting params here brings"):
        Workflow.from_dict(data)


def test_expansion_under_the_limit_is_built() -> None:
    data = {"params": {"v": {"default": [1, 2]}}, "steps": [step(each=[{"v": "${v}"}] * 100)]}
    assert len(Workflow.from_dict(data).steps) == 100


def test_dev_zero_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "zero.json"
    path.symlink_to("/dev/zero")
    with pytest.raises(TemplateError) as raised:
        Workflow.from_file(path)
    assert one_line(path, raised).endswith("not a regular file (a template is read from a file)")


@pytest.mark.timeout(10)
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "pipe.toml"
    os.mkfifo(path)
    with pytest.raises(TemplateError) as raised:
        Workflow.from_file(path)
    assert "not a regular file" in one_line(path, raised)
