"""mef3pool.xarray: open_session's DataArray (coordinates, attributes,
lazy values equal to Reader.read, rate groups) and records_frame's
DataFrame (every record of the session and its channels, in time
order)."""
import os
import warnings

import numpy as np
import pytest

pytest.importorskip("dask")
xr = pytest.importorskip("xarray")
pd = pytest.importorskip("pandas")

import mef3pool
import mef3pool.xarray as mx
from mef3pool import _chunks


def test_coordinates_attributes_and_values(golden):
    path = golden / "sessions/b_multi_8ch.mefd"
    x = mx.open_session(path, channels=["ch07"])  # 499.7 Hz: rounded times
    assert x.dims == ("channel", "time") and x.name == "b_multi_8ch"
    assert x.time.dtype == np.dtype("datetime64[ns]")
    assert list(x.channel.values) == ["ch07"]
    with mef3pool.Reader(path) as r:
        info = r.info("ch07")
        want = r.read(["ch07"], dtype=np.float32)
    t0 = info["start_time"]
    assert x.attrs["sampling_frequency"] == 499.7
    assert x.attrs["start_uutc"] == t0 and x.attrs["end_uutc"] == info["end_time"]
    assert x.attrs["time_zone"] == "UTC" and x.attrs["times_relative"] == 0
    assert x.attrs["units"] == info["units_description"]
    assert x.attrs["recording_time_offset"] == info["recording_time_offset"]
    assert x.units.values.tolist() == [info["units_description"]]
    assert x.units_conversion_factor.values.tolist() == [info["units_conversion_factor"]]
    # Slot i stands for t0 + round(i * 1e6 / fs) µs.
    us = x.time.values.astype("datetime64[us]").astype(np.int64)
    for i in (0, 1, 2, 1000, 12345, len(us) - 1):
        assert us[i] == _chunks.grid_time(t0, i, 499.7), i
    assert np.all(np.diff(us) > 0)
    assert pd.Timestamp(x.time.values[0]).tz_localize("UTC") == \
        pd.Timestamp(t0, unit="us", tz="UTC")
    # Lazy until computed, and equal to the direct read.
    import dask.array as da
    assert isinstance(x.data, da.Array)
    np.testing.assert_array_equal(x.values, want)
    # A selection reads only its chunks' tasks.
    part = x.isel(time=slice(0, 100))
    assert len(dict(part.data.__dask_graph__())) < 5
    np.testing.assert_array_equal(part.values, want[:, :100])


def test_password_levels_and_offset(golden):
    path = golden / "sessions/d_encrypted.mefd"
    full = mx.open_session(path, channels=["ch01"], password="l2pass")
    part = mx.open_session(path, channels=["ch01"], password="l1pass")
    with mef3pool.Reader(path, password="l2pass") as r:
        off = r.info("ch01")["recording_time_offset"]
    assert full.attrs["access_level"] == 2 and full.attrs["times_relative"] == 0
    assert full.attrs["recording_time_offset"] == off
    # Level 1: section 3 stays locked - no offset, times relative.
    assert part.attrs["access_level"] == 1 and part.attrs["times_relative"] == 1
    assert "recording_time_offset" not in part.attrs
    np.testing.assert_array_equal(full.values, part.values)


def test_rate_groups(golden):
    path = golden / "sessions/b_multi_8ch.mefd"
    with pytest.raises(mef3pool.InvalidArgumentError, match="4 sampling rates"):
        mx.open_session(path)
    gs = mx.open_session(path, groups=True, dtype=np.float64)
    assert list(gs) == [256.0, 499.7, 1000.0, 5000.0]
    with mef3pool.Reader(path) as r:
        for fs, x in gs.items():
            assert x.attrs["sampling_frequency"] == fs
            chs = list(x.channel.values)
            assert all(r.info(c)["sampling_frequency"] == fs for c in chs)
            np.testing.assert_array_equal(x.values, r.read(chs))
    # One rate of them through xarray's own selection by time.
    x = gs[1000.0]
    t = x.time.values[5000]
    assert x.sel(time=t).shape == (3,)


def test_records_frame(golden):
    path = golden / "mef3io_golden/with_annotations.mefd"
    df = mx.records_frame(path)
    with mef3pool.Reader(path) as r:
        want = [(None, rec) for rec in r.records()] + \
               [(c, rec) for c in r.channels for rec in r.records(c)]
    assert len(df) == len(want) > 0
    assert list(df.columns) == ["time", "time_uutc", "type", "level", "channel",
                                "text", "duration_us", "earliest_onset_uutc",
                                "latest_offset_uutc", "undecodable", "problem"]
    assert str(df["time"].dtype) == "datetime64[ns, UTC]"
    assert df["time_uutc"].is_monotonic_increasing
    rows = {(row.channel, row.time_uutc, row.type, row.text) for row in df.itertuples()}
    for ch, rec in want:
        assert (ch, rec["time"], rec["type"], rec.get("text")) in rows
    for row in df.itertuples():
        assert row.time == pd.Timestamp(row.time_uutc, unit="us", tz="UTC")
        assert row.level == ("session" if row.channel is None else "channel")


def test_records_frame_of_a_session_without_records(golden):
    df = mx.records_frame(golden / "sessions/a_single_256hz.mefd")
    assert len(df) == 0 and "time" in df.columns


def test_the_docs_examples_run(cli, tmp_path, monkeypatch):
    """docs/python.md's "Dask and xarray" examples, in a folder as the page
    describes it (test_docs runs the other sections)."""
    pytest.importorskip("distributed")
    from conftest import gen
    from test_docs import DOC, blocks
    gen(cli, tmp_path / "rec.mefd", channels=4, fs=256, duration="10m")
    gen(cli, tmp_path / "enc.mefd", channels=4, fs=256, duration="10m",
        password="l1pass,l2pass")
    (tmp_path / "cohort").mkdir()
    for k in range(2):
        gen(cli, tmp_path / "cohort" / f"s{k}.mefd", channels=2, fs=256,
            duration="2m", seed=k)
    code = [c for s, c in blocks(DOC.read_text()) if s == "Dask and xarray"]
    assert len(code) >= 3
    monkeypatch.chdir(tmp_path)
    ns = {}
    for c in code:
        try:
            exec(compile(c, "docs/python.md (Dask and xarray)", "exec"), ns)
        except Exception as e:
            raise AssertionError(f"the example fails: {e!r}\n{c}") from e
    assert set(ns["features"]) == {os.path.join("cohort", f"s{k}.mefd")
                                   for k in range(2)}
