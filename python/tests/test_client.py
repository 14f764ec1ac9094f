"""mef3pool.Client: the original's Mef3Client over the C client, against a
real `mef3pool serve` started on loopback (a free port) for this module.

Return values have the original's keys; reads equal bit for bit what the
C file manager (mef3pool.FileManager, the same C API the server reads
through) returns for the same window; failures come back in
error_message, or raise with raise_errors; passwords; a read reassembled
from many chunks; threads sharing one client; a tar session.
"""
import os
import shutil
import tarfile
import threading

import numpy as np
import pytest

import mef3pool
from conftest import served

INFO_KEYS = {"file_path", "file_opened", "number_of_channels",
             "channel_names", "channel_sampling_rates", "channel_start_uutc",
             "channel_end_uutc", "start_uutc", "end_uutc", "duration_s",
             "error_message"}
READ_KEYS = {"array", "channel_names", "fs", "start_uutc", "end_uutc",
             "dtype", "shape", "error_message"}


@pytest.fixture(scope="module")
def root(tmp_path_factory, golden):
    """A data root holding golden sessions and a tar of one."""
    r = tmp_path_factory.mktemp("data root")
    for rel in ("sessions/b_multi_8ch.mefd", "sessions/d_encrypted.mefd",
                "sessions/c_discontinuities.mefd"):
        # copies: a link leading out of the root is refused, rightly
        shutil.copytree(golden / rel, r / os.path.basename(rel))
    with tarfile.open(r / "c.mefd.tar", "w") as t:
        t.add((golden / "sessions/c_discontinuities.mefd").resolve(),
              arcname="c_discontinuities.mefd")
    return r


@pytest.fixture(scope="module")
def server(root, cli, tmp_path_factory):
    d = tmp_path_factory.mktemp("server")
    # small chunks: a read arrives in many pieces
    with served(cli, root, d, "--reader-processes=2",
                "--prefetch-processes=1", "--chunk-bytes=65536",
                "--log-file", str(d / "server.log")) as addr:
        yield addr


@pytest.fixture
def client(server):
    c = mef3pool.Client(server)
    yield c
    for f in c.list_open_files():
        c.close_file(f)
    c.shutdown()


@pytest.fixture(scope="module")
def local(root):
    """The same sessions through the C file manager in this process."""
    m = mef3pool.FileManager(use_process_pool=False)
    yield m
    m.shutdown()


def test_open_info_list_close(client, local, root):
    r = client.open_file("b_multi_8ch.mefd")
    assert set(r) == INFO_KEYS
    assert r["file_opened"] and r["error_message"] == ""
    want = local.open_file(str(root / "b_multi_8ch.mefd"))
    assert r["number_of_channels"] == want.number_of_channels == 8
    assert r["channel_names"] == want.channel_names
    # exact: our server sends the rates as doubles too (the original's
    # field is float32)
    assert r["channel_sampling_rates"] == want.channel_sampling_rates
    assert r["channel_start_uutc"] == want.channel_start_uutc
    assert r["channel_end_uutc"] == want.channel_end_uutc
    assert (r["start_uutc"], r["end_uutc"]) == (want.start_uutc, want.end_uutc)
    assert r["duration_s"] == want.duration_s
    again = client.open_file("b_multi_8ch.mefd")
    assert again["file_opened"]
    assert again["error_message"] == "File already open: b_multi_8ch.mefd"
    info = client.get_file_info("b_multi_8ch.mefd")
    assert set(info) == INFO_KEYS and info["channel_names"] == r["channel_names"]
    assert client.list_open_files() == ["b_multi_8ch.mefd"]
    c = client.close_file("b_multi_8ch.mefd")
    assert c == {"file_path": "b_multi_8ch.mefd", "file_opened": False}
    assert client.list_open_files() == []
    gone = client.get_file_info("b_multi_8ch.mefd")
    assert gone["file_opened"] is False and gone["error_message"]


def test_reads_equal_the_c_file_manager(client, local, root):
    client.open_file("b_multi_8ch.mefd")
    path = str(root / "b_multi_8ch.mefd")
    want_info = local.open_file(path)
    t0 = want_info.start_uutc
    for chans, a, b in [(["ch04", "ch05", "ch06"], t0, t0 + 30_000_000),
                        (["ch01"], t0 + 1_234_567, t0 + 59_000_000),
                        (["ch08"], t0, t0 + 61_000_000)]:
        got = client.get_signal_range("b_multi_8ch.mefd", chans, a, b)
        assert set(got) == READ_KEYS and got["error_message"] == ""
        want = local.read_signal_range(path, chans, a, b)
        assert got["channel_names"] == chans and got["dtype"] == "float32"
        assert got["fs"] == want["fs"]
        assert (got["start_uutc"], got["end_uutc"]) == (a, b)
        assert got["shape"] == want["array"].shape == got["array"].shape
        assert got["array"].tobytes() == want["array"].tobytes()
        # many 64 kB chunks for the larger reads
    assert got["array"].nbytes > 10 * 65536
    # one channel named by a str (it was read as the channels "c", "h"...)
    one = client.get_signal_range("b_multi_8ch.mefd", "ch05", t0, t0 + 10**6)
    assert one["error_message"] == "" and one["channel_names"] == ["ch05"]
    want = local.read_signal_range(path, "ch05", t0, t0 + 10**6)
    assert want["channel_names"] == ["ch05"]
    assert one["array"].tobytes() == want["array"].tobytes()


def test_read_failures_in_error_message(client):
    client.open_file("b_multi_8ch.mefd")
    info = client.get_file_info("b_multi_8ch.mefd")
    t0 = info["start_uutc"]
    bad = client.get_signal_range("b_multi_8ch.mefd", ["nope"], t0, t0 + 10**6)
    assert set(bad) == READ_KEYS
    assert bad["array"] is None and bad["shape"] is None
    assert "nope" in bad["error_message"]
    notopen = client.get_signal_range("c_discontinuities.mefd", None, 0, 10**6)
    assert notopen["array"] is None and notopen["error_message"]
    missing = client.open_file("missing.mefd")
    assert set(missing) == INFO_KEYS and missing["file_opened"] is False
    assert "missing.mefd" in missing["error_message"]


def test_raise_errors(server):
    with mef3pool.Client(server, raise_errors=True) as c:
        with pytest.raises(mef3pool.NotFoundError):
            c.open_file("missing.mefd")
        with pytest.raises(mef3pool.PasswordError):
            c.open_file("d_encrypted.mefd")
        with pytest.raises(mef3pool.Error):
            c.get_signal_range("missing.mefd", None, 0, 10**6)


def test_passwords(client):
    r = client.open_file("d_encrypted.mefd")
    assert not r["file_opened"] and "password" in r["error_message"]
    r = client.open_file("d_encrypted.mefd", password="l2pass")
    assert r["file_opened"], r["error_message"]
    got = client.get_signal_range("d_encrypted.mefd", ["ch01"],
                                  r["start_uutc"], r["start_uutc"] + 5_000_000)
    assert got["error_message"] == "" and np.isfinite(got["array"]).all()


def test_tar_session(client):
    a = client.open_file("c_discontinuities.mefd")
    b = client.open_file("c.mefd.tar")
    assert b["file_opened"], b["error_message"]
    assert a["channel_names"] == b["channel_names"]
    for ch in a["channel_names"]:  # of different rates: one at a time
        x = client.get_signal_range("c_discontinuities.mefd", [ch],
                                    a["start_uutc"], a["end_uutc"])
        y = client.get_signal_range("c.mefd.tar", [ch], a["start_uutc"],
                                    a["end_uutc"])
        assert x["error_message"] == "" and x["array"].size > 0
        assert x["array"].tobytes() == y["array"].tobytes()


def test_threads_share_one_client(client, local, root):
    client.open_file("b_multi_8ch.mefd")
    path = str(root / "b_multi_8ch.mefd")
    t0 = local.open_file(path).start_uutc
    want = {k: local.read_signal_range(path, ["ch04"], t0 + k * 10**6,
                                       t0 + (k + 20) * 10**6)["array"]
            for k in range(8)}
    got = {}

    def run(k):
        got[k] = client.get_signal_range("b_multi_8ch.mefd", ["ch04"],
                                         t0 + k * 10**6,
                                         t0 + (k + 20) * 10**6)["array"]

    ts = [threading.Thread(target=run, args=(k,)) for k in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for k in range(8):
        assert got[k].tobytes() == want[k].tobytes()


def test_unreachable_server_raises():
    with mef3pool.Client("127.0.0.1:1", timeout_s=5) as c:
        with pytest.raises(mef3pool.InputOutputError, match="127.0.0.1:1"):
            c.open_file("x.mefd")
        with pytest.raises(mef3pool.InputOutputError):
            c.list_open_files()


def test_shutdown(server):
    c = mef3pool.Client(server)
    assert isinstance(c.list_open_files(), list)
    c.shutdown()
    c.shutdown()
    with pytest.raises(mef3pool.InvalidArgumentError, match="closed"):
        c.list_open_files()
    assert mef3pool.Mef3Client is mef3pool.Client


def test_access_tokens_on_every_call(server, root):
    """An open with a password earns the view's access token; the client
    sends it with every later info, read and close of the path (the
    server refuses those calls without it, docs/security.md).  Level 1
    and level 2 are separate views (relative vs absolute times), each read
    bit for bit as the C file manager reads it with that password."""
    path = "d_encrypted.mefd"
    local = str(root / path)
    with mef3pool.Client(server) as l1, mef3pool.Client(server) as l2, \
            mef3pool.Client(server) as other, \
            mef3pool.FileManager(use_process_pool=False) as m1, \
            mef3pool.FileManager(use_process_pool=False) as m2:
        assert l1.access_token(path) is None
        r1 = l1.open_file(path, password="l1pass")
        assert r1["file_opened"], r1["error_message"]
        tok = l1.access_token(path)
        assert len(tok) == 32 and int(tok, 16) >= 0
        # never in what the methods return, nor in the repr
        assert tok not in repr(r1) and tok not in repr(l1)
        r2 = l2.open_file(path, password="l2pass")
        assert r2["file_opened"] and l2.access_token(path) not in (None, tok)
        want1, want2 = m1.open_file(local, "l1pass"), m2.open_file(local, "l2pass")
        assert want1.times_relative and not want2.times_relative
        assert (r1["start_uutc"], r2["start_uutc"]) == \
            (want1.start_uutc, want2.start_uutc)
        for c, r, m in ((l1, r1, m1), (l2, r2, m2)):
            assert c.get_file_info(path)["start_uutc"] == r["start_uutc"]
            a, b = r["start_uutc"], r["start_uutc"] + 20_000_000
            got = c.get_signal_range(path, ["ch01"], a, b)
            assert got["error_message"] == "", got["error_message"]
            assert tok not in repr(got)
            want = m.read_signal_range(local, ["ch01"], a, b)["array"]
            assert got["array"].tobytes() == want.tobytes()
        # Without the token: refused, whoever else holds it.
        info = other.get_file_info(path)
        assert not info["file_opened"]
        assert "PERMISSION_DENIED" in info["error_message"]
        assert other.get_signal_range(path, ["ch01"], r1["start_uutc"],
                                      r1["start_uutc"] + 10**6)["array"] is None
        with mef3pool.Client(server, raise_errors=True) as strict:
            with pytest.raises(mef3pool.PasswordError):
                strict.get_file_info(path)
            # A token handed over opens that one view.
            strict.set_access_token(path, tok)
            assert strict.get_file_info(path)["start_uutc"] == r1["start_uutc"]
            with pytest.raises(mef3pool.InvalidArgumentError, match="32"):
                strict.set_access_token(path, "abc")
            strict.set_access_token(path, None)
            assert strict.access_token(path) is None
            with pytest.raises(mef3pool.PasswordError):
                strict.get_file_info(path)
            strict.set_access_token(path, tok)
            # The close carries the token: it ends the level-1 view only.
            assert l1.close_file(path) == {"file_path": path,
                                           "file_opened": False}
            assert l1.access_token(path) is None
            with pytest.raises(mef3pool.PasswordError, match="not valid"):
                strict.get_file_info(path)
        assert l2.get_file_info(path)["start_uutc"] == r2["start_uutc"]
        l2.close_file(path)
        assert path not in other.list_open_files()


ENV_KEYS = {"min", "max", "channel_names", "fs", "samples_per_column",
            "level", "first_sample", "first_uutc", "start_uutc", "end_uutc",
            "error_message"}


def same_envelope(got, want):
    assert got["error_message"] == "", got["error_message"]
    for k in ("channel_names", "fs", "samples_per_column", "level",
              "start_uutc", "end_uutc"):
        assert got[k] == want[k], k
    for k in ("first_sample", "first_uutc"):
        assert got[k].dtype == np.int64 and (got[k] == want[k]).all(), k
    for k in ("min", "max"):
        assert got[k].dtype == np.float32 and got[k].shape == want[k].shape
        assert got[k].tobytes() == want[k].tobytes(), k


def test_envelope_equals_the_c_file_manager(client, local, root, cli):
    """Client.get_envelope (GetEnvelope, in many 64 kB chunks) against
    FileManager.get_envelope of the same window, bit for bit: a golden
    session and a generated one with gaps, whose gap columns stay NaN."""
    from conftest import gen
    gen(cli, root / "gen.mefd", channels=4, fs=512, duration="20m", gaps=2,
        seed=5)
    for rel, chans in (("b_multi_8ch.mefd", ["ch01", "ch02", "ch03"]),
                       ("gen.mefd", None)):
        r = client.open_file(rel)
        assert r["file_opened"], r["error_message"]
        path = str(root / rel)
        local.open_file(path)
        t0, t1 = r["start_uutc"], r["end_uutc"]
        for a, b, w in ((t0, t1, 3000), (t0 + 1_234_567, t0 + 9_000_000, 50),
                        (t0 - 5_000_000, t1 + 5_000_000, 777), (t0, t1, 1)):
            got = client.get_envelope(rel, chans, a, b, w)
            assert set(got) == ENV_KEYS
            want = local.get_envelope(path, chans, a, b, w)
            assert set(want) == ENV_KEYS - {"error_message"}
            same_envelope(got, want)
            assert 1 <= got["min"].shape[1] <= w
            assert (np.isnan(got["min"]) == np.isnan(got["max"])).all()
            assert (got["min"][~np.isnan(got["min"])]
                    <= got["max"][~np.isnan(got["max"])]).all()
    whole = client.get_envelope("gen.mefd", None, t0, t1, 3000)
    # two gaps drawn from the seed: whole columns of every channel NaN
    assert np.isnan(whole["min"]).all(axis=0).sum() >= 1
    assert whole["min"].shape[0] == 4 and whole["min"].nbytes > 10 * 4096
    # A column's values: min and max of a direct read of its samples.
    sig = local.read_signal_range(path, None, t0, t1)["array"]
    spc, f0 = whole["samples_per_column"], int(whole["first_sample"][0])
    j = 7
    cut = sig[0, f0 + j * spc:f0 + (j + 1) * spc]
    assert whole["min"][0, j] == np.nanmin(cut)
    assert whole["max"][0, j] == np.nanmax(cut)


def test_envelope_failures(client, server):
    r = client.open_file("b_multi_8ch.mefd")
    t0 = r["start_uutc"]
    for args, says in (((["ch01"], t0, t0 + 10**7, 0), "max_columns"),
                       ((["ch01"], t0, t0 + 10**7, 10**9), "max_columns"),
                       ((["ch01"], t0 + 10**7, t0, 10), "greater than"),
                       ((["nope"], t0, t0 + 10**7, 10), "Unknown channels"),
                       ((None, t0, t0 + 10**7, 10), "sampling rate")):
        bad = client.get_envelope("b_multi_8ch.mefd", *args)
        assert set(bad) == ENV_KEYS and bad["min"] is None
        assert says in bad["error_message"], bad["error_message"]
    with mef3pool.Client(server, raise_errors=True) as strict:
        with pytest.raises(mef3pool.InvalidArgumentError, match="max_columns"):
            strict.get_envelope("b_multi_8ch.mefd", ["ch01"], t0, t0 + 10**7,
                                0)
        # an encrypted session opened by another client: no token here
        r = client.open_file("d_encrypted.mefd", password="l1pass")
        with pytest.raises(mef3pool.PasswordError, match="PERMISSION_DENIED|"
                           "access token"):
            strict.get_envelope("d_encrypted.mefd", ["ch01"], r["start_uutc"],
                                r["start_uutc"] + 10**7, 10)
        got = client.get_envelope("d_encrypted.mefd", ["ch01"],
                                  r["start_uutc"], r["start_uutc"] + 10**7, 10)
        assert got["error_message"] == "" and np.isfinite(got["min"]).all()


def test_file_manager_envelope_errors(local, root):
    path = str(root / "b_multi_8ch.mefd")
    info = local.open_file(path)
    t0 = info.start_uutc
    with pytest.raises(mef3pool.InvalidArgumentError):
        local.get_envelope(path, ["ch01"], t0, t0 + 10**7, 0)
    with pytest.raises(mef3pool.UnknownNameError):
        local.get_envelope(path, ["nope"], t0, t0 + 10**7, 10)
    e = local.get_envelope(path, "ch02", t0, t0 + 60 * 10**6, 100)
    assert e["channel_names"] == ["ch02"] and e["min"].shape[0] == 1
