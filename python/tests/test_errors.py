"""The exception hierarchy: every C code has its class, carrying the code,
its name and the C library's message; invalid argument is a ValueError."""
import errno
import os

import pytest

import mef3pool
from conftest import session_json


CODES = {
    "InvalidArgumentError": -2, "NotFoundError": -3, "CRCError": -4,
    "PasswordError": -5, "AccessError": -6, "CorruptError": -7,
    "UnsupportedError": -8, "BufferSizeError": -9, "CanceledError": -10,
    "TimedOutError": -11, "OutOfMemoryError": -12, "InputOutputError": -13,
    "WorkerError": -14, "LimitError": -15, "ExistsError": -16,
}


def test_every_code_has_a_subclass_of_error_with_its_name():
    assert issubclass(mef3pool.Error, Exception)
    assert mef3pool.Error.code == -1
    for name, code in CODES.items():
        cls = getattr(mef3pool, name)
        assert issubclass(cls, mef3pool.Error), name
        assert cls.code == code
        c_name, desc = mef3pool._core.strerror(code)
        assert cls.name == c_name and c_name.startswith("MEF3_E")
        assert desc and cls.__doc__
    assert issubclass(mef3pool.InvalidArgumentError, ValueError)
    assert issubclass(mef3pool.TimedOutError, TimeoutError)
    assert issubclass(mef3pool.OutOfMemoryError, MemoryError)
    assert issubclass(mef3pool.InputOutputError, OSError)
    assert issubclass(mef3pool.NotFoundError, LookupError)
    assert not issubclass(mef3pool.CRCError, ValueError)


def test_missing_session_raises_not_found_naming_the_path(tmp_path):
    missing = tmp_path / "no such.mefd"
    with pytest.raises(mef3pool.NotFoundError) as ei:
        mef3pool.Reader(missing)
    e = ei.value
    assert e.code == -3 and e.name == "MEF3_ENOTFOUND"
    assert str(missing) in e.message and str(e) == e.message


def test_wrong_password_raises_password_error(golden):
    with pytest.raises(mef3pool.PasswordError) as ei:
        mef3pool.Reader(golden / "sessions" / "d_encrypted.mefd", password="nope")
    assert "d_encrypted" in ei.value.message


def test_golden_session_opens_with_its_channels(golden):
    d = session_json("b_multi_8ch")
    with mef3pool.Reader(golden / "sessions" / "b_multi_8ch.mefd") as r:
        assert r.channels == sorted(d["channels"])
        for name, c in d["channels"].items():
            info = r.info(name)
            assert info["sampling_frequency"] == c["fs"]
            assert info["number_of_samples"] == c["number_of_samples"]
            assert info["units_conversion_factor"] == c["units_conversion_factor"]
    # closed: a clear error, not a crash
    with pytest.raises(ValueError):
        r.read(r.channels[0])


def test_unknown_channel_is_not_found(golden):
    with mef3pool.Reader(golden / "sessions" / "a_single_256hz.mefd") as r:
        with pytest.raises(mef3pool.NotFoundError):
            r.info("nope")
        with pytest.raises(mef3pool.InvalidArgumentError):
            r.read(r.channels[0], 10, 5)
