"""DDS-Security keystores (forma_bringup.security): one enclave per process of the `sim` deployment,
certificates issued by the keystore's CA, permissions signed by it (checked with OpenSSL, the way a
DDS-Security plugin checks them), and grants that let only the named processes publish the joint
commands and the e-stop while every other topic stays open."""

from __future__ import annotations

import pathlib
import shutil
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from forma_bringup.cli import config_dir, load, main
from forma_bringup.errors import BringupError
from forma_bringup.security import create_keystore, dds_topic, load_protected_topics, may_publish

REPO = pathlib.Path(__file__).resolve().parents[3]
PROTECTED = REPO / "config" / "security" / "protected_topics.yaml"


@pytest.fixture(scope="module")
def keystore(tmp_path_factory):
    path = tmp_path_factory.mktemp("keystore")
    enclaves = create_keystore(path, load("sim"), load_protected_topics(PROTECTED))
    return path, {e.process: e for e in enclaves}


def test_every_process_of_the_deployment_gets_an_enclave_with_the_sros2_files(keystore):
    path, enclaves = keystore
    processes = {p.name for p in load("sim").processes()}
    assert set(enclaves) == processes
    for enclave in enclaves.values():
        assert enclave.directory == path / "enclaves" / "sim" / enclave.process
        files = {f.name for f in enclave.directory.iterdir()}
        assert files == {
            "cert.pem",
            "key.pem",
            "identity_ca.cert.pem",
            "permissions_ca.cert.pem",
            "governance.p7s",
            "permissions.xml",
            "permissions.p7s",
        }
        assert (enclave.directory / "key.pem").stat().st_mode & 0o077 == 0, "a private key readable by others"


def test_each_certificate_is_issued_by_the_keystore_ca_to_its_enclave_and_matches_its_key(keystore):
    path, enclaves = keystore
    ca = x509.load_pem_x509_certificate((path / "public" / "ca.cert.pem").read_bytes())
    for enclave in enclaves.values():
        cert = x509.load_pem_x509_certificate((enclave.directory / "cert.pem").read_bytes())
        cert.verify_directly_issued_by(ca)
        assert cert.subject.rfc4514_string() == f"CN={enclave.name}"
        key = serialization.load_pem_private_key((enclave.directory / "key.pem").read_bytes(), password=None)
        assert key.public_key().public_numbers() == cert.public_key().public_numbers()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command is not installed")
def test_permissions_and_governance_are_signed_by_the_ca_and_verify_with_openssl(keystore, tmp_path):
    path, enclaves = keystore
    ca = path / "public" / "permissions_ca.cert.pem"
    for document in (enclaves["control"].directory / "permissions.p7s", path / "enclaves" / "governance.p7s"):
        out = tmp_path / "content"
        done = subprocess.run(
            ["openssl", "smime", "-verify", "-in", document, "-CAfile", ca, "-out", out],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0 and "Verification successful" in done.stderr, done.stderr
        signed = out.read_bytes().replace(b"\r\n", b"\n").split(b"\n\n", 1)[1]  # after the Content-Type header
        assert signed == document.with_suffix(".xml").read_bytes()
    # a permissions file changed after signing no longer verifies
    tampered = tmp_path / "tampered.p7s"
    text = (enclaves["perception"].directory / "permissions.p7s").read_text()
    tampered.write_text(text.replace("<deny_rule>", "<allow_rule>", 1).replace("</deny_rule>", "</allow_rule>", 1))
    done = subprocess.run(
        ["openssl", "smime", "-verify", "-in", tampered, "-CAfile", ca, "-out", tmp_path / "x"], capture_output=True
    )
    assert done.returncode != 0


def test_only_the_commanders_may_publish_the_joint_commands_and_only_the_named_the_e_stop(keystore):
    _, enclaves = keystore
    commands, estop = dds_topic("hardware/joint_commands"), dds_topic("safety/estop")

    def grants(process: str) -> bytes:
        return (enclaves[process].directory / "permissions.xml").read_bytes()

    assert {p for p in enclaves if may_publish(grants(p), commands)} == {"control", "hands", "safety"}
    assert {p for p in enclaves if may_publish(grants(p), estop)} == {"safety", "console", "teleop"}
    # every other topic stays open to every process of the deployment
    for process in enclaves:
        assert may_publish(grants(process), dds_topic("wbc/targets/right_hand"))
        assert may_publish(grants(process), "rq/hardware/resetRequest")


def test_the_cli_writes_the_keystore_names_absent_processes_and_refuses_a_broken_policy(tmp_path, capsys):
    assert main(["security", "keystore", "sim", str(tmp_path / "ks")]) == 0
    out = capsys.readouterr().out
    assert "/sim/control" in out and "may publish hardware/joint_commands" in out
    assert "forma launch sim --secure" in out
    bad = tmp_path / "protected.yaml"
    bad.write_text("hardware/joint_commands: [control, nonesuch]\n")  # (a typo: said, its grant goes to nobody)
    assert main(["security", "keystore", "sim", str(tmp_path / "ks2"), "--protected", str(bad)]) == 0
    assert "not in sim (their grants go to nobody): nonesuch" in capsys.readouterr().out
    bad.write_text("- not a mapping\n")
    with pytest.raises(BringupError, match="must map topic names"):
        load_protected_topics(bad)
    assert (config_dir() / "security" / "protected_topics.yaml").is_file(), "installed with the config"


def test_a_secure_launch_without_the_enclaves_is_refused_naming_the_command(tmp_path, capsys):
    assert main(["launch", "sim", "--secure", str(tmp_path / "empty"), "--log-dir", str(tmp_path / "logs")]) == 2
    assert "has no enclave /sim/" in capsys.readouterr().err
