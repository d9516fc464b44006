"""A table of user mistakes across `python -m engine`'s commands: each one line, exit 2.

docs/ARCHITECTURE.md ("Contracts"): a user mistake ends in one line `error: ...` on stderr and
exit status 2, never a traceback. Here every argument is also checked before anything heavy
starts: the data loader and the bench are replaced by functions that fail the test if they
are reached, so a mistake found only after the data loaded (or a bench that ran anyway) fails.
Run in-process (engine.cli.main) to keep the table fast; tests/test_cli.py runs the real
subprocess for a few of the same mistakes.
"""

from __future__ import annotations

import pytest

from engine import cli


@pytest.fixture
def never_load(monkeypatch):
    def reached(*args, **kwargs):
        raise AssertionError("reached the data or the bench before the arguments were checked")

    monkeypatch.setattr(cli, "_load_data", reached)
    monkeypatch.setattr(cli, "import_datasets", reached)
    from engine import bench

    monkeypatch.setattr(bench, "run_bench", reached)
    monkeypatch.setattr(bench, "cpu_time_bench", reached)


def run(argv, capsys):
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr().err


MISTAKES = [
    # (id, argv, words the one line must hold); "{tmp}" is the test's temporary folder
    ("momentum-negative", ["train", "--momentum", "-1"], ["--momentum", "-1"]),
    ("momentum-one-or-more", ["train", "--momentum", "1.5"], ["--momentum", "[0, 1)"]),
    ("lr-nan", ["train", "--lr", "nan"], ["--lr", "finite"]),
    ("lr-inf", ["train", "--lr", "inf"], ["--lr", "finite"]),
    ("lr-zero", ["train", "--lr", "0"], ["--lr", "> 0"]),
    ("lr-negative", ["train", "--lr", "-0.1"], ["--lr"]),
    ("lr-word", ["train", "--lr", "fast"], ["--lr", "fast"]),
    ("weight-decay-negative", ["train", "--weight-decay", "-0.0001"], ["--weight-decay", ">= 0"]),
    ("weight-decay-nan", ["train", "--weight-decay", "nan"], ["--weight-decay", "finite"]),
    ("batch-zero", ["train", "--batch", "0"], ["--batch", "> 0"]),
    ("batch-negative", ["train", "--batch", "-4"], ["--batch"]),
    ("batch-fraction", ["train", "--batch", "2.5"], ["--batch", "integer"]),
    ("epochs-zero", ["train", "--epochs", "0"], ["--epochs", "> 0"]),
    ("epochs-word", ["train", "--epochs", "ten"], ["--epochs", "ten"]),
    ("seed-negative", ["train", "--seed", "-1"], ["--seed"]),
    ("seed-too-big", ["train", "--seed", str(2**40)], ["--seed"]),
    ("train-images-zero", ["train", "--train-images", "0"], ["--train-images"]),
    ("unknown-optimizer", ["train", "--optimizer", "adamw"], ["--optimizer", "adamw"]),
    ("unknown-backend", ["train", "--backend", "cuda"], ["--backend", "cuda"]),
    ("unknown-lr-decay", ["train", "--lr-decay", "cosine"], ["--lr-decay"]),
    ("unknown-net", ["train", "--net", "no-such-net"], ["unknown net", "no-such-net"]),
    ("save-in-missing-folder", ["train", "--save", "{tmp}/missing/net.npz"], ["--save", "does not exist"]),
    ("save-to-a-folder", ["train", "--save", "{tmp}"], ["--save", "folder"]),
    ("missing-data", ["train", "--data", "{tmp}/no-data"], ["--data", "no-data"]),
    ("unknown-flag", ["train", "--frobnicate"], ["--frobnicate"]),
    ("summary-batch-zero", ["summary", "lenet5", "--batch", "0"], ["--batch"]),
    ("summary-input-zero", ["summary", "lenet5", "--input", "0x32x3"], ["--input", "at least 1"]),
    ("summary-unknown-optimizer", ["summary", "lenet5", "--optimizer", "sgdx"], ["--optimizer"]),
    ("summary-no-net", ["summary"], ["net"]),
    ("eval-missing-snapshot", ["eval", "{tmp}/none.npz"], ["none.npz"]),
    ("eval-unknown-backend", ["eval", "x.npz", "--backend", "gpu"], ["--backend", "gpu"]),
    ("bench-seconds-zero", ["bench", "--seconds", "0", "--batches", "1"], ["--seconds"]),
    ("bench-seconds-nan", ["bench", "--seconds", "nan", "--batches", "1"], ["--seconds"]),
    ("bench-rounds-zero", ["bench", "--rounds", "0", "--batches", "1"], ["--rounds"]),
    ("bench-batches-zero", ["bench", "--batches", "0"], ["--batches"]),
    ("unknown-command", ["frobnicate"], ["frobnicate"]),
    ("no-command", [], ["command"]),
]


@pytest.mark.parametrize("argv,words", [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES])
def test_a_mistake_is_one_line_exit_2_before_anything_loads(argv, words, tmp_path, capsys, never_load):
    code, err = run([a.replace("{tmp}", str(tmp_path)) for a in argv], capsys)
    assert code == 2, (code, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0], (w, lines[0])


def test_the_table_covers_every_command_and_enough_mistakes():
    commands = {m[1][0] for m in MISTAKES if m[1]}
    assert {"train", "summary", "eval", "bench"} <= commands
    assert len(MISTAKES) >= 20
