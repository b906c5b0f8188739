"""The README's user example, read from README.md and run the way a user runs it.

The README shows two files (``steps.py`` and ``brief.py``, each a ``python`` block whose
first line names it) and the shell commands below; the tests run exactly those, with the
``baton`` and ``python`` of a given virtualenv, so the README cannot drift from what works.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"

# The README's commands, in the order it gives them.
INSTALL = "baton install"
START = "baton start --queues default:10 --import steps &"
INSERT = "python brief.py"
WATCH = "baton watch ID"
TIMEOUT = 90.0


def example_files() -> dict[str, str]:
    """The README's python blocks by the file name on their first line (``# steps.py``)."""
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    files = {}
    for block in blocks:
        named = re.match(r"# (\w+\.py)\n", block)
        assert named, f"a README python block does not start with its file name:\n{block}"
        files[named[1]] = block
    assert sorted(files) == ["brief.py", "steps.py"], sorted(files)
    for command in (INSTALL, START, INSERT, WATCH):
        assert command in text, f"the README no longer says {command!r}"
    return files


def user_environment(dsn: str) -> dict[str, str]:
    """This process's environment without its database or path settings; ``dsn`` instead."""
    dropped = ("DATABASE_URL", "OBAN_DSN", "OBAN_PREFIX", "PYTHONPATH", "VIRTUAL_ENV")
    env = {key: value for key, value in os.environ.items() if key not in dropped}
    env["DATABASE_URL"] = dsn
    return env


def run_user_path(
    bin_dir: Path, dsn: str, workdir: Path
) -> tuple[str, subprocess.CompletedProcess[str]]:
    """Write the example into ``workdir`` and run the README's commands there.

    Args:
        bin_dir: the virtualenv's ``bin`` folder, with ``python`` and ``baton``.
        dsn: the database, passed as ``DATABASE_URL``.
        workdir: an empty folder, the user's project.

    Returns:
        The workflow id ``brief.py`` printed, and how ``baton watch ID`` ended.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    for name, code in example_files().items():
        (workdir / name).write_text(code, encoding="utf-8")
    env = user_environment(dsn)
    baton = str(bin_dir / "baton")

    def run(*command: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            command, cwd=workdir, env=env, capture_output=True, text=True, timeout=TIMEOUT
        )
        assert done.returncode == 0 or command[1] == "watch", (
            f"{command} exited {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        )
        return done

    run(baton, *INSTALL.split()[1:])
    log = (workdir / "baton-start.log").open("w")
    worker = subprocess.Popen(
        [baton, *START.split()[1:-1]],
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        workflow_id = run(str(bin_dir / "python"), *INSERT.split()[1:]).stdout.strip()
        watched = run(baton, "watch", workflow_id)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        log.close()
    assert watched.returncode == 0, (
        f"baton watch exited {watched.returncode}\n{watched.stdout}\n{watched.stderr}\n"
        f"baton start's log:\n{(workdir / 'baton-start.log').read_text()}"
    )
    # no PYTHONPATH: start imports from the project folder, and says what it imported
    assert "imported steps" in (workdir / "baton-start.log").read_text()
    return workflow_id, watched
