"""The Dask recipe of docs/scale-out.md (examples/scale_out.py), end to end
on a real distributed.LocalCluster of 2 worker processes. `distributed` is a
test extra only; the test skips, saying why, where it is missing or a
cluster cannot start."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

import bufpng

distributed = pytest.importorskip("distributed", reason="Dask is a test extra: pip install '.[test]'")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
# Worker processes are spawned with this process's sys.path, so they import
# scale_out (and bufpng) the same way.
import scale_out  # noqa: E402

RNG = np.random.default_rng(1515)


@pytest.fixture(scope="module")
def client() -> object:
    try:
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=50,
        )
    except Exception as error:  # noqa: BLE001 - any failure to start means "cannot test here"
        pytest.skip(f"a distributed.LocalCluster cannot start here: {error!r}")
    with cluster, distributed.Client(cluster) as client:
        client.wait_for_workers(2, timeout=60)
        yield client


def make_clips(directory: Path) -> dict[str, np.ndarray]:
    directory.mkdir()
    clips = {
        "walk": RNG.integers(0, 256, (6, 36, 48, 3), dtype=np.uint8),
        "pan": RNG.integers(0, 256, (5, 20, 30, 4), dtype=np.uint8),
        "depth": RNG.integers(0, 65536, (4, 16, 24), dtype=np.uint16),
        "still": RNG.integers(0, 256, (1, 8, 8), dtype=np.uint8),
    }
    paths = {}
    for name, frames in clips.items():
        path = directory / f"{name}.npy"
        np.save(path, frames)
        paths[str(path)] = frames
    return paths


def test_the_recipe_runs_on_two_worker_processes(client: distributed.Client, tmp_path: Path) -> None:
    import cv2

    workers = client.run(os.getpid)
    assert len(set(workers.values())) == 2 and os.getpid() not in workers.values()
    clips = make_clips(tmp_path / "clips")
    results = scale_out.convert(client, sorted(clips), str(tmp_path / "png"))
    assert sorted(results) == sorted(clips)
    for clip, paths in results.items():
        frames = clips[clip]
        assert paths == [str(tmp_path / "png" / Path(clip).stem / f"frame_{i:05d}.png") for i in range(len(frames))]
        for path, frame in zip(paths, frames):
            np.testing.assert_array_equal(cv2.imread(path, cv2.IMREAD_UNCHANGED), frame)
    # Frames decoded on a worker, moved to the client by pickling.
    fetched = scale_out.fetch_frames(client, results[str(tmp_path / "clips" / "depth.npy")])
    assert [f.depth for f in fetched] == [16] * 4
    np.testing.assert_array_equal(np.stack([np.asarray(f) for f in fetched]), clips[str(tmp_path / "clips" / "depth.npy")])


def test_a_failing_task_raises_the_workers_error(client: distributed.Client, tmp_path: Path) -> None:
    clips = make_clips(tmp_path / "clips")
    blocked = tmp_path / "png"
    blocked.write_bytes(b"a file where the output directory should be")
    with pytest.raises(NotADirectoryError) as info:
        scale_out.convert(client, sorted(clips), str(blocked))
    assert info.value.filename.startswith(str(blocked))


def test_dask_sends_frame_pixels_out_of_band() -> None:
    """distributed's own serialisation (what moves task results) takes the
    protocol-5 PickleBuffer as a separate frame: the pixels are not copied
    into the pickle stream."""
    from distributed.protocol import deserialize, serialize

    frame = bufpng.Frame(RNG.integers(0, 65536, (30, 40, 3), dtype=np.uint16), order="rgb")
    header, frames = serialize(frame)
    assert any(memoryview(f).nbytes == frame.nbytes for f in frames), [memoryview(f).nbytes for f in frames]
    back = deserialize(header, frames)
    assert back == frame and back.order == "rgb"
