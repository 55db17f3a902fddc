import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _job(tmp_path, body: str) -> tuple[subprocess.CompletedProcess, str]:
    """Run `body` inside log_to in a fresh interpreter, as a workflow script does."""
    script = textwrap.dedent("""
        import os, sys
        sys.path.insert(0, {workflow!r})
        from facemotion.common.logs import log_to
        with log_to({log!r}) as log:
        {body}
        print("after the job")
    """).format(workflow=str(ROOT / "workflow"), log=str(tmp_path / "job.log"),
                body=textwrap.indent(textwrap.dedent(body), "    "))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    return result, (tmp_path / "job.log").read_text()


def test_a_job_writes_everything_to_its_log_and_only_its_warnings_to_the_console(tmp_path):
    result, log = _job(tmp_path, """
        os.write(2, b"C++ start-up chatter\\n")  # as TensorFlow's and absl's native code write
        os.write(1, b"native stdout\\n")
        print("printed")
        log.info("epoch 1/2: loss 1.0")
        log.warning("3 recordings had no face")
    """)
    assert result.returncode == 0, result.stderr
    for line in ("C++ start-up chatter", "native stdout", "printed", "epoch 1/2: loss 1.0", "3 recordings had no face"):
        assert line in log
    console = result.stdout + result.stderr
    assert "3 recordings had no face" in console and "after the job" in console
    for line in ("chatter", "native stdout", "printed", "epoch"):
        assert line not in console


def test_a_failed_job_logs_its_traceback_and_the_console_shows_it_once(tmp_path):
    result, log = _job(tmp_path, """
        raise ValueError("bad row 7")
    """)
    assert result.returncode != 0
    assert "job failed" in log and "ValueError: bad row 7" in log
    assert result.stderr.count("ValueError: bad row 7") == 1 and "job failed" not in result.stderr


def test_the_package_modules_loggers_reach_the_job_log_and_their_warnings_the_console(tmp_path):
    """Library code logs to logging.getLogger(__name__), under "facemotion": its records reach
    the job's log file, and its warnings also the console, without the script passing a logger."""
    result, log = _job(tmp_path, """
        import logging
        from facemotion.extraction import batch, feature_table as features
        batch.log.info("extracted r1: ok")
        features.log.warning("a batch is odd")
        logging.getLogger("facemotion.extraction.batch").debug("not at INFO")
        logging.getLogger("elsewhere").warning("another library's warning")
    """)
    assert result.returncode == 0, result.stderr
    for line in ("INFO extracted r1: ok", "WARNING a batch is odd", "another library's warning"):
        assert line in log
    assert "not at INFO" not in log
    console = result.stdout + result.stderr
    assert "a batch is odd" in console
    assert "extracted r1" not in console and "another library's warning" not in console
