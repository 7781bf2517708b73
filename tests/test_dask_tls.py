"""Dask by address, safely: TLS with certificates, plain TCP to another machine refused unless allowed.

The TLS test makes a self-signed CA and a certificate for 127.0.0.1 with ``cryptography`` (a dependency of
distributed), starts ``dask scheduler`` and two ``dask worker`` processes over TLS on 127.0.0.1 and runs
tasks through :func:`pipeline.validation.dask_runner.dask_client`.
"""
from __future__ import annotations

import datetime
import ipaddress
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.errors import InputError
from pipeline.validation import dask_runner

BIN = Path(sys.executable).parent


def make_certificates(folder: Path) -> dict[str, str]:
    """A CA and a certificate (server and client use) for 127.0.0.1 signed by it; PEM files in ``folder``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "In Step test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    files = {"tls_ca_file": folder / "ca.pem", "tls_cert": folder / "cert.pem", "tls_key": folder / "key.pem"}
    files["tls_ca_file"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files["tls_cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files["tls_key"].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
    return {k: str(v) for k, v in files.items()}


def _tls_args(files: dict[str, str]) -> list[str]:
    return ["--tls-ca-file", files["tls_ca_file"], "--tls-cert", files["tls_cert"], "--tls-key", files["tls_key"]]


@pytest.fixture
def tls_cluster(tmp_path):
    """``dask scheduler`` + two ``dask worker`` processes over TLS on 127.0.0.1; yields (address, files)."""
    files = make_certificates(tmp_path)
    scheduler_file = tmp_path / "scheduler.json"
    dask = str(BIN / "dask")
    procs = [subprocess.Popen([dask, "scheduler", "--protocol", "tls", "--host", "127.0.0.1", "--port", "0",
                               "--no-dashboard", "--scheduler-file", str(scheduler_file), *_tls_args(files)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.time() + 60
        address = None
        while address is None and time.time() < deadline:
            try:  # the scheduler creates the file, then writes it: an empty or partial file is read again
                address = json.loads(scheduler_file.read_text())["address"]
            except (OSError, ValueError, KeyError):
                time.sleep(0.2)
        assert address, "the TLS scheduler did not start (no address in its scheduler file within 60 s)"
        for _ in range(2):
            procs.append(subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--no-dashboard",
                                           "--host", "127.0.0.1", *_tls_args(files)],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        yield address, files
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_tls_scheduler_with_two_workers_runs_tasks(tls_cluster):
    address, files = tls_cluster
    assert address.startswith("tls://127.0.0.1:")
    with dask_runner.dask_client(address, connection=files) as client:
        client.wait_for_workers(2, timeout=60)
        assert len(client.scheduler_info()["workers"]) == 2
        assert all(w.startswith("tls://") for w in client.scheduler_info()["workers"])
        assert client.gather(client.map(lambda x: x * x, range(10))) == [x * x for x in range(10)]


def test_tls_files_from_the_environment(tls_cluster, monkeypatch):
    address, files = tls_cluster
    for key, env in dask_runner.TLS_ENV.items():
        monkeypatch.setenv(env, files[key])
    with dask_runner.dask_client(address) as client:
        assert client.submit(sum, [1, 2, 3]).result(timeout=60) == 6


def test_tls_address_without_certificates_is_refused(monkeypatch):
    for env in dask_runner.TLS_ENV.values():
        monkeypatch.delenv(env, raising=False)
    with pytest.raises(InputError, match=r"TLS but \['tls_ca_file', 'tls_cert', 'tls_key'\] not given"):
        dask_runner.scheduler_security("tls://10.1.2.3:8786", {})


def test_tls_file_that_does_not_exist_is_named(tmp_path):
    missing = {"tls_ca_file": str(tmp_path / "nope.pem"), "tls_cert": str(tmp_path / "c.pem"),
               "tls_key": str(tmp_path / "k.pem")}
    with pytest.raises(InputError, match="nope.pem.*does not exist"):
        dask_runner.scheduler_security("tls://10.1.2.3:8786", missing)


@pytest.mark.parametrize("address", ["tcp://10.1.2.3:8786", "tcp://scheduler.example.org:8786",
                                     "10.1.2.3:8786", "tcp://[2001:db8::1]:8786"])
def test_plain_tcp_to_another_machine_is_refused_with_the_reason(address, monkeypatch):
    monkeypatch.delenv(dask_runner.INSECURE_ENV, raising=False)
    with pytest.raises(InputError) as caught:
        dask_runner.scheduler_security(address, {})
    message = str(caught.value)
    assert "anyone who can reach that scheduler can run code on its workers" in message
    assert "allow_insecure_tcp" in message and "tls://" in message
    with pytest.raises(InputError):
        dask_runner.dask_client(address, connection={}).__enter__()


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:8786", "tcp://localhost:8786", "tcp://[::1]:8786",
                                     "127.0.0.1:8786"])
def test_plain_tcp_on_this_machine_is_allowed(address):
    assert dask_runner.scheduler_security(address, {}) is None


def test_insecure_tcp_allowed_explicitly(monkeypatch):
    assert dask_runner.scheduler_security("tcp://10.1.2.3:8786", {"allow_insecure_tcp": True}) is None
    monkeypatch.setenv(dask_runner.INSECURE_ENV, "1")
    assert dask_runner.scheduler_security("tcp://10.1.2.3:8786", {}) is None
    monkeypatch.setenv(dask_runner.INSECURE_ENV, "0")
    with pytest.raises(InputError):
        dask_runner.scheduler_security("tcp://10.1.2.3:8786", {})
