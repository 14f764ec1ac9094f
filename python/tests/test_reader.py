"""mef3pool.Reader and MefReader on the golden sessions: every method
equal to what the reference implementations decoded and to the C
reader's own results (through the command), the GIL released in reads."""
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import warnings

import numpy as np
import pytest

import mef3pool
from mef3pool import _core
from conftest import session_json

SESSIONS = ["a_single_256hz", "b_multi_8ch", "c_discontinuities",
            "f_escapes_extremes"]


def f64(golden, rel):
    return np.fromfile(golden / rel, dtype="<f8")


@pytest.mark.parametrize("name", SESSIONS + ["d_encrypted"])
def test_reads_equal_pymef_readback(golden, name):
    m = json.load(open(golden / "readback" / name / "manifest.json"))
    pw = m["password_used"] or ""
    with mef3pool.Reader(golden / "sessions" / f"{name}.mefd", password=pw) as r:
        for rd in m["reads"]:
            ch, req = rd["channel"], rd["request"]
            want = f64(golden, rd["file"])  # raw counts, NaN where no sample
            uf = r.info(ch)["units_conversion_factor"]
            if rd["mode"] == "sample":
                s0, s1 = req["start_sample"], req["end_sample"]
                n = r.info(ch)["number_of_samples"]
                s0, s1 = max(0, min(s0, n)), max(0, min(s1, n))
                got = r.read_samples(ch, s0, s1, dtype=np.int32).astype(np.float64)
                got[got == -2**31] = np.nan  # the stored NaN sentinel
                np.testing.assert_array_equal(got, want[:len(got)], err_msg=rd["id"])
            else:
                t0, t1 = req["start_uutc"], req["end_uutc"]
                raw = r.read_raw(ch, t0, t1)
                got = np.where(raw["valid"] != 0, raw["samples"].astype(np.float64), np.nan)
                np.testing.assert_array_equal(got, want, err_msg=rd["id"])
                phys = r.read(ch, t0, t1)
                # stored +-inf sentinels read as +-inf (pymef gives the counts)
                inf = np.abs(want) == 2**31 - 1
                np.testing.assert_array_equal(phys[~inf], want[~inf] * uf, err_msg=rd["id"])
                np.testing.assert_array_equal(phys[inf], np.sign(want[inf]) * np.inf)
                assert raw["start_uutc"] == t0 and raw["sampling_frequency"] == r.info(ch)["sampling_frequency"]


def test_mef3io_golden_scaled_and_raw(golden):
    m = json.load(open(golden / "mef3io_golden" / "golden_manifest.json"))
    for case in m["cases"]:
        pw = case["password_for_full_access"] or ""
        with mef3pool.Reader(golden / case["session_path"], password=pw) as r:
            assert r.channels == sorted(case["channels"])
            for ch, c in case["channels"].items():
                info = r.info(ch)
                assert info["sampling_frequency"] == c["fs"]
                assert info["start_time"] == c["start_time"]
                assert info["end_time"] == c["end_time"]
                assert info["number_of_samples"] == c["pymef"]["nsamp_stored"]
                x = r.read(ch)
                np.testing.assert_allclose(x, f64(golden, c["files"]["scaled_f64"]),
                                           rtol=1e-12, atol=0, equal_nan=True,
                                           err_msg=case["name"])
                raw = r.read_raw(ch)
                want = np.fromfile(golden / c["files"]["raw_i32"], dtype="<i4")
                np.testing.assert_array_equal(raw["samples"], want)
                np.testing.assert_array_equal(raw["valid"] == 0, want == -2**31)
                x32 = r.read(ch, dtype=np.float32)
                assert x32.dtype == np.float32
                np.testing.assert_array_equal(x32, x.astype(np.float32))


def test_read_with_a_list_of_channels_is_2d(golden):
    with mef3pool.Reader(golden / "sessions" / "b_multi_8ch.mefd") as r:
        fs = {c: r.info(c)["sampling_frequency"] for c in r.channels}
        same = [c for c in r.channels if fs[c] == 256.0][::-1]
        t0 = r.info(same[0])["start_time"] + 500_000
        t1 = t0 + 7_000_000
        x = r.read(same, t0, t1)
        assert x.shape == (len(same), _core.window_samples(t0, t1, 256.0))
        for k, c in enumerate(same):
            np.testing.assert_array_equal(x[k], r.read(c, t0, t1))
        x32 = r.read(same, t0, t1, dtype=np.float32)
        np.testing.assert_array_equal(x32, x.astype(np.float32))
        other = [c for c in r.channels if fs[c] != 256.0][0]
        with pytest.raises(mef3pool.InvalidArgumentError):
            r.read([same[0], other], t0, t1)
        with pytest.raises(ValueError):
            r.read([], t0, t1)


def test_read_samples_equal_the_truth(golden):
    for name in SESSIONS:
        d = session_json(name)
        with mef3pool.Reader(golden / "sessions" / f"{name}.mefd") as r:
            for ch, c in d["channels"].items():
                truth = np.fromfile(golden / c["truth_file"], dtype="<i4")
                np.testing.assert_array_equal(r.read_samples(ch, 0, len(truth), dtype=np.int32), truth)
                s0, s1 = len(truth) // 3, len(truth) // 3 + 777
                x = r.read_samples(ch, s0, s1)
                want = truth[s0:s1].astype(np.float64) * c["units_conversion_factor"]
                want[truth[s0:s1] == -2**31] = np.nan
                sentinel = (truth[s0:s1] == 2**31 - 1) | (truth[s0:s1] == -2**31 + 1)
                np.testing.assert_array_equal(x[~sentinel], want[~sentinel])
                with pytest.raises(mef3pool.InvalidArgumentError):
                    r.read_samples(ch, 0, len(truth) + 1)


def test_segments_and_toc_match_the_golden_description(golden):
    for name in SESSIONS:
        d = session_json(name)
        with mef3pool.Reader(golden / "sessions" / f"{name}.mefd") as r:
            for ch, c in d["channels"].items():
                segs = r.segments(ch)
                assert [s["segment"] for s in segs] == list(range(len(segs)))
                assert sum(s["number_of_samples"] for s in segs) == c["number_of_samples"]
                for s in segs:
                    assert os.path.isdir(s["path"]) and s["path"].endswith(f"{ch}-{s['segment']:06d}.segd")
                    assert s["start_time"] < s["end_time"]
                toc = r.toc(ch)
                assert sum(b["number_of_samples"] for b in toc) == c["number_of_samples"]
                assert sum(s["number_of_blocks"] for s in segs) == len(toc)
                assert toc[0]["discontinuity"]
                starts = [b["start_sample"] for b in toc]
                assert starts == sorted(starts) and starts[0] == 0
                truth = np.fromfile(golden / c["truth_file"], dtype="<i4")
                for b in toc[:50]:
                    blk = truth[b["start_sample"]:b["start_sample"] + b["number_of_samples"]]
                    ok = blk[(blk != -2**31)]
                    if ok.size and b["maximum_sample_value"] != -2**31:
                        assert b["maximum_sample_value"] >= ok.max() or b["maximum_sample_value"] == 2**31 - 1
    # the block table of the JSON, block for block
    with open(golden / "sessions" / "c_discontinuities.json") as f:
        d = json.load(f)
    with mef3pool.Reader(golden / "sessions" / "c_discontinuities.mefd") as r:
        n_disc = sum(b["discontinuity"] for b in r.toc("ch01"))
        assert n_disc == r.info("ch01")["n_contigua"]


def test_records_of_the_mef3io_golden_session(golden):
    m = json.load(open(golden / "mef3io_golden" / "golden_manifest.json"))
    case = [c for c in m["cases"] if c["name"] == "with_annotations"][0]
    with mef3pool.Reader(golden / case["session_path"]) as r:
        got = r.records("ch1")
        assert [(g["type"], g["time"], g["text"]) for g in got] == \
            [(w["type"], int(w["time"]), w["text"]) for w in case["records_via_pymef"]]
        assert r.records() == []  # none at session level


def test_a_damaged_record_is_flagged_and_the_rest_listed(golden, tmp_path):
    src = golden / "mef3io_golden" / "with_annotations.mefd"
    path = tmp_path / "dam aged.mefd"
    shutil.copytree(src, path)
    rdat = path / "ch1.timd" / "ch1.rdat"
    b = bytearray(rdat.read_bytes())
    b[1024 + 24 + 1] ^= 1  # the first Note's body: its CRC fails
    rdat.write_bytes(bytes(b))
    with mef3pool.Reader(path) as r:
        with pytest.warns(mef3pool.DamagedRecordWarning,
                          match=r"ch1\.rdat: record 0 at offset 1024: record CRC mismatch"):
            got = r.records("ch1")
        assert got[0]["undecodable"] and got[0]["body"][:2] == b"o" + bytes([ord("n") ^ 1])
        assert "text" not in got[0]
        assert (got[1]["type"], got[1]["text"]) == ("Note", "offset")


def test_encrypted_levels(golden):
    path = golden / "sessions" / "d_encrypted.mefd"
    with mef3pool.Reader(path, password="l2pass") as r2, \
            mef3pool.Reader(path, password="l1pass") as r1:
        assert r2.access_level == 2 and r1.access_level == 1
        ch = r2.channels[0]
        assert r2.info(ch)["section3_available"] is True
        assert r1.info(ch)["section3_available"] is False
        assert r1.info(ch)["subject_id"] is None
        assert r1.info(ch)["times_relative"]


def test_cli_read_gives_the_same_values(golden, cli, tmp_path):
    path = golden / "sessions" / "c_discontinuities.mefd"
    with mef3pool.Reader(path) as r:
        for ch in r.channels:
            i = r.info(ch)
            t0, t1 = i["start_time"] + 1_000_000, i["end_time"] - 3_000_000
            out = tmp_path / f"{ch}.f32"
            subprocess.run([cli, "read", str(path), "--channels", ch, "--start",
                            str(t0), "--end", str(t1), "--format", "f32", "-o",
                            str(out)], check=True)
            np.testing.assert_array_equal(np.fromfile(out, dtype="<f4"),
                                          r.read(ch, t0, t1, dtype=np.float32))


def test_mefreader_compat(golden):
    path = golden / "mef3io_golden" / "multi_channel.mefd"
    mr = mef3pool.MefReader(str(path))
    with mef3pool.Reader(path) as r:
        assert mr.channels == r.channels
        ch = r.channels[0]
        i = r.info(ch)
        t0, t1 = i["start_time"], i["end_time"]
        np.testing.assert_array_equal(mr.get_data(ch, t0, t1), r.read(ch, t0, t1))
        both = mr.get_data(r.channels, t0, t1)
        assert isinstance(both, list) and len(both) == 2
        np.testing.assert_array_equal(both[1], r.read(r.channels[1], t0, t1))
        assert mr.get_property("fsamp", ch) == i["sampling_frequency"]
        assert mr.get_property("start_time") == [r.info(c)["start_time"] for c in r.channels]
        assert mr.get_channel_info(ch)["ufact"] == [i["units_conversion_factor"]]
        with pytest.raises(ValueError):
            mr.get_data("nope", t0, t1)
    enc = golden / "mef3io_golden" / "enc_both.mefd"
    mr = mef3pool.MefReader(enc, "pass2")
    assert mr.get_data(mr.channels[0]).size > 0
    mr.close()


def test_damaged_block_reads_nan_with_a_warning(golden, tmp_path):
    src = golden / "sessions" / "a_single_256hz.mefd"
    dst = tmp_path / "damaged.mefd"
    shutil.copytree(src, dst)
    with mef3pool.Reader(dst) as r:
        toc = r.toc("ch01")
        b = toc[5]
    tdat = next(dst.glob("ch01.timd/*.segd/*.tdat"))
    with mef3pool.Reader(dst) as r:
        off = r._block_table(0)[5]["file_offset"]
    with open(tdat, "r+b") as f:
        f.seek(int(off) + 400)
        byte = f.read(1)
        f.seek(int(off) + 400)
        f.write(bytes([byte[0] ^ 0xFF]))
    with mef3pool.Reader(dst) as r:
        i = r.info("ch01")
        with pytest.warns(mef3pool.DamagedBlockWarning) as w:
            x = r.read("ch01")
        msg = str(w[0].message)
        assert "block 5" in msg and str(b["start_uutc"]) in msg and "damaged.mefd" in msg
        s0 = b["start_sample"]
        assert np.isnan(x[s0:s0 + b["number_of_samples"]]).all()
        assert not np.isnan(x[:s0]).any()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            r.read("ch01", i["start_time"], toc[4]["start_uutc"])  # before it: no warning


def test_reads_release_the_gil_and_overlap(golden, cli, tmp_path):
    """Two threads, each with its own reader, decode at the same time: with
    a switch interval so long that no thread switch happens unless a
    thread releases the GIL itself, their read intervals overlap only if
    the reads release it."""
    from conftest import gen
    path = gen(cli, tmp_path / "long.mefd", channels=4, fs=1000, duration="20m")
    readers = [mef3pool.Reader(path), mef3pool.Reader(path)]
    chs = readers[0].channels
    i = readers[0].info(chs[0])
    spans = [None, None]
    barrier = threading.Barrier(2)

    def work(k):
        barrier.wait()
        t0 = time.monotonic()
        readers[k].read(chs, i["start_time"], i["end_time"])
        spans[k] = (t0, time.monotonic())

    def pure_python(k):
        barrier.wait()
        t0 = time.monotonic()
        sum(range(3_000_000))
        spans[k] = (t0, time.monotonic())

    def overlap(fn):
        old = sys.getswitchinterval()
        sys.setswitchinterval(1000)
        try:
            ts = [threading.Thread(target=fn, args=(k,)) for k in range(2)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
        finally:
            sys.setswitchinterval(old)
        (a0, a1), (b0, b1) = spans
        return min(a1, b1) - max(a0, b0)

    assert overlap(pure_python) < 0      # the measurement: GIL held, no overlap
    assert overlap(work) > 0             # the reads overlap: GIL released
    for r in readers:
        r.close()


def test_one_reader_shared_by_threads_gives_right_results(big_session):
    with mef3pool.Reader(big_session) as r:
        chs = r.channels
        i = r.info(chs[0])
        t0 = i["start_time"]
        ref = {c: r.read(c, t0, t0 + 30_000_000) for c in chs}
        bad = []

        def work(c):
            for _ in range(5):
                if not np.array_equal(r.read(c, t0, t0 + 30_000_000), ref[c], equal_nan=True):
                    bad.append(c)

        ts = [threading.Thread(target=work, args=(c,)) for c in chs]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert bad == []


@pytest.mark.skipif(bool(os.environ.get("MEF3_ASAN")),
                    reason="ASan's quarantine keeps freed memory: RSS measures no leak")
def test_ten_thousand_reads_keep_rss_flat(big_session):
    from conftest import rss_bytes
    import gc
    with mef3pool.Reader(big_session) as r:
        ch = r.channels[0]
        t0 = r.info(ch)["start_time"]
        for k in range(1000):
            r.read(ch, t0 + k * 1000, t0 + k * 1000 + 2_000_000)
        gc.collect()
        a = rss_bytes()
        for k in range(10_000):
            r.read(ch, t0 + k * 1000, t0 + k * 1000 + 2_000_000)
        gc.collect()
        b = rss_bytes()
    assert b - a < 4 * 2**20, (a, b)


def test_times_as_whole_floats_and_bad_times(golden):
    with mef3pool.Reader(golden / "sessions" / "a_single_256hz.mefd") as r:
        i = r.info("ch01")
        t0 = i["start_time"]
        np.testing.assert_array_equal(r.read("ch01", float(t0), t0 + 10 * 1e6),
                                      r.read("ch01", t0, t0 + 10_000_000))
        with pytest.raises(ValueError):
            r.read("ch01", t0 + 0.5, t0 + 10)
        with pytest.raises(TypeError):
            r.read("ch01", "x", t0)
