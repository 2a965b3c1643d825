"""Download against a local HTTP server: resume after an interruption, checksum, safe extraction."""

import hashlib
import http.server
import io
import re
import tarfile
import threading

import pytest

from tinykws.data.download import download_speech_commands
from tinykws.errors import UserError


def make_archive(extra_member=None):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        def add(name, data):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tar.addfile(ti, io.BytesIO(data))
        for i in range(20):
            add(f"yes/spk{i}_nohash_0.wav", bytes(range(256)) * 40)
        add("validation_list.txt", b"yes/spk1_nohash_0.wav\n")
        add("testing_list.txt", b"yes/spk2_nohash_0.wav\n")
        if extra_member:
            add(extra_member, b"evil")
    return buf.getvalue()


class Server:
    """Serves ``payload``; honours ``Range: bytes=N-`` with a 206 as a real server does (anything else: 200, the
    whole body). ``requests`` records (Range header or None, status, body bytes written) per GET."""

    def __init__(self, payload, cut_first_at=None):
        self.payload, self.cut = payload, cut_first_at
        self.requests = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                rng = self.headers.get("Range")
                m = re.fullmatch(r"bytes=(\d+)-", rng or "")
                start = int(m.group(1)) if m and int(m.group(1)) < len(outer.payload) else 0
                body = outer.payload[start:]
                status = 206 if start else 200
                self.send_response(status)
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{len(outer.payload) - 1}/{len(outer.payload)}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if outer.cut is not None:
                    cut, outer.cut = outer.cut, None
                    outer.requests.append((rng, status, cut))
                    self.wfile.write(body[:cut])  # then drop the connection mid-way
                    self.wfile.flush()
                    self.connection.close()
                    return
                outer.requests.append((rng, status, len(body)))
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/speech_commands_test.tar.gz"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


def test_interrupted_download_resumes_and_extracts(tmp_path):
    data = make_archive()
    cut = len(data) // 2
    srv = Server(data, cut_first_at=cut)
    out = tmp_path / "sc"
    try:
        with pytest.raises(UserError, match="again to resume"):
            download_speech_commands(out, url=srv.url, sha256=hashlib.sha256(data).hexdigest())
        part = out / ".download" / "speech_commands_test.tar.gz.part"
        assert part.stat().st_size == cut
        r = download_speech_commands(out, url=srv.url, sha256=hashlib.sha256(data).hexdigest())
    finally:
        srv.close()
    # The second run asked for the rest only, and got it as a partial response: nothing fetched twice.
    assert srv.requests == [(None, 200, cut), (f"bytes={cut}-", 206, len(data) - cut)]
    assert r["files"] == 22 and sorted(r["lists"]) == ["testing_list.txt", "validation_list.txt"]
    assert len(list((out / "yes").glob("*.wav"))) == 20 and not (out / ".download").exists()


def test_checksum_mismatch_extracts_nothing(tmp_path):
    srv = Server(make_archive())
    try:
        with pytest.raises(UserError, match="checksum mismatch"):
            download_speech_commands(tmp_path / "sc", url=srv.url, sha256="0" * 64)
    finally:
        srv.close()
    assert not (tmp_path / "sc" / "yes").exists()


def test_unsafe_or_corrupt_archives_are_refused(tmp_path):
    for payload, msg in ((make_archive("../escape.txt"), "unsafe"), (make_archive()[:-200], "damaged")):
        srv = Server(payload)
        out = tmp_path / msg
        try:
            with pytest.raises(UserError, match=msg):
                download_speech_commands(out, url=srv.url, sha256=hashlib.sha256(payload).hexdigest())
        finally:
            srv.close()
        assert not (tmp_path / "escape.txt").exists() and not (out / "yes").exists()


def test_the_official_archives_are_fetched_over_https_and_pinned():
    from tinykws.data.download import ARCHIVES

    assert all(a.url.startswith("https://") for a in ARCHIVES.values())
    assert all(a.sha256 and len(a.sha256) == 64 for a in ARCHIVES.values())
    assert ARCHIVES["0.02"].size == 2_428_923_189  # TensorFlow Datasets' url_checksums/speech_commands.txt


@pytest.mark.parametrize("wrong", ["sha256", "size"])
def test_by_default_the_published_size_and_sha256_are_checked_before_extracting(tmp_path, monkeypatch, capsys, wrong):
    """`tinykws data download speech-commands OUT` with no --sha256: an archive that is not the published one
    (here a mirror serving another file) is one error line, and nothing is extracted."""
    from dataclasses import replace

    from tinykws.cli.main import main
    from tinykws.data import download as dl

    data = make_archive()
    good = dl.Archive("https://example.invalid/speech_commands_v0.02.tar.gz", len(data), hashlib.sha256(data).hexdigest())
    srv = Server(data)
    try:
        monkeypatch.setitem(dl.ARCHIVES, "0.02", good)
        main(["data", "download", "speech-commands", str(tmp_path / "ok"), "--url", srv.url])  # returns: success
        assert (tmp_path / "ok" / "yes").is_dir()
        capsys.readouterr()
        monkeypatch.setitem(dl.ARCHIVES, "0.02", replace(good, **({"sha256": "0" * 64} if wrong == "sha256" else
                                                                   {"size": len(data) + 1})))
        with pytest.raises(SystemExit) as bad:
            main(["data", "download", "speech-commands", str(tmp_path / "sc"), "--url", srv.url])
    finally:
        srv.close()
    err = capsys.readouterr().err.strip().splitlines()
    assert bad.value.code == 2 and len(err) == 1 and err[0].startswith("error: "), err
    assert ("checksum mismatch" if wrong == "sha256" else "published size") in err[0] and "nothing was extracted" in err[0]
    assert not (tmp_path / "sc" / "yes").exists() and not list(tmp_path.glob(".sc.extract-*"))
