"""A real `arkbridge sim` for the Confluence conformance tests, with a seed of their own.

The seed is the built-in demo seed plus a space `BULK` with 300 generated pages (for paging)
and a page only `platform-admins` may read (for permission checks).
"""

import json
import os
import pathlib
import subprocess

HERE = pathlib.Path(__file__).resolve().parent
BIN = os.environ.get("ARKBRIDGE_BIN", str(HERE.parent / "target" / "debug" / "arkbridge"))
SPEC = HERE / "specs" / "confluence-cloud-v2.openapi.json"
BULK_PAGES = 300

EXTRA_SPACES = """
  - key: BULK
    name: Bulk pages
    description: Generated pages for paging tests
    generate:
      count: %d
      title: "Bulk page {n}"
      labels: [bulk]
""" % BULK_PAGES

EXTRA_PAGES = """
  - space: OPS
    title: Admins only
    author: alice@example.com
    body: <p>Only platform admins may read this.</p>
    restrictions:
      read: { groups: [platform-admins] }
"""


def seed_text() -> str:
    text = (HERE.parent / "crates" / "sim" / "src" / "demo-seed.yaml").read_text()
    text = text.replace("\nspaces:\n", "\nspaces:\n" + EXTRA_SPACES.lstrip("\n"), 1)
    return text.replace("\npages:\n", "\npages:\n" + EXTRA_PAGES.lstrip("\n"), 1)


class ConfluenceSim:
    """Starts `arkbridge sim` in `root` and reads its sim.json."""

    def __init__(self, root: pathlib.Path):
        seed = root / "seed.yaml"
        seed.write_text(seed_text())
        self.dir = root / "sim"
        self.proc = subprocess.Popen(
            [BIN, "sim", "--dir", str(self.dir), "--seed", str(seed)],
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
        self.site = self.info["confluence_url"]
        self.user = self.info["confluence_user"]
        self.token = self.info["confluence_token"]
        self.ca = self.info["ca_cert"]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
