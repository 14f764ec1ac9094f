"""Client: mef3io-server's ``Mef3Client`` over the mef3pool C client.

The methods and return values of ``mef3io_server.client.Mef3Client``:
``open_file`` and ``get_file_info`` return the original's file-info dict,
``close_file`` ``{"file_path", "file_opened"}``, ``get_signal_range``
``{"array", "channel_names", "fs", "start_uutc", "end_uutc", "dtype",
"shape", "error_message"}`` (``array`` None and the server's message in
``error_message`` when the read fails), ``list_open_files`` a list, and
``shutdown``.  It talks to a ``mef3pool serve`` or to the Python
mef3io-server alike.  Added: passwords (``open_file(path, password=...)``),
a deadline per call, ``raise_errors``, a context manager.

Encrypted sessions: ``open_file(path, password=...)`` receives the
server's access token for that view of the file (docs/security.md); the C
client keeps it per path, spelled as given, and sends it with every later
``get_file_info``, ``get_signal_range`` and ``close_file`` of that path
(``access_token`` / ``set_access_token`` hand it to another client).  The
token is a credential: it is never part of a returned dict or a repr.

With ``tls_ca`` the connection is TLS (and mutual TLS with ``tls_cert``
and ``tls_key``) to a ``mef3pool serve --tls-cert ...``; without it,
plain text: passwords, tokens and samples cross the wire in clear, so use
it on loopback.

Every call runs in C with the GIL released (the streamed chunks of a read
are reassembled there, into memory the returned array views without a
copy); one client may be used from any number of threads at once.
"""
from __future__ import annotations

import os
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from . import _core
from ._errors import Error
from ._fileinfo import envelope_dict

PathLike = Union[str, "os.PathLike[str]"]


def _channels(channels):
    """None (all), one name, or a list of names."""
    if not channels:
        return None
    return channels if isinstance(channels, str) else list(channels)


class Client:
    """A client of a gRPCMef3Server at ``address`` ("HOST:PORT"), as
    mef3io-server's ``Mef3Client``.

    Parameters
    ----------
    address : str
        The server, "HOST:PORT" (default "localhost:50052", the original's).
    timeout_s : float or None
        Deadline of each call, seconds (60); None: none.
    raise_errors : bool
        False (the original's behaviour): failures the server reports come
        back in the result's ``error_message``.  True: every failure raises
        the :class:`mef3pool.Error` subclass of its code.
    tls_ca : str or None
        A PEM file of the CA that signed the server's certificate: the
        connection is TLS (``mef3pool serve --tls-cert``); None: plain text.
    tls_cert, tls_key : str or None
        This client's certificate and key (PEM files), for a server that
        asks for one (``--tls-client-ca``, mutual TLS); with ``tls_ca``.

    The connection is made at the first call.  A server that cannot be reached raises
    :class:`InputOutputError` (the original raises ``grpc.RpcError``) from
    every method.  For a session opened with a password, every later call
    on its path carries the access token that open received.
    """

    def __init__(self, address: str = "localhost:50052", *,
                 timeout_s: Optional[float] = 60.0,
                 raise_errors: bool = False, tls_ca: Optional[str] = None,
                 tls_cert: Optional[str] = None,
                 tls_key: Optional[str] = None):
        self.address = address
        self.raise_errors = bool(raise_errors)
        ms = -1 if timeout_s is None else max(1, int(round(timeout_s * 1000)))
        self._c = _core.Client(address, ms, tls_ca, tls_cert, tls_key)

    # A failure the server reported (as the original's error_message), or
    # one of the connection, which the original raises too.
    def _reported(self, e: Error) -> bool:
        if self.raise_errors:
            return False
        return not isinstance(e, (_core.InputOutputError,
                                  _core.TimedOutError))

    @staticmethod
    def _info(path, d, error_message=""):
        """The original client's file-info dict."""
        if d is None:
            return {"file_path": path, "file_opened": False,
                    "number_of_channels": None, "channel_names": [],
                    "channel_sampling_rates": [], "channel_start_uutc": [],
                    "channel_end_uutc": [], "start_uutc": None,
                    "end_uutc": None, "duration_s": None,
                    "error_message": error_message}
        return {"file_path": path, "file_opened": True,
                "number_of_channels": d["number_of_channels"],
                "channel_names": d["channel_names"],
                "channel_sampling_rates": d["channel_sampling_rates"],
                "channel_start_uutc": d["channel_start_uutc"],
                "channel_end_uutc": d["channel_end_uutc"],
                "start_uutc": d["start_uutc"], "end_uutc": d["end_uutc"],
                "duration_s": d["duration_s"],
                "error_message": error_message}

    def open_file(self, file_path: PathLike,
                  password: Optional[str] = None) -> Dict:
        """OpenFile: open a session on the server (a path the server can
        see; inside its ``--root`` when it has one), with a password for an
        encrypted one.  Returns the file-info dict (``file_path``,
        ``file_opened``, ``number_of_channels``, ``channel_names``,
        ``channel_sampling_rates``, ``channel_start_uutc``,
        ``channel_end_uutc``, ``start_uutc``, ``end_uutc``,
        ``duration_s``, ``error_message``); a file open already gives
        "File already open: PATH" in ``error_message``, a failure
        ``file_opened`` False and the server's message."""
        path = os.fspath(file_path)
        try:
            d, already = self._c.open(path, password or None)
        except Error as e:
            if not self._reported(e):
                raise
            return self._info(path, None, e.message or str(e))
        return self._info(path, d,
                          f"File already open: {path}" if already else "")

    def close_file(self, file_path: PathLike) -> Dict:
        """CloseFile: ``{"file_path", "file_opened": False}``."""
        path = os.fspath(file_path)
        try:
            self._c.close_file(path)
        except Error as e:
            if not self._reported(e):
                raise
            return {"file_path": path, "file_opened": False,
                    "error_message": e.message or str(e)}
        return {"file_path": path, "file_opened": False}

    def get_file_info(self, file_path: PathLike) -> Dict:
        """FileInfo: the file-info dict of an open session (``file_opened``
        False and the server's message when it is not open)."""
        path = os.fspath(file_path)
        try:
            d = self._c.info(path)
        except Error as e:
            if not self._reported(e):
                raise
            return self._info(path, None, e.message or str(e))
        return self._info(path, d)

    def get_signal_range(self, file_path: PathLike,
                         channels: Optional[Sequence[str]],
                         start_uutc: int, end_uutc: int) -> Dict:
        """GetSignalRange: ``channels`` (None or empty: all; a str: that
        one) over
        ``[start_uutc, end_uutc)``.  Returns ``{"array": (n_channels,
        n_samples) float32 ndarray, "channel_names", "fs", "start_uutc",
        "end_uutc", "dtype": "float32", "shape", "error_message": ""}``; a
        failed read has ``array`` and ``shape`` None and the server's
        message in ``error_message`` (a partial read is never returned)."""
        path = os.fspath(file_path)
        try:
            sig = self._c.read(path, _channels(channels),
                               int(start_uutc), int(end_uutc))
        except Error as e:
            if not self._reported(e):
                raise
            return {"array": None, "channel_names": None, "fs": None,
                    "start_uutc": None, "end_uutc": None, "dtype": None,
                    "shape": None, "error_message": e.message or str(e)}
        a = np.asarray(sig)
        return {"array": a, "channel_names": list(sig.channel_names),
                "fs": sig.fs, "start_uutc": int(sig.start_uutc),
                "end_uutc": int(sig.end_uutc), "dtype": "float32",
                "shape": a.shape, "error_message": ""}

    def get_envelope(self, file_path: PathLike,
                     channels: Optional[Sequence[str]], start_uutc: int,
                     end_uutc: int, columns: int) -> Dict:
        """GetEnvelope (an addition of mef3pool's server; the original has
        no such call): ``channels`` (None or empty: all; a str: that one;
        they must share one rate) over ``[start_uutc, end_uutc)`` reduced to at most
        ``columns`` (1 to 65536) columns of (min, max), computed by the
        server's min/max pyramid, so an overview of hours costs about what
        a short read costs.

        Returns ``{"min", "max": (n_channels, n_columns) float32 ndarrays,
        "channel_names", "fs", "samples_per_column", "level",
        "first_sample", "first_uutc": (n_channels,) int64 ndarrays,
        "start_uutc", "end_uutc"}`` and ``"error_message": ""``.
        Column ``j`` of channel ``i`` covers its grid samples
        ``first_sample[i] + j * samples_per_column`` onwards
        (``samples_per_column`` of them), from ``first_uutc[i] + j *
        samples_per_column * 1e6 / fs`` µUTC; its min and max are those of
        the samples there that are not NaN, NaN in both where there is
        none (a gap stays a gap).  ``level`` is the pyramid level used
        (-1: reduced from the samples).  The values equal
        ``FileManager.get_envelope`` of the same window, bit for bit.

        A failure (bad columns or times, an unknown channel, a session not
        open or opened with a password this client did not give) has
        ``min`` and ``max`` None and the server's message in
        ``error_message``, or raises with ``raise_errors``; a server
        without the call (the original) raises
        :class:`UnsupportedError`."""
        path = os.fspath(file_path)
        try:
            d = self._c.envelope(path, _channels(channels),
                                 int(start_uutc), int(end_uutc),
                                 int(columns))
        except Error as e:
            if not self._reported(e) or isinstance(e,
                                                   _core.UnsupportedError):
                raise
            return {"min": None, "max": None, "channel_names": None,
                    "fs": None, "samples_per_column": None, "level": None,
                    "first_sample": None, "first_uutc": None,
                    "start_uutc": None, "end_uutc": None,
                    "error_message": e.message or str(e)}
        out = envelope_dict(d)
        out["error_message"] = ""
        return out

    def access_token(self, file_path: PathLike) -> Optional[str]:
        """The access token this client holds for ``file_path`` (32 hex
        digits, from its ``open_file`` with a password, or given with
        :meth:`set_access_token`), or None.  A credential: keep it out of
        logs."""
        return self._c.token_get(os.fspath(file_path))

    def set_access_token(self, file_path: PathLike,
                         token: Optional[str]) -> None:
        """Send ``token`` with every later call on ``file_path`` (as if
        this client had opened it; e.g. a token another client's open
        received); None forgets it, and later calls reach only the view
        open without a password.  A token not of 32 characters is
        :class:`InvalidArgumentError`."""
        self._c.token_set(os.fspath(file_path), token or None)

    def list_open_files(self) -> List[str]:
        """ListOpenFiles: the paths open on the server."""
        return self._c.list()

    def shutdown(self) -> None:
        """Close the connection (waits for calls in flight on other
        threads; later calls raise).  Idempotent."""
        self._c.close()

    close = shutdown

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shutdown()

    def __repr__(self):
        return f"Client({self.address!r}{', closed' if self._c.closed else ''})"


Client.__module__ = "mef3pool"

#: The original's name.
Mef3Client = Client

__all__ = ["Client", "Mef3Client"]
