"""mef3pool.Writer: sessions it writes read back, value for value, by the
C reader (mef3pool.Reader) and by the command (`mef3pool read`)."""
import json
import subprocess

import numpy as np
import pytest

import mef3pool
from mef3pool.writer import infer_precision

T0 = 1_600_000_000_000_000


def signal(n, seed=0):
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.normal(0, 3, n)) + 50 * np.sin(np.arange(n) / 40)


def cli_read(cli, path, ch, t0, t1, tmp_path, fmt="f64"):
    out = tmp_path / f"cli_{ch}.{fmt}"
    subprocess.run([cli, "read", str(path), "--channels", ch, "--start", str(t0),
                    "--end", str(t1), "--format", fmt, "-o", str(out)], check=True)
    return np.fromfile(out, dtype={"f64": "<f8", "i32": "<i4", "f32": "<f4"}[fmt])


def test_float_round_trip_with_gaps(tmp_path, cli):
    path = tmp_path / "rt.mefd"
    fs = 256.0
    x = signal(20_000)
    x[5_000:5_700] = np.nan          # a gap
    x[12_000:12_001] = np.nan        # a one-sample gap
    with mef3pool.Writer(path, units="uV") as w:
        s = w.write("eeg1", x, T0, fs, precision=2)
        assert s == {"samples_written": 20_000 - 701, "blocks": s["blocks"],
                     "gaps_skipped": 2, "segment": 0}
        w.write("eeg2", x[::-1].copy(), T0, fs)
    t1 = T0 + round(20_000 * 1e6 / fs)
    q = np.floor(np.abs(x) * 100 + 0.5) * np.sign(x) / 100  # round half away
    with mef3pool.Reader(path) as r:
        assert r.channels == ["eeg1", "eeg2"]
        i = r.info("eeg1")
        assert i["units_description"] == "uV"
        assert i["units_conversion_factor"] == pytest.approx(0.01)
        assert i["number_of_samples"] == 20_000 - 701
        assert i["start_time"] == T0
        y = r.read("eeg1", T0, t1)
        np.testing.assert_array_equal(np.isnan(y), np.isnan(x))
        np.testing.assert_allclose(y, q, rtol=0, atol=1e-9, equal_nan=True)
        assert r.info("eeg1")["n_contigua"] == 3
        p2 = infer_precision(x[::-1])
        assert r.info("eeg2")["units_conversion_factor"] == pytest.approx(10.0 ** -p2)
        np.testing.assert_array_equal(cli_read(cli, path, "eeg1", T0, t1, tmp_path), y)


def test_int32_verbatim_with_valid_mask(tmp_path, cli):
    path = tmp_path / "i32.mefd"
    fs = 1000.0
    rng = np.random.default_rng(5)
    a = rng.integers(-2**31 + 2, 2**31 - 2, 10_000, dtype=np.int64)
    a[100:110] = [127, -128, 128, -127, 0, 2**31 - 2, -2**31 + 2, 1, -1, 0]
    valid = np.ones(10_000, dtype=np.uint8)
    valid[4000:4500] = 0
    with mef3pool.Writer(path) as w:
        s = w.write_int32("raw", a, 0.25, T0, fs, valid=valid)
        assert s["samples_written"] == 9_500 and s["gaps_skipped"] == 1
        with pytest.raises(TypeError):
            w.write_int32("raw", a.astype(float), 0.25, T0 + 10**8, fs)
        with pytest.raises(ValueError):
            w.write_int32("raw", np.array([2**31]), 0.25, T0 + 10**8, fs)
    with mef3pool.Reader(path) as r:
        stored = r.read_samples("raw", 0, 9_500, dtype=np.int32)
        np.testing.assert_array_equal(stored, a[valid != 0].astype(np.int32))
        raw = r.read_raw("raw", T0, T0 + 10_000_000)
        np.testing.assert_array_equal(raw["valid"], valid)
        np.testing.assert_array_equal(raw["samples"][valid != 0], a[valid != 0])
        assert raw["units_conversion_factor"] == 0.25
        got = cli_read(cli, path, "raw", T0, T0 + 10_000_000, tmp_path, "i32")
        np.testing.assert_array_equal(got, raw["samples"])


def test_appends_segments_and_errors(tmp_path):
    path = tmp_path / "ap.mefd"
    fs = 500.0
    x = signal(3000, 1)
    with mef3pool.Writer(path, block_length=700) as w:
        w.write("c", x[:1000], T0, fs, precision=1)
        w.write("c", x[1000:3000], T0 + 2_000_000, fs)   # continues exactly
        with pytest.raises(mef3pool.InvalidArgumentError):
            w.write("c", x[:10], T0, fs)                  # before its end
        with pytest.raises(mef3pool.InvalidArgumentError):
            w.write("c", x[:10], T0 + 10**7, 250.0)       # another rate
        s = w.write("c", x[:1000], T0 + 100_000_000, fs, new_segment=True)
        assert s["segment"] == 1
    with mef3pool.Reader(path) as r:
        segs = r.segments("c")
        assert [g["number_of_samples"] for g in segs] == [3000, 1000]
        assert r.toc("c")[0]["number_of_samples"] == 700
        y = r.read("c", T0, T0 + 6_000_000)
        np.testing.assert_allclose(y, np.round(x, 1), atol=1e-9)
        assert r.info("c")["n_contigua"] == 2


def test_annotations_and_encryption(tmp_path):
    path = tmp_path / "enc.mefd"
    x = signal(5000, 2)
    with mef3pool.Writer(path, password1="one", password2="two") as w:
        w.write("c", x, T0, 256.0, precision=2)
        w.write_annotations([{"time": T0 + 1_000_000, "text": "start"},
                             {"time": T0 + 2_000_000, "type": "Seiz",
                              "duration": 3_000_000, "text": "sz"}])
        w.write_annotations([{"time": T0 + 5, "text": "on c"}], channel="c")
        with pytest.raises(mef3pool.UnsupportedError):
            w.write_annotations([{"time": T0, "type": "EDFA"}])
    with pytest.raises(mef3pool.PasswordError):
        mef3pool.Reader(path)
    with mef3pool.Reader(path, password="two") as r:
        assert r.access_level == 2
        np.testing.assert_allclose(r.read("c", T0, T0 + round(5000 / 256 * 1e6)),
                                   np.round(x, 2), atol=1e-9)
        recs = r.records()
        assert [(d["type"], d["time"], d.get("text")) for d in recs] == \
            [("Note", T0 + 1_000_000, "start"), ("Seiz", T0 + 2_000_000, "sz")]
        assert recs[1]["duration"] == 3_000_000
        assert [d["text"] for d in r.records("c")] == ["on c"]


def test_existing_session_and_overwrite(tmp_path):
    path = tmp_path / "ex.mefd"
    with mef3pool.Writer(path) as w:
        w.write("a", signal(600), T0, 256.0)
    with pytest.raises(mef3pool.ExistsError) as ei:
        mef3pool.Writer(path)
    assert "ex.mefd" in str(ei.value)
    with mef3pool.Writer(path, overwrite=True) as w:
        w.write("b", signal(600), T0, 256.0)
    with mef3pool.Reader(path) as r:
        assert r.channels == ["b"]
    with pytest.raises(mef3pool.InvalidArgumentError):
        mef3pool.Writer(tmp_path / "not-a-session")


def test_pool_reads_what_the_writer_wrote(tmp_path):
    path = tmp_path / "pw.mefd"
    x = signal(256 * 120, 3)
    with mef3pool.Writer(path) as w:
        for k in range(4):
            w.write(f"ch{k}", x + k, T0, 256.0, precision=1)
    with mef3pool.Reader(path) as r, mef3pool.ReaderProcessPool(2) as p:
        chs = r.channels
        ref = r.read(chs, T0, T0 + 60_000_000, dtype=np.float32)
        np.testing.assert_array_equal(p.read_window(path, chs, T0, T0 + 60_000_000), ref)
