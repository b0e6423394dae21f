"""Fixtures of the conformance suite: a real `arkbridge sim` process and its sim.json."""

import json
import os
import pathlib
import subprocess
import tempfile

import pytest

HERE = pathlib.Path(__file__).resolve().parent
BIN = os.environ.get("ARKBRIDGE_BIN", str(HERE.parent / "target" / "debug" / "arkbridge"))

# Two accounts sharing one user name, for the CCP's "too many objects" answer.
EXTRA_SAFE = """
  - name: Dup-Safe
    description: two accounts with one user name
    accounts:
      - { name: dup-a, platformId: PostgreSQL, address: a.example.com, userName: dup }
      - { name: dup-b, platformId: PostgreSQL, address: b.example.com, userName: dup }
    members:
      - { name: arkbridge, type: app, permissions: [listAccounts, retrieveAccounts] }
      - { name: Administrator, type: user, permissions: full }
  - name: Locked-Safe
    description: a safe the bridge's AppID is no member of
    accounts:
      - { name: hidden, platformId: PostgreSQL, address: c.example.com, userName: hidden }
    members:
      - { name: Administrator, type: user, permissions: full }
"""

# The Vault's predefined "Vault Admins" group (Administrator is in it), which aiobastion's
# `safe.add` makes an owner of every new safe.
EXTRA_GROUP = """
  - name: Vault Admins
    members: [Administrator]
"""

PLANTED = "Conformance-Secret-1!"
ADMIN_PASSWORD = "Admin-Conformance-1"


def demo_seed() -> str:
    """The built-in demo seed, as `arkbridge sim` would use it, with a known secret and a safe added."""
    text = (HERE.parent / "crates" / "sim" / "src" / "demo-seed.yaml").read_text()
    text = text.replace("      - name: payments-db\n", f'      - name: payments-db\n        secret: "{PLANTED}"\n', 1)
    text = text.replace("  - username: Administrator\n", f'  - username: Administrator\n    password: "{ADMIN_PASSWORD}"\n', 1)
    text = text.replace("\ngroups:\n", "\ngroups:\n" + EXTRA_GROUP.lstrip("\n"), 1)
    return text.replace("\nsafes:\n", "\nsafes:\n" + EXTRA_SAFE, 1)


class Sim:
    def __init__(self, root: pathlib.Path, cpm_delay_ms: int = 50):
        seed = root / "seed.yaml"
        seed.write_text(demo_seed())
        self.dir = root / "sim"
        self.proc = subprocess.Popen(
            [BIN, "sim", "--dir", str(self.dir), "--seed", str(seed), "--cpm-delay-ms", str(cpm_delay_ms)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for line in self.proc.stdout:
            if line.startswith("Serving until"):
                break
        else:
            raise RuntimeError("arkbridge sim stopped before serving")
        self.info = json.loads((self.dir / "sim.json").read_text())

    def set_faults(self, **faults):
        """POSTs to the simulator's admin endpoint (as the PVWA Administrator)."""
        import base64
        import ssl
        import urllib.request

        ctx = ssl.create_default_context(cafile=self.info["ca_cert"])
        auth = base64.b64encode(f"Administrator:{ADMIN_PASSWORD}".encode()).decode()
        req = urllib.request.Request(
            self.info["pvwa_url"] + "/__arkbridge_sim/faults",
            data=json.dumps(faults).encode(),
            headers={"Authorization": f"Basic {auth}", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, context=ctx) as r:
            assert r.status == 200, r.status

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="session")
def sim():
    with tempfile.TemporaryDirectory() as root:
        s = Sim(pathlib.Path(root))
        try:
            yield s
        finally:
            s.stop()
