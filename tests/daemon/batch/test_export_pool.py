"""Exports overlap generation: worker processes retarget, write and preview while the engine
makes the next window; same bytes as in line, bounded queue, back-pressure on the generator."""

from __future__ import annotations

from pathlib import Path

from batch_helpers import write_takes

from motionbridge.daemon.batch import manifest, runner
from motionbridge.daemon.batch.export_pool import ExportPool
from motionbridge.daemon.batch.generation import EngineGenerator
from motionbridge.daemon.batch.writer import OutputOptions, TakeWriter


def files_by_path(out: Path) -> dict[str, str]:
    return {f["path"]: f["sha256"] for e in manifest.read_latest(out).values() for f in e["files"]}


class Watching:
    """Generator wrapper that notes, at each engine call, how many takes came out of earlier
    calls and how many of those the run had recorded."""

    def __init__(self, inner, recorded_count):
        self.inner = inner
        self.recorded_count = recorded_count
        self.generated = 0
        self.seen: list[tuple[int, int]] = []

    def generate(self, window):
        self.seen.append((self.generated, self.recorded_count()))
        out = self.inner.generate(window)
        self.generated += len(out)
        return out


def test_pool_writes_the_same_bytes_while_the_next_window_generates(tmp_path, engine):
    takes_file = write_takes(tmp_path / "takes.jsonl", 6, prompts=3, extra={2: {"duration": 2.0}, 5: {"cfg": 5.0}})
    outputs = {}
    for workers in (0, 2):
        config = runner.BatchConfig(takes_file, tmp_path / f"w{workers}", formats=("npz", "fbx"), rig="mixamo",
                                    batch_size=2, export_workers=workers)
        result = runner.BatchResult(selected=6)
        watching = Watching(EngineGenerator(engine), lambda result=result: result.ok + len(result.failed))
        shard = manifest.ShardWriter(config.out_dir)
        runner.run_windows(watching, runner.pending_takes(runner.plan(config)), TakeWriter(config.output_options(), shard),
                           config.batch_size, result, None, workers)
        shard.close()
        assert result.ok == 6 and not result.failed and not result.stopped, result.summary()
        outputs[workers] = files_by_path(config.out_dir)
        if workers == 0:  # in line: every take is recorded before the next engine call
            assert all(recorded == generated for generated, recorded in watching.seen), watching.seen
        else:  # pooled: the engine is called again while earlier takes are still exporting
            assert any(recorded < generated for generated, recorded in watching.seen[1:]), watching.seen
    assert len(outputs[0]) == 6 * 2 and outputs[2] == outputs[0]
    gifs = sorted(p.name for p in (tmp_path / "w2" / "review").glob("*.gif"))
    assert len(gifs) == 6


def test_a_full_queue_holds_the_generator_back(tmp_path, engine):
    """At most max_pending takes between the engine and the manifest, whatever the speeds."""
    takes_file = write_takes(tmp_path / "takes.jsonl", 7, prompts=2)
    take_list = list(runner.selected_takes(takes_file, range(7)))
    generated = EngineGenerator(engine).generate(take_list)
    options = OutputOptions(tmp_path / "out", ("npz",), None, previews=False)
    (tmp_path / "out").mkdir()
    shard = manifest.ShardWriter(options.out_dir)
    recorded: list[int] = []
    pool = ExportPool(TakeWriter(options, shard), lambda gen, entry: recorded.append(entry["take"]), workers=1, max_pending=2)
    try:
        for n, gen in enumerate(generated, 1):
            pool.submit(gen)
            assert n - len(recorded) <= 2, (n, recorded)
        pool.drain()
    finally:
        pool.close()
        shard.close()
    assert recorded == [gen.take.index for gen in generated]  # in submission order, each once
    assert sorted(p.name for p in options.out_dir.glob("*.npz")) == sorted(f"{t.name}.npz" for t in take_list)


def test_export_workers_is_checked(tmp_path, capsys, engine_args):
    from motionbridge.daemon.cli import main

    takes_file = write_takes(tmp_path / "takes.jsonl", 1)
    assert main(["batch", str(takes_file), "--out", str(tmp_path / "out"), "--export-workers", "-1", *engine_args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--export-workers must be between 0 and 256" in err[0], err
